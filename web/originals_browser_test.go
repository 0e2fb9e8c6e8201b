package web_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ncl-icb/optout-intake/internal/browser"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// seedPhotoThread makes the conversation of a resident who wrote, got the
// instructions and replied with a photo of the form: the photo item's id.
func (e *env) seedPhotoThread(photo []byte) int64 {
	e.t.Helper()
	ctx := context.Background()
	ref, err := store.NewReference()
	if err != nil {
		e.t.Fatal(err)
	}
	n := uid.Add(1)
	start := time.Now().Add(-2 * time.Hour)
	msg := func(subject string, at time.Time) store.LedgerEntry {
		id := fmt.Sprintf("t%d-%d@example.org", n, at.UnixNano())
		raw := fmt.Sprintf("From: Resident <%s>\r\nSubject: %s\r\nMessage-ID: <%s>\r\n\r\nPlease see attached.\r\n", residentAddr, subject, id)
		led, _, err := e.st.RecordMessage(ctx, store.IncomingMessage{Mailbox: "INBOX", UIDValidity: 1, UID: uint32(at.Unix()%1e6) + n, MessageID: id,
			ReceivedAt: at, Size: int64(len(raw)), Raw: []byte(raw), Header: store.MessageHeader{From: residentAddr, MessageID: id, Subject: subject, Date: at}})
		if err != nil {
			e.t.Fatal(err)
		}
		return led
	}
	first := msg("Opt out of the care record please", start)
	res, err := e.st.CompleteMessage(ctx, &store.Plan{LedgerID: first.ID, Kind: "first_contact", Folder: vocab.FolderProcessed, Action: vocab.ActionInstructions,
		NewConversation: &store.NewConversation{Address: residentAddr, Reference: ref}, ConversationState: vocab.StateInstructionsSent,
		Emails: []*store.Email{{Kind: vocab.KindInstructions, To: residentAddr, Subject: "[secure] Your opt-out " + ref,
			Body: "Subject: [secure] Your opt-out " + ref + "\r\n\r\nHow to reply\r\n", MessageID: fmt.Sprintf("i%d@optout.test", n), Key: fmt.Sprintf("instructions-%d", n)}}})
	if err != nil {
		e.t.Fatal(err)
	}
	conv, err := e.st.ConversationByReference(ctx, ref)
	if err != nil || len(res.Queued) != 1 {
		e.t.Fatalf("conversation: %v", err)
	}
	if err := e.st.MarkSent(ctx, res.Queued[0], fmt.Sprintf("i%d@optout.test", n)); err != nil {
		e.t.Fatal(err)
	}
	// Sent a minute after the first contact arrived, as the daemon would.
	if _, err := e.st.Pool().Exec(ctx, `update outbox set created_at = $1, sent_at = $1 where id = $2`, start.Add(time.Minute), res.Queued[0]); err != nil {
		e.t.Fatal(err)
	}
	reply := msg("Re: [secure] Your opt-out "+ref, start.Add(time.Hour))
	res, err = e.st.CompleteMessage(ctx, &store.Plan{LedgerID: reply.ID, Kind: "form", Folder: vocab.FolderTriage, Action: vocab.ActionPhoto,
		ConversationID: conv.ID, Attachments: []*store.NewAttachment{{Name: "IMG_0412.png", ContentType: "image/png", Data: photo}},
		Triage: []*store.NewTriage{{Reason: vocab.ReasonPhotoOfForm}}})
	if err != nil || len(res.Triage) != 1 {
		e.t.Fatalf("photo item: %v", err)
	}
	return res.Triage[0]
}

// TestBrowserOriginals opens items whose originals are a photo, a PDF, a
// text file and a Word file, and checks each is shown inside the item page
// (not downloaded, the page not replaced), the photo zooms, the thread is
// in order, and axe-core finds nothing. It leaves the README's screenshots.
func TestBrowserOriginals(t *testing.T) {
	t.Parallel()
	axe, err := os.ReadFile("testdata/axe/axe.min.js")
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	e := newEnv(t)
	photo := e.seedPhotoThread(read("testdata/photo-of-form.png"))
	pdf, _ := e.seed(item{Fields: goodFields(validNHS[0]), Attachments: []*store.NewAttachment{{Name: "opt-out form.pdf", ContentType: "application/pdf", Data: read("../fixtures/forms/lo-typed.pdf")}}})
	text, _ := e.seed(item{Fields: goodFields(validNHS[1]), Attachments: []*store.NewAttachment{{Name: "form.txt", ContentType: "text/plain", Data: read("../fixtures/forms/form.txt")}}})
	word, _ := e.seed(item{Fields: goodFields(validNHS[2]), Attachments: []*store.NewAttachment{{Name: "form.docx", ContentType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document", Data: read("../fixtures/forms/form.docx")}}})

	b := browser.New(t, browser.Options{Timeout: 90 * time.Second})
	out := browser.OutputDir(t)
	do, eval := steps(t, b).do, steps(t, b).eval
	do("sign in", chromedp.EmulateViewport(1400, 900), chromedp.Navigate(e.srv.URL+"/queue"), chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), e.triager.Email), chromedp.SendKeys(chromedp.CSS("#password"), testPassword),
		chromedp.Click(chromedp.CSS("main button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("table.table")))
	itemURL := func(id int64) string { return fmt.Sprintf("%s/items/%d", e.srv.URL, id) }
	stillHere := func(id int64) {
		t.Helper()
		if u := eval(`location.href`); u != itemURL(id) {
			t.Errorf("the original replaced the item page: now at %s", u)
		}
	}

	// The photo: inline, beside the fields, readable, zoomable.
	do("open the photo item", chromedp.Navigate(itemURL(photo)), chromedp.WaitVisible(chromedp.CSS(".original-image img")),
		chromedp.Poll[chromedp.Void](`document.querySelector('.original-image img').complete`))
	w := eval(`(() => { const i = document.querySelector('.original-image img'); return i.naturalWidth + ' ' + Math.round(i.getBoundingClientRect().width) })()`)
	var natural, shown int
	fmt.Sscan(w, &natural, &shown)
	if natural == 0 || shown < 300 {
		t.Errorf("photo natural/shown width = %s; want it loaded and at least 300 px wide", w)
	}
	if side := eval(`(() => { const f = document.getElementById('f-nhs_number').getBoundingClientRect(), i = document.querySelector('.original-image img').getBoundingClientRect(); return i.left > f.right ? 'beside' : 'below' })()`); side != "beside" {
		t.Errorf("the photo is %s the fields at 1400 px, want beside", side)
	}
	shoot := func(sel, name string) {
		t.Helper()
		png, err := chromedp.Run(b, chromedp.Screenshot(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("screenshot %s: %v", sel, err)
		}
		if err := os.WriteFile(filepath.Join(out, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shoot(".columns", "triage-item-photo")
	do("zoom in", chromedp.Click(chromedp.CSS(`.image-tools [data-zoom="in"]`)))
	if z := eval(`String(Math.round(document.querySelector('.original-image img').getBoundingClientRect().width))`); z <= fmt.Sprint(shown) && len(z) <= len(fmt.Sprint(shown)) {
		t.Errorf("zoom in: width %s, was %d", z, shown)
	}
	do("reset", chromedp.Click(chromedp.CSS(`.image-tools [data-zoom="reset"]`)))
	stillHere(photo)
	checkAxe(t, b, string(axe), "item with a photo")

	// The conversation: first contact, instructions, the photo reply.
	rows := eval(`[...document.querySelectorAll('#conversation tbody tr')].map(r => r.querySelector('[data-label="Direction"]').textContent.trim().split(' ')[0] + ':' + r.querySelector('[data-label="Subject"]').textContent.trim()).join('|')`)
	if !strings.HasPrefix(rows, "In:Opt out of the care record please|Out:[secure] Your opt-out NCL-") || !strings.Contains(rows, "|In:Re: [secure] Your opt-out NCL-") {
		t.Errorf("conversation rows = %q, want first contact, instructions, reply in order", rows)
	}
	shoot("#conversation", "triage-conversation")

	// The PDF: drawn by pdf.js inside the page.
	do("open the PDF item", chromedp.Navigate(itemURL(pdf)), chromedp.WaitVisible(chromedp.CSS(".pdf-view canvas")),
		chromedp.Poll[chromedp.Void](`document.querySelector('.pdf-view').dataset.pages || document.querySelector('.pdf-view').dataset.error`))
	if e := eval(`document.querySelector('.pdf-view').dataset.error || ''`); e != "" {
		t.Errorf("pdf.js failed to draw the PDF")
	}
	if n := eval(`String(document.querySelectorAll('.pdf-view canvas').length)`); n == "0" {
		t.Errorf("no PDF page drawn")
	}
	stillHere(pdf)
	checkAxe(t, b, string(axe), "item with a PDF")

	// Text and Word forms: their text on the page.
	for _, tc := range []struct {
		name string
		id   int64
	}{{"text", text}, {"Word", word}} {
		do("open the "+tc.name+" item", chromedp.Navigate(itemURL(tc.id)), chromedp.WaitVisible(chromedp.CSS("pre.original-text")))
		if s := eval(`document.querySelector('pre.original-text').textContent`); !strings.Contains(strings.ToLower(s), "nhs n") {
			t.Errorf("%s form shown as %q, want its text", tc.name, s)
		}
		stillHere(tc.id)
		checkAxe(t, b, string(axe), "item with a "+tc.name+" form")
	}
}
