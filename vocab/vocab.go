// Package vocab is the service's vocabulary: the values that cross package
// lines, each defined once with its meaning. intake decides with them, store
// keeps them in its columns, notify names its templates by them, web shows
// them to staff and metrics uses them as label values. No other package
// restates one of them, under its own name or as a string literal (SQL
// migrations and templates aside).
//
// It lives at the top level, not under internal/, because the exported APIs
// of intake, store and notify take and return these types: a caller of those
// packages must be able to name them.
//
// The types, and where each value is used:
//   - Reason: why a triage item was raised (store triage.reason, the triage
//     page's reason filter, the optout_triage_open_items label). Its words
//     for staff are Reason.Text.
//   - Kind: one kind of reply (notify's template file Kind+".txt", store
//     outbox.kind).
//   - Channel: how a form reached us (store submissions.channel).
//   - ConversationState: where a resident's thread stands (store
//     conversations.state).
//   - SubmissionStatus: what became of a form (store submissions.status).
//   - Folder: where a message goes once its outcome is committed (the
//     poller maps it to a configured IMAP folder; a metric label).
//   - Action: the ledger's short record of what one message caused
//     (store ledger.action, a metric label).
//   - ItemState, CloseReason and Outcome: whether a triage item is open,
//     why staff closed it without a form decision, and the decision a
//     closed item carries (store triage.state, close_reason, outcome; the
//     audit action "triage."+Outcome). Its words for staff are Outcome.Text.
//
// Adding a value: add it here, to its list (Reasons, Kinds, Folders,
// Actions, Outcomes: the metric label sets and the validity checks derive
// from them), and for a Reason or an Outcome its words. A test fails when a listed
// value has no words. See docs/pipeline.md for the other files a new triage
// reason or reply kind touches.
package vocab

import (
	"slices"
	"strings"
)

// Reason is why a triage item was raised. The values are stable: the store
// keeps them and the triage page shows them (in words, Text).
type Reason string

// The triage reasons.
const (
	ReasonInvalidForm      Reason = "invalid_form"      // a form was read but has errors
	ReasonUnreadable       Reason = "unreadable"        // the message could not be read at all
	ReasonNoFormAgain      Reason = "no_form_again"     // a second reply without a form in one conversation
	ReasonUnsolicitedForm  Reason = "unsolicited_form"  // a form outside the secure exchange, policy "ask"
	ReasonUnverifiedSender Reason = "unverified_sender" // a reference in the subject, sent from another address
	ReasonTooLarge         Reason = "too_large"         // over the size limit: not downloaded
	ReasonSendFailed       Reason = "send_failed"       // one of our emails was refused for good (5xx)
	ReasonUndeliverable    Reason = "undeliverable"     // one of our replies bounced
	ReasonProcessingFailed Reason = "processing_failed" // reading the message crashed or timed out
	ReasonPhotoOfForm      Reason = "photo_of_form"     // no form read, but a photo or scan of it attached: staff key it in
	ReasonRateLimited      Reason = "rate_limited"      // the sender reached the reply limit: not answered
	ReasonOther            Reason = "other"             // anything else

	// The reasons of a message that needs a person (issue 14): the
	// enquiry reader finds each by its phrase table and returns it as is
	// (enquiry.Intents), so the queue shows the words the rules use.
	ReasonComplaint        Reason = "complaint"          // a complaint or concern, a possible data-protection incident
	ReasonRightsRequest    Reason = "rights_request"     // UK GDPR access, erasure or rectification, or FOI
	ReasonOptBackIn        Reason = "opt_back_in"        // asks to opt back in or withdraw an opt-out
	ReasonProxy            Reason = "proxy"              // written for someone else
	ReasonFormatOrLanguage Reason = "format_or_language" // needs another format or language
	ReasonStatusChase      Reason = "status_chase"       // asks about a form or request already sent
	ReasonQuestion         Reason = "question"           // a question the instructions do not answer

	// ReasonProtected is a message whose content is encrypted (extract's
	// kind "protected"): staff open it in Outlook, where it is readable,
	// and upload the decrypted form.
	ReasonProtected Reason = "protected"
	// ReasonAfterCompletion is a message in a completed or closed
	// conversation that carries no form and no request (a thank-you).
	ReasonAfterCompletion Reason = "after_completion"
)

// reasonTexts are the reasons in the words the triage page prints.
var reasonTexts = map[Reason]string{
	ReasonInvalidForm:      "Form has errors",
	ReasonUnreadable:       "Could not be read",
	ReasonNoFormAgain:      "No form, second time",
	ReasonUnsolicitedForm:  "Form sent outside secure email",
	ReasonUnverifiedSender: "Reference from another address",
	ReasonTooLarge:         "Message too large",
	ReasonSendFailed:       "Our email could not be sent",
	ReasonUndeliverable:    "Our email bounced",
	ReasonProcessingFailed: "Processing failed",
	ReasonPhotoOfForm:      "Photo of the form: key it in",
	ReasonRateLimited:      "Sender reached the reply limit",
	ReasonOther:            "Other",
	ReasonComplaint:        "Complaint or concern: acknowledge within 3 working days",
	ReasonRightsRequest:    "Rights request (access, erasure, correction): answer within a calendar month",
	ReasonOptBackIn:        "Asks to opt back in",
	ReasonProxy:            "Written for someone else",
	ReasonFormatOrLanguage: "Needs another format or language",
	ReasonStatusChase:      "Asks about a form already sent",
	ReasonQuestion:         "Question",
	ReasonProtected:        "Encrypted message: open it in Outlook",
	ReasonAfterCompletion:  "Message after the opt-out was completed",
}

// Reasons returns every triage reason, in a fixed order.
func Reasons() []Reason {
	return []Reason{
		ReasonInvalidForm, ReasonUnreadable, ReasonNoFormAgain, ReasonUnsolicitedForm, ReasonUnverifiedSender,
		ReasonTooLarge, ReasonSendFailed, ReasonUndeliverable, ReasonProcessingFailed, ReasonPhotoOfForm,
		ReasonRateLimited, ReasonOther,
		ReasonComplaint, ReasonRightsRequest, ReasonOptBackIn, ReasonProxy, ReasonFormatOrLanguage, ReasonStatusChase,
		ReasonQuestion, ReasonProtected, ReasonAfterCompletion,
	}
}

// Valid reports whether r is one of Reasons.
func (r Reason) Valid() bool { return slices.Contains(Reasons(), r) }

// Text returns the reason in the words the triage page prints; a code that
// is not one of Reasons (an older row) is returned as it is.
func (r Reason) Text() string {
	if t, ok := reasonTexts[r]; ok {
		return t
	}
	return string(r)
}

// Kind names one kind of reply. Each kind has one template file, named
// Kind + ".txt" (notify/templates), and is kept in store outbox.kind.
type Kind string

// The kinds of reply the service sends.
const (
	KindInstructions Kind = "instructions" // first contact: how to reply securely with the form
	KindReceipt      Kind = "receipt"      // we have your form
	KindAccepted     Kind = "accepted"     // your opt-out is recorded
	KindDuplicate    Kind = "duplicate"    // an opt-out was already recorded
	KindRejected     Kind = "rejected"     // the form could not be accepted: the reasons say why
	KindNoForm       Kind = "no_form"      // no form was found in a reply
	KindNotOptOut    Kind = "not_optout"   // staff closed the item: not an opt-out request
	KindOptedIn      Kind = "opted_in"     // you have opted back in
	KindUnsolicited  Kind = "unsolicited"  // a form came by ordinary email: use the secure reply

	// KindEnquiry acknowledges a message that needs a person (a question,
	// complaint, request for someone else, another format or language, a
	// rights request, an opt back in, a chase): a member of the team will
	// reply. See package enquiry.
	KindEnquiry Kind = "enquiry"
	// KindEnquiryInstructions is KindEnquiry for a message that also asks
	// to opt out: the acknowledgement followed by the instructions.
	KindEnquiryInstructions Kind = "enquiry_instructions"
	// KindAfterCompletion answers a message in a completed or closed
	// conversation that carries no form and no request: we have it, and a
	// member of the team will reply if anything is needed. At most one per
	// conversation per AfterCompletionEvery.
	KindAfterCompletion Kind = "after_completion"
	// KindStaffReply carries a member of staff's own words, written on the
	// item page, in the resident's secure conversation.
	KindStaffReply Kind = "staff_reply"
)

// Kinds returns every kind, in a fixed order.
func Kinds() []Kind {
	return []Kind{
		KindInstructions, KindReceipt, KindAccepted, KindDuplicate, KindRejected,
		KindNoForm, KindNotOptOut, KindOptedIn, KindUnsolicited,
		KindEnquiry, KindEnquiryInstructions, KindAfterCompletion, KindStaffReply,
	}
}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool { return slices.Contains(Kinds(), k) }

// Channel says how a form reached us.
type Channel string

// The channels.
const (
	ChannelSecureReply Channel = "secure_reply" // a reply inside our secure exchange
	ChannelUnsolicited Channel = "unsolicited"  // arrived without the secure exchange (a form in a first email)
	ChannelStaff       Channel = "staff"        // entered by staff
)

// ConversationState is where a resident's thread stands.
type ConversationState string

// The conversation states.
const (
	StateInstructionsSent ConversationState = "instructions_sent" // we sent the secure-email instructions
	StateFormReceived     ConversationState = "form_received"     // a form arrived and awaits a decision
	StateCompleted        ConversationState = "completed"         // the outcome email went (or is queued)
	StateClosed           ConversationState = "closed"            // closed by staff
)

// SubmissionStatus is what became of a form.
type SubmissionStatus string

// The submission statuses.
const (
	StatusAccepted   SubmissionStatus = "accepted"   // recorded in the register
	StatusTriage     SubmissionStatus = "triage"     // waiting for staff
	StatusRejected   SubmissionStatus = "rejected"   // staff asked for a corrected form
	StatusDuplicate  SubmissionStatus = "duplicate"  // the person was already opted out
	StatusSuperseded SubmissionStatus = "superseded" // a later form replaced it
	StatusNotOptOut  SubmissionStatus = "not_optout" // staff found it is not an opt-out request
)

// Folder is where a message goes once its outcome is committed. The poller
// maps it to the configured mailbox folder names.
type Folder string

// The destination folders.
const (
	FolderProcessed Folder = "processed" // answered and recorded: nothing left for a person
	FolderTriage    Folder = "triage"    // a person must look at it
	FolderAuto      Folder = "auto"      // automatic mail (or our own): recorded, never answered
)

// FolderInbox is not a destination: a message held back (ActionHeldOld,
// ActionHeldBeforeStart, ActionHeldAnswered) is recorded under it and stays
// where it is, in the inbox, for staff. It is not one of Folders, so nothing
// is ever moved to it, it is no metric label, and store.FolderOf does not
// return it.
const FolderInbox Folder = "inbox"

// Folders returns every destination folder, in a fixed order.
func Folders() []Folder { return []Folder{FolderProcessed, FolderTriage, FolderAuto} }

// Valid reports whether f is one of Folders.
func (f Folder) Valid() bool { return slices.Contains(Folders(), f) }

// Action is the ledger's record of what one message caused: a short code,
// never personal data.
type Action string

// The ledger actions.
const (
	ActionAuto            Action = "auto"                        // automatic mail: recorded, never answered
	ActionOwnMail         Action = "own_mail"                    // our own mail (address or marker header)
	ActionBounce          Action = "bounce"                      // a bounce of one of our replies
	ActionTooLarge        Action = "too_large"                   // over the size limit
	ActionFailed          Action = "extract_failed"              // reading crashed or timed out
	ActionUnreadable      Action = "unreadable"                  // could not be read at all
	ActionOtherSender     Action = "reference_from_other_sender" // a reference code from another address
	ActionInstructions    Action = "instructions"                // a first contact answered with the instructions
	ActionUnsolicitedAsk  Action = "unsolicited_ask"             // a form outside the exchange, policy ask
	ActionForms           Action = "forms"                       // forms read and recorded or raised
	ActionNoForm          Action = "no_form"                     // a reply without a form: asked again
	ActionNoFormAgain     Action = "no_form_again"               // a second reply without a form: to staff
	ActionPhoto           Action = "photo_of_form"               // a photo or scan of the form: to staff
	ActionEnquiry         Action = "enquiry"                     // a message that needs a person: acknowledged, to staff
	ActionProtected       Action = "protected"                   // an encrypted message: receipt, to staff
	ActionAfterCompletion Action = "after_completion"            // a message after completion: to staff (acknowledged once a week)
	ActionAnswer          Action = "answer_to_staff"             // the resident answered a staff reply: the waiting item reopens

	// Held back, never answered on its own (recorded under FolderInbox:
	// left in the inbox for staff and `optoutd backlog`).
	ActionHeldOld         Action = "held_old"          // arrived longer ago than OPTOUT_MAX_AGE
	ActionHeldBeforeStart Action = "held_before_start" // arrived before OPTOUT_START_AFTER (the go-live moment)
	ActionHeldAnswered    Action = "held_answered"     // carries \Answered: someone replied by hand

	// ActionRateLimited is appended to an action whose replies were
	// withheld because the sender reached the reply limit.
	ActionRateLimited Action = "+rate_limited"
)

// Actions returns every action (without the ActionRateLimited suffix), in
// a fixed order.
func Actions() []Action {
	return []Action{
		ActionAuto, ActionOwnMail, ActionBounce, ActionTooLarge, ActionFailed, ActionUnreadable, ActionOtherSender,
		ActionInstructions, ActionUnsolicitedAsk, ActionForms, ActionNoForm, ActionNoFormAgain, ActionPhoto,
		ActionEnquiry, ActionProtected, ActionAfterCompletion, ActionAnswer,
		ActionHeldOld, ActionHeldBeforeStart, ActionHeldAnswered,
	}
}

// HeldActions returns the actions of mail held back (a subset of Actions),
// in a fixed order.
func HeldActions() []Action {
	return []Action{ActionHeldOld, ActionHeldBeforeStart, ActionHeldAnswered}
}

// What the dry run (`optoutd once --dry-run`) shows for a message it would
// not process afresh. They are never stored and are not in Actions.
const (
	PreviewDone  Action = "already_done" // handled before: only moved to its folder
	PreviewRetry Action = "retry"        // recorded and failed before: retried from the ledger
)

// SendOrder returns the kinds in the order the outbox sends them when the
// mailbox's pace or daily budget is short: the instructions first (the
// resident cannot go on without them), then the outcomes and other replies
// that ask the resident to act or tell them where they stand, then the
// acknowledgements (a receipt, an enquiry's "we will reply"). Within a kind,
// the oldest reply goes first.
func SendOrder() []Kind {
	return []Kind{
		KindInstructions, KindEnquiryInstructions, KindUnsolicited, KindNoForm, KindRejected,
		KindAccepted, KindDuplicate, KindOptedIn, KindNotOptOut, KindStaffReply,
		KindReceipt, KindEnquiry, KindAfterCompletion,
	}
}

// PauseReason says why sending is paused for the whole mailbox. Each is a
// value of the metric label reason of optout_notify_sending_paused.
type PauseReason string

// The pause reasons.
const (
	PauseOutage     PauseReason = "outage"      // the SMTP server is unreachable, or TLS or AUTH fails
	PauseThrottled  PauseReason = "throttled"   // the provider limits our rate or connections (421 4.4.2, 432 4.3.2, 5.2.25x)
	PauseQuota      PauseReason = "quota"       // the provider refuses every submission (554 5.2.0 quota, 554 5.2.2 mailbox full)
	PauseDailyLimit PauseReason = "daily_limit" // OPTOUT_SMTP_DAILY_LIMIT recipients were sent in the last 24 hours
)

// PauseReasons returns every pause reason, in a fixed order.
func PauseReasons() []PauseReason {
	return []PauseReason{PauseOutage, PauseThrottled, PauseQuota, PauseDailyLimit}
}

// Valid reports whether r is one of PauseReasons.
func (r PauseReason) Valid() bool { return slices.Contains(PauseReasons(), r) }

// actionTexts are the ledger actions in staff's words.
var actionTexts = map[Action]string{
	ActionAuto:            "Automatic email: recorded, not answered",
	ActionOwnMail:         "Our own email: recorded, not answered",
	ActionBounce:          "A bounce of one of our emails",
	ActionTooLarge:        "Too large to read",
	ActionFailed:          "Reading it failed",
	ActionUnreadable:      "Could not be read",
	ActionOtherSender:     "A reference code from another address",
	ActionInstructions:    "Answered with the secure-email instructions",
	ActionUnsolicitedAsk:  "A form outside secure email: asked to use secure email",
	ActionForms:           "Forms read",
	ActionNoForm:          "No form found: asked again",
	ActionNoFormAgain:     "No form found again: sent to staff",
	ActionPhoto:           "A photo or scan of the form: sent to staff",
	ActionEnquiry:         "Needs a person: acknowledged, sent to staff",
	ActionProtected:       "Encrypted: receipt sent, sent to staff",
	ActionAfterCompletion: "After the outcome: sent to staff",
	ActionAnswer:          "An answer to a staff reply: the item reopened",
	ActionHeldOld:         "Held back: too old to answer",
	ActionHeldBeforeStart: "Held back: arrived before the service started",
	ActionHeldAnswered:    "Held back: already answered by hand",
}

// Text returns the action in staff's words, with " (replies held: sender
// reached the reply limit)" for the ActionRateLimited suffix; an unknown
// code is returned as it is, and "" as "Not processed yet". The folder the
// ledger keeps before the action ("triage:forms") is left out.
func (a Action) Text() string {
	base, held := strings.CutSuffix(string(a), string(ActionRateLimited))
	if _, after, ok := strings.Cut(base, ":"); ok {
		base = after
	}
	t, ok := actionTexts[Action(base)]
	switch {
	case base == "":
		t = "Not processed yet"
	case !ok:
		t = base
	}
	if held {
		t += " (replies held: the sender reached the reply limit)"
	}
	return t
}

// channelTexts are the channels in staff's words.
var channelTexts = map[Channel]string{
	ChannelSecureReply: "Secure email reply",
	ChannelUnsolicited: "Ordinary email (outside secure email)",
	ChannelStaff:       "Keyed in by staff",
}

// Text returns the channel in staff's words (an unknown code as it is).
func (c Channel) Text() string { return textOr(channelTexts, c) }

// stateTexts are the conversation states in staff's words.
var stateTexts = map[ConversationState]string{
	StateInstructionsSent: "Instructions sent, waiting for the form",
	StateFormReceived:     "Form received, waiting for a decision",
	StateCompleted:        "Finished: the outcome email is sent or queued",
	StateClosed:           "Closed by staff",
}

// Text returns the conversation state in staff's words.
func (s ConversationState) Text() string { return textOr(stateTexts, s) }

// statusTexts are the submission statuses in staff's words.
var statusTexts = map[SubmissionStatus]string{
	StatusAccepted:   "Accepted: opt-out recorded",
	StatusTriage:     "Waiting for staff",
	StatusRejected:   "Rejected: a corrected form was asked for",
	StatusDuplicate:  "Already opted out",
	StatusSuperseded: "Replaced by a later form",
	StatusNotOptOut:  "Not an opt-out request",
}

// Text returns the submission status in staff's words.
func (s SubmissionStatus) Text() string { return textOr(statusTexts, s) }

func textOr[K ~string](m map[K]string, k K) string {
	if t, ok := m[k]; ok {
		return t
	}
	return string(k)
}

// ItemState is where a triage item stands; kept in triage.state.
type ItemState string

// The states of a triage item.
const (
	ItemOpen   ItemState = "open"   // waits for staff (or for the resident's answer to staff)
	ItemClosed ItemState = "closed" // decided; Outcome says how
)

// CloseReason is why staff closed an item without a form decision: a bulk
// close (spam, duplicate) or "not an opt-out".
type CloseReason string

// The reasons staff close an item with.
const (
	CloseSpam      CloseReason = "spam"       // not from a resident, or abuse
	CloseDuplicate CloseReason = "duplicate"  // the same request is handled in another item
	CloseNotOptOut CloseReason = "not_optout" // the resident does not ask to opt out
	// CloseAnsweredOffline: staff answered by phone or post (its outcome
	// is OutcomeAnsweredOffline).
	CloseAnsweredOffline CloseReason = "answered_offline"
	// CloseBounceHandled: the email an item was about bounced or was
	// refused, and staff dealt with it (sent it again, to a corrected
	// address, or answered the resident another way); the form it was
	// about stays as decided.
	CloseBounceHandled CloseReason = "bounce_handled"
)

// Outcome is the decision a closed triage item carries; kept in
// triage.outcome, and in its audit action as "triage." + Outcome.
type Outcome string

// The outcomes of a closed triage item.
const (
	OutcomeAccepted        Outcome = "accepted"                // the opt-out was recorded
	OutcomeRejected        Outcome = "rejected"                // the resident was asked for a corrected form
	OutcomeClosed          Outcome = "closed"                  // closed with no reason given
	OutcomeAnsweredOffline Outcome = "closed.answered_offline" // answered by phone or post
	OutcomeNewContact      Outcome = "closed.new_contact"      // treated as a new first contact
	OutcomeRepliesSent     Outcome = "closed.replies_sent"     // the replies held by the reply limit were sent
	OutcomeOptedIn         Outcome = "opted_in"                // the opt back in was recorded
)

// Outcome is the outcome of an item closed for reason r.
func (r CloseReason) Outcome() Outcome { return Outcome("closed." + string(r)) }

// outcomeTexts are the outcomes in the words the triage page prints.
var outcomeTexts = map[Outcome]string{
	OutcomeAccepted:              "Accepted: the opt-out was recorded",
	OutcomeRejected:              "Rejected: the resident was asked for a corrected form",
	OutcomeClosed:                "Closed",
	CloseNotOptOut.Outcome():     "Closed: not an opt-out request",
	CloseSpam.Outcome():          "Closed as spam",
	CloseDuplicate.Outcome():     "Closed as a duplicate",
	CloseBounceHandled.Outcome(): "Closed: the email that bounced was dealt with",
	OutcomeAnsweredOffline:       "Closed: answered by phone or post",
	OutcomeNewContact:            "Closed: treated as a new first contact, the instructions sent to the sender",
	OutcomeRepliesSent:           "Closed: the replies held by the reply limit were sent",
	OutcomeOptedIn:               "Closed: the opt back in was recorded",
}

// Text returns the outcome in the words the triage page prints; a code that
// has none is returned as it is.
func (o Outcome) Text() string {
	if t, ok := outcomeTexts[o]; ok {
		return t
	}
	return string(o)
}

// Valid reports whether o is one of Outcomes.
func (o Outcome) Valid() bool { return slices.Contains(Outcomes(), o) }

// Outcomes lists every outcome a closed item can carry.
func Outcomes() []Outcome {
	return []Outcome{OutcomeAccepted, OutcomeRejected, OutcomeClosed, CloseNotOptOut.Outcome(), CloseSpam.Outcome(),
		CloseDuplicate.Outcome(), CloseBounceHandled.Outcome(), OutcomeAnsweredOffline, OutcomeNewContact, OutcomeRepliesSent, OutcomeOptedIn}
}
