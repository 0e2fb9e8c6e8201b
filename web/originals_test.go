package web_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"strings"
	"testing"

	"github.com/ncl-icb/optout-intake/store"
)

// pngImage is a small real PNG.
func pngImage(t testing.TB) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 40, 30))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestOriginalsOnScreen: images inline (told from their bytes), text and
// Word forms as text on the page, HEIC with a note, and Download as an
// explicit, separately audited action.
func TestOriginalsOnScreen(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	docx, err := os.ReadFile("../fixtures/forms/form.docx")
	if err != nil {
		t.Fatal(err)
	}
	id, _ := e.seed(item{Fields: goodFields(validNHS[0]), Attachments: []*store.NewAttachment{
		{Name: "photo.png", ContentType: "image/png", Data: pngImage(t)},
		{Name: "form.txt", ContentType: "text/plain", Data: []byte("First name: Grace\nNHS number: <b>943</b>\n")},
		{Name: "form.docx", ContentType: "application/octet-stream", Data: docx},
		{Name: "IMG_1.HEIC", ContentType: "image/heic", Data: []byte("\x00\x00\x00\x18ftypheic")},
		{Name: "photo.jpg", ContentType: "image/jpeg", Data: []byte("<svg xmlns='http://www.w3.org/2000/svg'/>")},
	}})
	c := e.signIn(e.viewer)
	_, body := c.get(fmt.Sprintf("/items/%d", id))
	det, err := e.st.TriageItemDetail(context.Background(), id, store.System)
	if err != nil || len(det.Attachments) != 5 {
		t.Fatalf("attachments = %d, %v", len(det.Attachments), err)
	}
	a := det.Attachments
	for _, want := range []string{
		fmt.Sprintf(`<img class="zoomable" src="/attachments/%d"`, a[0].ID),
		"First name: Grace\nNHS number: &lt;b&gt;943&lt;/b&gt;",
		"browsers cannot show",
		fmt.Sprintf(`href="/attachments/%d/download" download`, a[2].ID),
	} {
		if !strings.Contains(body, want) {
			t.Errorf("item page lacks %q", want)
		}
	}
	if strings.Count(body, `class="email-text original-text"`) != 2 {
		t.Errorf("Word form not shown as text")
	}
	for _, tc := range []struct {
		path, disposition, ctype string
	}{
		{fmt.Sprintf("/attachments/%d", a[0].ID), "inline", "image/png"},
		{fmt.Sprintf("/attachments/%d/download", a[0].ID), "attachment", "application/octet-stream"},
		{fmt.Sprintf("/attachments/%d", a[4].ID), "attachment", "application/octet-stream"}, // SVG declared as JPEG: never inline
		{fmt.Sprintf("/attachments/%d", a[1].ID), "attachment", "application/octet-stream"},
	} {
		resp, _ := c.get(tc.path)
		cd := resp.Header.Get("Content-Disposition")
		if resp.StatusCode != 200 || !strings.HasPrefix(cd, tc.disposition) || resp.Header.Get("Content-Type") != tc.ctype ||
			resp.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") {
			t.Errorf("GET %s: %d, %q, %q, CSP %q", tc.path, resp.StatusCode, cd, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Security-Policy"))
		}
	}
	views, _ := e.st.ListAudit(context.Background(), store.AuditFilter{Action: "attachment.view"})
	downloads, _ := e.st.ListAudit(context.Background(), store.AuditFilter{Action: "attachment.download"})
	if len(views) < 3 || len(downloads) != 3 {
		t.Errorf("audit: %d views, %d downloads; want the page's reads and the image as views, 3 downloads", len(views), len(downloads))
	}
}
