package store_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ncl-icb/optout-intake/store"
)

func TestParseKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, data, index string
		wantErr           string // substring; "" means success
	}{
		{"one key", testDataKey, testIndexKey, ""},
		{"two keys", testDataKey + "," + testDataKey2, testIndexKey, ""},
		{"spaces", " " + testDataKey + " , " + testDataKey2 + " ", " " + testIndexKey + " ", ""},
		{"empty data", "", testIndexKey, "OPTOUT_DATA_KEY is not set"},
		{"no id", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", testIndexKey, "entry 1 is not ID:BASE64"},
		{"short key", "k1:AAEC", testIndexKey, "entry 1 is not ID:BASE64 of 32 bytes"},
		{"bad second", testDataKey + ",k2:!!!", testIndexKey, "entry 2 is not ID:BASE64"},
		{"bad id", "k 1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", testIndexKey, "entry 1"},
		{"repeated id", testDataKey + "," + testDataKey, testIndexKey, "repeats key id"},
		{"no index", testDataKey, "", "OPTOUT_INDEX_KEY is not BASE64 of 32 bytes"},
		{"short index", testDataKey, "AAEC", "OPTOUT_INDEX_KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := store.ParseKeys(tt.data, tt.index)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("ParseKeys = %v, want success", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("ParseKeys = %v, want error containing %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "AAEC") {
				t.Fatalf("ParseKeys error %q quotes key material", err)
			}
		})
	}
}

func TestGenerateKeysParse(t *testing.T) {
	t.Parallel()
	d, x, err := store.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	k, err := store.ParseKeys(d, x)
	if err != nil {
		t.Fatalf("ParseKeys(GenerateKeys()) = %v", err)
	}
	d2, _, _ := store.GenerateKeys()
	if d == d2 {
		t.Fatal("GenerateKeys returned the same key twice")
	}
	if !strings.HasPrefix(d, k.PrimaryKeyID()+":") {
		t.Fatalf("primary key id %q not the generated one", k.PrimaryKeyID())
	}
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	k1 := testKeys(t, testDataKey)
	both := testKeys(t, testDataKey2+","+testDataKey)
	only2 := testKeys(t, testDataKey2)
	pt := []byte("9434765919")
	sealed, err := k1.Seal("register.nhs_number", pt)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, pt) {
		t.Fatal("sealed value contains the plaintext")
	}
	again, _ := k1.Seal("register.nhs_number", pt)
	if bytes.Equal(sealed, again) {
		t.Fatal("two seals are equal: nonce not random")
	}
	for _, k := range []*store.Keyring{k1, both} {
		got, err := k.Open("register.nhs_number", sealed)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("Open = %q, %v, want %q", got, err, pt)
		}
	}
	if _, err := only2.Open("register.nhs_number", sealed); !errors.Is(err, store.ErrWrongKey) || !strings.Contains(err.Error(), `"k1"`) {
		t.Fatalf("Open with missing key = %v, want ErrWrongKey naming k1", err)
	}
	if _, err := k1.Open("conversations.address", sealed); !errors.Is(err, store.ErrWrongKey) {
		t.Fatalf("Open in another context = %v, want ErrWrongKey", err)
	}
	flipped := append([]byte(nil), sealed...)
	flipped[len(flipped)-1] ^= 1
	if _, err := k1.Open("register.nhs_number", flipped); !errors.Is(err, store.ErrWrongKey) {
		t.Fatalf("Open of altered value = %v, want ErrWrongKey", err)
	}
	// A same-id key with other material does not authenticate.
	impostor := testKeys(t, "k1:"+strings.SplitN(testDataKey2, ":", 2)[1])
	if _, err := impostor.Open("register.nhs_number", sealed); !errors.Is(err, store.ErrWrongKey) {
		t.Fatalf("Open with wrong material = %v, want ErrWrongKey", err)
	}
}

func TestBlindIndex(t *testing.T) {
	t.Parallel()
	k := testKeys(t, testDataKey)
	a, b := k.NHSIndex("943 476 5919"), k.NHSIndex("943-476-5919")
	if a == nil || !bytes.Equal(a, b) {
		t.Fatal("NHSIndex differs for spacing variants")
	}
	if bytes.Equal(a, k.NHSIndex("9434765918")) {
		t.Fatal("NHSIndex equal for different numbers")
	}
	if k.NHSIndex("943476591") != nil || k.NHSIndex("94347659a9") != nil {
		t.Fatal("NHSIndex accepted a value that is not 10 digits")
	}
	if !bytes.Equal(k.AddressHash(" A@Example.ORG "), k.AddressHash("<a@example.org>")) {
		t.Fatal("AddressHash not normalised")
	}
}

func TestReference(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 200 {
		ref, err := store.NewReference()
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(ref[4:], "01OILU") || len(ref) != 13 {
			t.Fatalf("NewReference = %q, has an ambiguous character or wrong length", ref)
		}
		if got, ok := store.FindReference("Re: [secure] Your opt-out " + strings.ToLower(ref) + " thanks"); !ok || got != ref {
			t.Fatalf("FindReference(lower %q) = %q, %v", ref, got, ok)
		}
		seen[ref] = true
	}
	if len(seen) < 199 {
		t.Fatalf("NewReference repeated: %d distinct of 200", len(seen))
	}
	for _, s := range []string{"", "NCL-0000-0000", "NCL-ABCD", "XNCL-ABCD-EFGHX", "NCL-ABCD-EFGI"} {
		if got, ok := store.FindReference(s); ok {
			t.Errorf("FindReference(%q) = %q, want none", s, got)
		}
	}
}

func FuzzOpen(f *testing.F) {
	k, err := store.ParseKeys(testDataKey+","+testDataKey2, testIndexKey)
	if err != nil {
		f.Fatal(err)
	}
	good, _ := k.Seal("c", []byte("value"))
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add([]byte{255, 'k'})
	f.Add(append([]byte{2, 'k', '1'}, bytes.Repeat([]byte{0}, 1<<16)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		pt, err := k.Open("c", b)
		if err == nil && !bytes.Equal(pt, []byte("value")) {
			// Only a genuine envelope may open (GCM authenticates).
			t.Fatalf("Open accepted a forged value: %q", pt)
		}
	})
}

func FuzzParseKeys(f *testing.F) {
	f.Add(testDataKey, testIndexKey)
	f.Add(testDataKey+","+testDataKey2, testIndexKey)
	f.Add("k1:", "")
	f.Add(strings.Repeat("a:b,", 1000), "x")
	f.Add("k1:"+testIndexKey[:10], testIndexKey[:20])
	f.Fuzz(func(t *testing.T, data, index string) {
		k, err := store.ParseKeys(data, index)
		if err != nil {
			if strings.Contains(data, "AAECAwQF") && strings.Contains(err.Error(), "AAECAwQF") {
				t.Fatalf("error quotes key material: %v", err)
			}
			return
		}
		sealed, err := k.Seal("x", []byte("v"))
		if err != nil {
			t.Fatal(err)
		}
		if pt, err := k.Open("x", sealed); err != nil || string(pt) != "v" {
			t.Fatalf("round trip = %q, %v", pt, err)
		}
	})
}

func FuzzFindReference(f *testing.F) {
	f.Add("Re: [secure] NCL-7K3Q-9XWD")
	f.Add("ncl-7k3q-9xwd")
	f.Add(strings.Repeat("NCL-", 10000))
	f.Add("NCL-7K3Q-9XW")
	f.Fuzz(func(t *testing.T, s string) {
		ref, ok := store.FindReference(s)
		if ok {
			if again, ok2 := store.FindReference(ref); !ok2 || again != ref {
				t.Fatalf("FindReference(%q) = %q, not stable", s, ref)
			}
		}
	})
}
