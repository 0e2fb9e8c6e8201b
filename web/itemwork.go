package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ncl-icb/optout-intake/metrics"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// noteView is one internal note with its author's name.
type noteView struct {
	store.TriageNote
	Author string
}

// closureView says who closed an item, when, with what decision and why.
type closureView struct {
	By       string
	Decision string
	Reasons  []string
	Note     string
}

// itemWork adds the notes, the closure and the staff list (for assigning)
// to an item page.
func (s *server) itemWork(ctx context.Context, sess *store.Session, d *itemData) error {
	names := s.staffNames(ctx, sess)
	notes, err := s.d.Store.TriageNotes(ctx, d.Item.ID)
	if err != nil {
		return err
	}
	for _, n := range notes {
		d.Notes = append(d.Notes, noteView{TriageNote: n, Author: names[n.StaffID]})
	}
	if !d.Open {
		c, err := s.d.Store.TriageClosureOf(ctx, d.Item.ID)
		if err != nil {
			return err
		}
		cv := &closureView{By: names[d.Item.ClosedBy], Decision: d.Item.Outcome.Text(), Note: c.Note}
		if cv.By == "" {
			cv.By = "the service"
		}
		for _, code := range strings.Split(c.Reason, "+") {
			switch {
			case code == "" || slices.Contains([]vocab.CloseReason{vocab.CloseSpam, vocab.CloseDuplicate, vocab.CloseNotOptOut, vocab.CloseAnsweredOffline}, vocab.CloseReason(code)):
			case code == "other":
				cv.Reasons = append(cv.Reasons, "Other: the staff member's own words, sent in the email")
			default:
				for _, rr := range rejectReasons {
					if rr.Code == code {
						cv.Reasons = append(cv.Reasons, rr.Text)
					}
				}
			}
		}
		d.Closure = cv
	}
	if d.CanAct {
		list, err := s.d.Store.ListStaff(ctx)
		if err != nil {
			return err
		}
		for _, st := range list {
			// Staff assign themselves with "Assign to me".
			if !st.Disabled && st.ID != d.Item.AssignedTo && st.ID != sess.Staff.ID {
				d.Assignable = append(d.Assignable, option{strconv.FormatInt(st.ID, 10), names[st.ID]})
			}
		}
	}
	return nil
}

// addNote keeps an internal note on an item.
func (s *server) addNote(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	id, ok := itemID(r)
	if !ok {
		s.fail(w, r, sess, http.StatusNotFound, "There is no such item.")
		return
	}
	text := strings.TrimSpace(strings.ToValidUTF8(r.PostForm.Get("note"), ""))
	if text == "" || utf8.RuneCountInString(text) > store.MaxNoteRunes {
		s.itemWithErrors(w, r, sess, id, []pageError{{Field: "note", Message: fmt.Sprintf("Write a note of 1 to %d characters", store.MaxNoteRunes)}})
		return
	}
	if err := s.d.Store.AddTriageNote(r.Context(), id, text, store.Actor(sess.Staff.ID)); err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	s.d.Metrics.Action(metrics.ActionNote)
	itemDone(w, r, id, "noted#notes")
}

// maxBulkReasonRunes bounds the reason for a bulk close.
const maxBulkReasonRunes = 300

// bulkClose closes the items ticked on a queue page as spam or duplicate.
func (s *server) bulkClose(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	var ids []int64
	for _, v := range r.PostForm["item"] {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil && id > 0 && len(ids) < 500 {
			ids = append(ids, id)
		}
	}
	decision := vocab.CloseReason(r.PostForm.Get("decision"))
	reason := strings.Join(strings.Fields(strings.ToValidUTF8(r.PostForm.Get("bulk-reason"), "")), " ")
	back := r.PostForm.Get("back")
	if u, err := url.Parse(back); err != nil || u.Path != "/queue" || u.Host != "" || u.Scheme != "" {
		back = "/queue"
	}
	var msg string
	switch {
	case len(ids) == 0:
		msg = "Tick the items to close first"
	case decision != vocab.CloseSpam && decision != vocab.CloseDuplicate:
		msg = "Choose whether the items are spam or duplicates"
	case reason == "" || utf8.RuneCountInString(reason) > maxBulkReasonRunes:
		msg = fmt.Sprintf("Write why these items are closed, in 1 to %d characters", maxBulkReasonRunes)
	}
	if msg != "" {
		s.fail(w, r, sess, http.StatusUnprocessableEntity, msg+". Go back, and try again.")
		return
	}
	n, err := s.d.Store.BulkCloseTriage(r.Context(), ids, decision, reason, store.Actor(sess.Staff.ID))
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Error("web: bulk close", slog.Int("items", len(ids)), slog.String("error", err.Error()))
		}
		s.storeFail(w, r, sess, err)
		return
	}
	s.d.Metrics.Action(metrics.ActionBulkClose)
	sep := "?"
	if strings.Contains(back, "?") {
		sep = "&"
	}
	http.Redirect(w, r, back+sep+"done=bulk"+strconv.Itoa(n), http.StatusSeeOther)
}
