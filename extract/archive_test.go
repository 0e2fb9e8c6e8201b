package extract

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/extract/message"
)

// zipFile is one file to put in a test archive.
type zipFile struct {
	name      string
	data      []byte
	encrypted bool // set the traditional-encryption flag (the content is left as it is)
}

// makeZip builds a zip archive of files, deflated.
func makeZip(t testing.TB, files ...zipFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		h := &zip.FileHeader{Name: f.name, Method: zip.Deflate}
		if f.encrypted {
			h.Flags |= 0x1
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadZip(t *testing.T) {
	formJSON := fixture(t, "forms/form.json")
	formTxt := fixture(t, "forms/form.txt")
	many := make([]zipFile, maxZipEntries+1)
	for i := range many {
		many[i] = zipFile{name: strings.Repeat("a", i+1) + ".json", data: formJSON}
	}
	lim := DefaultLimits()
	tests := []struct {
		name       string
		zip        []byte
		forms      int
		protection string
		note       string // a part of the note
	}{
		{name: "two forms", zip: makeZip(t, zipFile{name: "a/form.json", data: formJSON}, zipFile{name: "form.txt", data: formTxt}), forms: 2},
		{name: "macOS metadata skipped", zip: makeZip(t, zipFile{name: "form.json", data: formJSON}, zipFile{name: "__MACOSX/._form.json", data: []byte{0, 5, 22, 7}},
			zipFile{name: ".DS_Store", data: []byte{0, 0, 0, 1}}), forms: 1},
		{name: "encrypted files", zip: makeZip(t, zipFile{name: "form.json", data: formJSON, encrypted: true}), protection: ProtectedZip, note: "encrypted files"},
		{name: "encrypted beside a form", zip: makeZip(t, zipFile{name: "form.json", data: formJSON}, zipFile{name: "b.pdf", data: []byte("x"), encrypted: true}),
			forms: 1, protection: ProtectedZip},
		{name: "nested zip by content", zip: makeZip(t, zipFile{name: "inner.bin", data: makeZip(t, zipFile{name: "form.json", data: formJSON})}), note: "archive inside"},
		{name: "nested archive by name", zip: makeZip(t, zipFile{name: "forms.7z", data: []byte("7z\xbc\xaf")}), note: "archive inside"},
		{name: "too many files", zip: makeZip(t, many...), note: "more than 50 files"},
		{name: "zip bomb", zip: makeZip(t, zipFile{name: "form.txt", data: make([]byte, 8<<20)}), note: "expands too much"},
		{name: "PowerPoint is not an archive", zip: makeZip(t, zipFile{name: "[Content_Types].xml", data: []byte("<Types/>")}, zipFile{name: "ppt/presentation.xml", data: []byte("<p/>")}),
			note: "not a Word document"},
		{name: "no form", zip: makeZip(t, zipFile{name: "photo.png", data: []byte("\x89PNG\r\n\x1a\n\x00\x00")}), note: "file 1 in the zip archive: an image"},
		{name: "damaged", zip: []byte("PK\x03\x04 and then nothing"), note: "damaged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fr := ReadAttachment(context.Background(), "forms.zip", tt.zip, lim, goldenNow)
			if len(fr.Forms) != tt.forms || fr.Protection != tt.protection || !strings.Contains(fr.Note, tt.note) {
				t.Fatalf("ReadAttachment(%s) = %d forms, protection %q, note %q; want %d, %q, note with %q",
					tt.name, len(fr.Forms), fr.Protection, fr.Note, tt.forms, tt.protection, tt.note)
			}
			for _, f := range fr.Forms {
				if !strings.HasPrefix(f.Source, "forms.zip/") {
					t.Errorf("form source %q, want it under forms.zip/", f.Source)
				}
			}
		})
	}
}

// TestZipTotalSize checks that the files of an archive together are bounded
// by MaxFileBytes.
func TestZipTotalSize(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxFileBytes = 64 << 10
	big := bytes.Repeat([]byte("First name: Ann\n"), 3000) // 48 KB each, compresses well under the ratio limit size
	fr := ReadAttachment(context.Background(), "a.zip", makeZip(t, zipFile{name: "a.txt", data: big}, zipFile{name: "b.txt", data: big}), lim, goldenNow)
	if !strings.Contains(fr.Note, "larger than") {
		t.Errorf("ReadAttachment(two 48 KB files, limit 64 KB) note = %q, want the total size note", fr.Note)
	}
}

// TestProtection checks what marks a message as protected, and near misses
// that must stay a contact.
func TestProtection(t *testing.T) {
	att := func(name, ctype string, data string) message.Attachment {
		return message.Attachment{Name: name, ContentType: ctype, Data: []byte(data)}
	}
	tests := []struct {
		name string
		msg  message.Message
		own  string
		want string
	}{
		{name: "rpmsg attachment", msg: message.Message{Attachments: []message.Attachment{att("message.rpmsg", rpmsgType, "\x76\xe8")}}, want: ProtectedRPMsg},
		{name: "rpmsg by name only", msg: message.Message{Attachments: []message.Attachment{att("Message.RPMSG", "application/octet-stream", "x")}}, want: ProtectedRPMsg},
		{name: "message.html posting to the portal", msg: message.Message{Attachments: []message.Attachment{
			att("message.html", "text/html", `<form action="https://outlook.office365.com/Encryption/store.ashx?urlversion=1">`)}}, want: ProtectedPortal},
		{name: "S/MIME", msg: message.Message{Encrypted: message.EncryptedSMIME}, want: ProtectedSMIME},
		{name: "PGP/MIME", msg: message.Message{Encrypted: message.EncryptedPGP}, want: ProtectedPGP},
		{name: "inline PGP", own: "-----BEGIN PGP MESSAGE-----\nhQEMA...", want: ProtectedPGP},
		{name: "portal link in the text", own: "Read the message\n<https://outlook.office365.com/Encryption/retrieve.ashx?x=1>", want: ProtectedPortal},
		{name: "wrapper sentence", own: "Amelia has sent you a protected message.\nRead the message", want: ProtectedPortal},
		{name: "old OME sentence with a curly apostrophe", own: "You\u2019ve received an encrypted message from a@example.org", want: ProtectedPortal},
		// Near misses: not protected.
		{name: "a message.html that is not the wrapper", msg: message.Message{Attachments: []message.Attachment{att("message.html", "text/html", "<p>My form</p>")}}},
		{name: "resident mentions a protected message", own: "I could not open your protected message, please send the form again."},
		{name: "resident mentions encryption", own: "Is my form encrypted when I send it?"},
		{name: "a link to another Microsoft page", own: "https://outlook.office365.com/mail/inbox"},
	}
	for _, tt := range tests {
		if got := protection(&tt.msg, tt.own); got != tt.want {
			t.Errorf("protection(%s) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func FuzzReadZip(f *testing.F) {
	for _, name := range []string{"forms.zip", "encrypted.zip"} {
		data, err := os.ReadFile(filepath.Join(fixturesDir, "forms", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(data[:len(data)/2])
	}
	f.Add(makeZip(f, zipFile{name: "inner.zip", data: makeZip(f, zipFile{name: "a.txt", data: []byte("First name: A")})}))
	f.Add(makeZip(f, zipFile{name: "a.txt", data: []byte("First name: A"), encrypted: true}, zipFile{name: "b.json", data: []byte(`{"first_name":"A"}`)}))
	x := New(fuzzLimits(), func() time.Time { return goldenNow })
	f.Fuzz(func(t *testing.T, data []byte) {
		defer watchdog(data)()
		r := x.File(context.Background(), "forms.zip", data)
		checkResult(t, r)
		for _, fm := range r.Forms {
			if !strings.HasPrefix(fm.Source, "forms.zip") {
				t.Errorf("form source %q is not under the archive", fm.Source)
			}
		}
	})
}
