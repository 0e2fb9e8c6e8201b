package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/metrics"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

type personView struct {
	store.Person
	Display string // the NHS number as 3 3 4 digits
	OptedIn bool
	Changes []historyView
}

// historyView is one register change in words: who, when, why, and the
// item of the form it came from.
type historyView struct {
	store.HistoryEntry
	Who    string
	Why    string
	ItemID int64
}

// historyReasons are the reason codes the store writes with a register
// change, in words; staff's own words (an opt back in) are shown as written.
var historyReasons = map[string]string{
	"form":   "The resident's form passed every check",
	"triage": "Accepted by staff from the triage queue",
	"staff":  "Keyed in by staff from the resident's form",
}

// subView is one form of a conversation in words, linked to its item.
type subView struct {
	store.Submission
	FormatText, StatusText, ChannelText string
	ItemID                              int64
}

type peopleData struct {
	Query        string
	NHS          string // the NHS number searched for, "" for a reference
	Ref          string // the reference searched for, when it found a conversation
	Searched     bool
	Conversation *store.Conversation
	StateText    string // the conversation's state in words
	Submissions  []subView
	People       []personView
	CanAct       bool
}

// optInConfirm is the confirmation step of an opt back in: what will
// happen and which email the resident will get.
type optInConfirm struct {
	NHSNumber, Display, Reason string
	SendEmail                  bool
	To, Reference              string // where the confirmation goes; "" when nowhere
}

// personViews puts the register entries in words for the page.
func (s *server) personViews(ctx context.Context, sess *store.Session, people []store.Person) []personView {
	names := s.staffNames(ctx, sess)
	var ids []int64
	for _, p := range people {
		for _, h := range p.History {
			if h.SubmissionID != 0 {
				ids = append(ids, h.SubmissionID)
			}
		}
	}
	items := s.itemsOf(ctx, ids)
	var out []personView
	for _, p := range people {
		v := personView{Person: p, Display: formatNHS(p.NHSNumber), OptedIn: p.State == store.OptedIn}
		for _, h := range p.History {
			why, ok := historyReasons[h.Reason]
			if !ok {
				why = h.Reason
			}
			v.Changes = append(v.Changes, historyView{HistoryEntry: h, Who: who(names, h.Actor), Why: why, ItemID: items[h.SubmissionID]})
		}
		out = append(out, v)
	}
	return out
}

func (s *server) itemsOf(ctx context.Context, subs []int64) map[int64]int64 {
	items, err := s.d.Store.ItemsOfSubmissions(ctx, subs)
	if err != nil {
		s.log.Warn("web: find the items of forms", slog.String("error", err.Error()))
		return map[int64]int64{}
	}
	return items
}

func formatNHS(n string) string {
	if len(n) != 10 {
		return n
	}
	return n[:3] + " " + n[3:6] + " " + n[6:]
}

func (s *server) peoplePage(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	s.render(w, r, http.StatusOK, "people", page{Title: "Find a person", Nav: "people", Session: sess, Data: peopleData{}})
}

// maxQueryLen bounds the search box.
const maxQueryLen = 100

// findPerson searches by reference code or NHS number. It is a POST so an
// NHS number never appears in a URL, a log line or the browser history.
func (s *server) findPerson(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	q := strings.TrimSpace(r.PostForm.Get("q"))
	if len(q) > maxQueryLen || !utf8.ValidString(q) {
		q = ""
	}
	s.showPeople(w, r, sess, q, "")
}

func (s *server) showPeople(w http.ResponseWriter, r *http.Request, sess *store.Session, q, notice string) {
	d := peopleData{Query: q, Searched: true, CanAct: rank(sess.Staff.Role) >= rank(store.RoleTriager)}
	actor := store.Actor(sess.Staff.ID)
	ctx := r.Context()
	if q == "" {
		s.render(w, r, http.StatusUnprocessableEntity, "people", page{Title: "Find a person", Nav: "people", Session: sess,
			Errors: []pageError{{Field: "q", Message: "Enter an NHS number (10 digits) or a reference code like NCL-7K3Q-9XWD"}}, Data: d})
		return
	}
	var nhs []string
	if ref, ok := store.FindReference(q); ok {
		c, subs, err := s.d.Store.SubmissionsByReference(ctx, ref, actor)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.storeFail(w, r, sess, err)
			return
		}
		if err == nil {
			d.Conversation, d.StateText, d.Ref = &c, c.State.Text(), c.Reference
			var ids []int64
			for _, sb := range subs {
				ids = append(ids, sb.ID)
			}
			items := s.itemsOf(ctx, ids)
			for _, sb := range subs {
				d.Submissions = append(d.Submissions, subView{Submission: sb, FormatText: sb.Format.Text(), StatusText: sb.Status.Text(),
					ChannelText: sb.Channel.Text(), ItemID: items[sb.ID]})
			}
			for _, sb := range subs {
				f := sb.Fields
				if sb.Corrected != nil {
					f = *sb.Corrected
				}
				if n := store.NormaliseNHS(f.NHSNumber); n != "" && !contains(nhs, n) {
					nhs = append(nhs, n)
				}
			}
		}
	} else if n := store.NormaliseNHS(q); n != "" && !form.ValidNHSNumber(n) {
		// No register entry can hold it: every form is checked by the same rule.
		s.render(w, r, http.StatusUnprocessableEntity, "people", page{Title: "Find a person", Nav: "people", Session: sess,
			Errors: []pageError{{Field: "q", Message: "This NHS number fails its check digit (Modulus 11): check it against the form"}}, Data: d})
		return
	} else if n != "" {
		nhs = append(nhs, n)
		d.NHS = n
	} else {
		s.render(w, r, http.StatusUnprocessableEntity, "people", page{Title: "Find a person", Nav: "people", Session: sess,
			Errors: []pageError{{Field: "q", Message: "Enter an NHS number (10 digits) or a reference code like NCL-7K3Q-9XWD"}}, Data: d})
		return
	}
	var found []store.Person
	for _, n := range nhs {
		p, err := s.d.Store.FindPerson(ctx, n, actor)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			s.storeFail(w, r, sess, err)
			return
		}
		found = append(found, p)
	}
	d.People = s.personViews(ctx, sess, found)
	if notice == "" { // a search by staff, not the page shown again after an opt back in
		found := len(d.People)
		if d.Conversation != nil && found == 0 {
			found = 1
		}
		if err := s.d.Store.AuditSearch(ctx, actor, q, found); err != nil {
			s.storeFail(w, r, sess, err)
			return
		}
	}
	s.render(w, r, http.StatusOK, "people", page{Title: "Find a person", Nav: "people", Session: sess, Notice: notice, Data: d})
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// maxReasonRunes bounds an opt-in reason.
const maxReasonRunes = 500

func (s *server) optIn(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	nhs := store.NormaliseNHS(r.PostForm.Get("nhs"))
	reason := strings.Join(strings.Fields(strings.ToValidUTF8(r.PostForm.Get("reason"), "")), " ")
	if nhs == "" {
		s.fail(w, r, sess, http.StatusBadRequest, "The NHS number was missing. Find the person again and retry.")
		return
	}
	if reason == "" || utf8.RuneCountInString(reason) > maxReasonRunes {
		d := peopleData{Query: nhs, Searched: true, CanAct: true}
		if p, err := s.d.Store.FindPerson(r.Context(), nhs, store.Actor(sess.Staff.ID)); err == nil {
			d.People = s.personViews(r.Context(), sess, []store.Person{p})
		}
		s.render(w, r, http.StatusUnprocessableEntity, "people", page{Title: "Find a person", Nav: "people", Session: sess, Data: d,
			Errors: []pageError{{Field: "reason-" + nhs, Message: "Say why the person is opting back in (at most 500 characters; no personal details)"}}})
		return
	}
	if r.PostForm.Get("confirmed") != "yes" {
		// The confirmation step: what will happen and which email goes.
		c := optInConfirm{NHSNumber: nhs, Display: formatNHS(nhs), Reason: reason, SendEmail: r.PostForm.Get("confirm") == "yes"}
		if rt, ok := s.optInAddress(r.Context(), nhs); ok {
			c.To, c.Reference = rt.to, rt.ref
		}
		s.render(w, r, http.StatusOK, "optin", page{Title: "Check the opt back in", Nav: "people", Session: sess, Data: c})
		return
	}
	in := store.OptIn{NHSNumber: nhs, Actor: store.Actor(sess.Staff.ID), Reason: reason}
	notice := "The opt back in is recorded."
	if r.PostForm.Get("confirm") == "yes" {
		e, err := s.optInEmail(r.Context(), nhs)
		if err != nil {
			s.composeFail(w, r, sess, 0, err)
			return
		}
		if e != nil {
			in.Email = e
			notice = "The opt back in is recorded and the confirmation email is queued."
		} else {
			notice = "The opt back in is recorded. There is no conversation with an address, so no confirmation was queued."
		}
	}
	if _, err := s.d.Store.RecordOptIn(r.Context(), in); err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	s.d.Metrics.Action(metrics.ActionOptIn)
	s.showPeople(w, r, sess, nhs, notice)
}

// optInEmail composes the confirmation to the address of the conversation
// the opt-out came from; nil when there is none.
func (s *server) optInEmail(ctx context.Context, nhs string) (*store.Email, error) {
	rt, ok := s.optInAddress(ctx, nhs)
	if !ok {
		return nil, nil
	}
	// Not threaded: the person may write from a new thread months later.
	return s.email(vocab.KindOptedIn, rt, "", nil)
}

// optInAddress is where an opt back in confirmation goes: the address of
// the conversation the opt-out came from; ok is false when there is none.
func (s *server) optInAddress(ctx context.Context, nhs string) (replyTo, bool) {
	p, err := s.d.Store.FindPerson(ctx, nhs, store.System)
	if err != nil || p.Reference == "" {
		return replyTo{}, false
	}
	c, err := s.d.Store.ConversationByReference(ctx, p.Reference)
	if err != nil || c.Address == "" {
		return replyTo{}, false
	}
	return replyTo{to: c.Address, ref: c.Reference}, true
}

// optOutData is the keyed-in opt-out page: the leaflet's fields to key in
// (checked by the daemon's rules), then the confirmation step.
type optOutData struct {
	Fields   []fieldRow
	HasForm  bool // always false: there is no form as read to show
	Warnings []form.Problem
	// Ref is the conversation the form belongs to, "" for none.
	Ref string
	// Confirm is the confirmation step: what will happen and which email
	// goes; To is where the outcome email goes, "" for no email.
	Confirm bool
	Display string
	To      string
}

// optOut records an opt-out from a form staff keyed in. The first POST
// (start=yes, from the person page) shows the empty form; each POST after
// checks it with the daemon's rules; a form that passes shows the
// confirmation step, and only a POST with confirmed=yes records it.
func (s *server) optOut(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	ref := strings.ToUpper(strings.TrimSpace(r.PostForm.Get("ref")))
	if _, ok := store.FindReference(ref); !ok {
		ref = ""
	}
	show := func(status int, d optOutData, errs []pageError) {
		title := "Record an opt-out"
		if d.Confirm {
			title = "Check the opt-out"
		}
		s.render(w, r, status, "optout", page{Title: title, Nav: "people", Session: sess, Data: d, Errors: errs, TitleError: len(errs) > 0})
	}
	if r.PostForm.Get("start") == "yes" {
		f := form.Fields{NHSNumber: formatNHS(store.NormaliseNHS(r.PostForm.Get("nhs")))}
		show(http.StatusOK, optOutData{Fields: fieldRows(nil, f, nil, false), Ref: ref}, nil)
		return
	}
	f := fieldsFromForm(r.PostForm)
	probs := form.Check(&f, s.d.Now())
	errs, warnings := problemErrors(probs)
	d := optOutData{Fields: fieldRows(nil, f, probs, false), Warnings: warnings, Ref: ref}
	if len(errs) > 0 {
		show(http.StatusUnprocessableEntity, d, errs)
		return
	}
	nhs := store.NormaliseNHS(f.NHSNumber)
	rt, hasConv := s.optOutConversation(r.Context(), ref, nhs)
	if r.PostForm.Get("confirmed") != "yes" {
		d.Confirm, d.Display, d.To, d.Ref = true, formatNHS(nhs), rt.to, rt.ref
		show(http.StatusOK, d, nil)
		return
	}
	in := store.StaffOptOut{Fields: f, Actor: store.Actor(sess.Staff.ID)}
	if hasConv {
		in.Reference = rt.ref
	}
	if rt.to != "" {
		e, err := s.email(vocab.KindAccepted, replyTo{to: rt.to, ref: rt.ref}, f.FirstName, nil)
		if err != nil {
			s.composeFail(w, r, sess, 0, err)
			return
		}
		in.Accepted = e
	}
	st, err := s.d.Store.RecordStaffOptOut(r.Context(), in)
	if err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	s.d.Metrics.Action(metrics.ActionOptOut)
	var notice string
	switch {
	case st == vocab.StatusDuplicate:
		notice = "This person was already opted out: the form is kept and the register is unchanged. No email was queued."
	case in.Accepted != nil:
		notice = "The opt-out is recorded and the \"opt-out recorded\" email is queued."
	default:
		notice = "The opt-out is recorded. There is no conversation with an address, so no email was queued."
	}
	s.showPeople(w, r, sess, nhs, notice)
}

// optOutConversation is the conversation a keyed-in opt-out belongs to:
// the one searched for by reference, otherwise the one the person's
// register entry came from; ok is false when there is none, and rt.to is
// "" when it has no address.
func (s *server) optOutConversation(ctx context.Context, ref, nhs string) (replyTo, bool) {
	if ref != "" {
		if c, err := s.d.Store.ConversationByReference(ctx, ref); err == nil {
			return replyTo{to: c.Address, ref: c.Reference}, true
		}
	}
	return s.optInAddress(ctx, nhs)
}

// optOutStart is the person page's button that starts a keyed-in opt-out,
// with what the form knows: the NHS number and conversation, if any, and
// a sentence on undoing a mistake.
type optOutStart struct{ CSRF, NHS, Ref, Undo string }

func newOptOutStart(csrf, nhs, ref, undo string) optOutStart {
	return optOutStart{CSRF: csrf, NHS: nhs, Ref: ref, Undo: undo}
}
