package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/extract/message"
	"github.com/ncl-icb/optout-intake/metrics"
	"github.com/ncl-icb/optout-intake/notify"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// dueSoon is how close to its due date an item is highlighted.
const dueSoon = 7 * 24 * time.Hour

// due describes an item's answer date for the queue.
type due struct {
	Date  time.Time
	Class string // "" | "due-soon" | "overdue"
	Label string // "" | "Due soon" | "Overdue"
}

func (s *server) dueOf(t store.TriageItem) due {
	d := due{Date: t.DueBy}
	if t.State != vocab.ItemOpen {
		return d
	}
	left := t.DueBy.Sub(s.d.Now())
	switch {
	case left < 0:
		d.Class, d.Label = "overdue", "Overdue"
	case left <= dueSoon:
		d.Class, d.Label = "due-soon", "Due soon"
	}
	return d
}

// itemDone sends the browser back to item id's page after an action, with
// the confirmation done (a key of notices, optionally followed by the
// #fragment to scroll to).
func itemDone(w http.ResponseWriter, r *http.Request, id int64, done string) {
	http.Redirect(w, r, "/items/"+strconv.FormatInt(id, 10)+"?done="+done, http.StatusSeeOther)
}

// notices are the confirmations a redirect can ask for (?done=...).
var notices = map[string]string{
	"accepted":        "The opt-out is recorded and the outcome email is queued.",
	"dup":             "This person was already opted out. The form is recorded and the outcome email is queued.",
	"noemail":         "The opt-out is recorded. There is no conversation with an address, so no email was queued.",
	"rejected":        "The form is rejected and the email asking for a corrected form is queued.",
	"closed":          "The item is closed.",
	"assigned":        "The item is assigned to you.",
	"assigned-other":  "The item is assigned.",
	"noted":           "The note is kept with the item. It is never emailed.",
	"replied":         "Your reply is queued in the resident's secure conversation. The item waits for their answer.",
	"answered":        "The item is closed as answered by phone or post.",
	"resent":          "The email will be sent again within a minute.",
	"redirected":      "The email will be sent to the corrected address within a minute.",
	"attached":        "The email is attached to the resident's conversation. Check its form below, then accept or reject it as usual.",
	"newcontact":      "The instructions are queued to the sender's address, in a new conversation. The item is closed.",
	"heldsent":        "The held replies are queued. The item is closed.",
	"uploaded":        "The uploaded form is read and kept with the item. Check its fields below, then accept or reject it as usual.",
	"optedin":         "The opt back in is recorded and the confirmation email is queued. The item is closed.",
	"optedin-noemail": "The opt back in is recorded. There is no conversation with an address, so no email was queued. The item is closed.",
}

type option struct{ Value, Text string }

func reasonOptions() []option {
	var out []option
	for _, r := range vocab.Reasons() {
		out = append(out, option{string(r), r.Text()})
	}
	slices.SortFunc(out, func(a, b option) int { return strings.Compare(a.Text, b.Text) })
	return out
}

func (s *server) staffNames(ctx context.Context, me *store.Session) map[int64]string {
	names := map[int64]string{}
	list, err := s.d.Store.ListStaff(ctx)
	if err != nil {
		s.log.Warn("web: list staff", slog.String("error", err.Error()))
		return names
	}
	for _, st := range list {
		names[st.ID] = st.Email
	}
	names[me.Staff.ID] = "You"
	return names
}

// fieldDef is one field of the correction form, in the leaflet's order.
type fieldDef struct {
	Key, Label, Hint string
	Kind             string // text | email | checkbox | authority | textarea
	Required         bool
}

var fieldDefs = []fieldDef{
	{"gender", "Gender", "", "text", false},
	{"first_name", "First name", "", "text", true},
	{"last_name", "Last name", "", "text", true},
	{"date_of_birth", "Date of birth", "For example 1980-01-31 or 31/01/1980", "text", true},
	{"nhs_number", "NHS number", "10 digits, for example 943 476 5919", "text", true},
	{"gp_practice", "Registered GP practice", "", "text", true},
	{"email", "Email address", "", "email", false},
	{"postal_address", "Postal address", "", "textarea", true},
	{"postcode", "Postcode", "", "text", true},
	{"on_behalf", "Completed on behalf of another person", "", "checkbox", false},
	{"relationship", "Relationship to the person", "Only when completed on someone's behalf", "text", false},
	{"authority", "Authority", "Only when completed on someone's behalf", "authority", false},
	{"declaration", "Has read the leaflet and understands the consequences", "", "checkbox", false},
	{"full_name", "Full name of the person completing the form", "", "text", false},
	{"signature", "Signature", "", "text", false},
}

// maxFieldRunes bounds one posted field.
const maxFieldRunes = 500

// fieldsFromForm reads the correction form.
func fieldsFromForm(v url.Values) form.Fields {
	var f form.Fields
	for _, d := range fieldDefs {
		if p := f.BoolField(d.Key); p != nil {
			*p = v.Get(d.Key) == "yes"
			continue
		}
		val := strings.TrimSpace(strings.ToValidUTF8(v.Get(d.Key), ""))
		if utf8.RuneCountInString(val) > maxFieldRunes {
			val = string([]rune(val)[:maxFieldRunes])
		}
		if d.Key == "authority" && val != form.AuthorityGuardian && val != form.AuthorityLPAOrDeputy {
			val = form.AuthorityNone
		}
		*f.TextField(d.Key) = val
	}
	return f
}

// fieldRow is one row of the item page: the value as read and the value
// in the correction form.
type fieldRow struct {
	fieldDef
	Read    string
	Value   string
	Checked bool
	Error   string
	// DescribedBy lists the ids of the hint, the "As read" value and the
	// error shown with the field, for its aria-describedby.
	DescribedBy string
}

// fieldRows puts the fields in the form's rows, each with its first error;
// hasForm shows the value as read beside each.
func fieldRows(read *form.Fields, edit form.Fields, problems []form.Problem, hasForm bool) []fieldRow {
	var rows []fieldRow
	for _, d := range fieldDefs {
		row := fieldRow{fieldDef: d}
		if p := edit.BoolField(d.Key); p != nil {
			row.Checked = *p
			if read != nil {
				row.Read = yesNo(*read.BoolField(d.Key))
			}
		} else {
			row.Value = *edit.TextField(d.Key)
			if read != nil {
				row.Read = *read.TextField(d.Key)
			}
		}
		for _, p := range problems {
			if p.Field == d.Key && p.Severity == form.SeverityError && row.Error == "" {
				row.Error = p.Message
			}
		}
		var ids []string
		if row.Hint != "" && row.Kind != "checkbox" {
			ids = append(ids, "f-"+row.Key+"-hint")
		}
		if hasForm {
			ids = append(ids, "f-"+row.Key+"-read")
		}
		if row.Error != "" {
			ids = append(ids, "f-"+row.Key+"-error")
		}
		row.DescribedBy = strings.Join(ids, " ")
		rows = append(rows, row)
	}
	return rows
}

// problemErrors splits the rules' problems into the page's error summary
// (linked to the field, "f-<key>") and the warnings.
func problemErrors(problems []form.Problem) (errs []pageError, warnings []form.Problem) {
	for _, p := range problems {
		switch {
		case p.Severity != form.SeverityError:
			warnings = append(warnings, p)
		case p.Field == "":
			errs = append(errs, pageError{Message: p.Message})
		default:
			errs = append(errs, pageError{Field: "f-" + p.Field, Message: p.Message})
		}
	}
	return errs, warnings
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

// rejectReason is one sentence staff can choose for a rejection email.
// The sentences never quote the form.
type rejectReason struct{ Code, Text string }

var rejectReasons = []rejectReason{
	{"nhs_number", "The NHS number is missing or is not a valid NHS number. You can find it on a letter from your GP or in the NHS App."},
	{"date_of_birth", "The date of birth is missing or could not be read. Please write it as day, month and year, for example 31/01/1980."},
	{"missing", "Some of the parts of the form marked with * were not filled in."},
	{"declaration", "The box to confirm that you have read the leaflet was not ticked."},
	{"on_behalf", "The form was completed for another person but does not say your relationship to them or the authority you have."},
	{"unreadable", "We could not open or read the file you sent. Please send the form as a PDF or Word document, or type the answers into your reply."},
	{"outside_ncl", "The address is not in north central London (Barnet, Camden, Enfield, Haringey or Islington), which this opt-out covers."},
}

// maxDetailRunes bounds the free text staff add to a rejection.
const maxDetailRunes = 300

type messageView struct {
	Subject string
	Date    time.Time
	Body    string
	Notes   []string
	Error   string
}

type attachmentView struct {
	store.AttachmentInfo
	Label string // the file name, or "Attachment N (type)" when it has none
	Kind  string // originalImage, originalPDF, … (originals.go)
	Text  string // the text shown, for originalText
	// SizeText is the size in words ("96 KB").
	SizeText string
	// ThisForm marks the file this item's form was read from, when the
	// email carried several files (it is then shown first).
	ThisForm bool
}

type itemData struct {
	Item          store.TriageItem
	Due           due
	Assignee      string
	AssignedToMe  bool
	Open          bool
	CanAct        bool
	HasForm       bool
	Submission    *store.Submission
	Conversation  *store.Conversation
	Fields        []fieldRow
	Warnings      []form.Problem
	Checked       bool // the form was just re-checked
	CheckedOK     bool
	Message       *messageView
	Attachments   []attachmentView
	RejectReasons []rejectReason
	CanEmail      bool
	Notes         []noteView
	Closure       *closureView // who closed it, when, why; nil while open
	Assignable    []option     // staff it can be assigned to
	Actions       itemActions  // the reason's own facts and actions (item_actions.html)
	CanReject     bool         // "Reject the form" makes sense: not a bounce, and a form or a reason that expects one
	KeyIn         string       // how the form to key in is offered: keyInOpen, keyInCollapsed or keyInNone
	Thread        *threadView  // the conversation and the other open items; nil when none
}

func itemID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

// maxShownBody bounds the email text shown on the item page.
const maxShownBody = 50_000

// itemPage builds the item page. edit and problems override the stored
// form (after a check or a failed accept).
func (s *server) itemPage(ctx context.Context, sess *store.Session, id int64, edit *form.Fields, problems []form.Problem) (itemData, []pageError, error) {
	det, err := s.d.Store.TriageItemDetail(ctx, id, store.Actor(sess.Staff.ID))
	if err != nil {
		return itemData{}, nil, err
	}
	d := itemData{Item: det.Item, Due: s.dueOf(det.Item), Open: det.Item.State == vocab.ItemOpen, Submission: det.Submission,
		Conversation: det.Conversation, RejectReasons: rejectReasons}
	d.CanAct = d.Open && rank(sess.Staff.Role) >= rank(store.RoleTriager)
	d.CanEmail = det.Conversation != nil
	if det.Item.AssignedTo != 0 {
		d.Assignee = s.staffNames(ctx, sess)[det.Item.AssignedTo]
		d.AssignedToMe = det.Item.AssignedTo == sess.Staff.ID
	}
	var read *form.Fields
	var current form.Fields
	if sb := det.Submission; sb != nil {
		d.HasForm = true
		read = &sb.Fields
		current = sb.Fields
		if sb.Corrected != nil {
			current = *sb.Corrected
		}
		if problems == nil {
			problems = sb.Problems
		}
	}
	if edit != nil {
		current = *edit
		d.Checked = true
	}
	d.Fields = fieldRows(read, current, problems, d.HasForm)
	errs, warnings := problemErrors(problems)
	d.Warnings = append(d.Warnings, warnings...)
	d.CheckedOK = d.Checked && len(errs) == 0
	for i, a := range det.Attachments {
		label := strings.TrimSpace(a.Name)
		if label == "" {
			label = fmt.Sprintf("Attachment %d (%s)", i+1, a.ContentType)
		}
		v := attachmentView{AttachmentInfo: a, Label: label, SizeText: sizeText(a.Size)}
		s.originalOf(ctx, sess, &v)
		d.Attachments = append(d.Attachments, v)
	}
	// An email with several forms: this item's own file first, marked, so
	// staff do not key in another form's details.
	if sb := det.Submission; sb != nil && sb.AttachmentID != 0 && len(d.Attachments) > 1 {
		if i := slices.IndexFunc(d.Attachments, func(a attachmentView) bool { return a.ID == sb.AttachmentID }); i >= 0 {
			this := d.Attachments[i]
			this.ThisForm = true
			d.Attachments = append([]attachmentView{this}, slices.Delete(d.Attachments, i, i+1)...)
		}
	}
	if det.Message != nil && det.Message.HasRaw {
		d.Message = s.messageView(ctx, sess, det.Message.ID)
		if det.Item.Reason == vocab.ReasonTooLarge && d.Message.Error == "" {
			// Only the header was downloaded: what the parser says of
			// the missing body is not news.
			d.Message.Notes = []string{"Only the header of this email was downloaded: it is larger than the service reads."}
		}
	}
	if d.Thread, err = s.threadOf(ctx, sess, det); err != nil {
		return d, nil, err
	}
	if err := s.itemWork(ctx, sess, &d); err != nil {
		return d, nil, err
	}
	if err := s.itemActions(ctx, sess, det, &d); err != nil {
		return d, nil, err
	}
	d.CanReject = canReject(det.Item.Reason, d.HasForm) && !d.Actions.Undecided
	d.KeyIn = keyInOf(det.Item.Reason, d.HasForm)
	return d, errs, nil
}

func (s *server) messageView(ctx context.Context, sess *store.Session, ledgerID int64) *messageView {
	raw, err := s.d.Store.RawMessage(ctx, ledgerID, store.Actor(sess.Staff.ID))
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Error("web: read message", slog.Int64("ledger", ledgerID), slog.String("error", err.Error()))
		}
		return &messageView{Error: "The original email is no longer kept (it is deleted after the retention period)."}
	}
	m, err := parseMessage(raw)
	if m == nil {
		return &messageView{Error: "The original email could not be read."}
	}
	v := &messageView{Subject: m.Subject, Date: m.Date, Body: m.Body, Notes: m.Notes}
	if err != nil {
		v.Notes = append(v.Notes, "Part of the email could not be read.")
	}
	if len(v.Body) > maxShownBody {
		v.Body = strings.ToValidUTF8(v.Body[:maxShownBody], "") + "\n[… the rest of the text is not shown]"
	}
	return v
}

// parseMessage reads a stored message with the extractor's limits and a
// recovered panic (the parser is already guarded; this is a second fence).
func parseMessage(raw []byte) (m *message.Message, err error) {
	defer func() {
		if v := recover(); v != nil {
			m, err = nil, fmt.Errorf("read message: panic %T", v)
		}
	}()
	return message.Parse(bytes.NewReader(raw), message.DefaultLimits())
}

func isPDFType(ctype, name string) bool {
	return strings.EqualFold(ctype, "application/pdf") || strings.HasSuffix(strings.ToLower(name), ".pdf")
}

func (s *server) item(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	id, ok := itemID(r)
	if !ok {
		s.fail(w, r, sess, http.StatusNotFound, "There is no such item.")
		return
	}
	d, errs, err := s.itemPage(r.Context(), sess, id, nil, nil)
	if err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	s.render(w, r, http.StatusOK, "item", page{Title: "Item " + strconv.FormatInt(id, 10), Nav: "queue", Session: sess,
		Notice: notices[r.URL.Query().Get("done")], Errors: errs, Data: d, Script: s.jsPrefix + "original.js"})
}

// check re-runs the daemon's rules on the corrected fields and shows the result.
func (s *server) check(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	s.recheck(w, r, sess, http.StatusOK)
}

func (s *server) recheck(w http.ResponseWriter, r *http.Request, sess *store.Session, status int) {
	id, ok := itemID(r)
	if !ok {
		s.fail(w, r, sess, http.StatusNotFound, "There is no such item.")
		return
	}
	f := fieldsFromForm(r.PostForm)
	probs := form.Check(&f, s.d.Now())
	if probs == nil {
		probs = []form.Problem{}
	}
	d, errs, err := s.itemPage(r.Context(), sess, id, &f, probs)
	if err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	s.d.Metrics.Action(metrics.ActionCheck)
	if len(errs) > 0 && status == http.StatusOK {
		status = http.StatusUnprocessableEntity
	}
	s.render(w, r, status, "item", page{Title: "Item " + strconv.FormatInt(id, 10), Nav: "queue", Session: sess, Errors: errs, Data: d, Script: s.jsPrefix + "original.js"})
}

// replyTo is where and how an outcome email goes.
type replyTo struct {
	to, ref   string
	inReplyTo string
	refs      []string
	form      string // which form the outcome is about, when the email carried several (notify.Data.Form)
}

// replyContext finds the address and reference of an item's conversation
// and the resident's Message-ID to thread under. ok is false when the item
// has no conversation (so no email can be composed).
func (s *server) replyContext(ctx context.Context, det store.TriageDetail) (replyTo, bool) {
	c := det.Conversation
	if c == nil || c.Address == "" || c.Reference == "" {
		return replyTo{}, false
	}
	rt := replyTo{to: c.Address, ref: c.Reference}
	if sb := det.Submission; sb != nil && sb.LedgerID != 0 {
		if _, subs, err := s.d.Store.SubmissionsByReference(ctx, c.Reference, store.System); err == nil {
			rt.form = whichForm(subs, sb)
		}
	}
	if det.Message == nil || !det.Message.HasRaw {
		return rt, true
	}
	h, ok, err := s.d.Store.MessageHeader(ctx, det.Message.ID)
	switch {
	case ok:
		rt.inReplyTo, rt.refs = h.MessageID, h.References
	case err == nil:
		// Recorded before the header was kept with the message: read it
		// from the raw copy.
		if raw, err := s.d.Store.RawMessage(ctx, det.Message.ID, store.System); err == nil {
			m := message.ParseHeader(raw)
			rt.inReplyTo, rt.refs = m.MessageID, m.References
		}
	}
	return rt, true
}

// whichForm names sb among the forms of its email for the outcome email
// (notify.WhichForm); "" when the email carried one form.
func whichForm(subs []store.Submission, sb *store.Submission) string {
	n, pos := 0, 0
	for _, o := range subs {
		if o.LedgerID != sb.LedgerID {
			continue
		}
		n++
		if o.ID == sb.ID {
			pos = n
		}
	}
	f := sb.Fields
	if sb.Corrected != nil {
		f = *sb.Corrected
	}
	return notify.WhichForm(f.FirstName, f.LastName, pos, n)
}

// email composes one reply with the daemon's composer, ready for the outbox
// (the whole message in Body, as the pipeline queues it).
func (s *server) email(kind vocab.Kind, rt replyTo, firstName string, reasons []string) (*store.Email, error) {
	raw, id, subject, err := s.d.Composer.Compose(notify.Reply{Kind: kind, To: rt.to,
		Data: notify.Data{Ref: rt.ref, FirstName: firstName, Reasons: reasons, Form: rt.form}, InReplyTo: rt.inReplyTo, References: rt.refs})
	if err != nil {
		return nil, err
	}
	return &store.Email{Kind: kind, To: rt.to, Subject: subject, Body: string(raw), MessageID: id,
		InReplyTo: rt.inReplyTo, References: rt.refs}, nil
}

func (s *server) detail(w http.ResponseWriter, r *http.Request, sess *store.Session) (store.TriageDetail, bool) {
	id, ok := itemID(r)
	if !ok {
		s.fail(w, r, sess, http.StatusNotFound, "There is no such item.")
		return store.TriageDetail{}, false
	}
	det, err := s.d.Store.TriageItemDetail(r.Context(), id, store.Actor(sess.Staff.ID))
	if err != nil {
		s.storeFail(w, r, sess, err)
		return det, false
	}
	if det.Item.State != vocab.ItemOpen {
		s.storeFail(w, r, sess, store.ErrConflict)
		return det, false
	}
	return det, true
}

// notAboutAForm says, for staff, why an item of reason r has no form to
// accept or reject, or "" when it may have one: a bounce (its form, if
// any, was decided before the email bounced, and rejecting would email the
// address that bounced again) or replies held by the reply limit (its form,
// if any, was decided as usual: only the emails were held).
func notAboutAForm(r vocab.Reason) string {
	switch {
	case isBounce(r):
		return "This item is about an email that bounced: send it again or to a corrected address instead."
	case r == vocab.ReasonRateLimited:
		return "This item is about replies held by the reply limit, not a form: send the held replies or write back instead."
	}
	return ""
}

func (s *server) accept(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	f := fieldsFromForm(r.PostForm)
	probs := form.Check(&f, s.d.Now())
	for _, p := range probs {
		if p.Severity == form.SeverityError {
			s.recheck(w, r, sess, http.StatusUnprocessableEntity)
			return
		}
	}
	det, ok := s.detail(w, r, sess)
	if !ok {
		return
	}
	if why := notAboutAForm(det.Item.Reason); why != "" {
		s.fail(w, r, sess, http.StatusConflict, why)
		return
	}
	if det.Item.Reason == vocab.ReasonUnverifiedSender && det.Item.ConversationID == 0 {
		s.fail(w, r, sess, http.StatusConflict, "Decide who sent this email first: attach it to the resident's conversation, then accept its form.")
		return
	}
	if keyInOf(det.Item.Reason, det.Submission != nil) == keyInNone {
		s.fail(w, r, sess, http.StatusConflict, "This message does not ask to opt out and came with no form, so there is no opt-out to record from it.")
		return
	}
	dec := store.Decision{TriageID: det.Item.ID, Actor: store.Actor(sess.Staff.ID), Fields: &f, Detail: correctedDetail(det.Submission, f)}
	rt, canEmail := s.replyContext(r.Context(), det)
	if canEmail {
		var err error
		if dec.Accepted, err = s.email(vocab.KindAccepted, rt, f.FirstName, nil); err == nil {
			dec.Duplicate, err = s.email(vocab.KindDuplicate, rt, f.FirstName, nil)
		}
		if err != nil {
			s.composeFail(w, r, sess, det.Item.ID, err)
			return
		}
	}
	status, err := s.d.Store.AcceptTriage(r.Context(), dec)
	if err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	s.d.Metrics.Action(metrics.ActionAccept)
	done := "accepted"
	switch {
	case !canEmail:
		done = "noemail"
	case status == vocab.StatusDuplicate:
		done = "dup"
	}
	http.Redirect(w, r, "/queue?done="+done, http.StatusSeeOther)
}

func (s *server) composeFail(w http.ResponseWriter, r *http.Request, sess *store.Session, id int64, err error) {
	s.log.Error("web: compose outcome email", slog.Int64("triage", id), slog.String("error", err.Error()))
	s.fail(w, r, sess, http.StatusInternalServerError,
		"The email to the resident could not be written, so nothing was changed. Tell the service team.")
}

func (s *server) reject(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	var reasons, codes []string
	for _, code := range r.PostForm["reason"] {
		for _, rr := range rejectReasons {
			if rr.Code == code && !slices.Contains(codes, code) {
				codes = append(codes, code)
				reasons = append(reasons, rr.Text)
			}
		}
	}
	detail := strings.Join(strings.Fields(strings.ToValidUTF8(r.PostForm.Get("detail"), "")), " ")
	if utf8.RuneCountInString(detail) > maxDetailRunes {
		id, _ := itemID(r)
		s.itemWithErrors(w, r, sess, id, []pageError{{Field: "reject-detail", Message: fmt.Sprintf("Write at most %d characters in the extra explanation", maxDetailRunes)}})
		return
	}
	if detail != "" {
		reasons = append(reasons, detail)
		codes = append(codes, "other")
	}
	if len(reasons) == 0 {
		id, _ := itemID(r)
		s.itemWithErrors(w, r, sess, id, []pageError{{Field: "reject-nhs_number", Message: "Choose at least one reason, or write one, before rejecting the form"}})
		return
	}
	det, ok := s.detail(w, r, sess)
	if !ok {
		return
	}
	if why := notAboutAForm(det.Item.Reason); why != "" {
		s.fail(w, r, sess, http.StatusConflict, why)
		return
	}
	if !canReject(det.Item.Reason, det.Submission != nil) {
		s.fail(w, r, sess, http.StatusConflict, "The resident sent no form, so there is none to reject: write back to them, or close the item.")
		return
	}
	rt, canEmail := s.replyContext(r.Context(), det)
	if !canEmail {
		s.fail(w, r, sess, http.StatusConflict, "This item has no conversation with an address, so no email can be sent. Close it instead.")
		return
	}
	first := ""
	if det.Submission != nil {
		first = det.Submission.Fields.FirstName
	}
	e, err := s.email(vocab.KindRejected, rt, first, reasons)
	if err != nil {
		s.composeFail(w, r, sess, det.Item.ID, err)
		return
	}
	if err := s.d.Store.RejectTriage(r.Context(), store.Decision{TriageID: det.Item.ID, Actor: store.Actor(sess.Staff.ID),
		Reason: strings.Join(codes, "+"), Email: e, Detail: "email=queued"}); err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	s.d.Metrics.Action(metrics.ActionReject)
	http.Redirect(w, r, "/queue?done=rejected", http.StatusSeeOther)
}

func (s *server) itemWithErrors(w http.ResponseWriter, r *http.Request, sess *store.Session, id int64, errs []pageError) {
	d, perrs, err := s.itemPage(r.Context(), sess, id, nil, nil)
	if err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	s.render(w, r, http.StatusUnprocessableEntity, "item", page{Title: "Item " + strconv.FormatInt(id, 10), Nav: "queue",
		Session: sess, Errors: append(errs, perrs...), Data: d, Script: s.jsPrefix + "original.js"})
}

func (s *server) closeItem(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	det, ok := s.detail(w, r, sess)
	if !ok {
		return
	}
	if isBounce(det.Item.Reason) {
		// Not an opt-out request would undo the form its email was about.
		s.fail(w, r, sess, http.StatusConflict, "This item is about an email that bounced: close it from the section about the email, at the top of the item, instead.")
		return
	}
	dec := store.Decision{TriageID: det.Item.ID, Actor: store.Actor(sess.Staff.ID), Reason: string(vocab.StatusNotOptOut), Detail: "reply=no"}
	if r.PostForm.Get("reply") == "yes" {
		dec.Detail = "reply=yes"
		rt, canEmail := s.replyContext(r.Context(), det)
		if !canEmail {
			s.fail(w, r, sess, http.StatusConflict, "This item has no conversation with an address, so no reply can be sent. Close it without a reply.")
			return
		}
		e, err := s.email(vocab.KindNotOptOut, rt, "", nil)
		if err != nil {
			s.composeFail(w, r, sess, det.Item.ID, err)
			return
		}
		dec.Email = e
	}
	if err := s.d.Store.CloseTriage(r.Context(), dec); err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	s.d.Metrics.Action(metrics.ActionClose)
	http.Redirect(w, r, "/queue?done=closed", http.StatusSeeOther)
}

func (s *server) assign(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	id, ok := itemID(r)
	if !ok {
		s.fail(w, r, sess, http.StatusNotFound, "There is no such item.")
		return
	}
	to := sess.Staff.ID
	if v := r.PostForm.Get("to"); v != "" && v != "me" {
		other, err := strconv.ParseInt(v, 10, 64)
		st, serr := s.d.Store.StaffByID(r.Context(), other)
		if err != nil || serr != nil || st.Disabled {
			s.fail(w, r, sess, http.StatusUnprocessableEntity, "Choose an enabled member of staff to assign the item to. Go back and try again.")
			return
		}
		to = other
	}
	if r.PostForm.Get("unassign") == "yes" {
		to = 0
	}
	if err := s.d.Store.AssignTriage(r.Context(), id, to, store.Actor(sess.Staff.ID)); err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	s.d.Metrics.Action(metrics.ActionAssign)
	done := "assigned"
	switch to {
	case 0:
		done = ""
	case sess.Staff.ID:
	default:
		done = "assigned-other"
	}
	itemDone(w, r, id, done)
}

// safeFileName keeps a file name usable in a header: no path, no controls.
func safeFileName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' {
			return -1
		}
		return r
	}, strings.ToValidUTF8(name, ""))
	if utf8.RuneCountInString(name) > 100 {
		name = string([]rune(name)[:100])
	}
	if name == "" || name == "." || name == ".." {
		name = "attachment"
	}
	return name
}
