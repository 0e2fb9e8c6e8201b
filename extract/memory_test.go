package extract

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"regexp"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// bigPDF returns the filled fixture form grown to about size bytes by an
// incremental update that adds one unreferenced stream of incompressible
// bytes (the way a scanner's photo bloats a real form). It stays a valid
// PDF whose AcroForm still reads.
func bigPDF(t testing.TB, size int) []byte {
	t.Helper()
	base := fixture(t, "forms/fillable-filled.pdf")
	prev := regexp.MustCompile(`startxref\s+(\d+)`).FindAllSubmatch(base, -1)
	root := regexp.MustCompile(`/Root\s+(\d+\s+\d+\s+R)`).FindSubmatch(base)
	sz := regexp.MustCompile(`/Size\s+(\d+)`).FindSubmatch(base)
	if len(prev) == 0 || root == nil || sz == nil {
		t.Fatalf("fillable-filled.pdf: no classic trailer to extend")
	}
	n, _ := strconv.Atoi(string(sz[1]))
	blob := make([]byte, size-len(base))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range blob {
		blob[i] = byte(rng.Uint32())
	}
	var b bytes.Buffer
	b.Write(base)
	off := b.Len() + 1
	fmt.Fprintf(&b, "\n%d 0 obj\n<< /Length %d >>\nstream\n", n, len(blob))
	b.Write(blob)
	b.WriteString("\nendstream\nendobj\n")
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 1\n0000000000 65535 f \n%d 1\n%010d 00000 n \ntrailer\n<< /Size %d /Root %s /Prev %s >>\nstartxref\n%d\n%%%%EOF\n",
		n, off, n+1, root[1], prev[len(prev)-1][1], xref)
	return b.Bytes()
}

// bigEmail wraps data as an Outlook-style attachment, base64 in 76-column
// lines.
func bigEmail(data []byte) []byte {
	var b bytes.Buffer
	b.WriteString("From: Resident <resident@example.org>\r\nTo: joined-up.care-record@nhs.net\r\n" +
		"Subject: RE: opt-out form\r\nDate: Tue, 3 Mar 2026 10:00:00 +0000\r\nMessage-ID: <big@example.org>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMy form is attached.\r\n" +
		"--b\r\nContent-Type: application/pdf; name=\"form.pdf\"\r\nContent-Disposition: attachment; filename=\"form.pdf\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(data)
	for i := 0; i < len(enc); i += 76 {
		b.WriteString(enc[i:min(i+76, len(enc))])
		b.WriteString("\r\n")
	}
	b.WriteString("--b--\r\n")
	return b.Bytes()
}

// TestEmailMemory checks the memory target: an email with a 20 MB
// attachment needs at most about three times the attachment's size in heap
// through the whole Email path, the raw message (4/3 of it as base64)
// included. Every byte allocated while reading is counted, so the bound
// holds for the peak whatever the garbage collector does.
func TestEmailMemory(t *testing.T) {
	const size = 20 << 20
	raw := bigEmail(bigPDF(t, size))
	x := New(DefaultLimits(), func() time.Time { return goldenNow })
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, res := x.Email(context.Background(), raw)
	runtime.ReadMemStats(&after)
	if res.Kind != KindSubmission || len(res.Forms) != 1 || !res.Forms[0].Valid {
		t.Fatalf("Email(20 MB form) = %q, %d forms, notes %q; want one valid submission", res.Kind, len(res.Forms), res.Notes)
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	total := uint64(len(raw)) + allocated
	t.Logf("attachment %d MB, raw message %.1f MB, allocated while reading %.1f MB: %.2fx the attachment",
		size>>20, float64(len(raw))/(1<<20), float64(allocated)/(1<<20), float64(total)/size)
	if total > 3*size {
		t.Errorf("Email(20 MB attachment): raw %d + allocated %d bytes = %.2fx the attachment, want at most 3x",
			len(raw), allocated, float64(total)/size)
	}
}
