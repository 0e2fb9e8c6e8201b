package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrWrongKey is returned (wrapped) when a sealed value cannot be opened:
// its key id is not in the keyring, or the key does not authenticate it.
var ErrWrongKey = errors.New("sealed value cannot be opened with the configured OPTOUT_DATA_KEY")

// keyIDPattern limits key ids to short, log-safe names.
var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,32}$`)

// Keyring holds the data keys (AES-256-GCM, for sealing personal values)
// and the index key (HMAC-SHA256, for blind indexes). The first data key
// seals; every data key opens. It is safe for concurrent use.
type Keyring struct {
	primary string
	aeads   map[string]cipher.AEAD
	ids     []string
	index   []byte
}

// ParseKeys reads OPTOUT_DATA_KEY (comma-separated ID:BASE64 entries, each a
// 32-byte key; the first one encrypts) and OPTOUT_INDEX_KEY (BASE64 of 32
// bytes). Errors name the variable and the entry, never the key material.
func ParseKeys(dataKey, indexKey string) (*Keyring, error) {
	const hint = "generate one with `optoutd genkey`"
	dataKey = strings.TrimSpace(dataKey)
	if dataKey == "" {
		return nil, fmt.Errorf("OPTOUT_DATA_KEY is not set; %s", hint)
	}
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	for i, entry := range strings.Split(dataKey, ",") {
		id, b64, ok := strings.Cut(strings.TrimSpace(entry), ":")
		key, err := decodeKey(b64)
		if !ok || err != nil || !keyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("OPTOUT_DATA_KEY: entry %d is not ID:BASE64 of 32 bytes (ID of letters, digits, '.', '_' or '-'); %s", i+1, hint)
		}
		if _, dup := k.aeads[id]; dup {
			return nil, fmt.Errorf("OPTOUT_DATA_KEY: entry %d repeats key id %q; give every key its own id", i+1, id)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("OPTOUT_DATA_KEY: entry %d: %w", i+1, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("OPTOUT_DATA_KEY: entry %d: %w", i+1, err)
		}
		if k.primary == "" {
			k.primary = id
		}
		k.aeads[id] = aead
		k.ids = append(k.ids, id)
	}
	idx, err := decodeKey(strings.TrimSpace(indexKey))
	if err != nil {
		return nil, fmt.Errorf("OPTOUT_INDEX_KEY is not BASE64 of 32 bytes; %s (and never change it: lookups depend on it)", hint)
	}
	k.index = idx
	return k, nil
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != 32 {
				return nil, errors.New("key is not 32 bytes")
			}
			return b, nil
		}
	}
	return nil, errors.New("key is not base64")
}

// GenerateKeys returns fresh values for OPTOUT_DATA_KEY (one entry whose id
// is the generation date and a random suffix) and OPTOUT_INDEX_KEY.
func GenerateKeys() (dataKey, indexKey string, err error) {
	var d, x [32]byte
	var suffix [3]byte
	for _, b := range [][]byte{d[:], x[:], suffix[:]} {
		if _, err := rand.Read(b); err != nil {
			return "", "", fmt.Errorf("generate keys: %w", err)
		}
	}
	id := fmt.Sprintf("k%x", suffix)
	return id + ":" + base64.StdEncoding.EncodeToString(d[:]), base64.StdEncoding.EncodeToString(x[:]), nil
}

// PrimaryKeyID is the id of the key that seals new values.
func (k *Keyring) PrimaryKeyID() string { return k.primary }

// Seal encrypts plaintext under the primary key. context binds the value to
// where it is stored (for example "conversations.address"), so a sealed
// value copied to another column does not open. The envelope is
// len(keyid) | keyid | nonce | ciphertext+tag.
func (k *Keyring) Seal(context string, plaintext []byte) ([]byte, error) {
	aead := k.aeads[k.primary]
	id := k.primary
	out := make([]byte, 0, 1+len(id)+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out = append(out, byte(len(id)))
	out = append(out, id...)
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal %s: read random nonce: %w", context, err)
	}
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plaintext, []byte(context)), nil
}

// Open decrypts a value made by Seal with the same context. A value sealed
// under a key id the keyring lacks, or that fails authentication, returns an
// error wrapping ErrWrongKey.
func (k *Keyring) Open(context string, sealed []byte) ([]byte, error) {
	id, rest, err := envelopeKeyID(sealed)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", context, err)
	}
	aead, ok := k.aeads[id]
	if !ok {
		return nil, fmt.Errorf("open %s: key id %q is not in OPTOUT_DATA_KEY; add that key (after the current one) to read it: %w", context, id, ErrWrongKey)
	}
	if len(rest) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("open %s: sealed value is truncated", context)
	}
	nonce, ct := rest[:aead.NonceSize()], rest[aead.NonceSize():]
	pt, err := aead.Open(nil, nonce, ct, []byte(context))
	if err != nil {
		return nil, fmt.Errorf("open %s: key %q does not authenticate the value (wrong key material, or the value was moved or altered): %w", context, id, ErrWrongKey)
	}
	return pt, nil
}

// envelopeKeyID splits a sealed value into its key id and the rest.
func envelopeKeyID(sealed []byte) (string, []byte, error) {
	if len(sealed) < 1 || len(sealed) < 1+int(sealed[0]) || sealed[0] == 0 {
		return "", nil, errors.New("sealed value is malformed")
	}
	n := int(sealed[0])
	return string(sealed[1 : 1+n]), sealed[1+n:], nil
}

func (k *Keyring) sealString(context, s string) ([]byte, error) { return k.Seal(context, []byte(s)) }

func (k *Keyring) openString(context string, b []byte) (string, error) {
	pt, err := k.Open(context, b)
	return string(pt), err
}

// blind returns the keyed HMAC-SHA256 of a normalised value in a domain.
func (k *Keyring) blind(domain, normalised string) []byte {
	m := hmac.New(sha256.New, k.index)
	m.Write([]byte(domain))
	m.Write([]byte{0})
	m.Write([]byte(normalised))
	return m.Sum(nil)
}

// NHSIndex returns the blind index of an NHS number (spaces and dashes
// ignored), or nil when it is not 10 digits.
func (k *Keyring) NHSIndex(nhs string) []byte {
	n := NormaliseNHS(nhs)
	if n == "" {
		return nil
	}
	return k.blind("nhs", n)
}

// AddressHash returns the blind index of an email address (trimmed, lower case).
func (k *Keyring) AddressHash(addr string) []byte {
	return k.blind("email", NormaliseAddress(addr))
}

func (k *Keyring) messageIDHash(id string) []byte {
	id = strings.Trim(strings.TrimSpace(id), "<>")
	if id == "" {
		return nil
	}
	return k.blind("message-id", id)
}

// NormaliseNHS returns the 10 digits of an NHS number written with spaces or
// dashes, or "" when it does not have exactly 10 digits.
func NormaliseNHS(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '\t':
		default:
			return ""
		}
	}
	if b.Len() != 10 {
		return ""
	}
	return b.String()
}

// MaskNHS shows only the last three digits of an NHS number (for a page
// or a printout that must say which person without showing the number).
func MaskNHS(n string) string {
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, n)
	if len(digits) < 3 {
		return "*** *** ****"
	}
	return "*** *** *" + digits[len(digits)-3:]
}

// NormaliseAddress trims an email address, drops angle brackets and lowers its case.
func NormaliseAddress(s string) string {
	return strings.ToLower(strings.Trim(strings.TrimSpace(s), "<>"))
}
