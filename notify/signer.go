package notify

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Signer makes and checks the signed token in the Message-IDs we send:
//
//	<REF.RANDOM.SIGNATURE@domain>
//
// REF is the reference code, RANDOM 80 random bits and SIGNATURE the first
// 80 bits of HMAC-SHA256(Key, REF "." RANDOM), both in lower-case base32.
// A resident's In-Reply-To or References that carries such an id names the
// conversation REF, and only someone holding Key can make one, so the
// pipeline can trust the match without a database look-up.
//
// Key should be at least 32 random bytes, kept with the other secrets and
// never changed lightly: replies to messages signed with an old key no
// longer verify (they fall back to the reference in the subject).
type Signer struct {
	Key []byte
}

// MinKeyLen is the shortest Signer key accepted.
const MinKeyLen = 16

const (
	randomBytes    = 10 // 80 bits: 16 base32 characters
	signatureBytes = 10 // 80 bits: 16 base32 characters
	maxRefLen      = 64
	maxMessageID   = 998 // one header line
)

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ErrBadKey is returned when the Signer key is missing or too short.
var ErrBadKey = errors.New("message-id signing key is missing or shorter than 16 bytes: configure a key of at least 32 random bytes")

// ErrBadRef is returned when a reference code cannot go into a Message-ID.
var ErrBadRef = errors.New("reference code must be 1-64 letters, digits or hyphens")

// validRef reports whether ref is usable in a Message-ID: letters, digits
// and hyphens, not starting or ending with a hyphen.
func validRef(ref string) bool {
	if ref == "" || len(ref) > maxRefLen || ref[0] == '-' || ref[len(ref)-1] == '-' {
		return false
	}
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func (s Signer) sign(ref, random string) string {
	m := hmac.New(sha256.New, s.Key)
	io.WriteString(m, "optout-intake message-id v1\x00")
	io.WriteString(m, ref)
	io.WriteString(m, ".")
	io.WriteString(m, random)
	return b32.EncodeToString(m.Sum(nil)[:signatureBytes])
}

// NewMessageID returns a new signed Message-ID for ref at domain, without
// angle brackets. Random bytes come from rnd (crypto/rand when nil).
func (s Signer) NewMessageID(ref, domain string, rnd io.Reader) (string, error) {
	if len(s.Key) < MinKeyLen {
		return "", ErrBadKey
	}
	if !validRef(ref) {
		return "", fmt.Errorf("make message-id: %w", ErrBadRef)
	}
	if !validDomain(domain) {
		return "", fmt.Errorf("make message-id: domain %q is not a valid host name: set the mailbox address", domain)
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	var buf [randomBytes]byte
	if _, err := io.ReadFull(rnd, buf[:]); err != nil {
		return "", fmt.Errorf("make message-id: read random bytes: %w", err)
	}
	random := b32.EncodeToString(buf[:])
	return ref + "." + random + "." + s.sign(ref, random) + "@" + domain, nil
}

// Verify checks a Message-ID (with or without angle brackets and spaces
// around it) and returns the reference code it was signed for. ok is false
// for anything we did not sign with this key, including a forged or altered
// id; it never panics on hostile input.
func (s Signer) Verify(messageID string) (ref string, ok bool) {
	if len(s.Key) < MinKeyLen || len(messageID) > maxMessageID {
		return "", false
	}
	id := strings.TrimSpace(messageID)
	id = strings.TrimPrefix(id, "<")
	id = strings.TrimSuffix(id, ">")
	at := strings.LastIndexByte(id, '@')
	if at < 0 {
		return "", false
	}
	local := id[:at]
	sigDot := strings.LastIndexByte(local, '.')
	if sigDot < 0 {
		return "", false
	}
	sig := local[sigDot+1:]
	rest := local[:sigDot]
	rndDot := strings.LastIndexByte(rest, '.')
	if rndDot < 0 {
		return "", false
	}
	ref, random := rest[:rndDot], rest[rndDot+1:]
	if !validRef(ref) || len(random) != b32.EncodedLen(randomBytes) || len(sig) != b32.EncodedLen(signatureBytes) {
		return "", false
	}
	if !hmac.Equal([]byte(sig), []byte(s.sign(ref, random))) {
		return "", false
	}
	return ref, true
}

// Match returns the reference of the first id in ids that Verify accepts,
// checking at most 100 ids. Pass the In-Reply-To ids, then References
// newest first.
func (s Signer) Match(ids []string) (ref string, ok bool) {
	for i, id := range ids {
		if i == 100 {
			break
		}
		if ref, ok := s.Verify(id); ok {
			return ref, true
		}
	}
	return "", false
}

// validDomain reports whether d is a plain host name usable after the @ of
// a Message-ID.
func validDomain(d string) bool {
	if d == "" || len(d) > 253 || d[0] == '.' || d[len(d)-1] == '.' || strings.Contains(d, "..") {
		return false
	}
	for i := 0; i < len(d); i++ {
		c := d[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
