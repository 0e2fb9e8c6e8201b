package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// queuePageSize is how many items one queue page shows.
const queuePageSize = 50

// maxSearchResults bounds a queue search (a POST, so it has no pages: an
// NHS number or address never goes into a URL).
const maxSearchResults = 200

type queueRow struct {
	Item     store.TriageItem
	Due      due
	Assignee string
}

// queueData is the queue page: the filters as chosen, one page of rows, the
// true total and the links to the pages around it.
type queueData struct {
	Rows      []queueRow
	Reasons   []option
	Assignees []option
	Sorts     []option
	Dues      []option
	Reason    string
	State     string
	Assignee  string // "" | "me" | "none" | a staff id
	Due       string
	Sort      string
	Total     int
	Page      int
	Pages     int
	First     int // position of the first row shown (1-based)
	Last      int
	Prev      string // URL of the previous page, "" on the first
	Next      string // URL of the next page, "" on the last
	Search    string // the search as typed (search results only)
	Searched  bool
	SearchBy  string // "reference" | "NHS number" | "sender address"
	Truncated bool   // the search found more than it shows
	CanClose  bool   // triagers can close ticked items in bulk
	Here      string // this page's URL, to come back to after a bulk close

	names map[int64]string // staff names by id, read once per request
}

var queueSorts = []option{
	{string(store.QueueDueFirst), "Answer by, soonest first"},
	{string(store.QueueDueLast), "Answer by, latest first"},
	{string(store.QueueReceivedFirst), "Received, oldest first"},
	{string(store.QueueReceivedLast), "Received, newest first"},
}

var queueDues = []option{
	{"", "Any date"},
	{string(store.QueueOverdue), "Overdue"},
	{string(store.QueueDueWeek), "Due within 7 days"},
}

func validOption(list []option, v string) bool {
	return slices.ContainsFunc(list, func(o option) bool { return o.Value == v })
}

// queueFilters reads the queue's filters from a query string, dropping
// unknown values, and returns them with the store query they make.
func (s *server) queueFilters(ctx context.Context, q url.Values, sess *store.Session) (queueData, store.QueueQuery) {
	d := queueData{Reasons: reasonOptions(), Sorts: queueSorts, Dues: queueDues,
		Reason: q.Get("reason"), State: q.Get("state"), Assignee: q.Get("assignee"), Due: q.Get("due"), Sort: q.Get("sort")}
	if !vocab.Reason(d.Reason).Valid() {
		d.Reason = ""
	}
	if d.State != string(vocab.ItemClosed) && d.State != "all" && d.State != "waiting" {
		d.State = string(vocab.ItemOpen)
	}
	if q.Get("mine") == "1" {
		d.Assignee = "me"
	}
	if !validOption(queueDues, d.Due) {
		d.Due = ""
	}
	if !validOption(queueSorts, d.Sort) {
		d.Sort = string(store.QueueDueFirst)
	}
	d.Assignees = []option{{"", "Anyone"}, {"me", "Me"}, {"none", "Nobody"}}
	d.names = s.staffNames(ctx, sess)
	for id, name := range d.names {
		if id != sess.Staff.ID {
			d.Assignees = append(d.Assignees, option{strconv.FormatInt(id, 10), name})
		}
	}
	slices.SortFunc(d.Assignees[3:], func(a, b option) int { return strings.Compare(a.Text, b.Text) })
	if !validOption(d.Assignees, d.Assignee) {
		d.Assignee = ""
	}
	sq := store.QueueQuery{State: d.State, Reason: d.Reason, Due: store.QueueDue(d.Due), Sort: store.QueueSort(d.Sort),
		Now: s.d.Now(), Limit: queuePageSize, ReplyWait: s.d.ReplyWait}
	switch d.Assignee {
	case "":
	case "me":
		sq.AssignedTo = sess.Staff.ID
	case "none":
		sq.Unassigned = true
	default:
		sq.AssignedTo, _ = strconv.ParseInt(d.Assignee, 10, 64) // checked against the list above
	}
	return d, sq
}

// link is the queue URL with d's filters and page n.
func (d *queueData) link(n int) string {
	v := url.Values{}
	set := func(k, val, def string) {
		if val != def {
			v.Set(k, val)
		}
	}
	set("reason", d.Reason, "")
	set("state", d.State, string(vocab.ItemOpen))
	set("assignee", d.Assignee, "")
	set("due", d.Due, "")
	set("sort", d.Sort, string(store.QueueDueFirst))
	if n > 1 {
		v.Set("page", strconv.Itoa(n))
	}
	if len(v) == 0 {
		return "/queue"
	}
	return "/queue?" + v.Encode()
}

// queue is the triage queue: every item reachable through pages, with a
// true count, filters, and sorts.
func (s *server) queue(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	q := r.URL.Query()
	d, sq := s.queueFilters(r.Context(), q, sess)
	d.Page = 1
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 1 && n <= 1_000_000 {
		d.Page = n
	}
	sq.Offset = (d.Page - 1) * queuePageSize
	notice := notices[q.Get("done")]
	if n, ok := strings.CutPrefix(q.Get("done"), "bulk"); ok {
		if k, err := strconv.Atoi(n); err == nil && k >= 0 {
			notice = fmt.Sprintf("%d item%s closed. No email was sent.", k, map[bool]string{true: "", false: "s"}[k == 1])
		}
	}
	s.showQueue(w, r, sess, d, sq, notice)
}

// searchQueue finds items by reference code, NHS number or the sender's
// address. It is a POST so the NHS number or address never appears in a
// URL; the search is audited (how, never what).
func (s *server) searchQueue(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	d, sq := s.queueFilters(r.Context(), url.Values{"state": {"all"}}, sess)
	text := strings.TrimSpace(r.PostForm.Get("q"))
	if len(text) > maxQueryLen || !utf8.ValidString(text) {
		text = ""
	}
	d.Search, d.Searched = text, true
	switch ref, isRef := store.FindReference(text); {
	case text == "":
	case isRef:
		sq.Reference, d.SearchBy = ref, "reference"
	case store.NormaliseNHS(text) != "":
		sq.NHSNumber, d.SearchBy = text, "NHS number"
	case strings.Contains(text, "@"):
		sq.Sender, d.SearchBy = text, "sender address"
	}
	if d.SearchBy == "" {
		s.render(w, r, http.StatusUnprocessableEntity, "queue", page{Title: "Triage queue", Nav: "queue", Session: sess,
			Errors: []pageError{{Field: "q", Message: "Enter a reference code like NCL-7K3Q-9XWD, an NHS number (10 digits) or an email address"}}, Data: d})
		return
	}
	if err := s.d.Store.WriteAudit(r.Context(), store.AuditEntry{Actor: store.Actor(sess.Staff.ID), Action: "triage.search",
		ObjectType: "triage", Detail: "by=" + strings.ReplaceAll(d.SearchBy, " ", "_")}); err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	sq.Limit = maxSearchResults
	s.showQueue(w, r, sess, d, sq, "")
}

func (s *server) showQueue(w http.ResponseWriter, r *http.Request, sess *store.Session, d queueData, sq store.QueueQuery, notice string) {
	res, err := s.d.Store.QueueTriage(r.Context(), sq)
	if err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	for _, it := range res.Items {
		row := queueRow{Item: it, Due: s.dueOf(it)}
		if it.AssignedTo != 0 {
			row.Assignee = d.names[it.AssignedTo]
		}
		d.Rows = append(d.Rows, row)
	}
	d.Total = res.Total
	d.CanClose = rank(sess.Staff.Role) >= rank(store.RoleTriager) && d.State != string(vocab.ItemClosed)
	d.Here = d.link(d.Page)
	p := page{Title: "Triage queue", Nav: "queue", Session: sess, Notice: notice, Data: &d}
	if d.Searched {
		d.Truncated = d.Total > len(d.Rows)
		d.First, d.Last = min(1, len(d.Rows)), len(d.Rows)
	} else {
		d.Pages = max(1, (d.Total+queuePageSize-1)/queuePageSize)
		if len(d.Rows) > 0 {
			d.First = sq.Offset + 1
			d.Last = sq.Offset + len(d.Rows)
		}
		if d.Page > 1 {
			d.Prev = d.link(min(d.Page-1, d.Pages))
		}
		if d.Page < d.Pages {
			d.Next = d.link(d.Page + 1)
		}
		p.Next, p.Prev = d.Next, d.Prev
		if d.Page > 1 {
			p.Title += " – page " + strconv.Itoa(d.Page) + " of " + strconv.Itoa(d.Pages)
		}
	}
	s.render(w, r, http.StatusOK, "queue", p)
}
