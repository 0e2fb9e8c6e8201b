package web_test

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// lastDetail returns the detail of the newest audit entry with action.
func lastDetail(t *testing.T, e *env, action string) string {
	t.Helper()
	var d string
	if err := e.st.Pool().QueryRow(t.Context(), `select detail from audit where action = $1 order by id desc limit 1`, action).Scan(&d); err != nil {
		t.Fatalf("no audit entry %s: %v", action, err)
	}
	return d
}

// TestAuditTrailComplete checks what an information-governance review asks
// of the audit: refusals, searches (including those that find nothing),
// decisions with their detail, views and exports of the log itself, times
// to the second, and the admin's filters.
func TestAuditTrailComplete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	viewer, triager, admin := e.signIn(e.viewer), e.signIn(e.triager), e.signIn(e.admin)

	// A refusal of a signed-in user, by role and by token.
	viewer.get("/audit")
	viewer.post("/people/optin", url.Values{"nhs": {validNHS[0]}, "reason": {"x"}})
	triager.post("/people/optin", url.Values{"nhs": {validNHS[0]}, "reason": {"x"}, "csrf": {"wrong"}})
	if n := auditCount(t, e, "access.refused", "status=403 reason=role"); n != 2 {
		t.Errorf("audited role refusals = %d, want 2", n)
	}
	if n := auditCount(t, e, "access.refused", "reason=csrf"); n != 1 {
		t.Errorf("audited token refusals = %d, want 1", n)
	}

	// Searches, found or not; the NHS number itself is never written.
	viewer.post("/people", url.Values{"q": {validNHS[2]}})
	viewer.post("/people", url.Values{"q": {"NCL-AAAA-BBBB"}})
	if n := auditCount(t, e, "people.search", "results=0"); n != 2 {
		t.Errorf("audited searches that found nothing = %d, want 2", n)
	}
	if n := auditCount(t, e, "people.search", validNHS[2]); n != 0 {
		t.Error("a search's NHS number is in the audit")
	}

	// Decisions with their detail.
	id, _ := e.seed(item{Fields: goodFields("943476591")})
	triager.post(fmt.Sprintf("/items/%d/assign", id), nil)
	if d := lastDetail(t, e, "triage.assign"); d != fmt.Sprintf("assignee=%d from=0", e.triager.ID) {
		t.Errorf("assign detail = %q", d)
	}
	admin.post(fmt.Sprintf("/items/%d/assign", id), nil)
	if d := lastDetail(t, e, "triage.assign"); d != fmt.Sprintf("assignee=%d from=%d", e.admin.ID, e.triager.ID) {
		t.Errorf("reassign detail = %q, want old and new assignee", d)
	}
	v := formValues(goodFields(validNHS[0]))
	v.Set("postcode", "N1 9GU")
	if resp, _ := triager.post(fmt.Sprintf("/items/%d/accept", id), v); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("accept = %d", resp.StatusCode)
	}
	if d := lastDetail(t, e, "triage.accepted"); d != "status=accepted corrected=nhs_number" {
		t.Errorf("accept detail = %q, want the corrected field's name", d)
	}
	id2, _ := e.seed(item{Fields: goodFields("123")})
	triager.post(fmt.Sprintf("/items/%d/reject", id2), url.Values{"reason": {"nhs_number"}, "detail": {"Ring Ada Lovelace on 07700 900000"}})
	if d := lastDetail(t, e, "triage.rejected"); !strings.Contains(d, "reason=nhs_number+other") || strings.Contains(d, "Lovelace") {
		t.Errorf("reject detail = %q, want the reason codes and never the staff's words", d)
	}
	id3, _ := e.seed(item{Fields: goodFields(validNHS[1])})
	triager.post(fmt.Sprintf("/items/%d/close", id3), url.Values{"reply": {"yes"}})
	if d := lastDetail(t, e, "triage.closed.not_optout"); d != "reason=not_optout reply=yes" {
		t.Errorf("close detail = %q", d)
	}

	// The log, filtered by member of staff, action and date; its view and
	// export are themselves audited; times to the second.
	today := time.Now().In(londonTZ(t)).Format("2006-01-02")
	q := url.Values{"staff": {fmt.Sprint(e.triager.ID)}, "action": {"triage.assign"}, "from": {today}, "to": {today}}
	resp, body := admin.get("/audit?" + q.Encode())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /audit = %d", resp.StatusCode)
	}
	if n := strings.Count(body, "<code>triage.assign</code>"); n != 1 {
		t.Errorf("filtered audit shows %d assign entries, want the triager's one", n)
	}
	if !regexp.MustCompile(`\d{1,2} \w{3} \d{4} \d{2}:\d{2}:\d{2} (GMT|BST)`).MatchString(body) {
		t.Error("audit times are not shown to the second in London time")
	}
	if n := auditCount(t, e, "audit.view", "action=triage.assign"); n != 1 {
		t.Errorf("audited views of the log = %d, want 1", n)
	}
	resp, body = admin.get("/audit.csv?" + url.Values{"action": {"people.search"}}.Encode())
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("GET /audit.csv = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(rows) != 3 || rows[0][1] != "at_utc" || !strings.HasSuffix(rows[1][1], "Z") {
		t.Errorf("CSV export = %v, %v; want a header and the two searches in UTC", rows, err)
	}
	if d := lastDetail(t, e, "audit.export"); !strings.Contains(d, "rows=2") {
		t.Errorf("export audit detail = %q", d)
	}
	if resp, _ := admin.get("/audit?from=yesterday"); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("a bad date filter = %d, want 422", resp.StatusCode)
	}

	// Everything above kept one intact chain.
	if check, err := e.st.VerifyAudit(t.Context()); err != nil || check.Break != nil {
		t.Errorf("VerifyAudit = %+v, %v", check, err)
	}
}

func londonTZ(t *testing.T) *time.Location {
	t.Helper()
	l, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	return l
}
