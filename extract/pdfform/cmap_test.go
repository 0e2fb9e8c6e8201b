package pdfform

import (
	"strings"
	"testing"
)

// TestCmapCountsOKMatchesRegexp: the hand-written scan agrees with the
// regexp it replaced.
func TestCmapCountsOKMatchesRegexp(t *testing.T) {
	byRegexp := func(b []byte) bool {
		for _, m := range cmapCount.FindAllSubmatch(b, -1) {
			n := 0
			for _, c := range m[1] {
				n = n*10 + int(c-'0')
				if n > 10000 {
					return false
				}
			}
		}
		return true
	}
	inputs := []string{
		"", "begin", "12 beginbfchar", "10000 beginbfrange", "10001 beginbfrange", "10001beginbfrange",
		"2 begincodespacerange <00> <ff> endcodespacerange 100 beginbfchar",
		"99999999999999999999 begincidchar", "x 5\n\t begincidrange", "5 beginfoo 20000 beginbfchar",
		"20000 begin bfchar", "begincmap 3 beginbfrange", strings.Repeat("1", 5000) + " beginbfchar",
		"12345\r\nbeginbfchar 7 beginbfchar", "a20000 beginbfchar",
	}
	for _, in := range inputs {
		if got, want := cmapCountsOK([]byte(in)), byRegexp([]byte(in)); got != want {
			t.Errorf("cmapCountsOK(%.40q) = %v, regexp says %v", in, got, want)
		}
	}
}

func FuzzCmapCountsOK(f *testing.F) {
	f.Add([]byte("12 beginbfchar 20000 beginbfrange"))
	f.Fuzz(func(t *testing.T, b []byte) {
		want := true
		for _, m := range cmapCount.FindAllSubmatch(b, -1) {
			n, big := 0, false
			for _, c := range m[1] {
				n = n*10 + int(c-'0')
				if n > 10000 {
					big = true
					break
				}
			}
			if big {
				want = false
				break
			}
		}
		if got := cmapCountsOK(b); got != want {
			t.Fatalf("cmapCountsOK(%q) = %v, regexp says %v", b, got, want)
		}
	})
}
