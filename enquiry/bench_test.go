package enquiry

import (
	"strings"
	"testing"
)

// BenchmarkRead reads the whole corpus once per iteration.
func BenchmarkRead(b *testing.B) {
	corpus := loadCorpus(b)
	for b.Loop() {
		for _, c := range corpus {
			Read(c.subject, c.body)
		}
	}
}

// BenchmarkReadLargest reads a body of MaxTextBytes of repeated phrases,
// the most a hostile message can make the rules read.
func BenchmarkReadLargest(b *testing.B) {
	body := strings.Repeat("I do not want to opt back in, what happens? ", MaxTextBytes/44+1)
	for b.Loop() {
		Read(body[:200], body)
	}
}
