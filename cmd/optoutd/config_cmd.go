package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/ncl-icb/optout-intake/config"
)

// runConfig checks the configuration in the environment exactly as `optoutd
// run` does before it connects (keys included), or prints the README's table
// of settings with --markdown.
func runConfig(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	markdown := fs.Bool("markdown", false, "print the table of settings as Markdown (for README.md)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *markdown {
		fmt.Print(config.Markdown())
		return nil
	}
	if _, err := loadDaemonConfig(os.Getenv); err != nil {
		return err
	}
	fmt.Println("configuration is complete and valid for `optoutd run`")
	return nil
}
