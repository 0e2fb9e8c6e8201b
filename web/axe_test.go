package web_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ncl-icb/optout-intake/extract"
	"github.com/ncl-icb/optout-intake/internal/browser"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
	"github.com/ncl-icb/optout-intake/web"
)

// axeViolation is one axe-core rule a page breaks.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// axeRun injects axe-core (testdata/axe, from the npm registry) into the
// current page through the DevTools protocol, which the pages' script-free
// Content-Security-Policy does not govern, and returns its violations.
const axeRun = `axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({
	id: v.id, impact: v.impact || '', help: v.help,
	nodes: v.nodes.map(n => n.target.join(' ') + ' :: ' + (n.failureSummary || '').replace(/\s+/g, ' '))})))`

func checkAxe(t *testing.T, b context.Context, src, name string) {
	t.Helper()
	if _, err := chromedp.Run(b, chromedp.Evaluate[chromedp.Void](src)); err != nil {
		t.Fatalf("%s: inject axe-core: %v", name, err)
	}
	vs, err := chromedp.Run(b, chromedp.Evaluate[[]axeViolation](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: run axe-core: %v", name, err)
	}
	for _, v := range vs {
		t.Errorf("%s: axe %s (%s): %s\n\t%s", name, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n\t"))
	}
}

// TestBrowserAccessibility runs axe-core on every page (queue, item with
// form problems and with an unnamed attachment, closed item, person,
// audit, outgoing mail, staff, dashboard) at desktop width, checks the
// focus colours of the header and navigation, the page title of an item
// with form problems, and that the answer-by date is on
// screen at 390 px wide.
func TestBrowserAccessibility(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("testdata/axe/axe.min.js")
	if err != nil {
		t.Fatalf("read axe-core: %v", err)
	}
	e := newEnv(t, func(d *web.Deps) { d.Extractor = extract.New(extract.Limits{}, nil) })
	ctx := context.Background()
	protected, _ := e.seed(item{Reason: vocab.ReasonProtected, NoForm: true})
	if _, err := e.st.PauseSending(ctx, vocab.PauseOutage, func(int) time.Duration { return time.Hour }, 0); err != nil {
		t.Fatal(err)
	}
	bad := goodFields("943476591")
	withProblems, _ := e.seed(item{Fields: bad, Attachments: []*store.NewAttachment{
		{Name: "form.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4 not really")},
		{Name: "", ContentType: "image/png", Data: []byte("\x89PNG\r\n\x1a\n")}}})
	closed, _ := e.seed(item{Fields: goodFields(validNHS[0])})
	e.seedMany(300, vocab.ReasonInvalidForm, vocab.ReasonUnreadable, vocab.ReasonPhotoOfForm, vocab.ReasonInvalidForm,
		vocab.ReasonUnverifiedSender, vocab.ReasonNoFormAgain, vocab.ReasonInvalidForm, vocab.ReasonUndeliverable)
	e.queueMail(vocab.KindAccepted)
	failed := e.queueMail(vocab.KindRejected)
	if err := e.st.FailOutbox(ctx, failed, "550 5.7.1 refused"); err != nil {
		t.Fatal(err)
	}

	b := browser.New(t, browser.Options{Timeout: 180 * time.Second})
	out := browser.OutputDir(t)
	do, eval := steps(t, b).do, steps(t, b).eval
	do("sign in as admin",
		chromedp.Navigate(e.srv.URL+"/queue"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), e.admin.Email),
		chromedp.SendKeys(chromedp.CSS("#password"), testPassword),
		chromedp.Click(chromedp.CSS("main button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("table.table")),
	)
	// Accept one item through the page so a closed item exists.
	do("accept an item",
		chromedp.Navigate(fmt.Sprintf("%s/items/%d", e.srv.URL, closed)),
		chromedp.WaitVisible(chromedp.CSS("#accept")),
		chromedp.Click(chromedp.CSS("#accept")),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	)
	// The check can fail: a link without a name is reported.
	do("open the queue", chromedp.Navigate(e.srv.URL+"/queue"), chromedp.WaitVisible(chromedp.CSS("table.table")))
	if _, err := chromedp.Run(b, chromedp.Evaluate[chromedp.Void](string(src)+`;document.querySelector('main').insertAdjacentHTML('beforeend', '<a href="/x"></a>')`)); err != nil {
		t.Fatal(err)
	}
	if vs, err := chromedp.Run(b, chromedp.Evaluate[[]axeViolation](axeRun, chromedp.EvalAwaitPromise)); err != nil || len(vs) != 1 || vs[0].ID != "link-name" {
		t.Fatalf("axe on a page with an empty link = %+v, %v; want one link-name violation", vs, err)
	}
	pages := []struct{ name, path, wait string }{
		{"queue", "/queue", "table.table"},
		{"queue page 2", "/queue?page=2", "table.table"},
		{"item with problems", fmt.Sprintf("/items/%d", withProblems), "#f-nhs_number"},
		{"closed item", fmt.Sprintf("/items/%d", closed), "h1"},
		{"audit", "/audit", "table.table"},
		{"outgoing mail", "/outbox", "#sending-paused"},
		{"protected item", fmt.Sprintf("/items/%d", protected), "#upload"},
		{"staff", "/staff", "#add-staff"},
		{"snippets", "/snippets", "#add-snippet"},
		{"find a person", "/people", "#q"},
		{"dashboard", "/dashboard", "svg"},
	}
	for _, p := range pages {
		do("open "+p.name, chromedp.Navigate(e.srv.URL+p.path), chromedp.WaitVisible(chromedp.CSS(p.wait)))
		checkAxe(t, b, string(src), p.name)
		browser.Screenshot(t, b, out, "triage-"+strings.ReplaceAll(p.name, " ", "-"))
	}
	do("find a person", chromedp.Navigate(e.srv.URL+"/people"), chromedp.WaitVisible(chromedp.CSS("#q")),
		chromedp.SendKeys(chromedp.CSS("#q"), validNHS[0]), chromedp.Click(chromedp.CSS("main form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#state-"+validNHS[0])))
	checkAxe(t, b, string(src), "person")
	do("ask to opt them back in", chromedp.SendKeys(chromedp.CSS("#reason-"+validNHS[0]), "Asked by secure email"),
		chromedp.Click(chromedp.CSS("#optin-"+validNHS[0])), chromedp.WaitVisible(chromedp.CSS("#optin-confirm")))
	checkAxe(t, b, string(src), "opt back in confirmation")

	// The item page: no "Error:" title for a resident's form problems; the
	// "As read" value describes its field; the unnamed attachment has a name.
	do("open the item", chromedp.Navigate(fmt.Sprintf("%s/items/%d", e.srv.URL, withProblems)), chromedp.WaitVisible(chromedp.CSS("#f-nhs_number")))
	if title := eval(`document.title`); strings.HasPrefix(title, "Error:") {
		t.Errorf("item page title = %q: an item with form problems is not a failed submission", title)
	}
	if d := eval(`document.getElementById('f-nhs_number').getAttribute('aria-describedby')`); !strings.Contains(d, "f-nhs_number-read") {
		t.Errorf("NHS number aria-describedby = %q, want the As read value in it", d)
	}
	if names := eval(`[...document.querySelectorAll('a[href^="/attachments/"]')].map(a => a.textContent).join('|')`); names != "Open form.pdf in the browser (opens in a new tab)|Download form.pdf|Download Attachment 2 (image/png)" {
		t.Errorf("attachment link names = %q", names)
	}
	// Focus on the header and the visited navigation: dark text on yellow.
	for _, sel := range []string{".header .link-button", `.nav__link[href="/queue"]`, `.nav__link[href="/people"]`} {
		do("focus "+sel, chromedp.Focus(chromedp.CSS(sel)))
		got := eval(`(() => { const s = getComputedStyle(document.activeElement); return s.color + ' on ' + s.backgroundColor })()`)
		if got != "rgb(33, 43, 50) on rgb(255, 235, 59)" {
			t.Errorf("focused %s is %s, want dark text (rgb(33, 43, 50)) on yellow", sel, got)
		}
	}
	// 390 px wide: the answer-by date of the first row is on screen.
	do("narrow screen", chromedp.EmulateViewport(390, 844), chromedp.Navigate(e.srv.URL+"/queue"), chromedp.WaitVisible(chromedp.CSS("table.table")))
	right := eval(`(() => { const td = document.querySelector('tbody tr td[data-label="Answer by"]'); const r = td.getBoundingClientRect();
		return (r.width > 0 && r.left >= 0 && r.right <= window.innerWidth) ? 'visible' : 'off screen ' + r.left + '-' + r.right })()`)
	if right != "visible" {
		t.Errorf("answer-by date at 390 px: %s", right)
	}
	checkAxe(t, b, string(src), "queue at 390 px")
	browser.Screenshot(t, b, out, "triage-queue-narrow")
}
