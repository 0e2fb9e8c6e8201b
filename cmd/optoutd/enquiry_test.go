package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEnquiryCommand: `optoutd enquiry --json` reads emails as the pipeline
// will and prints, per file, whether it is a plain request or what needs a
// person, with a due date; a missing file is exit status 1, no file 2.
func TestEnquiryCommand(t *testing.T) {
	corpus := filepath.Join("..", "..", "enquiry", "testdata", "corpus")
	files := []string{
		filepath.Join(corpus, "issue14-complaint-still-shared.eml"),
		filepath.Join(corpus, "plain-polite-letter.eml"),
		filepath.Join(corpus, "issue14-proxy-dementia.eml"),
	}
	out, errOut, code := runBin(t, 30*time.Second, map[string]string{"OPTOUT_ENQUIRY_DAYS": "5"}, append([]string{"enquiry", "--json"}, files...)...)
	if code != 0 {
		t.Fatalf("optoutd enquiry exit status %d\n%s", code, errOut)
	}
	var got []enquiryResult
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r enquiryResult
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		got = append(got, r)
	}
	if len(got) != 3 {
		t.Fatalf("optoutd enquiry printed %d results, want 3:\n%s", len(got), out)
	}
	if got[0].Plain || len(got[0].Intents) == 0 || got[0].Intents[0] != "complaint" || got[0].DueBy == nil || got[0].OwnWords != "" {
		t.Errorf("complaint: %+v, want filed under complaint with a due date and no own words (no --words)", got[0])
	}
	if !got[1].Plain || got[1].DueBy != nil || len(got[1].Intents) != 0 {
		t.Errorf("plain letter: %+v, want plain without a due date", got[1])
	}
	if got[2].Plain || !got[2].AlsoOptOut {
		t.Errorf("proxy: %+v, want needs a person and also asks to opt out", got[2])
	}

	out, _, code = runBin(t, 30*time.Second, nil, "enquiry", "--words", files[1])
	if code != 0 || !strings.Contains(out, "plain request") || !strings.Contains(out, "I would like to opt out") || strings.Contains(out, "Yours faithfully") {
		t.Errorf("optoutd enquiry --words: status %d, output:\n%s\nwant the verdict and the own words without the sign-off", code, out)
	}
	if _, _, code := runBin(t, 30*time.Second, nil, "enquiry", filepath.Join(corpus, "missing.eml")); code != 1 {
		t.Errorf("optoutd enquiry on a missing file: exit status %d, want 1", code)
	}
	if _, _, code := runBin(t, 30*time.Second, nil, "enquiry"); code != 2 {
		t.Errorf("optoutd enquiry without a file: exit status %d, want 2", code)
	}
}
