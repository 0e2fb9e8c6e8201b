package web

import (
	"encoding/csv"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/store"
)

// refuse audits a refusal (401 or 403) of a signed-in member of staff: what
// was asked (method and path, which hold ids only) and why.
func (s *server) refuse(r *http.Request, sess *store.Session, status int, reason string) {
	if err := s.d.Store.WriteAudit(r.Context(), store.AuditEntry{Actor: store.Actor(sess.Staff.ID), Action: "access.refused",
		Detail: fmt.Sprintf("status=%d reason=%s method=%s path=%s", status, reason, r.Method, r.URL.Path)}); err != nil {
		s.log.Error("web: audit refusal", slog.String("error", err.Error()))
	}
}

// crossOrigin answers a state-changing request from another site: 403, and
// an audit entry when the browser holds a live session.
func (s *server) crossOrigin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	var sess *store.Session
	if c, err := r.Cookie(s.cookieName(r, sessionCookie)); err == nil && c.Value != "" && len(c.Value) < 100 {
		if got, err := s.d.Store.Session(r.Context(), c.Value, 0, s.d.SessionMax); err == nil {
			sess = &got
			s.refuse(r, sess, http.StatusForbidden, "cross_origin")
		}
	}
	if sess == nil && r.URL.Path == "/signin" {
		s.auditSignin(r, 0, "cross_origin", s.clientAddress(r))
	}
	s.fail(w, r, sess, http.StatusForbidden, "This form did not come from this site, so nothing was done. Open the page from its own address and try again.")
}

type auditRow struct {
	store.AuditEntry
	Who string
}

type auditData struct {
	Rows    []auditRow
	Action  string
	Ref     string
	Staff   string // staff id, "system", or ""
	From    string // yyyy-mm-dd, London
	To      string // yyyy-mm-dd, London, inclusive
	Older   string // query for the next page, "" at the end
	CSV     string // the export link with the same filter
	Members []store.Staff
}

// auditFilter reads the page's filter (action, reference, member of staff,
// London dates) into a store filter; bad values are named in errs.
func (s *server) auditFilter(q url.Values) (auditData, store.AuditFilter, []pageError) {
	d := auditData{Action: strings.TrimSpace(q.Get("action")), Ref: strings.TrimSpace(q.Get("ref")),
		Staff: strings.TrimSpace(q.Get("staff")), From: strings.TrimSpace(q.Get("from")), To: strings.TrimSpace(q.Get("to"))}
	f := store.AuditFilter{Action: d.Action}
	var errs []pageError
	if d.Ref != "" {
		if ref, ok := store.FindReference(d.Ref); ok {
			f.Reference = ref
		} else {
			f.Reference = "-"
		}
	}
	if d.Staff != "" {
		a, ok := store.ParseActor(d.Staff)
		if n, err := strconv.ParseInt(d.Staff, 10, 64); err == nil && n > 0 {
			a, ok = store.Actor(n), true
		}
		if !ok {
			errs = append(errs, pageError{Field: "staff", Message: "Choose a member of staff from the list"})
		} else {
			f.Actor = &a
		}
	}
	day := func(v, field string) time.Time {
		if v == "" {
			return time.Time{}
		}
		t, err := time.ParseInLocation("2006-01-02", v, s.london)
		if err != nil {
			errs = append(errs, pageError{Field: field, Message: "Enter a date as YYYY-MM-DD"})
		}
		return t
	}
	f.From = day(d.From, "from")
	if to := day(d.To, "to"); !to.IsZero() {
		f.Until = to.AddDate(0, 0, 1)
	}
	return d, f, errs
}

func (d auditData) query(before int64) string {
	v := url.Values{}
	for k, x := range map[string]string{"action": d.Action, "ref": d.Ref, "staff": d.Staff, "from": d.From, "to": d.To} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if before > 0 {
		v.Set("before", strconv.FormatInt(before, 10))
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

func (s *server) audit(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	q := r.URL.Query()
	d, f, errs := s.auditFilter(q)
	f.Limit = 100
	if b, err := strconv.ParseInt(q.Get("before"), 10, 64); err == nil && b > 0 {
		f.BeforeID = b
	}
	// Reading the audit log is itself audited.
	if err := s.d.Store.WriteAudit(r.Context(), store.AuditEntry{Actor: store.Actor(sess.Staff.ID), Action: "audit.view",
		Detail: strings.TrimPrefix(d.query(f.BeforeID), "?")}); err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	status := http.StatusOK
	if errs != nil {
		status = http.StatusUnprocessableEntity
	}
	var entries []store.AuditEntry
	if errs == nil {
		var err error
		if entries, err = s.d.Store.ListAudit(r.Context(), f); err != nil {
			s.storeFail(w, r, sess, err)
			return
		}
	}
	names := s.staffNames(r.Context(), sess)
	for _, e := range entries {
		d.Rows = append(d.Rows, auditRow{AuditEntry: e, Who: who(names, e.Actor)})
	}
	if len(entries) == f.Limit {
		d.Older = d.query(entries[len(entries)-1].ID)
	}
	d.CSV = "/audit.csv" + d.query(0)
	if list, err := s.d.Store.ListStaff(r.Context()); err == nil {
		d.Members = list
	}
	s.render(w, r, status, "audit", page{Title: "Audit log", Nav: "audit", Session: sess, Errors: errs, Data: d})
}

func who(names map[int64]string, a store.Actor) string {
	if a == store.System {
		return "The service"
	}
	if n := names[int64(a)]; n != "" {
		return n
	}
	return a.String()
}

// maxAuditExport bounds one CSV export; narrow the filter for more.
const maxAuditExport = 100_000

// auditCSV exports the filtered audit log as CSV (UTC times, RFC 3339 to
// the second). The export is audited with its filter.
func (s *server) auditCSV(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	d, f, errs := s.auditFilter(r.URL.Query())
	if errs != nil {
		s.fail(w, r, sess, http.StatusUnprocessableEntity, errs[0].Message)
		return
	}
	f.Limit = maxAuditExport
	entries, err := s.d.Store.ListAudit(r.Context(), f)
	if err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	if err := s.d.Store.WriteAudit(r.Context(), store.AuditEntry{Actor: store.Actor(sess.Staff.ID), Action: "audit.export",
		Detail: fmt.Sprintf("rows=%d %s", len(entries), strings.TrimPrefix(d.query(0), "?"))}); err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="audit.csv"`)
	cw := csv.NewWriter(w)
	cw.Write([]string{"id", "at_utc", "actor", "action", "object_type", "object_id", "reference", "detail", "chain_seq"}) //nolint:errcheck // checked by Flush
	for _, e := range entries {
		obj := ""
		if e.ObjectID != 0 {
			obj = strconv.FormatInt(e.ObjectID, 10)
		}
		cw.Write([]string{strconv.FormatInt(e.ID, 10), e.At.UTC().Format(time.RFC3339), e.Actor.String(), csvSafe(e.Action), //nolint:errcheck // checked by Flush
			csvSafe(e.ObjectType), obj, csvSafe(e.Reference), csvSafe(e.Detail), strconv.FormatInt(e.ChainSeq, 10)})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		s.log.Error("web: write audit export", slog.String("error", err.Error()))
	}
}

// csvSafe stops a spreadsheet from reading a cell as a formula.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// correctedDetail names, for the audit, the fields staff changed from what
// was read (or "corrected=all" for a form keyed in by staff); never values.
func correctedDetail(sub *store.Submission, f form.Fields) string {
	if sub == nil {
		return "corrected=all"
	}
	before := sub.Fields
	if sub.Corrected != nil {
		before = *sub.Corrected
	}
	a, b := reflect.ValueOf(before), reflect.ValueOf(f)
	var names []string
	for i := range a.NumField() {
		if a.Field(i).Interface() != b.Field(i).Interface() {
			name, _, _ := strings.Cut(a.Type().Field(i).Tag.Get("json"), ",")
			names = append(names, name)
		}
	}
	return "corrected=" + strings.Join(names, ",")
}
