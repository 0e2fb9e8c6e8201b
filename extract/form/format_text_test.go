package form

import "testing"

func TestFormatText(t *testing.T) {
	for _, f := range Formats() {
		if f.Text() == string(f) || f.Text() == "" {
			t.Errorf("Format(%q).Text() has no words", f)
		}
	}
	if Format("older").Text() != "older" {
		t.Error("unknown format not returned as it is")
	}
}
