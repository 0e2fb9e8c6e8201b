package extract

import (
	"context"
	"time"
)

// ReadAttachment reads one file as opt-out forms: it sniffs the content to
// pick a reader (the name only breaks ties and marks a file that claims to
// be a form), runs it under lim.FileTimeout with panics recovered, and
// checks each form with form.Finish on the day now. name is the file name
// as sent, used as each form's Source ("" gives "attachment").
func ReadAttachment(ctx context.Context, name string, data []byte, lim Limits, now time.Time) FileResult {
	return readAttachment(ctx, name, data, lim, now, nil)
}
