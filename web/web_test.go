package web_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

func TestValidNHSFixtures(t *testing.T) {
	for _, n := range validNHS {
		f := form.Form{Fields: form.Fields{NHSNumber: n}}
		form.Finish(&f, time.Now())
		for _, p := range f.Problems {
			if p.Field == "nhs_number" {
				t.Errorf("NHS number %q: %s (fix the fixture)", n, p.Code)
			}
		}
	}
}

// Every page but sign-in and health sends a visitor without a session to sign in.
func TestRoutesNeedSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, _ := e.seed(item{Fields: goodFields(validNHS[0])})
	c := e.anon()
	for _, tc := range []struct{ method, path string }{
		{"GET", "/"}, {"GET", "/queue"}, {"GET", fmt.Sprintf("/items/%d", id)}, {"GET", "/attachments/1"},
		{"GET", "/people"}, {"GET", "/audit"},
		{"POST", "/people"}, {"POST", "/people/optin"}, {"POST", "/people/optout"}, {"POST", "/signout"},
		{"POST", fmt.Sprintf("/items/%d/check", id)}, {"POST", fmt.Sprintf("/items/%d/accept", id)},
		{"POST", fmt.Sprintf("/items/%d/reject", id)}, {"POST", fmt.Sprintf("/items/%d/close", id)},
		{"POST", fmt.Sprintf("/items/%d/assign", id)},
	} {
		var resp *http.Response
		if tc.method == "GET" {
			resp, _ = c.get(tc.path)
		} else {
			resp, _ = c.postRaw(tc.path, url.Values{"csrf": {"x"}})
		}
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/signin?next=") {
			t.Errorf("%s %s without a session = %d %q, want 303 to /signin", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	for _, path := range []string{"/signin", "/healthz", "/readyz", "/metrics"} {
		if resp, _ := c.get(path); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s without a session = %d, want 200", path, resp.StatusCode)
		}
	}
	// A forged or expired cookie is no session either.
	u, _ := url.Parse(e.srv.URL)
	c.http.Jar.SetCookies(u, []*http.Cookie{{Name: "optout_session", Value: "forged"}})
	if resp, _ := c.get("/queue"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("GET /queue with a forged cookie = %d, want 303", resp.StatusCode)
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, _ := e.seed(item{Fields: goodFields(validNHS[0])})
	viewer, triager, admin := e.signIn(e.viewer), e.signIn(e.triager), e.signIn(e.admin)
	item := fmt.Sprintf("/items/%d", id)
	tests := []struct {
		name   string
		c      *client
		method string
		path   string
		want   int
	}{
		{"viewer reads queue", viewer, "GET", "/queue", 200},
		{"viewer reads item", viewer, "GET", item, 200},
		{"viewer searches", viewer, "POST", "/people", 200},
		{"viewer cannot accept", viewer, "POST", item + "/accept", 403},
		{"viewer cannot reject", viewer, "POST", item + "/reject", 403},
		{"viewer cannot close", viewer, "POST", item + "/close", 403},
		{"viewer cannot assign", viewer, "POST", item + "/assign", 403},
		{"viewer cannot check", viewer, "POST", item + "/check", 403},
		{"viewer cannot opt in", viewer, "POST", "/people/optin", 403},
		{"viewer cannot opt out", viewer, "POST", "/people/optout", 403},
		{"viewer cannot read audit", viewer, "GET", "/audit", 403},
		{"triager cannot read audit", triager, "GET", "/audit", 403},
		{"triager assigns", triager, "POST", item + "/assign", 303},
		{"admin reads audit", admin, "GET", "/audit", 200},
		{"admin checks", admin, "POST", item + "/check", 200},
	}
	for _, tc := range tests {
		var resp *http.Response
		if tc.method == "GET" {
			resp, _ = tc.c.get(tc.path)
		} else {
			v := formValues(goodFields(validNHS[0]))
			v.Set("q", validNHS[0])
			resp, _ = tc.c.post(tc.path, v)
		}
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %s %s = %d, want %d", tc.name, tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
	// The viewer's refused accept changed nothing.
	if _, err := e.st.FindPerson(context.Background(), validNHS[0], store.System); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after a viewer's accept FindPerson = %v, want not found", err)
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, _ := e.seed(item{Fields: goodFields(validNHS[0])})
	c := e.signIn(e.triager)
	path := fmt.Sprintf("/items/%d/accept", id)
	for _, tok := range []string{"", "wrong", c.csrf + "x"} {
		v := formValues(goodFields(validNHS[0]))
		v.Set("csrf", tok)
		if resp, _ := c.postRaw(path, v); resp.StatusCode != http.StatusForbidden {
			t.Errorf("accept with csrf %q = %d, want 403", tok, resp.StatusCode)
		}
	}
	if _, err := e.st.FindPerson(context.Background(), validNHS[0], store.System); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused accept recorded the opt-out: FindPerson = %v", err)
	}
	// Another session's token is not this session's.
	other := e.signIn(e.admin)
	v := formValues(goodFields(validNHS[0]))
	v.Set("csrf", other.csrf)
	if resp, _ := c.postRaw(path, v); resp.StatusCode != http.StatusForbidden {
		t.Errorf("accept with another session's token = %d, want 403", resp.StatusCode)
	}
	// The sign-in form has its own token.
	anon := e.anon()
	if resp, _ := anon.postRaw("/signin", url.Values{"email": {e.triager.Email}, "password": {testPassword}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in without its token = %d, want 403", resp.StatusCode)
	}
	if resp, _ := c.post(path, formValues(goodFields(validNHS[0]))); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("accept with the right token = %d, want 303", resp.StatusCode)
	}
}

func TestResidentTextIsEscaped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const evil = `<script>alert("x")</script>`
	f := goodFields(validNHS[0])
	f.FirstName = evil
	f.PostalAddress = `"><img src=x onerror=alert(1)>`
	id, _ := e.seed(item{Fields: f, Body: "Hello " + evil, Attachments: []*store.NewAttachment{{Name: evil + ".pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4 x")}}})
	for _, who := range []store.Staff{e.viewer, e.triager} {
		resp, body := e.signIn(who).get(fmt.Sprintf("/items/%d", id))
		if resp.StatusCode != 200 {
			t.Fatalf("GET item as %s = %d", who.Role, resp.StatusCode)
		}
		// Our own viewer script and image tags aside, no markup gets through.
		own := regexp.MustCompile(`<script type="module" src="/static/js-[0-9a-f]+/original\.js"></script>|<img class="zoomable" src="/attachments/\d+" alt="[^"<>]*">`)
		if rest := own.ReplaceAllString(body, ""); strings.Contains(rest, "<script") || strings.Contains(rest, "<img") {
			t.Errorf("item page as %s has resident markup unescaped", who.Role)
		}
		if !strings.Contains(body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
			t.Errorf("item page as %s does not show the escaped resident text", who.Role)
		}
	}
}

func TestCheckRerunsRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bad := goodFields("9434765918") // wrong check digit
	id, _ := e.seed(item{Fields: bad})
	c := e.signIn(e.triager)
	resp, body := c.get(fmt.Sprintf("/items/%d", id))
	if resp.StatusCode != 200 || !strings.Contains(body, "There is a problem") || !strings.Contains(body, `href="#f-nhs_number"`) {
		t.Fatalf("item with a bad NHS number: status %d; want an error summary linking to the NHS number", resp.StatusCode)
	}
	tests := []struct {
		name     string
		edit     func(*form.Fields)
		want     int
		contains string
	}{
		{"still wrong", func(*form.Fields) {}, 422, `href="#f-nhs_number"`},
		{"corrected", func(f *form.Fields) { f.NHSNumber = "943 476 5919" }, 200, "passes every check"},
		{"date now impossible", func(f *form.Fields) { f.NHSNumber = validNHS[0]; f.DateOfBirth = "31/02/1980" }, 422, `href="#f-date_of_birth"`},
		{"declaration unticked", func(f *form.Fields) { f.NHSNumber = validNHS[0]; f.Declaration = false }, 422, `href="#f-declaration"`},
	}
	for _, tc := range tests {
		f := bad
		tc.edit(&f)
		resp, body := c.post(fmt.Sprintf("/items/%d/check", id), formValues(f))
		if resp.StatusCode != tc.want || !strings.Contains(body, tc.contains) {
			t.Errorf("%s: check = %d, contains %q: %v; want %d and true", tc.name, resp.StatusCode, tc.contains, strings.Contains(body, tc.contains), tc.want)
		}
	}
	// Accepting with the uncorrected number is refused by the same rules.
	if resp, _ := c.post(fmt.Sprintf("/items/%d/accept", id), formValues(bad)); resp.StatusCode != 422 {
		t.Errorf("accept with a bad NHS number = %d, want 422", resp.StatusCode)
	}
	if _, err := e.st.FindPerson(context.Background(), "9434765918", store.System); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refused accept recorded something: %v", err)
	}
}

func TestAcceptRecordsAndQueuesEmail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bad := goodFields("943476591") // nine digits
	id, ref := e.seed(item{Fields: bad})
	c := e.signIn(e.triager)
	fixed := bad
	fixed.NHSNumber = "943 476 5919"
	resp, _ := c.post(fmt.Sprintf("/items/%d/accept", id), formValues(fixed))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/queue?done=accepted" {
		t.Fatalf("accept = %d %q, want 303 to /queue?done=accepted", resp.StatusCode, resp.Header.Get("Location"))
	}
	ctx := context.Background()
	p, err := e.st.FindPerson(ctx, validNHS[0], store.System)
	if err != nil || p.State != store.OptedOut {
		t.Fatalf("after accept FindPerson = %+v, %v; want opted out", p.State, err)
	}
	conv, err := e.st.ConversationByReference(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.st.ListOutbox(ctx, store.OutboxFilter{ConversationID: conv.ID, Kind: vocab.KindAccepted})
	if err != nil || len(out) != 1 {
		t.Fatalf("accepted emails queued = %d (%v), want 1", len(out), err)
	}
	if out[0].To != residentAddr || !strings.Contains(out[0].Body, ref) || !strings.Contains(out[0].Subject, "[secure]") {
		t.Errorf("accepted email: to %q, body has reference %v, subject %q; want the resident, the reference and [secure]",
			out[0].To, strings.Contains(out[0].Body, ref), out[0].Subject)
	}
	if !strings.Contains(out[0].Body, "In-Reply-To: <") {
		t.Errorf("accepted email is not threaded under the resident's message")
	}
	// The item left the queue and a second accept is a conflict.
	_, body := c.get("/queue")
	if strings.Contains(body, fmt.Sprintf(`href="/items/%d"`, id)) {
		t.Errorf("accepted item still in the open queue")
	}
	if resp, _ := c.post(fmt.Sprintf("/items/%d/accept", id), formValues(fixed)); resp.StatusCode != http.StatusConflict {
		t.Errorf("second accept = %d, want 409", resp.StatusCode)
	}
	// The audit log shows who did it.
	entries, _ := e.st.ListAudit(ctx, store.AuditFilter{Action: "triage.accepted"})
	if len(entries) != 1 || entries[0].Actor != store.Actor(e.triager.ID) {
		t.Errorf("audit of the accept = %+v, want one entry by the triager", entries)
	}
}

func TestRejectAndClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	id, ref := e.seed(item{Fields: goodFields("123")})
	c := e.signIn(e.triager)
	path := fmt.Sprintf("/items/%d/reject", id)
	if resp, body := c.post(path, nil); resp.StatusCode != 422 || !strings.Contains(body, "Choose at least one reason") {
		t.Errorf("reject without a reason = %d, want 422 with an error summary", resp.StatusCode)
	}
	resp, _ := c.post(path, url.Values{"reason": {"nhs_number", "bogus"}, "detail": {"Please  also sign it."}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reject = %d, want 303", resp.StatusCode)
	}
	conv, _ := e.st.ConversationByReference(ctx, ref)
	out, err := e.st.ListOutbox(ctx, store.OutboxFilter{ConversationID: conv.ID, Kind: vocab.KindRejected})
	if err != nil || len(out) != 1 {
		t.Fatalf("rejection emails = %d (%v), want 1", len(out), err)
	}
	if !strings.Contains(out[0].Body, "Please also sign it.") || !strings.Contains(out[0].Body, "NHS number is missing or is not a valid") {
		t.Errorf("rejection email lacks the chosen reasons:\n%s", out[0].Body)
	}

	id2, ref2 := e.seed(item{NoForm: true, Reason: vocab.ReasonNoFormAgain})
	if resp, _ := c.post(fmt.Sprintf("/items/%d/close", id2), url.Values{"reply": {"yes"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("close = %d, want 303", resp.StatusCode)
	}
	conv2, _ := e.st.ConversationByReference(ctx, ref2)
	if out, _ := e.st.ListOutbox(ctx, store.OutboxFilter{ConversationID: conv2.ID, Kind: vocab.KindNotOptOut}); len(out) != 1 {
		t.Errorf("not-an-opt-out replies = %d, want 1", len(out))
	}
	items, _ := e.st.ListTriage(ctx, store.TriageFilter{State: "open"})
	if len(items) != 0 {
		t.Errorf("open items after reject and close = %d, want 0", len(items))
	}
}

func TestPeopleAndOptIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	id, ref := e.seed(item{Fields: goodFields(validNHS[1])})
	c := e.signIn(e.triager)
	if resp, _ := c.post(fmt.Sprintf("/items/%d/accept", id), formValues(goodFields(validNHS[1]))); resp.StatusCode != 303 {
		t.Fatalf("accept = %d", resp.StatusCode)
	}
	for _, q := range []string{"943 476 5870", strings.ToLower(ref)} {
		resp, body := c.post("/people", url.Values{"q": {q}})
		if resp.StatusCode != 200 || !strings.Contains(body, "943 476 5870") || !strings.Contains(body, "Opted out") {
			t.Errorf("find %q = %d; want the person, opted out", q, resp.StatusCode)
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("find page Cache-Control = %q, want no-store", resp.Header.Get("Cache-Control"))
		}
	}
	if resp, body := c.post("/people", url.Values{"q": {"hello"}}); resp.StatusCode != 422 || !strings.Contains(body, "There is a problem") {
		t.Errorf("find with nonsense = %d, want 422 with an error summary", resp.StatusCode)
	}
	if resp, _ := c.post("/people/optin", url.Values{"nhs": {validNHS[1]}}); resp.StatusCode != 422 {
		t.Errorf("opt in without a reason = %d, want 422", resp.StatusCode)
	}
	// The first step only says what will happen and which email goes.
	resp, body := c.post("/people/optin", url.Values{"nhs": {validNHS[1]}, "reason": {"asked by secure email"}, "confirm": {"yes"}})
	if resp.StatusCode != 200 || !strings.Contains(body, "Check the opt back in") || !strings.Contains(body, residentAddr) || !strings.Contains(body, ref) {
		t.Fatalf("opt in, first step = %d; want the confirmation naming the address and reference", resp.StatusCode)
	}
	if p, _ := e.st.FindPerson(ctx, validNHS[1], store.System); p.State != store.OptedOut {
		t.Fatalf("the confirmation step changed the register: %q", p.State)
	}
	resp, body = c.post("/people/optin", url.Values{"nhs": {validNHS[1]}, "reason": {"asked by secure email"}, "confirm": {"yes"}, "confirmed": {"yes"}})
	if resp.StatusCode != 200 || !strings.Contains(body, "Opted back in") || !strings.Contains(body, "confirmation email is queued") {
		t.Fatalf("opt in = %d; want the person shown opted back in", resp.StatusCode)
	}
	// History in words: who by name, the form's item linked, no codes.
	if strings.Contains(body, "staff:") || !strings.Contains(body, fmt.Sprintf(`<a href="/items/%d">Item %d</a>`, id, id)) || !strings.Contains(body, "<td>You</td>") ||
		!strings.Contains(body, "Accepted by staff from the triage queue") {
		t.Errorf("person history: raw actor codes, or no link to the item, or no staff name")
	}
	p, err := e.st.FindPerson(ctx, validNHS[1], store.System)
	if err != nil || p.State != store.OptedIn || len(p.History) != 2 {
		t.Errorf("after opt in: state %q, %d history entries, %v; want opted_in and 2", p.State, len(p.History), err)
	}
	conv, _ := e.st.ConversationByReference(ctx, ref)
	if out, _ := e.st.ListOutbox(ctx, store.OutboxFilter{ConversationID: conv.ID, Kind: vocab.KindOptedIn}); len(out) != 1 {
		t.Errorf("opt-in confirmations = %d, want 1", len(out))
	}
	if resp, _ := c.post("/people/optin", url.Values{"nhs": {validNHS[1]}, "reason": {"again"}, "confirmed": {"yes"}}); resp.StatusCode != http.StatusConflict {
		t.Errorf("second opt in = %d, want 409", resp.StatusCode)
	}
	// Searches are audited.
	if n, _ := e.st.ListAudit(ctx, store.AuditFilter{Action: "register.view"}); len(n) == 0 {
		t.Errorf("register views were not audited")
	}
}

func TestAttachmentsAndHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, _ := e.seed(item{Fields: goodFields(validNHS[0]), Attachments: []*store.NewAttachment{
		{Name: "form.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4\n%%EOF\n")},
		{Name: "../evil\r\n.html", ContentType: "text/html", Data: []byte("<script>alert(1)</script>")},
		{Name: "fake.pdf", ContentType: "application/pdf", Data: []byte("<html>not a pdf</html>")},
	}})
	c := e.signIn(e.viewer)
	resp, body := c.get(fmt.Sprintf("/items/%d", id))
	h := resp.Header
	for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"} {
		if h.Get(k) != want {
			t.Errorf("item page %s = %q, want %q", k, h.Get(k), want)
		}
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP = %q", csp)
	}
	// The only script is our own viewer, from our origin.
	scripts := regexp.MustCompile(`<script[^>]*>`).FindAllString(body, -1)
	if strings.Contains(body, " style=") || len(scripts) != 1 || !regexp.MustCompile(`^<script type="module" src="/static/js-[0-9a-f]+/original\.js"></script>$`).MatchString(scripts[0]+"</script>") ||
		!strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") || strings.Contains(h.Get("Content-Security-Policy"), "unsafe-eval") {
		t.Errorf("page has inline script or style, or scripts %q under %q", scripts, h.Get("Content-Security-Policy"))
	}
	det, err := e.st.TriageItemDetail(context.Background(), id, store.System)
	if err != nil || len(det.Attachments) != 3 {
		t.Fatalf("attachments = %d, %v", len(det.Attachments), err)
	}
	tests := []struct {
		idx         int
		disposition string
		ctype       string
	}{{0, "inline", "application/pdf"}, {1, "attachment", "application/octet-stream"}, {2, "attachment", "application/octet-stream"}}
	for _, tc := range tests {
		resp, _ := c.get(fmt.Sprintf("/attachments/%d", det.Attachments[tc.idx].ID))
		cd := resp.Header.Get("Content-Disposition")
		if resp.StatusCode != 200 || !strings.HasPrefix(cd, tc.disposition) || resp.Header.Get("Content-Type") != tc.ctype ||
			resp.Header.Get("X-Content-Type-Options") != "nosniff" || strings.ContainsAny(cd, "\r\n/") {
			t.Errorf("attachment %d: %d, %q, %q", tc.idx, resp.StatusCode, cd, resp.Header.Get("Content-Type"))
		}
	}
	// The CSS is long-lived and named by its content.
	css := regexpFind(body, `href="(/static/app\.[0-9a-f]+\.css)"`)
	resp, _ = c.get(css)
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Cache-Control"), "max-age=31536000") {
		t.Errorf("GET %s = %d, Cache-Control %q", css, resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
}

func TestSigninRateLimitAndSignout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.anon()
	_, body := c.get("/signin")
	tok := csrfOf(t, body)
	for i := range 5 {
		resp, body := c.postRaw("/signin", url.Values{"csrf": {tok}, "email": {e.admin.Email}, "password": {"wrong password"}})
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "not right") {
			t.Fatalf("bad attempt %d = %d, want 401", i+1, resp.StatusCode)
		}
		tok = csrfOf(t, body)
	}
	resp, _ := c.postRaw("/signin", url.Values{"csrf": {tok}, "email": {e.admin.Email}, "password": {testPassword}})
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("right password after 5 failures = %d, want 429", resp.StatusCode)
	}
	// Another account from the same address is not locked out yet.
	other := e.signIn(e.viewer)
	if resp, _ := other.post("/signout", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("sign out = %d", resp.StatusCode)
	}
	if resp, _ := other.get("/queue"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("queue after sign out = %d, want 303 to sign in", resp.StatusCode)
	}
	// A disabled account cannot sign in, and its sessions end.
	c2 := e.signIn(e.triager)
	disabled := true
	if err := e.st.UpdateStaff(context.Background(), e.triager.ID, store.StaffUpdate{Disabled: &disabled}, store.System); err != nil {
		t.Fatal(err)
	}
	if resp, _ := c2.get("/queue"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("queue after disabling = %d, want 303", resp.StatusCode)
	}
}

func TestHealthAndReady(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.anon()
	if resp, body := c.get("/readyz"); resp.StatusCode != 200 || !strings.Contains(body, "ok") {
		t.Errorf("readyz = %d %q", resp.StatusCode, body)
	}
	e.ready.Store(errors.New("mailbox not polled for 12m0s"))
	if resp, body := c.get("/readyz"); resp.StatusCode != 503 || !strings.Contains(body, "not polled") {
		t.Errorf("readyz with a stale poll = %d %q, want 503", resp.StatusCode, body)
	}
	if resp, _ := c.get("/healthz"); resp.StatusCode != 200 {
		t.Errorf("healthz = %d", resp.StatusCode)
	}
}

func TestQueueFiltersAndDue(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, _ := e.seed(item{Fields: goodFields("1")})
	b, _ := e.seed(item{NoForm: true, Reason: vocab.ReasonUnreadable})
	c := e.signIn(e.triager)
	_, body := c.get("/queue")
	ia, ib := strings.Index(body, fmt.Sprintf(`href="/items/%d"`, a)), strings.Index(body, fmt.Sprintf(`href="/items/%d"`, b))
	if ia < 0 || ib < 0 || ia > ib {
		t.Errorf("queue order: item %d at %d, item %d at %d; want both, oldest first", a, ia, b, ib)
	}
	_, body = c.get("/queue?reason=unreadable")
	if strings.Contains(body, fmt.Sprintf(`href="/items/%d"`, a)) || !strings.Contains(body, fmt.Sprintf(`href="/items/%d"`, b)) {
		t.Errorf("reason filter does not select")
	}
	c.post(fmt.Sprintf("/items/%d/assign", a), nil)
	_, body = c.get("/queue?mine=1")
	if !strings.Contains(body, fmt.Sprintf(`href="/items/%d"`, a)) || strings.Contains(body, fmt.Sprintf(`href="/items/%d"`, b)) {
		t.Errorf("mine filter does not select")
	}
	_, body = c.get("/queue?state=closed")
	if strings.Contains(body, "/items/") {
		t.Errorf("closed filter shows open items")
	}
}

func regexpFind(s, re string) string {
	m := mustRE(re).FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return m[1]
}
