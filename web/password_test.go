package web

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ncl-icb/optout-intake/extract/form"
)

// fast are cheap parameters for tests that hash many times.
var fast = PasswordParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestPasswordRoundTrip(t *testing.T) {
	h, err := HashPassword("a long enough password")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("HashPassword = %q, want a PHC argon2id string with the default cost", h)
	}
	h2, _ := HashPassword("a long enough password")
	if h == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	tests := []struct {
		password string
		want     bool
	}{
		{"a long enough password", true},
		{"a long enough passwore", false},
		{"A long enough password", false},
		{"", false},
		{strings.Repeat("x", 5000), false},
	}
	for _, tc := range tests {
		if got, err := VerifyPassword(h, tc.password); got != tc.want || err != nil {
			t.Errorf("VerifyPassword(%.20q) = %v, %v; want %v", tc.password, got, err, tc.want)
		}
	}
}

func TestHashPasswordRefusesWeak(t *testing.T) {
	for _, pw := range []string{"", "short", "elevenchars", strings.Repeat("x", 1025)} {
		if _, err := HashPassword(pw); err == nil {
			t.Errorf("HashPassword(%d chars) = nil error, want refusal", utf8.RuneCountInString(pw))
		}
	}
}

func TestVerifyPasswordRejectsBadHashes(t *testing.T) {
	good, err := hashWith("a long enough password", fast)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	tests := map[string]string{
		"empty":         "",
		"bcrypt":        "$2a$10$abcdefghijklmnopqrstuu",
		"argon2i":       strings.Replace(good, "argon2id", "argon2i", 1),
		"old version":   strings.Replace(good, "v=19", "v=16", 1),
		"huge memory":   "$argon2id$v=19$m=99999999,t=1,p=1$" + parts[4] + "$" + parts[5],
		"zero time":     "$argon2id$v=19$m=64,t=0,p=1$" + parts[4] + "$" + parts[5],
		"bad salt":      "$argon2id$v=19$m=64,t=1,p=1$!!!$" + parts[5],
		"short key":     "$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$AAAA",
		"missing field": "$argon2id$v=19$m=64,t=1,p=1$" + parts[4],
	}
	for name, h := range tests {
		if ok, err := VerifyPassword(h, "a long enough password"); ok || err == nil {
			t.Errorf("%s: VerifyPassword = %v, %v; want false, ErrBadHash", name, ok, err)
		}
	}
}

// fuzzGoodHash is hashWith("a long enough password", fast), fixed: every
// fuzz worker process must see the same seed.
const fuzzGoodHash = "$argon2id$v=19$m=64,t=1,p=1$zUWy7XYJLQWclKypzDDP1Q$li2ngaeu62s65EGaUxwSV5TSwhmmMTrxFczSdlsCIG0"

func FuzzVerifyPassword(f *testing.F) {
	good := fuzzGoodHash
	if ok, err := VerifyPassword(good, "a long enough password"); !ok || err != nil {
		f.Fatalf("VerifyPassword(fuzzGoodHash) = %v, %v; want true", ok, err)
	}
	f.Add(good, "a long enough password")
	f.Add(good[:len(good)/2], "x")
	f.Add("$argon2id$v=19$m=64,t=1,p=1$$", "")
	f.Add("$argon2id$v=19$m=4294967295,t=4294967295,p=255$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "x")
	f.Add(strings.Repeat("$", 1000), strings.Repeat("p", 2000))
	f.Fuzz(func(t *testing.T, hash, pw string) {
		ok, err := VerifyPassword(hash, pw)
		if ok && err != nil {
			t.Fatalf("VerifyPassword = true with error %v", err)
		}
		if ok && hash != good {
			t.Fatalf("VerifyPassword accepted a hash it was not given")
		}
	})
}

func TestClientAddress(t *testing.T) {
	s := &server{d: Deps{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}}}
	tests := []struct {
		name, remote, xff, proto string
		want                     string
		https                    bool
	}{
		{"direct client, forged header ignored", "203.0.113.9:5000", "198.51.100.1", "https", "203.0.113.9", false},
		{"through the trusted proxy", "10.1.2.3:443", "198.51.100.1", "https", "198.51.100.1", true},
		{"client-written hops are not believed", "10.1.2.3:443", "1.1.1.1, 198.51.100.1", "http", "198.51.100.1", false},
		{"two trusted proxies", "10.1.2.3:443", "198.51.100.1, 10.9.9.9", "", "198.51.100.1", false},
		{"garbled hop stops the walk", "10.1.2.3:443", "198.51.100.1, junk", "", "10.1.2.3", false},
		{"trusted proxy without the header", "[::1]:443", "", "", "::1", false},
		{"IPv4-mapped peer", "[::ffff:10.1.2.3]:443", "192.0.2.4", "", "192.0.2.4", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/signin", nil)
		r.RemoteAddr = tt.remote
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		if tt.proto != "" {
			r.Header.Set("X-Forwarded-Proto", tt.proto)
		}
		if got := s.clientAddress(r); got != tt.want {
			t.Errorf("%s: clientAddress = %q, want %q", tt.name, got, tt.want)
		}
		if got := s.overHTTPS(r); got != tt.https {
			t.Errorf("%s: overHTTPS = %v, want %v", tt.name, got, tt.https)
		}
	}
}

func TestSafeNext(t *testing.T) {
	tests := map[string]string{
		"":                 "/queue",
		"/items/3":         "/items/3",
		"//evil.example":   "/queue",
		"https://evil":     "/queue",
		"/\\evil":          "/queue",
		"/signin?next=/x":  "/queue",
		"/a\r\nSet-Cookie": "/queue",
		// Browsers drop tabs and newlines inside URLs, so "/\t/evil" becomes
		// "//evil", another site; other controls are never a local path.
		"/\t/evil.example": "/queue",
		"/\n/evil.example": "/queue",
		"/\x00x":           "/queue",
		"/\x7fx":           "/queue",
		" //evil.example":  "/queue",
		"/people?q=1#top":  "/people?q=1#top",
	}
	for in, want := range tests {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSafeFileName(t *testing.T) {
	tests := map[string]string{
		"form.pdf":               "form.pdf",
		"../../etc/passwd":       "passwd",
		`C:\Users\x\form.docx`:   "form.docx",
		"a\"b\r\nc.txt":          "abc.txt",
		"..":                     "attachment",
		"":                       "attachment",
		strings.Repeat("é", 300): strings.Repeat("é", 100),
	}
	for in, want := range tests {
		if got := safeFileName(in); got != want {
			t.Errorf("safeFileName(%.30q) = %.30q, want %.30q", in, got, want)
		}
	}
}

// FuzzFieldsFromForm feeds hostile form posts to the correction form's
// reader and the rules behind it.
func FuzzFieldsFromForm(f *testing.F) {
	f.Add("first_name=Ada&nhs_number=943+476+5919&declaration=yes&authority=lpa_or_deputy")
	f.Add("nhs_number=" + strings.Repeat("9", 10000))
	f.Add("first_name=%FF%FE&postcode=n1%209gu&date_of_birth=31%2F02%2F1980")
	f.Add("authority=%3Cscript%3E&on_behalf=no")
	f.Add(strings.Repeat("a=b&", 5000))
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		fs := fieldsFromForm(v)
		for _, d := range fieldDefs {
			if p := fs.TextField(d.Key); p != nil {
				if utf8.RuneCountInString(*p) > maxFieldRunes || !utf8.ValidString(*p) {
					t.Fatalf("field %s not bounded or not UTF-8", d.Key)
				}
			}
		}
		if fs.Authority != "" && fs.Authority != form.AuthorityGuardian && fs.Authority != form.AuthorityLPAOrDeputy {
			t.Fatalf("authority %q not one of the values", fs.Authority)
		}
		form.Check(&fs, time.Now())
	})
}

func TestSecureCookies(t *testing.T) {
	loopback := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	public := &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 8080}
	tests := []struct {
		name   string
		local  net.Addr
		host   string
		header [2]string
		want   bool
	}{
		{"browser on loopback", loopback, "127.0.0.1:8080", [2]string{}, false},
		{"browser on localhost", loopback, "localhost:8080", [2]string{}, false},
		{"proxy rewrote Host to localhost", loopback, "localhost:8080", [2]string{"X-Forwarded-Proto", "https"}, true},
		{"proxy with Forwarded", loopback, "127.0.0.1:8080", [2]string{"Forwarded", "for=192.0.2.1;proto=https"}, true},
		{"proxy with X-Forwarded-For only", loopback, "localhost", [2]string{"X-Forwarded-For", "192.0.2.1"}, true},
		{"served on a real address", public, "localhost:8080", [2]string{}, true},
		{"loopback listener, public name", loopback, "optout.example.nhs.uk", [2]string{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Host = tt.host
			if tt.header[0] != "" {
				r.Header.Set(tt.header[0], tt.header[1])
			}
			r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, tt.local))
			if got := secureCookies(r); got != tt.want {
				t.Errorf("secureCookies(%s) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}
