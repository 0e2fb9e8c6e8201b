package intake

import (
	"github.com/ncl-icb/optout-intake/extract"
	"github.com/ncl-icb/optout-intake/extract/form"
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
	Ref         string
	State       vocab.ConversationState
	NoFormCount int // no_form replies already sent in it
}

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

	// Policy for forms that arrive outside the secure exchange.
	Policy Policy
	// RecentReplies counts replies queued to the reply address within the
	// window; ReplyLimit is the most allowed (<= 0: DefaultReplyLimit).
	RecentReplies int
	ReplyLimit    int
}

// PlannedSubmission is one form to record. Form indexes Input.Forms.
type PlannedSubmission struct {
	Form   int
	Status vocab.SubmissionStatus
}

// PlannedReply is one reply to queue. Form indexes Input.Forms for an
// outcome reply (accepted, which the store may turn into duplicate), or is
// -1 for a reply about the whole message.
type PlannedReply struct {
	Kind vocab.Kind
	Form int
}

// PlannedTriage is one triage item. Form indexes Input.Forms for an item
// about one form, or is -1 for an item about the whole message.
type PlannedTriage struct {
	Reason vocab.Reason
	Form   int
}

// Plan is what one message causes: everything here is committed in one
// store transaction together with the ledger row turning done.
type Plan struct {
	Folder vocab.Folder
	// Action is the ledger's record of what was done: a short code, never
	// personal data.
	Action vocab.Action
	// NewConversation asks for a new conversation with a fresh reference.
	NewConversation bool
	// Channel of the submissions.
	Channel     vocab.Channel
	Submissions []PlannedSubmission
	Replies     []PlannedReply
	Triage      []PlannedTriage
	// ConversationState is the conversation's new state, "" to leave it.
	ConversationState vocab.ConversationState
	// NoFormSent counts a no_form reply against the conversation.
	NoFormSent bool
	// RedactBody asks for the stored copy of the message to be redacted.
	RedactBody bool
	// MarkUndeliverable marks the outbox row of the bounced reply undeliverable.
	MarkUndeliverable bool
}

// Decide works out what one message causes. It is pure: it reads only in
// and returns the plan; the Processor carries it out in one transaction.
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
//     triage, no reply;
//   - in a conversation, with forms → receipt; each valid form recorded with
//     an outcome reply; each invalid form to triage (its outcome waits for staff);
//   - without a form read but with a likely photo or scan of it (in a
//     conversation, or a first email under policy process) → receipt and a
//     photo_of_form triage item (staff key the form in), never no_form or
//     instructions; a first email under policy ask → as a form under ask;
//   - in a conversation, without a form → one no_form reply per conversation,
//     then triage;
//   - no conversation, without a form → new conversation and instructions
//     (the stored copy redacted when the body holds personal data);
//   - no conversation, with forms → policy process: as in a conversation,
//     channel unsolicited; policy ask: instructions and the unsolicited note,
//     triage, the forms not read;
//   - any plan whose replies would take the sender past the reply limit
//     sends none of them and raises a rate_limited triage item instead.
func Decide(in Input) Plan {
	switch {
	case in.TooLarge:
		return Plan{Folder: vocab.FolderTriage, Action: vocab.ActionTooLarge, Triage: []PlannedTriage{{vocab.ReasonTooLarge, -1}}}
	case in.OurMarker || in.FromUs:
		return Plan{Folder: vocab.FolderAuto, Action: vocab.ActionOwnMail}
	case in.BounceOfOurs:
		// store.MarkUndeliverable raises the triage item, tied to the outbox row.
		return Plan{Folder: vocab.FolderAuto, Action: vocab.ActionBounce, MarkUndeliverable: true}
	case in.ExtractFailed:
		return Plan{Folder: vocab.FolderTriage, Action: vocab.ActionFailed, Triage: []PlannedTriage{{vocab.ReasonProcessingFailed, -1}}}
	case in.Kind == extract.KindUnreadable:
		return Plan{Folder: vocab.FolderTriage, Action: vocab.ActionUnreadable, Triage: []PlannedTriage{{vocab.ReasonUnreadable, -1}}}
	case in.Auto || in.Kind == extract.KindAuto || !in.HasSender:
		return Plan{Folder: vocab.FolderAuto, Action: vocab.ActionAuto}
	}
	if in.Conv != nil && in.Match == MatchSubject && !in.SenderIsOwner {
		return Plan{Folder: vocab.FolderTriage, Action: vocab.ActionOtherSender, Triage: []PlannedTriage{{vocab.ReasonUnverifiedSender, -1}}}
	}
	hasForms := len(in.Forms) > 0
	photo := !hasForms && in.Photos > 0

	var p Plan
	switch {
	case in.Conv != nil && hasForms:
		p = planForms(in, vocab.ChannelSecureReply)
	case in.Conv != nil && photo:
		p = planPhoto(vocab.ChannelSecureReply)
	case in.Conv != nil:
		if in.Conv.NoFormCount == 0 && in.Conv.State != vocab.StateCompleted && in.Conv.State != vocab.StateClosed {
			p = Plan{Folder: vocab.FolderProcessed, Action: vocab.ActionNoForm, NoFormSent: true,
				Replies: []PlannedReply{{vocab.KindNoForm, -1}}}
		} else {
			p = Plan{Folder: vocab.FolderTriage, Action: vocab.ActionNoFormAgain, Triage: []PlannedTriage{{vocab.ReasonNoFormAgain, -1}}}
		}
	case !hasForms && !photo:
		p = Plan{Folder: vocab.FolderProcessed, Action: vocab.ActionInstructions, NewConversation: true,
			ConversationState: vocab.StateInstructionsSent, RedactBody: in.PersonalData,
			Replies: []PlannedReply{{vocab.KindInstructions, -1}}}
	case in.Policy == PolicyAsk:
		p = Plan{Folder: vocab.FolderTriage, Action: vocab.ActionUnsolicitedAsk, NewConversation: true,
			ConversationState: vocab.StateInstructionsSent,
			Replies:           []PlannedReply{{vocab.KindInstructions, -1}, {vocab.KindUnsolicited, -1}},
			Triage:            []PlannedTriage{{vocab.ReasonUnsolicitedForm, -1}}}
	case photo:
		p = planPhoto(vocab.ChannelUnsolicited)
		p.NewConversation = true
	default:
		p = planForms(in, vocab.ChannelUnsolicited)
		p.NewConversation = true
	}
	return limitReplies(p, in)
}

// planPhoto plans a message whose form came as a photo or scan: the
// resident did what was asked, so a receipt goes out at once, and staff key
// the form in from the attachment (the outcome email follows their decision).
func planPhoto(ch vocab.Channel) Plan {
	return Plan{Folder: vocab.FolderTriage, Action: vocab.ActionPhoto, Channel: ch,
		ConversationState: vocab.StateFormReceived,
		Replies:           []PlannedReply{{vocab.KindReceipt, -1}},
		Triage:            []PlannedTriage{{vocab.ReasonPhotoOfForm, -1}}}
}

// planForms plans a message carrying forms: a receipt, and per form either
// a recorded submission with its outcome reply or a triage item.
func planForms(in Input, ch vocab.Channel) Plan {
	p := Plan{Folder: vocab.FolderProcessed, Action: vocab.ActionForms, Channel: ch,
		Replies: []PlannedReply{{vocab.KindReceipt, -1}}}
	allValid := true
	for i, f := range in.Forms {
		if f.Valid {
			p.Submissions = append(p.Submissions, PlannedSubmission{i, vocab.StatusAccepted})
			p.Replies = append(p.Replies, PlannedReply{vocab.KindAccepted, i})
			continue
		}
		allValid = false
		p.Submissions = append(p.Submissions, PlannedSubmission{i, vocab.StatusTriage})
		p.Triage = append(p.Triage, PlannedTriage{vocab.ReasonInvalidForm, i})
	}
	if allValid {
		p.ConversationState = vocab.StateCompleted
	} else {
		p.ConversationState = vocab.StateFormReceived
		p.Folder = vocab.FolderTriage
	}
	return p
}

// limitReplies withholds every reply of p when sending them would take the
// sender past the reply limit, and raises a rate_limited triage item so a
// person answers instead.
func limitReplies(p Plan, in Input) Plan {
	limit := in.ReplyLimit
	if limit <= 0 {
		limit = DefaultReplyLimit
	}
	if len(p.Replies) == 0 || in.RecentReplies+len(p.Replies) <= limit {
		return p
	}
	p.Replies = nil
	p.NoFormSent = false
	p.Triage = append(p.Triage, PlannedTriage{vocab.ReasonRateLimited, -1})
	p.Folder = vocab.FolderTriage
	p.Action += vocab.ActionRateLimited
	return p
}
