package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ncl-icb/optout-intake/internal/browser"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// TestBrowserWorksTheQueue drives Chromium through the whole triage flow:
// sign in, open the oldest item, correct its NHS number, accept, reject
// another, and record an opt back in, checking the register and outbox.
func TestBrowserWorksTheQueue(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	bad := goodFields("943476591") // nine digits: must be corrected
	bad.FirstName, bad.LastName = "Ada", "Lovelace <b>"
	first, ref := e.seed(item{Fields: bad, Body: "Hello,\n\nMy form is attached. <script>alert(1)</script>\n\nAda"})
	time.Sleep(5 * time.Millisecond)
	second, ref2 := e.seed(item{Fields: goodFields("123"), Reason: vocab.ReasonInvalidForm})
	e.seed(item{NoForm: true, Reason: vocab.ReasonUnreadable})
	// An item near its deadline, to show the highlight.
	if _, err := e.st.Pool().Exec(ctx, `update triage set due_by = now() + interval '3 days' where id = $1`, second); err != nil {
		t.Fatal(err)
	}

	b := browser.New(t, browser.Options{Timeout: 45 * time.Second})
	out := browser.OutputDir(t)
	do, text := steps(t, b).do, steps(t, b).text

	do("sign in",
		chromedp.Navigate(e.srv.URL+"/queue"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), e.triager.Email),
		chromedp.SendKeys(chromedp.CSS("#password"), testPassword),
		chromedp.Click(chromedp.CSS("main button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("table.table")),
	)
	if h := text("h1"); h != "Triage queue" {
		t.Fatalf("after sign-in the page is %q, want the queue", h)
	}
	browser.Screenshot(t, b, out, "triage-queue")

	// The queue puts the item due soonest first (issue 9).
	if s := text(`table.table tbody tr:first-child td[data-label="Item"]`); s != fmt.Sprintf("Item %d", second) {
		t.Errorf("the first queue entry is %q, want item %d (due in 3 days)", s, second)
	}
	do("open the oldest item",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`table.table a[href="/items/%d"]`, first))),
		chromedp.WaitVisible(chromedp.CSS("#f-nhs_number")),
	)
	if h := text("h1"); !strings.HasPrefix(h, fmt.Sprintf("Item %d", first)) {
		t.Fatalf("the queue entry opened %q, want item %d (the oldest)", h, first)
	}
	if s := text(".error-summary"); !strings.Contains(s, "NHS number") {
		t.Errorf("error summary = %q, want the NHS number problem", s)
	}
	if s := text(".email-text"); !strings.Contains(s, "<script>alert(1)</script>") {
		t.Errorf("email text shown = %q, want the resident's text as text", s)
	}
	browser.Screenshot(t, b, out, "triage-item")

	do("correct the NHS number and accept",
		chromedp.Clear(chromedp.CSS("#f-nhs_number")),
		chromedp.SendKeys(chromedp.CSS("#f-nhs_number"), "943 476 5919"),
		chromedp.Click(chromedp.CSS("#accept")),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	)
	if s := text(".notice"); !strings.Contains(s, "opt-out is recorded") {
		t.Errorf("after accept the notice is %q", s)
	}
	p, err := e.st.FindPerson(ctx, validNHS[0], store.System)
	if err != nil || p.State != store.OptedOut {
		t.Fatalf("register after accept: %q, %v; want opted out", p.State, err)
	}
	conv, _ := e.st.ConversationByReference(ctx, ref)
	if o, _ := e.st.ListOutbox(ctx, store.OutboxFilter{ConversationID: conv.ID, Kind: vocab.KindAccepted}); len(o) != 1 {
		t.Errorf("accepted emails in the outbox = %d, want 1", len(o))
	}

	do("reject the next item",
		chromedp.Navigate(fmt.Sprintf("%s/items/%d", e.srv.URL, second)),
		chromedp.WaitVisible(chromedp.CSS("#reject-nhs_number")),
		chromedp.Click(chromedp.CSS("#reject-nhs_number")),
		chromedp.SendKeys(chromedp.CSS("#reject-detail"), "Please check the number on your GP letter."),
		chromedp.Click(chromedp.CSS("#reject")),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	)
	conv2, _ := e.st.ConversationByReference(ctx, ref2)
	rej, _ := e.st.ListOutbox(ctx, store.OutboxFilter{ConversationID: conv2.ID, Kind: vocab.KindRejected})
	if len(rej) != 1 || !strings.Contains(rej[0].Body, "GP letter") {
		t.Errorf("rejection emails = %d, want 1 with the staff's words", len(rej))
	}

	do("find the person and opt them back in",
		chromedp.Click(chromedp.CSS(`a.nav__link[href="/people"]`)),
		chromedp.WaitVisible(chromedp.CSS("#q")),
		chromedp.SendKeys(chromedp.CSS("#q"), "943 476 5919"),
		chromedp.Click(chromedp.CSS("main form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#reason-"+validNHS[0])),
		chromedp.SendKeys(chromedp.CSS("#reason-"+validNHS[0]), "Asked by secure email"),
		chromedp.Click(chromedp.CSS("#optin-"+validNHS[0])),
		chromedp.WaitVisible(chromedp.CSS("#optin-confirm")),
	)
	if s := text("main"); !strings.Contains(s, "What will happen") || !strings.Contains(s, residentAddr) {
		t.Errorf("the confirmation step does not say what will happen and which address gets the email:\n%s", s)
	}
	browser.Screenshot(t, b, out, "triage-optin-confirm")
	do("confirm the opt back in", chromedp.Click(chromedp.CSS("#optin-confirm")), chromedp.WaitVisible(chromedp.CSS(".notice")))
	if s := text("#state-" + validNHS[0]); !strings.Contains(s, "Opted back in") {
		t.Errorf("register state shown after opt in = %q", s)
	}
	browser.Screenshot(t, b, out, "triage-person")
	if o, _ := e.st.ListOutbox(ctx, store.OutboxFilter{ConversationID: conv.ID, Kind: vocab.KindOptedIn}); len(o) != 1 {
		t.Errorf("opt-in confirmations = %d, want 1", len(o))
	}
}
