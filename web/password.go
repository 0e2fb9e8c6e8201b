package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// PasswordParams are the argon2id cost parameters of new password hashes.
type PasswordParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen int
	KeyLen  uint32
}

// DefaultPasswordParams follow OWASP's argon2id minimum (19 MiB, 2 passes,
// 1 lane): about 30 ms per sign-in on one core.
var DefaultPasswordParams = PasswordParams{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// MinPasswordLen is the shortest password HashPassword accepts.
const MinPasswordLen = 12

// maxPasswordLen bounds the work one sign-in attempt can cause.
const maxPasswordLen = 1024

// Limits on the parameters VerifyPassword accepts from a stored hash, so a
// tampered row cannot make a sign-in use gigabytes of memory.
const (
	maxMemory  = 1 << 20 // KiB (1 GiB)
	maxTime    = 16
	maxThreads = 16
)

// ErrBadHash is returned by VerifyPassword when the stored hash is not an
// argon2id PHC string it can use.
var ErrBadHash = errors.New("stored password hash is not a usable argon2id PHC string")

// HashPassword returns the PHC-style argon2id encoding of password with a
// fresh random salt:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt b64>$<key b64>
//
// It refuses passwords shorter than MinPasswordLen or longer than 1024 bytes.
func HashPassword(password string) (string, error) {
	return hashWith(password, DefaultPasswordParams)
}

func hashWith(password string, p PasswordParams) (string, error) {
	if len([]rune(password)) < MinPasswordLen {
		return "", fmt.Errorf("password too short: use at least %d characters", MinPasswordLen)
	}
	if len(password) > maxPasswordLen {
		return "", fmt.Errorf("password too long: use at most %d bytes", maxPasswordLen)
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("make password salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches the encoded hash, comparing
// in constant time. It returns ErrBadHash when encoded cannot be used.
func VerifyPassword(encoded, password string) (bool, error) {
	if len(password) > maxPasswordLen {
		return false, nil
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, ErrBadHash
	}
	// Only the canonical encoding is accepted (as HashPassword writes it), so
	// one stored hash has exactly one text form.
	if parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false, ErrBadHash
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil ||
		m == 0 || m > maxMemory || t == 0 || t > maxTime || p == 0 || p > maxThreads ||
		parts[3] != fmt.Sprintf("m=%d,t=%d,p=%d", m, t, p) {
		return false, ErrBadHash
	}
	b64 := base64.RawStdEncoding.Strict()
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 || len(salt) > 64 {
		return false, ErrBadHash
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false, ErrBadHash
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
