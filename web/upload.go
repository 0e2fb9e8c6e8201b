package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/intake"
	"github.com/ncl-icb/optout-intake/metrics"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// uploadPattern is the route of a protected item's upload: the one route
// whose body is multipart (the auth wrapper parses it with the per-file
// limit).
const uploadPattern = "POST /items/{id}/upload"

// defaultMaxUpload is the upload limit when Deps.MaxUploadBytes is unset:
// NHSmail's largest attachment, the daemon's default per-file limit.
const defaultMaxUpload = 35 << 20

// protectedView is a protected item: what protection was found, and
// whether staff can upload the form they saved from Outlook.
type protectedView struct {
	// Found says which protection the extractor found, in its words;
	// "" when the message is no longer kept or cannot be read again.
	Found     string
	CanUpload bool
	MaxSize   string // the per-file limit in words
	Uploaded  bool   // a form was uploaded on the item already
}

// protectedMessage reports whether staff upload an item's form from an
// encrypted message (ok), and returns that message: the item's own for a
// protected item, or its answer to a staff reply when that was encrypted
// (the item reopened with it: store.ProtectedAnswer). m is nil when the
// item has no message.
func (s *server) protectedMessage(ctx context.Context, det store.TriageDetail) (m *store.LedgerEntry, ok bool, err error) {
	if det.Item.Reason == vocab.ReasonProtected {
		return det.Message, true, nil
	}
	id, err := s.d.Store.ProtectedAnswer(ctx, det.Item.ID)
	if err != nil || id == 0 {
		return nil, false, err
	}
	a, err := s.d.Store.Message(ctx, id)
	if err != nil {
		return nil, false, err
	}
	return &a, true, nil
}

// protectedBlock reads the encrypted message m (protectedMessage) again
// with the daemon's extractor to say which protection it carries.
func (s *server) protectedBlock(ctx context.Context, det store.TriageDetail, m *store.LedgerEntry, canAct bool) *protectedView {
	v := &protectedView{CanUpload: canAct && s.d.Extractor != nil && m != nil,
		MaxSize: sizeText(s.d.MaxUploadBytes), Uploaded: det.Submission != nil}
	if s.d.Extractor == nil || m == nil || !m.HasRaw {
		return v
	}
	raw, err := s.d.Store.RawMessage(ctx, m.ID, store.System)
	if err != nil {
		return v
	}
	_, res := s.d.Extractor.Email(ctx, raw)
	for _, n := range res.Notes {
		if res.Protection != "" && strings.HasPrefix(n, res.Protection+": ") {
			v.Found = strings.TrimPrefix(n, res.Protection+": ")
			break
		}
	}
	return v
}

// uploadTooLarge answers an upload whose body could not be read: too
// large, or not a multipart form.
func (s *server) uploadTooLarge(w http.ResponseWriter, r *http.Request, sess *store.Session, err error) {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		s.fail(w, r, sess, http.StatusRequestEntityTooLarge, "The file is larger than "+sizeText(s.d.MaxUploadBytes)+
			", the largest attachment the service reads. Save the form itself from Outlook, not the whole email, and upload it again.")
		return
	}
	s.fail(w, r, sess, http.StatusBadRequest, "The upload could not be read. Go back and try again.")
}

// uploadForm reads the form staff saved from a protected message in
// Outlook (the item's own, or its encrypted answer to a staff reply:
// protectedMessage) with the daemon's extractor and records it on the item
// (intake.UploadForm; the store audits it as triage.upload, without the
// file's name). Staff then check, accept or reject it as usual.
func (s *server) uploadForm(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	det, ok := s.detail(w, r, sess)
	if !ok {
		return
	}
	_, takesUpload, err := s.protectedMessage(r.Context(), det)
	if err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	if !takesUpload || s.d.Extractor == nil {
		s.fail(w, r, sess, http.StatusConflict, "A form can only be uploaded on an encrypted message's item.")
		return
	}
	fileErr := []pageError{{Field: "upload", Message: "Choose the form you saved from Outlook"}}
	if r.MultipartForm == nil || len(r.MultipartForm.File["upload"]) != 1 {
		s.itemWithErrors(w, r, sess, det.Item.ID, fileErr)
		return
	}
	fh := r.MultipartForm.File["upload"][0]
	f, err := fh.Open()
	if err != nil {
		s.itemWithErrors(w, r, sess, det.Item.ID, fileErr)
		return
	}
	data, err := io.ReadAll(io.LimitReader(f, s.d.MaxUploadBytes+1))
	f.Close()
	if err == nil && int64(len(data)) > s.d.MaxUploadBytes {
		s.uploadTooLarge(w, r, sess, &http.MaxBytesError{Limit: s.d.MaxUploadBytes})
		return
	}
	if err != nil || len(data) == 0 {
		s.itemWithErrors(w, r, sess, det.Item.ID, fileErr)
		return
	}
	name := filepath.Base(strings.ReplaceAll(strings.ToValidUTF8(fh.Filename, ""), `\`, "/"))
	_, _, err = intake.UploadForm(r.Context(), s.d.Store, s.d.Extractor, det.Item.ID, store.Actor(sess.Staff.ID), name, data)
	switch {
	case errors.Is(err, intake.ErrNoFormInUpload):
		s.itemWithErrors(w, r, sess, det.Item.ID, []pageError{{Field: "upload",
			Message: "No form could be read from this file. Upload the form itself (PDF, Word, OpenDocument, text or a zip of them), not the email"}})
		return
	case err != nil:
		s.storeFail(w, r, sess, err)
		return
	}
	s.d.Metrics.Action(metrics.ActionUpload)
	itemDone(w, r, det.Item.ID, "uploaded#form-heading")
}

// optBackInView is an "asks to opt back in" item: the person's register
// state and whether staff can record the opt back in, or, when the
// conversation recorded no one, whether staff can find the person by NHS
// number on the item.
type optBackInView struct {
	State      string // in words; "" when the conversation recorded no one
	CanConfirm bool
	CanFind    bool
}

// registerStateTexts are the register states in words.
var registerStateTexts = map[store.RegisterState]string{
	store.OptedOut: "Opted out",
	store.OptedIn:  "Opted back in",
}

func optBackInBlock(det store.TriageDetail, canAct bool) *optBackInView {
	return &optBackInView{State: registerStateTexts[det.Item.RegisterState],
		CanConfirm: canAct && det.Item.RegisterState == store.OptedOut,
		CanFind:    canAct && det.Item.RegisterState == ""}
}

// optBackInConfirm is the confirmation page of an item's opt back in.
type optBackInConfirm struct {
	ItemID    int64
	To        string // the address the opted-back-in email goes to; "" for none
	Reference string
	// Found is the register entry staff found by NHS number on the item
	// (its conversation recorded no one); nil for the item's own person.
	Found *foundPerson
}

// foundPerson is a register entry found on an item, for the confirmation
// page: its state in words, since when, and the NHS number masked but for
// its last digits (NHS carries the number to the confirming POST).
type foundPerson struct {
	NHS, Masked, State string
	Since              time.Time
}

// The find-the-person step's field, and what it says when it finds no one
// to opt back in.
const (
	optInNHSField    = "optin-nhs"
	optInNHSInvalid  = "Enter the NHS number the resident gave: 10 digits with a valid check digit, like 943 476 5919"
	optInNHSNotFound = "No one with this NHS number is in the register: they never opted out, so there is nothing to opt back in. Check the number with the resident"
	optInNHSOptedIn  = "The person with this NHS number is already opted back in: there is nothing to record. Tell the resident, then close the item"
)

// findOptBackIn finds the person an "asks to opt back in" item is about
// when its conversation recorded no one: the NHS number staff typed must
// pass the Modulus 11 check and be in the register as opted out. A search
// (search=true, the first POST) is audited as on the person page
// (people.search, and register.view when found). ok is false when the
// item page was shown again with the reason.
func (s *server) findOptBackIn(w http.ResponseWriter, r *http.Request, sess *store.Session, id int64, search bool) (store.Person, bool) {
	raw := r.PostForm.Get("nhs")
	nhs := store.NormaliseNHS(raw)
	if len(raw) > maxQueryLen || nhs == "" || !form.ValidNHSNumber(nhs) {
		s.itemWithErrors(w, r, sess, id, []pageError{{Field: optInNHSField, Message: optInNHSInvalid}})
		return store.Person{}, false
	}
	actor := store.System
	if search {
		actor = store.Actor(sess.Staff.ID)
	}
	p, err := s.d.Store.FindPerson(r.Context(), nhs, actor)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.storeFail(w, r, sess, err)
		return p, false
	}
	if search {
		n := 1
		if err != nil {
			n = 0
		}
		if err := s.d.Store.AuditSearch(r.Context(), actor, nhs, n); err != nil {
			s.storeFail(w, r, sess, err)
			return p, false
		}
	}
	switch {
	case err != nil:
		s.itemWithErrors(w, r, sess, id, []pageError{{Field: optInNHSField, Message: optInNHSNotFound}})
		return p, false
	case p.State != store.OptedOut:
		s.itemWithErrors(w, r, sess, id, []pageError{{Field: optInNHSField, Message: optInNHSOptedIn}})
		return p, false
	}
	return p, true
}

// confirmOptBackIn records, from an "asks to opt back in" item, that the
// person opts back in (store.ConfirmOptBackIn: the register, the
// opted-back-in email and the audit entry; the item closes), after a
// confirmation page that says what will happen (confirmed=yes).
func (s *server) confirmOptBackIn(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	det, ok := s.detail(w, r, sess)
	if !ok {
		return
	}
	known := det.Item.RegisterState == store.OptedOut
	if det.Item.Reason != vocab.ReasonOptBackIn || !known && det.Item.RegisterState != "" {
		s.fail(w, r, sess, http.StatusConflict, "This item's person is not recorded as opted out, so there is no opt back in to record. Use Find a person instead.")
		return
	}
	confirmed := r.PostForm.Get("confirmed") == "yes"
	var found store.Person
	if !known {
		// The conversation recorded no one: the person staff found by NHS
		// number on the item (searched again, unaudited, on the confirm).
		var ok bool
		if found, ok = s.findOptBackIn(w, r, sess, det.Item.ID, !confirmed); !ok {
			return
		}
	}
	rt, hasAddr := s.replyContext(r.Context(), det)
	if !confirmed {
		c := optBackInConfirm{ItemID: det.Item.ID}
		if hasAddr {
			c.To, c.Reference = rt.to, rt.ref
		}
		if !known {
			c.Found = &foundPerson{NHS: found.NHSNumber, Masked: store.MaskNHS(found.NHSNumber), State: registerStateTexts[found.State], Since: found.Since}
		}
		s.render(w, r, http.StatusOK, "optback", page{Title: "Check the opt back in", Nav: "queue", Session: sess, Data: c})
		return
	}
	in := store.OptIn{NHSNumber: found.NHSNumber, Actor: store.Actor(sess.Staff.ID), Reason: "asked by email (triage item " + strconv.FormatInt(det.Item.ID, 10) + ")"}
	done := "optedin-noemail"
	if hasAddr {
		rt.form = ""
		e, err := s.email(vocab.KindOptedIn, rt, "", nil)
		if err != nil {
			s.composeFail(w, r, sess, det.Item.ID, err)
			return
		}
		in.Email, done = e, "optedin"
	}
	if _, err := s.d.Store.ConfirmOptBackIn(r.Context(), det.Item.ID, in); err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	s.d.Metrics.Action(metrics.ActionOptIn)
	itemDone(w, r, det.Item.ID, done)
}
