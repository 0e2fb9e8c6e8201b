package pdfform_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/extract/pdfform"
)

func ExampleRead() {
	data, err := os.ReadFile("../../fixtures/forms/fillable-filled.pdf")
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	forms, err := pdfform.Read(ctx, data, pdfform.DefaultLimits())
	var ue *form.UnreadableError
	if errors.As(err, &ue) {
		fmt.Println("unreadable:", ue.Code) // e.g. pdf_scanned: send to staff
		return
	}
	for _, f := range forms {
		form.Finish(&f, time.Now())
		fmt.Println(f.Format, f.Fields.FirstName, f.Fields.Postcode)
	}
	// Output: pdf-fields Amelia N1 9GU
}
