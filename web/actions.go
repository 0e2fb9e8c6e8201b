package web

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ncl-icb/optout-intake/metrics"
	"github.com/ncl-icb/optout-intake/notify"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// itemActions are an item's own facts and actions, by reason
// (templates/item_actions.html): the bounced email and how to send it
// again, both addresses of a reference from another address, what is known
// of a message that could not be read, and the staff reply.
type itemActions struct {
	ItemID int64
	CanAct bool
	// Bounce is the email that bounced or failed (undeliverable,
	// send_failed); nil for other reasons.
	Bounce *bounceView
	// Senders are the two addresses of a reference from another address.
	Senders *sendersView
	// Undecided is a reference from another address not yet attached to
	// the conversation nor treated as a new contact: its form is shown,
	// but not accepted or rejected until staff know who sent it.
	Undecided bool
	// Raw is what is known of a message too large, unreadable or whose
	// processing failed, and whether it can be downloaded.
	Raw *rawView
	// Reply is the staff reply block; nil when the item has no conversation.
	Reply *replyView
	// Limited is what a rate_limited item held back; nil for other reasons.
	Limited *limitedView
	// Protected is a protected item's protection and upload form; nil for
	// other reasons.
	Protected *protectedView
	// OptBackIn is an opt_back_in item's register state and confirm
	// button; nil for other reasons.
	OptBackIn *optBackInView
}

// limitedView is a sender who reached the reply limit: how many emails
// went to their address in the window, and the replies held back.
type limitedView struct {
	Recent  int
	Window  string   // in words, e.g. "3 hours"
	Held    []string // the held replies, in words
	CanSend bool
}

// heldReply is one reply a rate_limited item held back.
type heldReply struct {
	kind      vocab.Kind
	firstName string
}

// heldKinds are the replies the pipeline plans per action (intake.Decide),
// before the reply limit withholds them; the outcome email of each form
// recorded from the message is added to them, and the receipt of forms
// dropped when every one was recorded.
var heldKinds = map[vocab.Action][]vocab.Kind{
	vocab.ActionInstructions:   {vocab.KindInstructions},
	vocab.ActionNoForm:         {vocab.KindNoForm},
	vocab.ActionForms:          {vocab.KindReceipt},
	vocab.ActionPhoto:          {vocab.KindReceipt},
	vocab.ActionUnsolicitedAsk: {vocab.KindInstructions, vocab.KindUnsolicited},
}

// heldReplies works out the replies a rate_limited item's message held
// back, from the action the ledger recorded and the forms recorded from
// it. ok is false when they cannot be worked out (staff write back instead).
func (s *server) heldReplies(ctx context.Context, det store.TriageDetail, actor store.Actor) ([]heldReply, bool, error) {
	if det.Message == nil || det.Conversation == nil {
		return nil, false, nil
	}
	action := det.Message.Action
	if i := strings.IndexByte(action, ':'); i >= 0 {
		action = action[i+1:]
	}
	action, limited := strings.CutSuffix(action, string(vocab.ActionRateLimited))
	kinds, known := heldKinds[vocab.Action(action)]
	if !limited || !known {
		return nil, false, nil
	}
	var out []heldReply
	_, subs, err := s.d.Store.SubmissionsByReference(ctx, det.Conversation.Reference, actor)
	if err != nil {
		return nil, false, err
	}
	first := ""
	recorded, all := 0, 0 // the message's forms: recorded in the register, and all
	for _, sb := range subs {
		if sb.LedgerID != det.Message.ID {
			continue
		}
		if first == "" {
			first = sb.Fields.FirstName
		}
		all++
		if sb.Status == vocab.StatusAccepted || sb.Status == vocab.StatusDuplicate {
			recorded++
		}
	}
	for _, k := range kinds {
		if k == vocab.KindReceipt && vocab.Action(action) == vocab.ActionForms && all > 0 && recorded == all {
			// Every form was recorded: the outcome email says it was
			// received, as the pipeline sends it (intake's planForms).
			continue
		}
		out = append(out, heldReply{kind: k, firstName: first})
	}
	for _, sb := range subs {
		if sb.LedgerID != det.Message.ID {
			continue
		}
		switch sb.Status {
		case vocab.StatusAccepted:
			out = append(out, heldReply{kind: vocab.KindAccepted, firstName: sb.Fields.FirstName})
		case vocab.StatusDuplicate:
			out = append(out, heldReply{kind: vocab.KindDuplicate, firstName: sb.Fields.FirstName})
		}
	}
	return out, true, nil
}

// bounceView is the email that bounced: what it was, to whom, when, and
// what the receiving server said. To is personal data (shown, never logged).
type bounceView struct {
	OutboxID  int64
	KindText  string
	Subject   string
	To        string
	Queued    time.Time
	SentAt    *time.Time
	State     string
	Attempts  int
	LastError string
	CanResend bool // failed, undeliverable or waiting: not sent or being sent
	// Ended is when it bounced (the report arrived) or was refused: when
	// the item was raised. EndedText says which ("Bounced", "Refused"),
	// Heading heads the section accordingly.
	Ended              time.Time
	EndedText, Heading string
}

// sendersView shows the sender of a message quoting a reference and the
// address of the conversation the reference belongs to.
type sendersView struct {
	Sender      string
	ConvAddress string
	ConvRef     string
	CanDecide   bool // open, not yet tied to a conversation
}

// rawView is what is known of a message that could not be read.
type rawView struct {
	Size       int64
	SizeText   string // Size in words staff read ("261 KB")
	ReceivedAt time.Time
	Sender     string
	Kept       bool // the original is kept and can be downloaded
	TooLarge   bool // over the size limit: only its header was downloaded
}

// bounceReasons are the reasons of an item about one of our emails.
func isBounce(r vocab.Reason) bool {
	return r == vocab.ReasonUndeliverable || r == vocab.ReasonSendFailed
}

// isEnquiry reports whether r is raised for what a resident wrote rather
// than for a form: a message that needs a person (issue 14) or one after
// the conversation completed. Without a form on the item there is nothing
// to reject, so its page offers no "Reject the form".
func isEnquiry(r vocab.Reason) bool {
	switch r {
	case vocab.ReasonComplaint, vocab.ReasonRightsRequest, vocab.ReasonOptBackIn, vocab.ReasonProxy,
		vocab.ReasonFormatOrLanguage, vocab.ReasonStatusChase, vocab.ReasonQuestion, vocab.ReasonAfterCompletion:
		return true
	}
	return false
}

// How an item page offers to key in and accept a form (itemData.KeyIn).
const (
	keyInOpen      = ""          // the form to key in, check and accept is shown
	keyInCollapsed = "collapsed" // an enquiry without a form: behind "Record an opt-out from this message"
	keyInNone      = "none"      // an opt back in or a message after completion without a form: no opt-out to record
)

// keyInOf says how the page of an item of reason r offers to key in a form.
func keyInOf(r vocab.Reason, hasForm bool) string {
	switch {
	case hasForm || !isEnquiry(r):
		return keyInOpen
	case r == vocab.ReasonOptBackIn || r == vocab.ReasonAfterCompletion:
		return keyInNone
	}
	return keyInCollapsed
}

// canReject reports whether an item of reason r (hasForm: with a form read)
// may be rejected ("we could not accept your opt-out form"): not a bounce
// (that email would go to the address that bounced), not a second reply
// without a form, not replies held by the reply limit (the message's forms
// were decided as usual), and not a message that needs a person without a form
// (there is no form to reject: staff write back instead).
func canReject(r vocab.Reason, hasForm bool) bool {
	return !isBounce(r) && r != vocab.ReasonNoFormAgain && r != vocab.ReasonRateLimited && (hasForm || !isEnquiry(r))
}

// itemActions fills d.Actions from the item's detail.
func (s *server) itemActions(ctx context.Context, sess *store.Session, det store.TriageDetail, d *itemData) error {
	a := &d.Actions
	a.ItemID, a.CanAct = det.Item.ID, d.CanAct
	actor := store.Actor(sess.Staff.ID)
	var header store.MessageHeader
	if det.Message != nil {
		h, _, err := s.d.Store.MessageHeader(ctx, det.Message.ID)
		if err != nil {
			return err
		}
		header = h
	}
	switch r := det.Item.Reason; {
	case isBounce(r) && det.Item.OutboxID != 0:
		m, err := s.d.Store.OutboxEmail(ctx, det.Item.OutboxID, actor)
		if err != nil {
			return err
		}
		b := &bounceView{OutboxID: m.ID, KindText: mailKindTexts[m.Kind], Subject: m.Subject, To: m.To, Queued: m.CreatedAt,
			SentAt: m.SentAt, State: outboxStateTexts[m.State], Attempts: m.Attempts, LastError: m.LastError,
			CanResend: m.State == store.OutboxFailed || m.State == store.OutboxUndeliverable || m.State == store.OutboxPending}
		if b.KindText == "" {
			b.KindText = string(m.Kind)
		}
		b.Ended, b.EndedText, b.Heading = det.Item.CreatedAt, "Refused", "The email the mail server refused"
		if r == vocab.ReasonUndeliverable {
			b.EndedText, b.Heading = "Bounced", "The email that bounced"
		}
		a.Bounce = b
	case r == vocab.ReasonUnverifiedSender:
		sv := &sendersView{Sender: header.From}
		if ref, ok := store.FindReference(header.Subject); ok {
			if c, err := s.d.Store.ConversationByReference(ctx, ref); err == nil {
				sv.ConvAddress, sv.ConvRef = c.Address, c.Reference
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		a.Undecided = det.Item.ConversationID == 0
		sv.CanDecide = d.CanAct && a.Undecided
		a.Senders = sv
	case r == vocab.ReasonRateLimited:
		lv := &limitedView{Window: durationWords(s.d.ReplyWindow)}
		if header.From != "" {
			n, err := s.d.Store.CountRepliesTo(ctx, header.From, s.d.Now().Add(-s.d.ReplyWindow))
			if err != nil {
				return err
			}
			lv.Recent = n
		}
		held, ok, err := s.heldReplies(ctx, det, actor)
		if err != nil {
			return err
		}
		for _, h := range held {
			t := mailKindTexts[h.kind]
			if t == "" {
				t = string(h.kind)
			}
			lv.Held = append(lv.Held, t)
		}
		lv.CanSend = ok && d.CanAct && len(held) > 0
		a.Limited = lv
	case r == vocab.ReasonOptBackIn:
		a.OptBackIn = optBackInBlock(det, d.CanAct)
	case r == vocab.ReasonTooLarge || r == vocab.ReasonUnreadable || r == vocab.ReasonProcessingFailed:
		if det.Message != nil {
			// A message over the size limit was never downloaded: the
			// ledger keeps its header only, which is not the original.
			tooLarge := r == vocab.ReasonTooLarge
			a.Raw = &rawView{Size: det.Message.Size, SizeText: sizeText(det.Message.Size), ReceivedAt: det.Message.ReceivedAt, Sender: header.From,
				Kept: det.Message.HasRaw && !tooLarge, TooLarge: tooLarge}
		}
	}
	// A protected item, or an item reopened by an encrypted answer to a
	// staff reply: staff upload the form they saved from Outlook.
	if !isBounce(det.Item.Reason) {
		m, ok, err := s.protectedMessage(ctx, det)
		if err != nil {
			return err
		}
		if ok {
			a.Protected = s.protectedBlock(ctx, det, m, d.CanAct)
		}
	}
	if det.Conversation != nil && det.Conversation.Address != "" && !isBounce(det.Item.Reason) {
		rv, err := s.replyBlock(ctx, sess, det, d.CanAct)
		if err != nil {
			return err
		}
		a.Reply = rv
	}
	return nil
}

// bounceAction sends a bounced or failed email again, as it was or to a
// corrected address (store.RetryOutboxNow, store.CorrectOutboxAddress:
// both audited), or closes the item once the email is dealt with
// (vocab.CloseBounceHandled, audited). The item stays open until staff close it.
func (s *server) bounceAction(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	det, ok := s.detail(w, r, sess)
	if !ok {
		return
	}
	if !isBounce(det.Item.Reason) || det.Item.OutboxID == 0 {
		s.fail(w, r, sess, http.StatusConflict, "This item is not about an email of ours that bounced, so there is nothing to send again.")
		return
	}
	actor := store.Actor(sess.Staff.ID)
	var err error
	var done string
	var counted metrics.WebAction
	switch r.PathValue("action") {
	case "resend":
		err, done, counted = s.d.Store.RetryOutboxNow(r.Context(), det.Item.OutboxID, actor), "resent", metrics.ActionItemResend
	case "redirect":
		addr, ok := parseAddress(r.PostForm.Get("address"))
		if !ok {
			s.itemWithErrors(w, r, sess, det.Item.ID, []pageError{{Field: "bounce-address",
				Message: "Enter the corrected email address in the correct format, like name@example.com"}})
			return
		}
		err, done, counted = s.d.Store.CorrectOutboxAddress(r.Context(), det.Item.OutboxID, addr, actor), "redirected", metrics.ActionItemRedirect
	case "close":
		// Nothing is sent and the form the email was about stays as decided.
		if err := s.d.Store.CloseTriage(r.Context(), store.Decision{TriageID: det.Item.ID, Actor: actor, Reason: string(vocab.CloseBounceHandled)}); err != nil {
			s.storeFail(w, r, sess, err)
			return
		}
		s.d.Metrics.Action(metrics.ActionItemBounceClose)
		http.Redirect(w, r, "/queue?done=closed", http.StatusSeeOther)
		return
	default:
		s.fail(w, r, sess, http.StatusNotFound, "There is no such action.")
		return
	}
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			s.fail(w, r, sess, http.StatusConflict, "This email has been sent, cancelled or is being sent right now, so nothing was changed. Go back to the item and reload it.")
			return
		}
		s.storeFail(w, r, sess, err)
		return
	}
	s.d.Metrics.Action(counted)
	itemDone(w, r, det.Item.ID, done)
}

// senderAction decides an item raised for a reference from another
// address: "attach" ties it to the conversation its subject's reference
// names (the same resident: the kept form is then keyed, checked and
// accepted as usual); "new" treats it as a new first contact, sending the
// instructions to the sender's address in a new conversation and closing
// the item. Both audited.
func (s *server) senderAction(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	det, ok := s.detail(w, r, sess)
	if !ok {
		return
	}
	if det.Item.Reason != vocab.ReasonUnverifiedSender || det.Item.ConversationID != 0 || det.Message == nil {
		s.fail(w, r, sess, http.StatusConflict, "This item is not an undecided reference from another address, so nothing was changed.")
		return
	}
	h, _, err := s.d.Store.MessageHeader(r.Context(), det.Message.ID)
	if err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	actor := store.Actor(sess.Staff.ID)
	var done string
	switch r.PathValue("action") {
	case "attach":
		ref, ok := store.FindReference(h.Subject)
		if !ok {
			s.fail(w, r, sess, http.StatusConflict, "The email's subject no longer shows a reference, so it cannot be attached. Treat it as a new first contact instead.")
			return
		}
		c, err := s.d.Store.ConversationByReference(r.Context(), ref)
		if err == nil {
			err = s.d.Store.AttachToConversation(r.Context(), det.Item.ID, c.ID, actor)
		}
		if err != nil {
			s.storeFail(w, r, sess, err)
			return
		}
		done = "attached"
	case "new":
		if h.From == "" {
			s.fail(w, r, sess, http.StatusConflict, "The sender's address is not known, so no instructions can be sent.")
			return
		}
		ref, err := store.NewReference()
		if err != nil {
			s.storeFail(w, r, sess, err)
			return
		}
		raw, id, subject, err := s.d.Composer.Compose(notify.Reply{Kind: vocab.KindInstructions, To: h.From,
			Data: notify.Data{Ref: ref}, InReplyTo: h.MessageID, References: h.References})
		if err != nil {
			s.composeFail(w, r, sess, det.Item.ID, err)
			return
		}
		e := &store.Email{Kind: vocab.KindInstructions, Subject: subject, Body: string(raw), MessageID: id,
			InReplyTo: h.MessageID, References: h.References}
		if err := s.d.Store.NewContactFromTriage(r.Context(), det.Item.ID, h.From, ref, e, actor); err != nil {
			s.storeFail(w, r, sess, err)
			return
		}
		done = "newcontact"
	default:
		s.fail(w, r, sess, http.StatusNotFound, "There is no such action.")
		return
	}
	s.d.Metrics.Action(map[string]metrics.WebAction{"attach": metrics.ActionSenderAttach, "new": metrics.ActionSenderNew}[r.PathValue("action")])
	itemDone(w, r, det.Item.ID, done)
}

// sendHeld sends the replies a rate_limited item held back, composed as
// the pipeline composes them (the web's composer, threaded under the
// resident's message), and closes the item. Audited.
func (s *server) sendHeld(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	det, ok := s.detail(w, r, sess)
	if !ok {
		return
	}
	actor := store.Actor(sess.Staff.ID)
	held, ok, err := s.heldReplies(r.Context(), det, actor)
	if err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	if det.Item.Reason != vocab.ReasonRateLimited || !ok || len(held) == 0 {
		s.fail(w, r, sess, http.StatusConflict, "The held replies of this item cannot be worked out. Write back to the resident instead.")
		return
	}
	rt, canEmail := s.replyContext(r.Context(), det)
	if !canEmail {
		s.fail(w, r, sess, http.StatusConflict, "This item has no conversation with an address, so no reply can be sent.")
		return
	}
	var emails []*store.Email
	for _, h := range held {
		e, err := s.email(h.kind, rt, h.firstName, nil)
		if err != nil {
			s.composeFail(w, r, sess, det.Item.ID, err)
			return
		}
		emails = append(emails, e)
	}
	if err := s.d.Store.SendHeldReplies(r.Context(), det.Item.ID, emails, actor); err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	s.d.Metrics.Action(metrics.ActionSendHeld)
	itemDone(w, r, det.Item.ID, "heldsent")
}

// rawDownload serves the original of an item's message as a download
// (never shown in the browser), for messages the service could not read.
// Reading it is audited (store.RawMessageDownload). A too_large item has
// only the header kept, which is not offered as the original.
func (s *server) rawDownload(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	id, ok := itemID(r)
	if !ok {
		s.fail(w, r, sess, http.StatusNotFound, "There is no such item.")
		return
	}
	det, err := s.d.Store.TriageItemDetail(r.Context(), id, store.Actor(sess.Staff.ID))
	if err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	if det.Message == nil || !det.Message.HasRaw || det.Item.Reason == vocab.ReasonTooLarge {
		s.fail(w, r, sess, http.StatusNotFound, "The original email is not kept (it was too large to download, or it was deleted after the retention period).")
		return
	}
	raw, err := s.d.Store.RawMessageDownload(r.Context(), det.Message.ID, store.Actor(sess.Staff.ID))
	if err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	s.d.Metrics.Action(metrics.ActionDownload)
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": "item-" + strconv.FormatInt(id, 10) + ".eml"}))
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; sandbox")
	h.Set("Content-Length", strconv.Itoa(len(raw)))
	w.Write(raw) //nolint:errcheck // the client went away
}

// durationWords says a duration in words staff read ("3 hours", "1 hour",
// "45m0s" when it is not whole hours).
func durationWords(d time.Duration) string {
	switch {
	case d == time.Hour:
		return "hour"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + " hours"
	}
	return d.String()
}
