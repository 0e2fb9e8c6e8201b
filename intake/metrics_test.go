package intake

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/store"
)

// countingMetrics counts DatabaseError calls.
type countingMetrics struct {
	NopMetrics
	db int
}

func (c *countingMetrics) DatabaseError() { c.db++ }

func TestDBErrCountsOnlyDatabaseFailures(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{store.ErrNotFound, 0},
		{fmt.Errorf("conversation: %w", store.ErrNotFound), 0},
		{store.ErrAlreadyDone, 0},
		{store.ErrDuplicate, 0},
		{store.ErrConflict, 0},
		{context.Canceled, 0},
		{fmt.Errorf("query: %w", context.DeadlineExceeded), 0},
		{errors.New("connection refused"), 1},
		{fmt.Errorf("complete message: %w", errors.New("deadlock detected")), 1},
	}
	for _, tt := range tests {
		m := &countingMetrics{}
		if got := dbErr(m, tt.err); got != tt.err {
			t.Errorf("dbErr(%v) = %v, want the error unchanged", tt.err, got)
		}
		if m.db != tt.want {
			t.Errorf("dbErr(%v) counted %d database errors, want %d", tt.err, m.db, tt.want)
		}
	}
}

func TestFormResult(t *testing.T) {
	tests := []struct {
		name string
		f    form.Form
		want string
	}{
		{"valid", form.Form{Valid: true, Fields: form.Fields{NHSNumber: "9434765919"}}, FormValid},
		{"invalid with fields", form.Form{Fields: form.Fields{FirstName: "A"}}, FormInvalid},
		{"no field read", form.Form{Problems: []form.Problem{{Code: "pdf_scanned", Severity: form.SeverityError}}}, FormUnreadable},
		{"only a tick read", form.Form{Fields: form.Fields{Declaration: true}}, FormInvalid},
	}
	for _, tt := range tests {
		if got := formResult(tt.f); got != tt.want {
			t.Errorf("formResult(%s) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// Every Metrics method of NopMetrics is callable (the interface is complete).
var _ Metrics = NopMetrics{}
