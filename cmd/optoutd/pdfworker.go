package main

import (
	"context"
	"errors"
	"os"

	"github.com/ncl-icb/optout-intake/extract/pdfworker"
)

// runPDFWorker is the hidden `optoutd pdf-worker` command: the child process
// a pdfworker.Pool starts to read PDFs where a hostile file can only kill
// the child. It speaks the pool's protocol on stdin and stdout and is not
// meant to be run by hand.
func runPDFWorker(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return &exitError{code: 2, err: errors.New("pdf-worker takes no arguments: optoutd starts it itself to read PDFs")}
	}
	if fi, err := os.Stdin.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		return &exitError{code: 2, err: errors.New("pdf-worker reads its protocol from a pipe, not a terminal: optoutd starts it itself to read PDFs")}
	}
	return pdfworker.Main(ctx, nil)
}
