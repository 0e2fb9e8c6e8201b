package intake

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/ncl-icb/optout-intake/extract"
	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/store"
)

// ErrNoFormInUpload is returned by UploadForm when the file staff uploaded
// holds no form the extractor could read: nothing is recorded.
var ErrNoFormInUpload = errors.New("no form could be read from the uploaded file: upload the form itself (PDF, Word, OpenDocument, text or a zip of them)")

// UploadForm reads a file staff uploaded on a triage item (the form of a
// protected message, saved from Outlook where it is readable) with the same
// extractor, limits and checks as any attachment, and records it on the
// item (store.AttachUpload: the file sealed like any attachment, its first
// form a submission waiting for staff). Staff then accept or reject the
// item as usual. It returns the submission's id and the form as read (its
// Problems say what is wrong with it).
func UploadForm(ctx context.Context, st *store.Store, x *extract.Extractor, triageID int64, actor store.Actor,
	name string, data []byte) (int64, form.Form, error) {
	if st == nil || x == nil {
		return 0, form.Form{}, errors.New("upload form: a store and an extractor are required")
	}
	// The first form with a field read (a file that only claims to be a
	// form, with nothing read from it, is not recorded).
	forms := x.File(ctx, name, data).Forms
	i := slices.IndexFunc(forms, func(f form.Form) bool { return formResult(f) != FormUnreadable })
	if i < 0 {
		return 0, form.Form{}, fmt.Errorf("upload form on triage item %d: %w", triageID, ErrNoFormInUpload)
	}
	f := forms[i]
	id, err := st.AttachUpload(ctx, store.Upload{TriageID: triageID, Actor: actor,
		Attachment: store.NewAttachment{Name: name, ContentType: "application/octet-stream", Data: data}, Form: f})
	if err != nil {
		return 0, f, fmt.Errorf("upload form on triage item %d: %w", triageID, err)
	}
	return id, f, nil
}
