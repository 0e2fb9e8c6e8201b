package pdfworker_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/extract/pdfform"
	"github.com/ncl-icb/optout-intake/extract/pdfworker"
)

// A daemon makes one pool at start-up, reads every PDF through it, and
// closes it on the way out. The children are `optoutd pdf-worker`.
func Example() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	pool := pdfworker.New(pdfworker.Config{Workers: 2, MemoryLimit: 1 << 30, Timeout: 10 * time.Second}, log)
	defer pool.Close()

	// pool.Read has the shape of pdfform.Read.
	var read pdfworker.ReadFunc = pool.Read
	data, err := os.ReadFile("form.pdf")
	if err != nil {
		return
	}
	forms, err := read(context.Background(), data, pdfform.DefaultLimits())
	var ue *form.UnreadableError
	switch {
	case errors.As(err, &ue):
		fmt.Println("to staff:", ue.Code) // pdf_timeout, pdf_damaged, pdf_scanned, ...
	case err != nil:
		fmt.Println("service fault, retry later:", err) // ErrClosed, or no child could start
	default:
		fmt.Println(len(forms), "forms")
	}
}
