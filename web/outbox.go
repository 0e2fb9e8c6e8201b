package web

import (
	"errors"
	"net/http"
	"net/mail"
	"strconv"
	"strings"

	"github.com/ncl-icb/optout-intake/metrics"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// maxOutgoingShown bounds the outgoing mail page.
const maxOutgoingShown = 500

// outboxStateTexts are the outbox states in words for staff.
var outboxStateTexts = map[store.OutboxState]string{
	store.OutboxPending:       "Waiting to be sent",
	store.OutboxSending:       "Being sent",
	store.OutboxSent:          "Sent",
	store.OutboxFailed:        "Refused by the mail server",
	store.OutboxUndeliverable: "Bounced",
	store.OutboxCancelled:     "Cancelled",
}

// mailKindTexts are the kinds of reply in words.
var mailKindTexts = map[vocab.Kind]string{
	vocab.KindInstructions: "Secure email instructions",
	vocab.KindReceipt:      "Form received",
	vocab.KindAccepted:     "Opt-out recorded",
	vocab.KindDuplicate:    "Already opted out",
	vocab.KindRejected:     "Please send a corrected form",
	vocab.KindNoForm:       "No form found",
	vocab.KindNotOptOut:    "Not an opt-out request",
	vocab.KindOptedIn:      "Opted back in",
	vocab.KindStaffReply:   "A reply written by staff",
}

type outgoingRow struct {
	store.OutgoingMail
	StateText string
	KindText  string
	Retrying  bool // waiting again after a failed attempt
	Refused   bool // failed or undeliverable: needs a person
	CanAct    bool // not in a worker's hands
}

type outgoingData struct {
	Rows    []outgoingRow
	Total   int
	Refused int
	CanAct  bool
	// Paused says, when sending is paused, why and until when
	// (store.SendStatus.Words); "" while mail is being sent.
	Paused string
}

// notices of the outgoing mail page's actions (?done=...).
var outboxNotices = map[string]string{
	"retried":   "The email will be sent again within a minute.",
	"cancelled": "The email is cancelled and will not be sent.",
	"corrected": "The address is corrected and the email will be sent to it within a minute.",
}

// outgoing is the outgoing mail page: every email not sent yet or refused,
// with its attempts, last error and next attempt.
func (s *server) outgoing(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	s.showOutgoing(w, r, sess, http.StatusOK, nil)
}

func (s *server) showOutgoing(w http.ResponseWriter, r *http.Request, sess *store.Session, status int, errs []pageError) {
	list, total, err := s.d.Store.ListOutgoing(r.Context(), maxOutgoingShown, store.Actor(sess.Staff.ID))
	if err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	d := outgoingData{Total: total, CanAct: rank(sess.Staff.Role) >= rank(store.RoleTriager)}
	for _, m := range list {
		row := outgoingRow{OutgoingMail: m, StateText: outboxStateTexts[m.State], KindText: mailKindTexts[m.Kind],
			Refused: m.State == store.OutboxFailed || m.State == store.OutboxUndeliverable}
		if row.KindText == "" {
			row.KindText = string(m.Kind)
		}
		if m.State == store.OutboxPending && (m.Attempts > 0 || m.LastError != "") {
			row.Retrying, row.StateText = true, "Retrying"
		}
		row.CanAct = d.CanAct && m.State != store.OutboxSending
		if row.Refused {
			d.Refused++
		}
		d.Rows = append(d.Rows, row)
	}
	st, err := s.d.Store.SendingStatus(r.Context(), s.d.DailyLimit)
	if err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	d.Paused = st.Words(s.london)
	s.render(w, r, status, "outbox", page{Title: "Outgoing mail", Nav: "outbox", Session: sess,
		Notice: outboxNotices[r.URL.Query().Get("done")], Errors: errs, Data: d})
}

// outboxAction runs one staff action on an outgoing email and returns to the page.
func (s *server) outboxAction(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	id, ok := itemID(r)
	if !ok {
		s.fail(w, r, sess, http.StatusNotFound, "There is no such email.")
		return
	}
	actor := store.Actor(sess.Staff.ID)
	var err error
	var done string
	switch r.PathValue("action") {
	case "retry":
		err, done = s.d.Store.RetryOutboxNow(r.Context(), id, actor), "retried"
	case "cancel":
		err, done = s.d.Store.CancelOutbox(r.Context(), id, actor), "cancelled"
	case "address":
		addr, ok := parseAddress(r.PostForm.Get("address"))
		if !ok {
			s.showOutgoing(w, r, sess, http.StatusUnprocessableEntity, []pageError{{Field: "address-" + strconv.FormatInt(id, 10),
				Message: "Enter the corrected email address in the correct format, like name@example.com"}})
			return
		}
		err, done = s.d.Store.CorrectOutboxAddress(r.Context(), id, addr, actor), "corrected"
	default:
		s.fail(w, r, sess, http.StatusNotFound, "There is no such action.")
		return
	}
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			s.fail(w, r, sess, http.StatusConflict, "This email has been sent, cancelled or is being sent right now, so nothing was changed. Go back to the outgoing mail page and reload it.")
			return
		}
		s.storeFail(w, r, sess, err)
		return
	}
	s.d.Metrics.Action(map[string]metrics.WebAction{"retry": metrics.ActionOutboxRetry, "cancel": metrics.ActionOutboxCancel,
		"address": metrics.ActionOutboxAddress}[r.PathValue("action")])
	http.Redirect(w, r, "/outbox?done="+done, http.StatusSeeOther)
}

// parseAddress accepts one bare email address (no display name, no list).
func parseAddress(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 254 || s == "" {
		return "", false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || !strings.Contains(a.Address[strings.LastIndexByte(a.Address, '@')+1:], ".") {
		return "", false
	}
	return a.Address, true
}
