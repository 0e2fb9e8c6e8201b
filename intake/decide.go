package intake

import (
	"time"

	"github.com/ncl-icb/optout-intake/enquiry"
	"github.com/ncl-icb/optout-intake/extract"
	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// Policy says what to do with a form that arrives outside the secure
// exchange (OPTOUT_UNSOLICITED_POLICY).
type Policy string

// The unsolicited-form policies.
const (
	PolicyProcess Policy = "process" // read it, record the channel as unsolicited, answer through the secure marker
	PolicyAsk     Policy = "ask"     // send the instructions, keep the message for staff, do not read the form
)

// Match says how a message was tied to a conversation.
type Match string

// The ways a message is matched to a conversation.
const (
	MatchNone    Match = ""        // no conversation
	MatchToken   Match = "token"   // a signed Message-ID of ours in In-Reply-To/References: trusted
	MatchSubject Match = "subject" // a reference code in the subject: trusted only from the conversation's address
)

// DefaultReplyLimit and DefaultReplyWindowHours are the loop and abuse
// protection defaults: at most 10 replies per sender address per 3 hours.
const (
	DefaultReplyLimit       = 10
	DefaultReplyWindowHours = 3
)

// Conversation is what Decide needs to know about the conversation a
// message was matched to.
type Conversation struct {
	ID          int64 // the store's id: the plan ties itself to it
	Ref         string
	State       vocab.ConversationState
	NoFormCount int // no_form replies already sent in it
	// LastAfterCompletion is when the last after_completion
	// acknowledgement was queued in it (zero: never); read only for a
	// completed or closed conversation.
	LastAfterCompletion time.Time
	// Waiting is true when an open item of the conversation waits for the
	// resident's answer to a staff reply.
	Waiting bool
}

// done reports whether the conversation is completed or closed.
func (c *Conversation) done() bool {
	return c.State == vocab.StateCompleted || c.State == vocab.StateClosed
}

// AfterCompletionEvery is how often, at most, a conversation's messages
// after completion are acknowledged (KindAfterCompletion).
const AfterCompletionEvery = 7 * 24 * time.Hour

// Input is everything Decide looks at for one message. It holds no personal
// values: only what the message is and how it relates to what we know.
type Input struct {
	Kind  extract.Kind
	Forms []form.Form
	// Photos counts the attachments that are likely photos or scans of
	// the form (images that are not signature or layout images, see
	// extract.LikelyPhoto). Images are not forms in the JSON contract, so
	// a message carrying only such files is kind contact.
	Photos int

	// HasSender is false when the message has no usable From address.
	HasSender bool
	// FromUs is true when the From or Reply-To address is our own.
	FromUs bool
	// OurMarker is true when the message carries our X-Optout-Intake header.
	OurMarker bool
	// Auto is true for automatic mail (out-of-office, bounce, list).
	Auto bool
	// BounceOfOurs is true when the message is a bounce whose original
	// Message-ID carries our verified token.
	BounceOfOurs bool
	// TooLarge is true when the message is over the size limit and was not
	// downloaded.
	TooLarge bool
	// ExtractFailed is true when reading the message panicked or ran out of
	// time: the message goes to staff.
	ExtractFailed bool
	// PersonalData is true when the body looks as though it holds an NHS
	// number or a date of birth.
	PersonalData bool

	// Conv is the matched conversation, nil when none.
	Conv *Conversation
	// Match is how Conv was found.
	Match Match
	// SenderIsOwner is true when the From address is the conversation's
	// address.
	SenderIsOwner bool

	// Enquiry is what the resident's own words ask for (enquiry.Read),
	// read for a message of kind contact without a form or a photo of one.
	// The zero value reads as a plain request.
	Enquiry enquiry.Result
	// Received is when the message arrived: due dates and the
	// once-a-week acknowledgement count from it.
	Received time.Time
	// EnquiryDays is OPTOUT_ENQUIRY_DAYS (<= 0: enquiry.DefaultEnquiryDays).
	EnquiryDays int

	// Policy for forms that arrive outside the secure exchange.
	Policy Policy
	// RecentReplies counts replies queued to the reply address within the
	// window; ReplyLimit is the most allowed (<= 0: DefaultReplyLimit).
	RecentReplies int
	ReplyLimit    int
}

// Decide works out what one message causes. It is pure: it reads only in
// and returns the plan, which the store commits as it is (store.Plan) once
// the Processor has filled in what Decide cannot know: the ledger row, the
// addresses, the composed emails and the kept attachments.
//
// The rules, in order:
//   - over the size limit → triage, no reply;
//   - our own mail (our address or our marker header) → Auto, no reply;
//   - a bounce of one of our replies → that reply undeliverable (which
//     raises its triage item), Auto;
//   - reading crashed or timed out → triage, no reply;
//   - unreadable → triage, no reply;
//   - other automatic mail, or mail without a sender → Auto, no reply;
//   - a reference in the subject from another address (no signed token) →
//     triage (one item per form read, its form kept), no reply;
//   - in a conversation, with forms → receipt; each valid form recorded with
//     an outcome reply; each invalid form to triage (its outcome waits for staff);
//   - without a form read but with a likely photo or scan of it (in a
//     conversation, or a first email under policy process) → receipt and a
//     photo_of_form triage item (staff key the form in), never no_form or
//     instructions; a first email under policy ask → as a form under ask;
//   - in a conversation whose item waits for the resident's answer to a
//     staff reply, without a form → Triage folder, no reply: the waiting
//     item reopens (any plan in such a conversation, except automatic
//     mail, reopens it); a protected (encrypted) answer also gets the
//     receipt, and the reopened item offers the upload of a protected item;
//   - a protected (encrypted) message in a conversation, or a first email
//     under policy process → receipt and a protected triage item (staff
//     open it in Outlook and upload the form), never no_form or
//     instructions; a first email under policy ask → as a form under ask;
//   - without a form, a message whose own words need a person (a question,
//     complaint, request for someone else, another format or language,
//     rights request, opt back in, chase: Input.Enquiry) → a triage item
//     under its first intent, due by the law's deadline, and the enquiry
//     acknowledgement (with the instructions when it also asks to opt out
//     and no form was asked for yet); in a completed or closed
//     conversation, a mere question or thanks is after completion (below);
//   - in a completed or closed conversation, without a form or a request →
//     an after_completion triage item and an acknowledgement at most once
//     per conversation per AfterCompletionEvery;
//   - in a conversation, a plain request without a form → one no_form
//     reply per conversation, then triage;
//   - no conversation, a plain request without a form → new conversation
//     and instructions (the stored copy redacted when the body holds
//     personal data);
//   - no conversation, with forms → policy process: as in a conversation,
//     channel unsolicited; policy ask: instructions and the unsolicited note,
//     triage, the forms not read;
//   - any plan whose replies would take the sender past the reply limit
//     sends none of them and raises a rate_limited triage item instead.
func Decide(in Input) *store.Plan {
	p := decide(in)
	if in.Conv != nil && p.NewConversation == nil && p.Action != vocab.ActionOtherSender {
		// An unverified reference (ActionOtherSender) ties nothing to the
		// conversation.
		p.ConversationID = in.Conv.ID
		// The resident answered a staff reply: the waiting item comes back
		// to the queue (automatic mail, bounces and our own mail do not).
		p.ReopenWaiting = in.Conv.Waiting && p.Folder != vocab.FolderAuto
	}
	return p
}

// decide holds Decide's rules; Decide ties the plan to the conversation.
func decide(in Input) *store.Plan {
	switch {
	case in.TooLarge:
		return toTriage(vocab.ActionTooLarge, vocab.ReasonTooLarge)
	case in.OurMarker || in.FromUs:
		return &store.Plan{Folder: vocab.FolderAuto, Action: vocab.ActionOwnMail}
	case in.BounceOfOurs:
		// store.MarkUndeliverable raises the triage item, tied to the outbox row.
		return &store.Plan{Folder: vocab.FolderAuto, Action: vocab.ActionBounce, MarkUndeliverable: true}
	case in.ExtractFailed:
		return toTriage(vocab.ActionFailed, vocab.ReasonProcessingFailed)
	case in.Kind == extract.KindUnreadable:
		return toTriage(vocab.ActionUnreadable, vocab.ReasonUnreadable)
	case in.Auto || in.Kind == extract.KindAuto || !in.HasSender:
		return &store.Plan{Folder: vocab.FolderAuto, Action: vocab.ActionAuto}
	}
	if in.Conv != nil && in.Match == MatchSubject && !in.SenderIsOwner {
		return planOtherSender(in)
	}
	hasForms := len(in.Forms) > 0
	photo := !hasForms && in.Photos > 0
	protected := !hasForms && !photo && in.Kind == extract.KindProtected
	asks := needsPerson(in.Enquiry)

	var p *store.Plan
	switch {
	case in.Conv != nil && hasForms:
		p = planForms(in, vocab.ChannelSecureReply)
	case in.Conv != nil && photo:
		p = planPhoto()
	case in.Conv != nil && in.Conv.Waiting && protected:
		// An encrypted answer to a staff reply (say, the form): the waiting
		// item reopens and offers the upload (the answer's ledger row keeps
		// its kind: store.ProtectedAnswer), and the resident gets the
		// receipt a protected message gets, not a second item. The action
		// stays protected: the OptoutProtectedMail alert counts it.
		p = planProtected(in.Conv)
		p.Triage = nil
	case in.Conv != nil && in.Conv.Waiting:
		// An answer to a staff reply: the waiting item reopens (Decide sets
		// ReopenWaiting) instead of a "no form" reply or a second item.
		p = &store.Plan{Folder: vocab.FolderTriage, Action: vocab.ActionAnswer}
	case in.Conv != nil && protected:
		p = planProtected(in.Conv)
	case in.Conv != nil && in.Conv.done() && (!asks || in.Enquiry.Primary() == vocab.ReasonQuestion):
		p = planAfterCompletion(in)
	case in.Conv != nil && asks:
		p = planEnquiry(in, in.Conv.State == vocab.StateInstructionsSent)
	case in.Conv != nil:
		if in.Conv.NoFormCount == 0 {
			p = &store.Plan{Folder: vocab.FolderProcessed, Action: vocab.ActionNoForm, NoFormReply: true,
				Emails: []*store.Email{{Kind: vocab.KindNoForm}}}
		} else {
			p = toTriage(vocab.ActionNoFormAgain, vocab.ReasonNoFormAgain)
		}
	case !hasForms && !photo && !protected && asks:
		p = planEnquiry(in, true)
		p.NewConversation = &store.NewConversation{}
		p.ConversationState = vocab.StateInstructionsSent
		p.RedactBody = in.PersonalData // staff read the words; NHS numbers and dates are asked for in the reply
	case !hasForms && !photo && !protected:
		p = &store.Plan{Folder: vocab.FolderProcessed, Action: vocab.ActionInstructions, NewConversation: &store.NewConversation{},
			ConversationState: vocab.StateInstructionsSent, RedactBody: in.PersonalData,
			Emails: []*store.Email{{Kind: vocab.KindInstructions}}}
	case in.Policy == PolicyAsk:
		p = &store.Plan{Folder: vocab.FolderTriage, Action: vocab.ActionUnsolicitedAsk, NewConversation: &store.NewConversation{},
			ConversationState: vocab.StateInstructionsSent,
			Emails:            []*store.Email{{Kind: vocab.KindInstructions}, {Kind: vocab.KindUnsolicited}},
			Triage:            []*store.NewTriage{{Reason: vocab.ReasonUnsolicitedForm}}}
	case photo:
		p = planPhoto()
		p.NewConversation = &store.NewConversation{}
	case protected:
		p = planProtected(nil)
		p.NewConversation = &store.NewConversation{}
	default:
		p = planForms(in, vocab.ChannelUnsolicited)
		p.NewConversation = &store.NewConversation{}
	}
	return limitReplies(p, in)
}

// planOtherSender plans a message quoting a conversation's reference from
// another address: no reply, and a triage item per form read (kept with
// it, decided by staff once they know who sent it: store.AttachToConversation
// ties both to the conversation), or one for the whole message without a
// form.
func planOtherSender(in Input) *store.Plan {
	p := toTriage(vocab.ActionOtherSender, vocab.ReasonUnverifiedSender)
	if len(in.Forms) == 0 {
		return p
	}
	p.Triage = nil
	for _, f := range in.Forms {
		sub := &store.NewSubmission{Form: f, Channel: vocab.ChannelUnsolicited, Status: vocab.StatusTriage}
		p.Submissions = append(p.Submissions, sub)
		p.Triage = append(p.Triage, &store.NewTriage{Reason: vocab.ReasonUnverifiedSender, Submission: sub})
	}
	return p
}

// toTriage plans a message that goes to staff unanswered, with one triage
// item about the whole message.
func toTriage(a vocab.Action, r vocab.Reason) *store.Plan {
	return &store.Plan{Folder: vocab.FolderTriage, Action: a, Triage: []*store.NewTriage{{Reason: r}}}
}

// receipt is the one receipt a message carrying forms gets (one per
// message: a conversation may send several).
func receipt() *store.Email { return &store.Email{Kind: vocab.KindReceipt, PerMessage: true} }

// planPhoto plans a message whose form came as a photo or scan: the
// resident did what was asked, so a receipt goes out at once, and staff key
// the form in from the attachment (the outcome email follows their decision).
func planPhoto() *store.Plan {
	return &store.Plan{Folder: vocab.FolderTriage, Action: vocab.ActionPhoto,
		ConversationState: vocab.StateFormReceived,
		Emails:            []*store.Email{receipt()},
		Triage:            []*store.NewTriage{{Reason: vocab.ReasonPhotoOfForm}}}
}

// needsPerson reports whether the resident's own words need a person: an
// intent was found, other than the Question that an empty text reads as
// (a message with no words of its own, say a form that could not be
// found, is answered as a plain request: no_form or the instructions).
func needsPerson(r enquiry.Result) bool {
	if len(r.Intents) == 0 {
		return false
	}
	return !(r.Words == 0 && len(r.Intents) == 1 && r.Intents[0] == vocab.ReasonQuestion)
}

// planEnquiry plans a message that needs a person: one triage item filed
// under its first intent and due by the earliest deadline of its intents,
// and the acknowledgement, followed by the instructions when it also asks
// to opt out and withInstructions (no form has been asked for yet, or it
// is a first contact). One acknowledgement per message.
func planEnquiry(in Input, withInstructions bool) *store.Plan {
	e := in.Enquiry
	kind := vocab.KindEnquiry
	if e.AlsoOptOut && withInstructions {
		kind = vocab.KindEnquiryInstructions
	}
	return &store.Plan{Folder: vocab.FolderTriage, Action: vocab.ActionEnquiry,
		Emails: []*store.Email{{Kind: kind, PerMessage: true}},
		Triage: []*store.NewTriage{{Reason: e.Primary(), DueBy: e.DueBy(in.Received, in.EnquiryDays)}}}
}

// planProtected plans an encrypted message the service cannot open: the
// resident did what was asked, so a receipt goes out at once, and staff
// open it in Outlook and upload the form (UploadForm). conv is nil for a
// first email.
func planProtected(conv *Conversation) *store.Plan {
	p := &store.Plan{Folder: vocab.FolderTriage, Action: vocab.ActionProtected,
		Emails: []*store.Email{receipt()},
		Triage: []*store.NewTriage{{Reason: vocab.ReasonProtected}}}
	if conv == nil || !conv.done() {
		p.ConversationState = vocab.StateFormReceived
	}
	return p
}

// planAfterCompletion plans a message without a form or a request in a
// completed or closed conversation (a thank-you, a question): a triage
// item, due as a question, and an acknowledgement unless one was queued in
// the conversation within AfterCompletionEvery of this message.
func planAfterCompletion(in Input) *store.Plan {
	p := &store.Plan{Folder: vocab.FolderTriage, Action: vocab.ActionAfterCompletion,
		Triage: []*store.NewTriage{{Reason: vocab.ReasonAfterCompletion,
			DueBy: enquiry.DueBy(vocab.ReasonQuestion, in.Received, in.EnquiryDays)}}}
	last := in.Conv.LastAfterCompletion
	if last.IsZero() || !in.Received.Before(last.Add(AfterCompletionEvery)) {
		p.Emails = []*store.Email{{Kind: vocab.KindAfterCompletion, PerMessage: true}}
	}
	return p
}

// planForms plans a message carrying forms: per form either an accepted
// submission with its outcome emails (the store queues the accepted or the
// duplicate one, as the register answers; each says the form was received)
// or a triage item. A receipt goes first only when some form waits for
// staff: a message whose forms are all settled now gets one email per form
// and no receipt a second before it (issue 16 item 5).
func planForms(in Input, ch vocab.Channel) *store.Plan {
	p := &store.Plan{Folder: vocab.FolderProcessed, Action: vocab.ActionForms}
	allValid := true
	for _, f := range in.Forms {
		if f.Valid {
			p.Submissions = append(p.Submissions, &store.NewSubmission{Form: f, Channel: ch, Status: vocab.StatusAccepted,
				Accepted: &store.Email{Kind: vocab.KindAccepted}, Duplicate: &store.Email{Kind: vocab.KindDuplicate}})
			continue
		}
		allValid = false
		sub := &store.NewSubmission{Form: f, Channel: ch, Status: vocab.StatusTriage}
		p.Submissions = append(p.Submissions, sub)
		p.Triage = append(p.Triage, &store.NewTriage{Reason: vocab.ReasonInvalidForm, Submission: sub})
	}
	if allValid {
		p.ConversationState = vocab.StateCompleted
	} else {
		p.ConversationState = vocab.StateFormReceived
		p.Folder = vocab.FolderTriage
		p.Emails = []*store.Email{receipt()}
	}
	return p
}

// countReplies counts the emails a plan sends: its own, and one outcome email
// per accepted submission (accepted or duplicate, never both).
func countReplies(p *store.Plan) int {
	n := len(p.Emails)
	for _, s := range p.Submissions {
		if s.Accepted != nil || s.Duplicate != nil {
			n++
		}
	}
	return n
}

// limitReplies withholds every reply of p when sending them would take the
// sender past the reply limit, and raises a rate_limited triage item so a
// person answers instead.
func limitReplies(p *store.Plan, in Input) *store.Plan {
	limit := in.ReplyLimit
	if limit <= 0 {
		limit = DefaultReplyLimit
	}
	n := countReplies(p)
	if n == 0 || in.RecentReplies+n <= limit {
		return p
	}
	p.Emails = nil
	for _, s := range p.Submissions {
		s.Accepted, s.Duplicate = nil, nil
	}
	p.NoFormReply = false
	p.Triage = append(p.Triage, &store.NewTriage{Reason: vocab.ReasonRateLimited})
	p.Folder = vocab.FolderTriage
	p.Action += vocab.ActionRateLimited
	return p
}
