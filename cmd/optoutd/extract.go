package main

import (
	"context"
	"errors"
)

func runExtract(ctx context.Context, args []string) error {
	return errors.New("not implemented yet")
}
