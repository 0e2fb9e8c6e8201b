package notify

import (
	"bytes"
	"strings"
	"testing"
)

func TestSignerRoundTrip(t *testing.T) {
	s := Signer{Key: testKey}
	for _, ref := range []string{"NCL-7K3Q-9XWD", "A", "ref-with-many-parts-0123", strings.Repeat("Z", maxRefLen)} {
		id, err := s.NewMessageID(ref, "nhs.net", nil)
		if err != nil {
			t.Fatalf("NewMessageID(%q) error: %v", ref, err)
		}
		for _, form := range []string{id, "<" + id + ">", "  <" + id + ">\r\n"} {
			got, ok := s.Verify(form)
			if !ok || got != ref {
				t.Errorf("Verify(%q) = %q, %v; want %q, true", form, got, ok, ref)
			}
		}
	}
}

func TestSignerRandomPartDiffers(t *testing.T) {
	s := Signer{Key: testKey}
	a, _ := s.NewMessageID("NCL-1", "nhs.net", nil)
	b, _ := s.NewMessageID("NCL-1", "nhs.net", nil)
	if a == b {
		t.Errorf("two Message-IDs for one reference are equal: %q", a)
	}
}

func TestSignerRejects(t *testing.T) {
	s := Signer{Key: testKey}
	id, err := s.NewMessageID("NCL-7K3Q-9XWD", "nhs.net", &countingRand{})
	if err != nil {
		t.Fatal(err)
	}
	local, domain, _ := strings.Cut(id, "@")
	parts := strings.Split(local, ".")
	ref, random, sig := parts[0], parts[1], parts[2]
	flip := func(s string) string {
		b := []byte(s)
		if b[len(b)-1] == 'a' {
			b[len(b)-1] = 'b'
		} else {
			b[len(b)-1] = 'a'
		}
		return string(b)
	}
	other := Signer{Key: bytes.Repeat([]byte{7}, 32)}
	otherID, _ := other.NewMessageID("NCL-7K3Q-9XWD", "nhs.net", nil)
	tests := []struct {
		name, id string
	}{
		{"other reference", "NCL-7K3Q-9XWE." + random + "." + sig + "@" + domain},
		{"lower-cased reference", strings.ToLower(ref) + "." + random + "." + sig + "@" + domain},
		{"altered random", ref + "." + flip(random) + "." + sig + "@" + domain},
		{"altered signature", ref + "." + random + "." + flip(sig) + "@" + domain},
		{"truncated signature", ref + "." + random + "." + sig[:len(sig)-1] + "@" + domain},
		{"no domain", local},
		{"signed with another key", otherID},
		{"empty", ""},
		{"brackets only", "<>"},
		{"no dots", "abc@nhs.net"},
		{"one dot", "a.b@nhs.net"},
		{"empty ref", "." + random + "." + sig + "@" + domain},
		{"oversized", strings.Repeat("a", 5000) + "." + random + "." + sig + "@" + domain},
		{"typical foreign id", "CAHx1=abc+def@mail.gmail.com"},
	}
	for _, tt := range tests {
		if got, ok := s.Verify(tt.id); ok {
			t.Errorf("Verify(%s) = %q, true; want false", tt.name, got)
		}
	}
	if _, ok := (Signer{}).Verify(id); ok {
		t.Error("Verify with no key = true, want false")
	}
	if _, err := (Signer{Key: []byte("short")}).NewMessageID("NCL-1", "nhs.net", nil); err == nil {
		t.Error("NewMessageID with a short key = nil error, want ErrBadKey")
	}
	for _, bad := range []string{"", "NCL 1", "NCL.1", "-NCL", "NCL@1", "NCL\r\n", strings.Repeat("A", maxRefLen+1)} {
		if _, err := s.NewMessageID(bad, "nhs.net", nil); err == nil {
			t.Errorf("NewMessageID(%q) = nil error, want ErrBadRef", bad)
		}
	}
	for _, bad := range []string{"", "nhs .net", "nhs.net>", ".nhs.net", "a..b"} {
		if _, err := s.NewMessageID("NCL-1", bad, nil); err == nil {
			t.Errorf("NewMessageID(domain %q) = nil error, want one", bad)
		}
	}
}

func TestSignerMatch(t *testing.T) {
	s := Signer{Key: testKey}
	id, _ := s.NewMessageID("NCL-AAAA-BBBB", "nhs.net", nil)
	ids := []string{"foreign@x", "<" + id + ">", "other@y"}
	if ref, ok := s.Match(ids); !ok || ref != "NCL-AAAA-BBBB" {
		t.Errorf("Match = %q, %v; want NCL-AAAA-BBBB, true", ref, ok)
	}
	if _, ok := s.Match([]string{"foreign@x"}); ok {
		t.Error("Match(foreign ids) = true, want false")
	}
	long := make([]string, 200)
	for i := range long {
		long[i] = "x@y"
	}
	long[150] = id
	if _, ok := s.Match(long); ok {
		t.Error("Match looked past 100 ids")
	}
}

// FuzzVerify feeds hostile Message-IDs to Verify: it must never panic, and
// must accept only ids this key signed.
func FuzzVerify(f *testing.F) {
	s := Signer{Key: testKey}
	good, _ := s.NewMessageID("NCL-7K3Q-9XWD", "nhs.net", &countingRand{})
	f.Add(good)
	f.Add("<" + good + ">")
	f.Add(good[:len(good)/2])                       // truncated
	f.Add(strings.Replace(good, "a", "b", 1))       // bit-flipped
	f.Add(strings.Repeat("<", 1000) + good)         // deeply nested brackets
	f.Add(strings.Repeat("a.", 10000) + "@nhs.net") // oversized
	f.Add("")
	f.Add("@")
	f.Add("..@")
	f.Add("\xff\xfe.\x00.\x01@\x02")
	f.Fuzz(func(t *testing.T, id string) {
		ref, ok := s.Verify(id)
		if !ok {
			if ref != "" {
				t.Errorf("Verify(%q) = %q, false; want empty ref when not ok", id, ref)
			}
			return
		}
		if !validRef(ref) {
			t.Errorf("Verify(%q) accepted invalid ref %q", id, ref)
		}
		// An accepted id must carry exactly the signature we would make.
		clean := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(id), "<"), ">")
		local := clean[:strings.LastIndexByte(clean, '@')]
		parts := strings.Split(local, ".")
		random := parts[len(parts)-2]
		if parts[len(parts)-1] != s.sign(ref, random) {
			t.Errorf("Verify(%q) accepted a signature that does not match", id)
		}
	})
}
