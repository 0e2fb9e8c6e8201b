package intake

import (
	"reflect"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/enquiry"
	"github.com/ncl-icb/optout-intake/extract"
	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

var (
	validForm   = form.Form{Source: "form.pdf", Format: form.FormatPDFFields, Valid: true}
	invalidForm = form.Form{Source: "form.pdf", Format: form.FormatPDFFields, Valid: false,
		Problems: []form.Problem{{Field: "nhs_number", Severity: form.SeverityError, Code: form.CodeNHSNumberChecksum}}}
)

// person is a message from a resident with a usable From address.
func person(kind extract.Kind, forms ...form.Form) Input {
	return Input{Kind: kind, Forms: forms, HasSender: true, Policy: PolicyProcess}
}

func inConv(in Input, m Match, owner bool, c Conversation) Input {
	in.Conv = &c
	in.Match = m
	in.SenderIsOwner = owner
	return in
}

func with(in Input, f func(*Input)) Input { f(&in); return in }

func with2(p Plan, f func(*Plan)) Plan { f(&p); return p }

func photos(in Input, n int) Input { in.Photos = n; return in }

// Plan is a plan in the compact shape of a table row: forms by their
// index in Input.Forms (-1: the whole message).
type Plan struct {
	Folder            vocab.Folder
	Action            vocab.Action
	NewConversation   bool
	Channel           vocab.Channel
	Submissions       []PlannedSubmission
	Replies           []PlannedReply
	Triage            []PlannedTriage
	ConversationState vocab.ConversationState
	NoFormSent        bool
	RedactBody        bool
	MarkUndeliverable bool
	ReopenWaiting     bool
}

// PlannedSubmission is one form recorded, by its index in Input.Forms.
type PlannedSubmission struct {
	Form   int
	Status vocab.SubmissionStatus
}

// PlannedReply is one reply: an outcome reply names its form, a reply
// about the whole message has Form -1.
type PlannedReply struct {
	Kind vocab.Kind
	Form int
}

// PlannedTriage is one triage item: about one form, or the whole message (-1).
type PlannedTriage struct {
	Reason vocab.Reason
	Form   int
}

// summary puts a plan in table-row shape. Decide makes one submission
// per form, in order, so a submission's index is its form's.
func summary(p *store.Plan) Plan {
	out := Plan{Folder: p.Folder, Action: p.Action, NewConversation: p.NewConversation != nil,
		ConversationState: p.ConversationState, NoFormSent: p.NoFormReply, RedactBody: p.RedactBody,
		MarkUndeliverable: p.MarkUndeliverable, ReopenWaiting: p.ReopenWaiting}
	index := map[*store.NewSubmission]int{}
	for i, s := range p.Submissions {
		index[s] = i
		out.Channel = s.Channel
		out.Submissions = append(out.Submissions, PlannedSubmission{i, s.Status})
	}
	for _, e := range p.Emails {
		out.Replies = append(out.Replies, PlannedReply{e.Kind, -1})
	}
	for i, s := range p.Submissions {
		if s.Accepted != nil {
			if s.Accepted.Kind != vocab.KindAccepted || s.Duplicate == nil || s.Duplicate.Kind != vocab.KindDuplicate {
				out.Replies = append(out.Replies, PlannedReply{"mismatched outcome emails", i})
				continue
			}
			out.Replies = append(out.Replies, PlannedReply{vocab.KindAccepted, i})
		}
	}
	for _, t := range p.Triage {
		f := -1
		if t.Submission != nil {
			f = index[t.Submission]
		}
		out.Triage = append(out.Triage, PlannedTriage{t.Reason, f})
	}
	return out
}

// photoPlan is the plan for a message whose form came as a photo (no
// submission: its channel is recorded when staff key the form in).
func photoPlan(newConv bool) Plan {
	return Plan{Folder: vocab.FolderTriage, Action: vocab.ActionPhoto, NewConversation: newConv,
		ConversationState: vocab.StateFormReceived,
		Replies:           []PlannedReply{{vocab.KindReceipt, -1}},
		Triage:            []PlannedTriage{{vocab.ReasonPhotoOfForm, -1}}}
}

// afterCompletion is the plan for a message without a form or a request in
// a completed or closed conversation, acknowledged or not (once a week).
func afterCompletion(ack bool) Plan {
	p := Plan{Folder: vocab.FolderTriage, Action: vocab.ActionAfterCompletion,
		Triage: []PlannedTriage{{vocab.ReasonAfterCompletion, -1}}}
	if ack {
		p.Replies = []PlannedReply{{vocab.KindAfterCompletion, -1}}
	}
	return p
}

// enquiryPlan is the plan for a message that needs a person: the
// acknowledgement kind k and a triage item under reason r.
func enquiryPlan(newConv bool, k vocab.Kind, r vocab.Reason) Plan {
	p := Plan{Folder: vocab.FolderTriage, Action: vocab.ActionEnquiry, NewConversation: newConv,
		Replies: []PlannedReply{{k, -1}}, Triage: []PlannedTriage{{r, -1}}}
	if newConv {
		p.ConversationState = vocab.StateInstructionsSent
	}
	return p
}

// protectedPlan is the plan for an encrypted message: a receipt and a
// protected triage item.
func protectedPlan(newConv bool, st vocab.ConversationState) Plan {
	return Plan{Folder: vocab.FolderTriage, Action: vocab.ActionProtected, NewConversation: newConv,
		ConversationState: st, Replies: []PlannedReply{{vocab.KindReceipt, -1}},
		Triage: []PlannedTriage{{vocab.ReasonProtected, -1}}}
}

// asks is a message whose own words (words of them) ask for intents,
// also asking to opt out when also.
func asks(in Input, words int, also bool, intents ...vocab.Reason) Input {
	in.Enquiry = enquiry.Result{Intents: intents, AlsoOptOut: also, Words: words}
	return in
}

// plain is a plain request: it only asks to opt out or to be contacted.
func plain(in Input) Input {
	in.Enquiry = enquiry.Result{Plain: true, Words: 6}
	return in
}

func TestDecide(t *testing.T) {
	open := Conversation{Ref: "NCL-AAAA-BBBB", State: vocab.StateInstructionsSent}
	asked := Conversation{Ref: "NCL-AAAA-BBBB", State: vocab.StateInstructionsSent, NoFormCount: 1}
	done := Conversation{Ref: "NCL-AAAA-BBBB", State: vocab.StateCompleted}
	closed := Conversation{Ref: "NCL-AAAA-BBBB", State: vocab.StateClosed, NoFormCount: 1}
	received := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	ackedAgo := func(c Conversation, d time.Duration) Conversation { c.LastAfterCompletion = received.Add(-d); return c }
	at := func(in Input) Input { in.Received = received; return in }

	waiting := Conversation{Ref: "NCL-AAAA-BBBB", State: vocab.StateInstructionsSent, Waiting: true}
	tests := []struct {
		name string
		in   Input
		want Plan
	}{
		{
			name: "first contact gets instructions and a new conversation",
			in:   person(extract.KindContact),
			want: Plan{Folder: vocab.FolderProcessed, Action: vocab.ActionInstructions, NewConversation: true,
				ConversationState: vocab.StateInstructionsSent, Replies: []PlannedReply{{vocab.KindInstructions, -1}}},
		},
		{
			name: "first contact with personal data still answered, stored copy redacted",
			in:   with(person(extract.KindContact), func(in *Input) { in.PersonalData = true }),
			want: Plan{Folder: vocab.FolderProcessed, Action: vocab.ActionInstructions, NewConversation: true, RedactBody: true,
				ConversationState: vocab.StateInstructionsSent, Replies: []PlannedReply{{vocab.KindInstructions, -1}}},
		},
		{
			name: "reply by token with a valid form: record, one outcome email that confirms receipt",
			in:   inConv(person(extract.KindSubmission, validForm), MatchToken, true, open),
			want: Plan{Folder: vocab.FolderProcessed, Action: vocab.ActionForms, Channel: vocab.ChannelSecureReply,
				Submissions:       []PlannedSubmission{{0, vocab.StatusAccepted}},
				Replies:           []PlannedReply{{vocab.KindAccepted, 0}}, // one email: the outcome says the form was received (issue 16.5)
				ConversationState: vocab.StateCompleted},
		},
		{
			name: "token match is trusted from another address",
			in:   inConv(person(extract.KindSubmission, validForm), MatchToken, false, open),
			want: Plan{Folder: vocab.FolderProcessed, Action: vocab.ActionForms, Channel: vocab.ChannelSecureReply,
				Submissions:       []PlannedSubmission{{0, vocab.StatusAccepted}},
				Replies:           []PlannedReply{{vocab.KindAccepted, 0}}, // one email: the outcome says the form was received (issue 16.5)
				ConversationState: vocab.StateCompleted},
		},
		{
			name: "subject reference from the conversation's address is trusted",
			in:   inConv(person(extract.KindSubmission, validForm), MatchSubject, true, open),
			want: Plan{Folder: vocab.FolderProcessed, Action: vocab.ActionForms, Channel: vocab.ChannelSecureReply,
				Submissions:       []PlannedSubmission{{0, vocab.StatusAccepted}},
				Replies:           []PlannedReply{{vocab.KindAccepted, 0}}, // one email: the outcome says the form was received (issue 16.5)
				ConversationState: vocab.StateCompleted},
		},
		{
			name: "subject reference from another sender goes to triage unanswered, its form read and kept",
			in:   inConv(person(extract.KindSubmission, validForm), MatchSubject, false, open),
			want: Plan{Folder: vocab.FolderTriage, Action: vocab.ActionOtherSender, Channel: vocab.ChannelUnsolicited,
				Submissions: []PlannedSubmission{{0, vocab.StatusTriage}},
				Triage:      []PlannedTriage{{vocab.ReasonUnverifiedSender, 0}}},
		},
		{
			name: "invalid form: receipt, triage, no outcome yet",
			in:   inConv(person(extract.KindSubmission, invalidForm), MatchToken, true, open),
			want: Plan{Folder: vocab.FolderTriage, Action: vocab.ActionForms, Channel: vocab.ChannelSecureReply,
				Submissions:       []PlannedSubmission{{0, vocab.StatusTriage}},
				Replies:           []PlannedReply{{vocab.KindReceipt, -1}},
				Triage:            []PlannedTriage{{vocab.ReasonInvalidForm, 0}},
				ConversationState: vocab.StateFormReceived},
		},
		{
			name: "one valid and one invalid form",
			in:   inConv(person(extract.KindSubmission, invalidForm, validForm), MatchToken, true, open),
			want: Plan{Folder: vocab.FolderTriage, Action: vocab.ActionForms, Channel: vocab.ChannelSecureReply,
				Submissions:       []PlannedSubmission{{0, vocab.StatusTriage}, {1, vocab.StatusAccepted}},
				Replies:           []PlannedReply{{vocab.KindReceipt, -1}, {vocab.KindAccepted, 1}},
				Triage:            []PlannedTriage{{vocab.ReasonInvalidForm, 0}},
				ConversationState: vocab.StateFormReceived},
		},
		{
			name: "reply without a form: one no_form reply",
			in:   inConv(person(extract.KindContact), MatchToken, true, open),
			want: Plan{Folder: vocab.FolderProcessed, Action: vocab.ActionNoForm, NoFormSent: true,
				Replies: []PlannedReply{{vocab.KindNoForm, -1}}},
		},
		{
			name: "second reply without a form goes to triage",
			in:   inConv(person(extract.KindContact), MatchToken, true, asked),
			want: Plan{Folder: vocab.FolderTriage, Action: vocab.ActionNoFormAgain, Triage: []PlannedTriage{{vocab.ReasonNoFormAgain, -1}}},
		},
		{
			name: "a note after completion goes to staff with an acknowledgement, no no_form reply",
			in:   inConv(person(extract.KindContact), MatchToken, true, done),
			want: afterCompletion(true),
		},
		{
			name: "unsolicited form, policy process: read, channel unsolicited",
			in:   person(extract.KindSubmission, validForm),
			want: Plan{Folder: vocab.FolderProcessed, Action: vocab.ActionForms, Channel: vocab.ChannelUnsolicited, NewConversation: true,
				Submissions:       []PlannedSubmission{{0, vocab.StatusAccepted}},
				Replies:           []PlannedReply{{vocab.KindAccepted, 0}}, // one email: the outcome says the form was received (issue 16.5)
				ConversationState: vocab.StateCompleted},
		},
		{
			name: "unsolicited form, policy ask: instructions, note, triage, form unread",
			in:   with(person(extract.KindSubmission, validForm), func(in *Input) { in.Policy = PolicyAsk }),
			want: Plan{Folder: vocab.FolderTriage, Action: vocab.ActionUnsolicitedAsk, NewConversation: true,
				ConversationState: vocab.StateInstructionsSent,
				Replies:           []PlannedReply{{vocab.KindInstructions, -1}, {vocab.KindUnsolicited, -1}},
				Triage:            []PlannedTriage{{vocab.ReasonUnsolicitedForm, -1}}},
		},
		{
			name: "auto mail is recorded and never answered",
			in:   with(person(extract.KindAuto), func(in *Input) { in.Auto = true }),
			want: Plan{Folder: vocab.FolderAuto, Action: vocab.ActionAuto},
		},
		{
			name: "auto flag wins over a form and a conversation",
			in: inConv(with(person(extract.KindSubmission, validForm), func(in *Input) { in.Auto = true }),
				MatchToken, true, open),
			want: Plan{Folder: vocab.FolderAuto, Action: vocab.ActionAuto},
		},
		{
			name: "bounce of our reply: undeliverable and triage",
			in:   with(person(extract.KindAuto), func(in *Input) { in.Auto, in.BounceOfOurs = true, true }),
			want: Plan{Folder: vocab.FolderAuto, Action: vocab.ActionBounce, MarkUndeliverable: true},
		},
		{
			name: "mail carrying our marker is never answered",
			in:   with(person(extract.KindContact), func(in *Input) { in.OurMarker = true }),
			want: Plan{Folder: vocab.FolderAuto, Action: vocab.ActionOwnMail},
		},
		{
			name: "mail from our own address is never answered",
			in:   with(person(extract.KindSubmission, validForm), func(in *Input) { in.FromUs = true }),
			want: Plan{Folder: vocab.FolderAuto, Action: vocab.ActionOwnMail},
		},
		{
			name: "no sender: nothing to answer",
			in:   with(person(extract.KindContact), func(in *Input) { in.HasSender = false }),
			want: Plan{Folder: vocab.FolderAuto, Action: vocab.ActionAuto},
		},
		{
			name: "too large: triage without reading",
			in:   with(person(extract.KindContact), func(in *Input) { in.TooLarge = true }),
			want: Plan{Folder: vocab.FolderTriage, Action: vocab.ActionTooLarge, Triage: []PlannedTriage{{vocab.ReasonTooLarge, -1}}},
		},
		{
			name: "reading crashed or timed out: triage, never lost",
			in:   with(person(extract.KindUnreadable), func(in *Input) { in.ExtractFailed = true }),
			want: Plan{Folder: vocab.FolderTriage, Action: vocab.ActionFailed, Triage: []PlannedTriage{{vocab.ReasonProcessingFailed, -1}}},
		},
		{
			name: "unreadable message without even a sender still reaches staff",
			in:   with(person(extract.KindUnreadable), func(in *Input) { in.HasSender = false }),
			want: Plan{Folder: vocab.FolderTriage, Action: vocab.ActionUnreadable, Triage: []PlannedTriage{{vocab.ReasonUnreadable, -1}}},
		},
		{
			name: "unreadable message: triage",
			in:   person(extract.KindUnreadable),
			want: Plan{Folder: vocab.FolderTriage, Action: vocab.ActionUnreadable, Triage: []PlannedTriage{{vocab.ReasonUnreadable, -1}}},
		},
		{
			name: "at the reply limit: triage instead of replying",
			in:   with(person(extract.KindContact), func(in *Input) { in.RecentReplies = 10 }),
			want: Plan{Folder: vocab.FolderTriage, Action: vocab.ActionInstructions + vocab.ActionRateLimited, NewConversation: true,
				ConversationState: vocab.StateInstructionsSent, Triage: []PlannedTriage{{vocab.ReasonRateLimited, -1}}},
		},
		{
			name: "just under the limit still answered",
			in:   with(person(extract.KindContact), func(in *Input) { in.RecentReplies = 9 }),
			want: Plan{Folder: vocab.FolderProcessed, Action: vocab.ActionInstructions, NewConversation: true,
				ConversationState: vocab.StateInstructionsSent, Replies: []PlannedReply{{vocab.KindInstructions, -1}}},
		},
		{
			name: "two replies that would cross a custom limit: none sent",
			in: inConv(with(person(extract.KindSubmission, validForm, validForm), func(in *Input) { in.RecentReplies, in.ReplyLimit = 2, 3 }),
				MatchToken, true, open),
			want: Plan{Folder: vocab.FolderTriage, Action: vocab.ActionForms + vocab.ActionRateLimited, Channel: vocab.ChannelSecureReply,
				Submissions:       []PlannedSubmission{{0, vocab.StatusAccepted}, {1, vocab.StatusAccepted}},
				Triage:            []PlannedTriage{{vocab.ReasonRateLimited, -1}},
				ConversationState: vocab.StateCompleted},
		},
		{
			name: "rate-limited no_form does not count as sent",
			in: inConv(with(person(extract.KindContact), func(in *Input) { in.RecentReplies = 50 }),
				MatchToken, true, open),
			want: Plan{Folder: vocab.FolderTriage, Action: vocab.ActionNoForm + vocab.ActionRateLimited,
				Triage: []PlannedTriage{{vocab.ReasonRateLimited, -1}}},
		},
		{
			name: "reply with a photo of the form: receipt and triage to key it in, not no_form",
			in:   inConv(photos(person(extract.KindContact), 1), MatchToken, true, open),
			want: photoPlan(false),
		},
		{
			name: "photo after a no_form reply still gets a receipt, not no_form_again",
			in:   inConv(photos(person(extract.KindContact), 2), MatchToken, true, asked),
			want: photoPlan(false),
		},
		{
			name: "photo in a completed conversation goes to staff with a receipt",
			in:   inConv(photos(person(extract.KindContact), 1), MatchSubject, true, done),
			want: photoPlan(false),
		},
		{
			name: "unsolicited first email with a photo, policy process: new conversation, receipt, triage",
			in:   photos(person(extract.KindContact), 1),
			want: photoPlan(true),
		},
		{
			name: "unsolicited photo, policy ask: handled as a form under ask",
			in:   with(photos(person(extract.KindContact), 1), func(in *Input) { in.Policy = PolicyAsk }),
			want: Plan{Folder: vocab.FolderTriage, Action: vocab.ActionUnsolicitedAsk, NewConversation: true,
				ConversationState: vocab.StateInstructionsSent,
				Replies:           []PlannedReply{{vocab.KindInstructions, -1}, {vocab.KindUnsolicited, -1}},
				Triage:            []PlannedTriage{{vocab.ReasonUnsolicitedForm, -1}}},
		},
		{
			name: "a form read wins over a photo beside it",
			in:   inConv(photos(person(extract.KindSubmission, validForm), 1), MatchToken, true, open),
			want: Plan{Folder: vocab.FolderProcessed, Action: vocab.ActionForms, Channel: vocab.ChannelSecureReply,
				Submissions:       []PlannedSubmission{{0, vocab.StatusAccepted}},
				Replies:           []PlannedReply{{vocab.KindAccepted, 0}}, // one email: the outcome says the form was received (issue 16.5)
				ConversationState: vocab.StateCompleted},
		},
		{
			name: "photo from another sender quoting the reference: unverified, unanswered",
			in:   inConv(photos(person(extract.KindContact), 1), MatchSubject, false, open),
			want: Plan{Folder: vocab.FolderTriage, Action: vocab.ActionOtherSender, Triage: []PlannedTriage{{vocab.ReasonUnverifiedSender, -1}}},
		},
		{
			name: "photo in automatic mail is never answered",
			in:   inConv(with(photos(person(extract.KindContact), 1), func(in *Input) { in.Auto = true }), MatchToken, true, open),
			want: Plan{Folder: vocab.FolderAuto, Action: vocab.ActionAuto},
		},
		{
			name: "photo at the reply limit: triage for the photo and the limit, no receipt",
			in:   inConv(with(photos(person(extract.KindContact), 1), func(in *Input) { in.RecentReplies = 10 }), MatchToken, true, open),
			want: Plan{Folder: vocab.FolderTriage, Action: vocab.ActionPhoto + vocab.ActionRateLimited,
				ConversationState: vocab.StateFormReceived,
				Triage:            []PlannedTriage{{vocab.ReasonPhotoOfForm, -1}, {vocab.ReasonRateLimited, -1}}},
		},
		// Issue 14 item 1: a message without a form is read for what it asks.
		{
			name: "first contact, a plain request: instructions as before",
			in:   plain(person(extract.KindContact)),
			want: Plan{Folder: vocab.FolderProcessed, Action: vocab.ActionInstructions, NewConversation: true,
				ConversationState: vocab.StateInstructionsSent, Replies: []PlannedReply{{vocab.KindInstructions, -1}}},
		},
		{
			name: "first contact, a question: acknowledgement and a question item, no instructions",
			in:   asks(person(extract.KindContact), 30, false, vocab.ReasonQuestion),
			want: enquiryPlan(true, vocab.KindEnquiry, vocab.ReasonQuestion),
		},
		{
			name: "first contact, a complaint that also asks to opt out: acknowledgement with the instructions",
			in:   asks(person(extract.KindContact), 40, true, vocab.ReasonComplaint, vocab.ReasonQuestion),
			want: enquiryPlan(true, vocab.KindEnquiryInstructions, vocab.ReasonComplaint),
		},
		{
			name: "first contact with personal data that needs a person: stored copy redacted as for any first contact",
			in:   with(asks(person(extract.KindContact), 30, false, vocab.ReasonRightsRequest), func(in *Input) { in.PersonalData = true }),
			want: with2(enquiryPlan(true, vocab.KindEnquiry, vocab.ReasonRightsRequest), func(p *Plan) { p.RedactBody = true }),
		},
		{
			name: "first contact for someone else",
			in:   asks(person(extract.KindContact), 30, true, vocab.ReasonProxy),
			want: enquiryPlan(true, vocab.KindEnquiryInstructions, vocab.ReasonProxy),
		},
		{
			name: "first contact in another language",
			in:   asks(person(extract.KindContact), 12, false, vocab.ReasonFormatOrLanguage),
			want: enquiryPlan(true, vocab.KindEnquiry, vocab.ReasonFormatOrLanguage),
		},
		{
			name: "first contact chasing a form",
			in:   asks(person(extract.KindContact), 12, false, vocab.ReasonStatusChase),
			want: enquiryPlan(true, vocab.KindEnquiry, vocab.ReasonStatusChase),
		},
		{
			name: "first contact asking to opt back in: acknowledgement only, never the instructions",
			in:   asks(person(extract.KindContact), 12, false, vocab.ReasonOptBackIn),
			want: enquiryPlan(true, vocab.KindEnquiry, vocab.ReasonOptBackIn),
		},
		{
			name: "in an open conversation, a question: acknowledgement, item, not no_form",
			in:   inConv(asks(person(extract.KindContact), 20, false, vocab.ReasonQuestion), MatchToken, true, open),
			want: enquiryPlan(false, vocab.KindEnquiry, vocab.ReasonQuestion),
		},
		{
			name: "in an open conversation, a proxy asking to opt out: with the instructions",
			in:   inConv(asks(person(extract.KindContact), 20, true, vocab.ReasonProxy), MatchToken, true, asked),
			want: enquiryPlan(false, vocab.KindEnquiryInstructions, vocab.ReasonProxy),
		},
		{
			name: "a form waiting for staff, a chase: acknowledgement without the instructions",
			in: inConv(asks(person(extract.KindContact), 20, true, vocab.ReasonStatusChase), MatchToken, true,
				Conversation{Ref: "NCL-AAAA-BBBB", State: vocab.StateFormReceived}),
			want: enquiryPlan(false, vocab.KindEnquiry, vocab.ReasonStatusChase),
		},
		{
			name: "in a conversation, a plain request: no_form as before",
			in:   inConv(plain(person(extract.KindContact)), MatchToken, true, open),
			want: Plan{Folder: vocab.FolderProcessed, Action: vocab.ActionNoForm, NoFormSent: true,
				Replies: []PlannedReply{{vocab.KindNoForm, -1}}},
		},
		{
			name: "in a conversation, a plain request after no_form: no_form_again as before",
			in:   inConv(plain(person(extract.KindContact)), MatchToken, true, asked),
			want: Plan{Folder: vocab.FolderTriage, Action: vocab.ActionNoFormAgain, Triage: []PlannedTriage{{vocab.ReasonNoFormAgain, -1}}},
		},
		{
			name: "in a conversation, no words of its own (a form not found): no_form, not a question",
			in:   inConv(asks(person(extract.KindContact), 0, false, vocab.ReasonQuestion), MatchToken, true, open),
			want: Plan{Folder: vocab.FolderProcessed, Action: vocab.ActionNoForm, NoFormSent: true,
				Replies: []PlannedReply{{vocab.KindNoForm, -1}}},
		},
		{
			name: "a question at the reply limit: item and the limit, no acknowledgement",
			in:   with(asks(person(extract.KindContact), 20, false, vocab.ReasonQuestion), func(in *Input) { in.RecentReplies = 10 }),
			want: Plan{Folder: vocab.FolderTriage, Action: vocab.ActionEnquiry + vocab.ActionRateLimited, NewConversation: true,
				ConversationState: vocab.StateInstructionsSent,
				Triage:            []PlannedTriage{{vocab.ReasonQuestion, -1}, {vocab.ReasonRateLimited, -1}}},
		},
		// Issue 11 item 2: opt back in.
		{
			name: "opt back in after an accepted form: acknowledgement and an opt_back_in item, not after_completion",
			in:   inConv(asks(person(extract.KindContact), 15, false, vocab.ReasonOptBackIn), MatchToken, true, done),
			want: enquiryPlan(false, vocab.KindEnquiry, vocab.ReasonOptBackIn),
		},
		{
			name: "opt back in in a closed conversation after no_form: never no_form_again",
			in:   inConv(asks(person(extract.KindContact), 15, false, vocab.ReasonOptBackIn), MatchSubject, true, closed),
			want: enquiryPlan(false, vocab.KindEnquiry, vocab.ReasonOptBackIn),
		},
		{
			name: "a complaint after completion: its own reason",
			in:   inConv(asks(person(extract.KindContact), 25, false, vocab.ReasonComplaint, vocab.ReasonQuestion), MatchToken, true, done),
			want: enquiryPlan(false, vocab.KindEnquiry, vocab.ReasonComplaint),
		},
		// Issue 11 item 3: after completion, at most one acknowledgement a week.
		{
			name: "a thank-you after completion: acknowledged, to staff",
			in:   at(inConv(asks(person(extract.KindContact), 3, false, vocab.ReasonQuestion), MatchToken, true, done)),
			want: afterCompletion(true),
		},
		{
			name: "a second thank-you two days later: to staff, not acknowledged again",
			in:   at(inConv(asks(person(extract.KindContact), 3, false, vocab.ReasonQuestion), MatchToken, true, ackedAgo(done, 48*time.Hour))),
			want: afterCompletion(false),
		},
		{
			name: "six days and 23 hours later: still not acknowledged",
			in:   at(inConv(asks(person(extract.KindContact), 3, false, vocab.ReasonQuestion), MatchToken, true, ackedAgo(done, 7*24*time.Hour-time.Hour))),
			want: afterCompletion(false),
		},
		{
			name: "a week later: acknowledged again",
			in:   at(inConv(asks(person(extract.KindContact), 3, false, vocab.ReasonQuestion), MatchToken, true, ackedAgo(done, 7*24*time.Hour))),
			want: afterCompletion(true),
		},
		{
			name: "a plain request in a closed conversation after no_form: after completion, never no_form_again",
			in:   at(inConv(plain(person(extract.KindContact)), MatchToken, true, closed)),
			want: afterCompletion(true),
		},
		// Issue 11 item 1: protected (encrypted) messages.
		{
			name: "protected reply in a conversation: receipt and a protected item, never no_form",
			in:   inConv(person(extract.KindProtected), MatchToken, true, open),
			want: protectedPlan(false, vocab.StateFormReceived),
		},
		{
			name: "protected reply after a no_form: receipt, never no_form_again",
			in:   inConv(person(extract.KindProtected), MatchToken, true, asked),
			want: protectedPlan(false, vocab.StateFormReceived),
		},
		{
			name: "protected reply after completion: receipt, the state stays",
			in:   inConv(person(extract.KindProtected), MatchToken, true, done),
			want: protectedPlan(false, ""),
		},
		{
			name: "protected first email, policy process: new conversation, receipt, item, never the instructions",
			in:   person(extract.KindProtected),
			want: protectedPlan(true, vocab.StateFormReceived),
		},
		{
			name: "protected first email, policy ask: as a form under ask",
			in:   with(person(extract.KindProtected), func(in *Input) { in.Policy = PolicyAsk }),
			want: Plan{Folder: vocab.FolderTriage, Action: vocab.ActionUnsolicitedAsk, NewConversation: true,
				ConversationState: vocab.StateInstructionsSent,
				Replies:           []PlannedReply{{vocab.KindInstructions, -1}, {vocab.KindUnsolicited, -1}},
				Triage:            []PlannedTriage{{vocab.ReasonUnsolicitedForm, -1}}},
		},
		{
			name: "protected from another sender quoting the reference: unverified, unanswered",
			in:   inConv(person(extract.KindProtected), MatchSubject, false, open),
			want: Plan{Folder: vocab.FolderTriage, Action: vocab.ActionOtherSender, Triage: []PlannedTriage{{vocab.ReasonUnverifiedSender, -1}}},
		},
		// Issue 16 item 5: one email where one will do.
		{
			name: "two valid forms: one outcome email each, no receipt",
			in:   inConv(person(extract.KindSubmission, validForm, validForm), MatchToken, true, open),
			want: Plan{Folder: vocab.FolderProcessed, Action: vocab.ActionForms, Channel: vocab.ChannelSecureReply,
				Submissions:       []PlannedSubmission{{0, vocab.StatusAccepted}, {1, vocab.StatusAccepted}},
				Replies:           []PlannedReply{{vocab.KindAccepted, 0}, {vocab.KindAccepted, 1}},
				ConversationState: vocab.StateCompleted},
		},
		{
			name: "answer to a staff reply without a form: the waiting item reopens, no reply",
			in:   inConv(person(extract.KindContact), MatchToken, true, waiting),
			want: Plan{Folder: vocab.FolderTriage, Action: vocab.ActionAnswer, ReopenWaiting: true},
		},
		{
			name: "answer to a staff reply with a valid form: recorded as usual, and the item reopens",
			in:   inConv(person(extract.KindSubmission, validForm), MatchToken, true, waiting),
			want: Plan{Folder: vocab.FolderProcessed, Action: vocab.ActionForms, Channel: vocab.ChannelSecureReply,
				Submissions:       []PlannedSubmission{{0, vocab.StatusAccepted}},
				Replies:           []PlannedReply{{vocab.KindAccepted, 0}}, // one email: accepted in the same pass
				ConversationState: vocab.StateCompleted, ReopenWaiting: true},
		},
		{
			name: "encrypted answer to a staff reply: the waiting item reopens, a receipt, no second item",
			in:   inConv(person(extract.KindProtected), MatchToken, true, waiting),
			want: Plan{Folder: vocab.FolderTriage, Action: vocab.ActionProtected, ConversationState: vocab.StateFormReceived,
				Replies: []PlannedReply{{vocab.KindReceipt, -1}}, ReopenWaiting: true},
		},
		{
			name: "an auto-reply to a staff reply does not reopen the item",
			in:   inConv(with(person(extract.KindContact), func(in *Input) { in.Auto = true }), MatchToken, true, waiting),
			want: Plan{Folder: vocab.FolderAuto, Action: vocab.ActionAuto},
		},
		{
			name: "another sender quoting a waiting conversation's reference does not reopen it",
			in:   inConv(person(extract.KindContact), MatchSubject, false, waiting),
			want: Plan{Folder: vocab.FolderTriage, Action: vocab.ActionOtherSender, Triage: []PlannedTriage{{vocab.ReasonUnverifiedSender, -1}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := summary(Decide(tt.in))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decide() =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

// TestDecideNeverAnswersLoops checks the loop-protection invariant over
// every combination of the flags that mark mail we must not answer.
func TestDecideNeverAnswersLoops(t *testing.T) {
	kinds := []extract.Kind{extract.KindContact, extract.KindSubmission, extract.KindAuto, extract.KindUnreadable}
	for _, kind := range kinds {
		for mask := 1; mask < 16; mask++ {
			in := person(kind, validForm)
			in.FromUs = mask&1 != 0
			in.OurMarker = mask&2 != 0
			in.Auto = mask&4 != 0
			in.HasSender = mask&8 == 0
			for _, conv := range []*Conversation{nil, {Ref: "NCL-AAAA-BBBB", State: vocab.StateInstructionsSent}} {
				in.Conv, in.Match, in.SenderIsOwner = conv, MatchToken, true
				if p := summary(Decide(in)); len(p.Replies) != 0 || len(p.Submissions) != 0 {
					t.Errorf("Decide(kind %s, mask %04b, conv %v) = %+v, want no replies and no submissions", kind, mask, conv != nil, p)
				}
			}
		}
	}
}

// TestDecideRepliesNeverCarryPersonalKinds checks that every planned
// reply is one of the kinds the pipeline sends automatically (rejected,
// not_optout and opted_in are staff decisions).
func TestDecideReplyKinds(t *testing.T) {
	auto := map[vocab.Kind]bool{vocab.KindInstructions: true, vocab.KindReceipt: true, vocab.KindAccepted: true,
		vocab.KindNoForm: true, vocab.KindUnsolicited: true, vocab.KindEnquiry: true, vocab.KindEnquiryInstructions: true,
		vocab.KindAfterCompletion: true}
	for _, policy := range []Policy{PolicyProcess, PolicyAsk} {
		for _, forms := range [][]form.Form{nil, {validForm}, {invalidForm}, {validForm, invalidForm}} {
			for _, conv := range []*Conversation{nil, {State: vocab.StateInstructionsSent}, {State: vocab.StateCompleted, NoFormCount: 1}} {
				kind := extract.KindContact
				if len(forms) > 0 {
					kind = extract.KindSubmission
				}
				in := person(kind, forms...)
				in.Policy, in.Conv, in.Match, in.SenderIsOwner = policy, conv, MatchToken, true
				p := summary(Decide(in))
				for _, r := range p.Replies {
					if !auto[r.Kind] {
						t.Errorf("Decide(%+v) plans a %s reply", in, r.Kind)
					}
					if r.Form >= len(forms) || (r.Kind == vocab.KindAccepted && (r.Form < 0 || !forms[r.Form].Valid)) {
						t.Errorf("Decide(%+v) plans reply %+v for a form that is not a valid one", in, r)
					}
				}
				if len(forms) > 0 && (conv != nil || policy == PolicyProcess) && len(p.Submissions) != len(forms) {
					t.Errorf("Decide(%+v) records %d submissions, want %d", in, len(p.Submissions), len(forms))
				}
			}
		}
	}
}

// FuzzDecide drives Decide with arbitrary combinations of flags, forms and
// counters and checks the invariants every plan must keep.
func FuzzDecide(f *testing.F) {
	f.Add(uint32(0), uint8(0), uint8(0), uint8(0))
	f.Add(uint32(0xffffffff), uint8(3), uint8(9), uint8(255))
	f.Add(uint32(0x0101), uint8(1), uint8(10), uint8(2))
	f.Fuzz(func(t *testing.T, flags uint32, nforms, recent, limit uint8) {
		bit := func(i uint) bool { return flags&(1<<i) != 0 }
		kinds := []extract.Kind{extract.KindContact, extract.KindSubmission, extract.KindAuto, extract.KindUnreadable}
		if bit(13) {
			kinds[0] = extract.KindProtected
		}
		in := Input{
			Kind: kinds[flags>>20&3], HasSender: bit(0), FromUs: bit(1), OurMarker: bit(2), Auto: bit(3),
			BounceOfOurs: bit(4), TooLarge: bit(5), ExtractFailed: bit(6), PersonalData: bit(7),
			SenderIsOwner: bit(8), RecentReplies: int(recent), ReplyLimit: int(limit % 20),
		}
		if bit(12) {
			in.Photos = int(flags>>24&3) + 1
		}
		if bit(9) {
			in.Policy = PolicyAsk
		}
		if bit(10) {
			in.Conv = &Conversation{Ref: "NCL-AAAA-BBBB", State: []vocab.ConversationState{vocab.StateInstructionsSent, vocab.StateFormReceived, vocab.StateCompleted, vocab.StateClosed}[flags>>12&3], NoFormCount: int(flags >> 14 & 1)}
			in.Match = MatchToken
			if bit(11) {
				in.Match = MatchSubject
			}
		}
		if bit(15) {
			in.Enquiry = enquiry.Result{Intents: enquiry.Intents()[flags>>26&3 : flags>>26&3+1], AlsoOptOut: bit(25), Words: int(recent)}
		}
		for i := range int(nforms % 5) {
			in.Forms = append(in.Forms, form.Form{Valid: flags>>(16+uint(i))&1 == 1})
		}
		p := summary(Decide(in))
		if (in.FromUs || in.OurMarker || in.Auto || in.TooLarge || !in.HasSender || in.ExtractFailed) && len(p.Replies) > 0 {
			t.Fatalf("Decide(%+v) answers mail that must not be answered: %+v", in, p)
		}
		limitOr := in.ReplyLimit
		if limitOr <= 0 {
			limitOr = DefaultReplyLimit
		}
		if len(p.Replies) > 0 && in.RecentReplies+len(p.Replies) > limitOr {
			t.Fatalf("Decide(%+v) passes the reply limit: %+v", in, p)
		}
		if p.Folder != vocab.FolderProcessed && p.Folder != vocab.FolderTriage && p.Folder != vocab.FolderAuto {
			t.Fatalf("Decide(%+v) has no folder: %+v", in, p)
		}
		if in.Match == MatchSubject && in.Conv != nil && !in.SenderIsOwner && (len(p.Submissions) > 0 || len(p.Replies) > 0) {
			t.Fatalf("Decide(%+v) trusts an unverified reference: %+v", in, p)
		}
		for _, s := range p.Submissions {
			if s.Form < 0 || s.Form >= len(in.Forms) || (s.Status == vocab.StatusAccepted) != in.Forms[s.Form].Valid {
				t.Fatalf("Decide(%+v) records form %d as %s", in, s.Form, s.Status)
			}
		}
		if in.Photos > 0 && len(in.Forms) == 0 && (p.Action == vocab.ActionNoForm || p.Action == vocab.ActionNoFormAgain || p.Action == vocab.ActionInstructions) {
			t.Fatalf("Decide(%+v) answers a photo of the form as though no form came: %+v", in, p)
		}
		if in.Kind == extract.KindProtected && len(in.Forms) == 0 && (p.Action == vocab.ActionNoForm || p.Action == vocab.ActionNoFormAgain || p.Action == vocab.ActionInstructions) {
			t.Fatalf("Decide(%+v) answers a protected message as though no form came: %+v", in, p)
		}
		if len(p.Replies) > 2 && len(in.Forms) == 0 {
			t.Fatalf("Decide(%+v) sends more than two replies to a message without a form: %+v", in, p)
		}
		if p.Folder == vocab.FolderTriage && len(p.Triage) == 0 {
			t.Fatalf("Decide(%+v) sends a message to Triage without a triage item: %+v", in, p)
		}
	})
}

// TestDecideDueBy checks the due dates the items carry: the law's deadline
// for what the message asks (enquiry.DueBy), the default (zero: the store's
// received + one month) for the others.
func TestDecideDueBy(t *testing.T) {
	received := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC) // a Thursday
	london, _ := time.LoadLocation("Europe/London")
	endOf := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 23, 59, 59, 0, london) }
	done := Conversation{State: vocab.StateCompleted}
	tests := []struct {
		name string
		in   Input
		want time.Time
	}{
		{"complaint: 3 working days", asks(person(extract.KindContact), 20, false, vocab.ReasonComplaint), endOf(2026, 12, 8)},
		{"rights request: a calendar month", asks(person(extract.KindContact), 20, false, vocab.ReasonRightsRequest), endOf(2027, 1, 4)},
		{"question: OPTOUT_ENQUIRY_DAYS working days", with(asks(person(extract.KindContact), 20, false, vocab.ReasonQuestion), func(in *Input) { in.EnquiryDays = 5 }), endOf(2026, 12, 10)},
		{"complaint and question: the earlier", asks(person(extract.KindContact), 20, false, vocab.ReasonComplaint, vocab.ReasonQuestion), endOf(2026, 12, 8)},
		{"after completion: as a question", inConv(asks(person(extract.KindContact), 2, false, vocab.ReasonQuestion), MatchToken, true, done), endOf(2026, 12, 17)},
		{"protected: the default", inConv(person(extract.KindProtected), MatchToken, true, done), time.Time{}},
		{"invalid form: the default", inConv(person(extract.KindSubmission, invalidForm), MatchToken, true, done), time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Received = received
			p := Decide(tt.in)
			if len(p.Triage) != 1 {
				t.Fatalf("Decide() raised %d items, want 1", len(p.Triage))
			}
			if got := p.Triage[0].DueBy; !got.Equal(tt.want) {
				t.Errorf("Decide() item due by %v, want %v", got, tt.want)
			}
		})
	}
}

// TestIntentsAreReasons checks that every intent the enquiry reader finds
// is a triage reason with words for staff (the item is filed under it).
func TestIntentsAreReasons(t *testing.T) {
	for _, i := range enquiry.Intents() {
		if !i.Valid() || i.Text() == string(i) {
			t.Errorf("intent %q is not a listed triage reason with words", i)
		}
	}
}
