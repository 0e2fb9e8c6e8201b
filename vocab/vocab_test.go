package vocab

import (
	"regexp"
	"slices"
	"testing"
)

// code is what a value must look like to be a stored code and a metric label.
var code = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

func TestReasonsHaveWords(t *testing.T) {
	seen := map[Reason]bool{}
	for _, r := range Reasons() {
		if !code.MatchString(string(r)) || seen[r] {
			t.Errorf("reason %q is not a unique lower-case code", r)
		}
		seen[r] = true
		if r.Text() == string(r) || r.Text() == "" {
			t.Errorf("Reason(%q).Text() = %q, want words for staff", r, r.Text())
		}
	}
	if len(reasonTexts) != len(Reasons()) {
		t.Errorf("%d reasons have words, %d reasons are listed", len(reasonTexts), len(Reasons()))
	}
	if got := Reason("older_code").Text(); got != "older_code" {
		t.Errorf("Text of an unlisted code = %q, want the code", got)
	}
}

func TestListsAreCodes(t *testing.T) {
	check := func(what string, vs []string) {
		seen := map[string]bool{}
		for _, v := range vs {
			if !code.MatchString(v) || seen[v] {
				t.Errorf("%s %q is not a unique lower-case code", what, v)
			}
			seen[v] = true
		}
	}
	var ks, fs, as []string
	for _, k := range Kinds() {
		ks = append(ks, string(k))
	}
	for _, f := range Folders() {
		fs = append(fs, string(f))
	}
	for _, a := range Actions() {
		as = append(as, string(a))
	}
	check("kind", ks)
	check("folder", fs)
	check("action", as)
	if !KindReceipt.Valid() || Kind("bogus").Valid() || !FolderAuto.Valid() || Folder("Inbox").Valid() {
		t.Error("Valid does not follow the lists")
	}
}

// TestHeldAndPreview: the held actions are ledger actions (metric labels
// follow Actions); the inbox and the dry run's own actions are neither a
// destination folder nor a ledger action.
func TestHeldAndPreview(t *testing.T) {
	for _, a := range HeldActions() {
		if !slices.Contains(Actions(), a) {
			t.Errorf("held action %q is not in Actions", a)
		}
	}
	if FolderInbox.Valid() || slices.Contains(Folders(), FolderInbox) {
		t.Error("FolderInbox is a destination folder: the poller would move mail to it")
	}
	for _, a := range []Action{PreviewDone, PreviewRetry} {
		if !code.MatchString(string(a)) || slices.Contains(Actions(), a) {
			t.Errorf("preview action %q is a ledger action or not a code", a)
		}
	}
}

func TestValuesHaveWords(t *testing.T) {
	for _, a := range Actions() {
		if a.Text() == string(a) {
			t.Errorf("Action(%q).Text() has no words", a)
		}
	}
	if got := ("triage:" + ActionForms + ActionRateLimited).Text(); got != "Forms read (replies held: the sender reached the reply limit)" {
		t.Errorf("rate-limited action = %q", got)
	}
	if Action("").Text() != "Not processed yet" || Action("older").Text() != "older" {
		t.Error("empty or unknown action words")
	}
	for _, c := range []Channel{ChannelSecureReply, ChannelUnsolicited, ChannelStaff} {
		if c.Text() == string(c) {
			t.Errorf("Channel(%q) has no words", c)
		}
	}
	for _, s := range []ConversationState{StateInstructionsSent, StateFormReceived, StateCompleted, StateClosed} {
		if s.Text() == string(s) {
			t.Errorf("ConversationState(%q) has no words", s)
		}
	}
	for _, s := range []SubmissionStatus{StatusAccepted, StatusTriage, StatusRejected, StatusDuplicate, StatusSuperseded, StatusNotOptOut} {
		if s.Text() == string(s) {
			t.Errorf("SubmissionStatus(%q) has no words", s)
		}
	}
}

// TestOutcomesHaveWords: every outcome has its words for staff, and the
// outcome of answering offline is that close reason's outcome.
func TestOutcomesHaveWords(t *testing.T) {
	for _, o := range Outcomes() {
		if o.Text() == string(o) || o.Text() == "" {
			t.Errorf("Outcome(%q).Text() = %q, want words for staff", o, o.Text())
		}
	}
	if len(outcomeTexts) != len(Outcomes()) {
		t.Errorf("%d outcomes have words, %d are listed", len(outcomeTexts), len(Outcomes()))
	}
	for _, o := range Outcomes() {
		if !o.Valid() {
			t.Errorf("listed outcome %q is not Valid", o)
		}
	}
	if CloseReason("whatever").Outcome().Valid() {
		t.Error("an outcome with no words is Valid")
	}
	if CloseAnsweredOffline.Outcome() != OutcomeAnsweredOffline {
		t.Errorf("answered offline closes as %q, its outcome constant is %q", CloseAnsweredOffline.Outcome(), OutcomeAnsweredOffline)
	}
}
