package form

import "testing"

func TestTicked(t *testing.T) {
	tests := []struct {
		value string
		want  bool
	}{
		{"X", true}, {"x", true}, {"[x]", true}, {"[X]", true}, {"[ x ]", true},
		{"(x)", true}, {"☒", true}, {"☑", true}, {"✓", true}, {"✔", true}, {"✗", true},
		{"Yes", true}, {"YES", true}, {"yes.", true}, {"Y", true}, {"true", true},
		{"on", true}, {"On", true}, {"1", true}, {"ticked", true}, {"Ticked", true},
		{"checked", true}, {"/Yes", true}, {" x ", true}, {"Yes, I have read it", true},
		{"", false}, {"No", false}, {"no", false}, {"[ ]", false}, {"[]", false},
		{"☐", false}, {"Off", false}, {"/Off", false}, {"false", false}, {"0", false},
		{"N", false}, {"No, thanks", false}, {"maybe", false}, {"Yes No", false},
		{"Jane", false}, {"12", false},
	}
	for _, tt := range tests {
		if got := Ticked(tt.value); got != tt.want {
			t.Errorf("Ticked(%q) = %v, want %v", tt.value, got, tt.want)
		}
	}
}

func TestYesNoChoice(t *testing.T) {
	tests := []struct {
		value   string
		yes, ok bool
	}{
		{"Yes", true, true},
		{"No", false, true},
		{"[x] Yes [ ] No", true, true},
		{"[ ] Yes [x] No", false, true},
		{"Yes [x] No [ ]", true, true},
		{"Yes [ ] No [X]", false, true},
		{"Yes ☒ No ☐", true, true},
		{"Yes ☐ No ☒", false, true},
		{"☒ Yes ☐ No", true, true},
		{"☐ Yes ☒ No", false, true},
		{"Yes X No", true, true},
		{"Yes No X", false, true},
		{"X Yes No", true, true},
		{"Yes No", false, false},
		{"[x] Yes [x] No", false, false},
		{"[ ] Yes [ ] No", false, false},
		{"perhaps", false, false},
		{"☒ Yes", true, true},
		{"☒ No", false, true},
		{"No [x]", false, true},
		{"☐ Yes", false, false},
	}
	for _, tt := range tests {
		yes, ok := yesNoChoice(tt.value)
		if yes != tt.yes || ok != tt.ok {
			t.Errorf("yesNoChoice(%q) = %v, %v, want %v, %v", tt.value, yes, ok, tt.yes, tt.ok)
		}
	}
}
