package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ncl-icb/optout-intake/metrics"
	"github.com/ncl-icb/optout-intake/notify"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// replyView is the staff reply block of an item page: the replies already
// written (outbox rows, never their text here), whether the item waits for
// the resident and until when, the resident's answer once it came, and
// the forms to write back or close the item as answered by phone or post.
type replyView struct {
	CanReply  bool
	Replies   []replyRow
	Waiting   *time.Time // since when the item waits for the resident
	WaitUntil time.Time  // when it comes back to the queue without an answer
	Answer    *messageView
	AnswerAt  time.Time
	Text      string // the reply being written, kept after an error
	Snippets  []option
}

// replyRow is one staff reply already queued.
type replyRow struct {
	Queued    time.Time
	State     string
	LastError string
}

func (s *server) replyBlock(ctx context.Context, sess *store.Session, det store.TriageDetail, canAct bool) (*replyView, error) {
	rv := &replyView{CanReply: canAct}
	if canAct {
		list, err := s.d.Store.Snippets(ctx)
		if err != nil {
			return nil, err
		}
		for _, sn := range list {
			rv.Snippets = append(rv.Snippets, option{strconv.FormatInt(sn.ID, 10), sn.Title})
		}
	}
	rows, err := s.d.Store.StaffReplies(ctx, det.Conversation.ID)
	if err != nil {
		return nil, err
	}
	for _, m := range rows {
		rv.Replies = append(rv.Replies, replyRow{Queued: m.CreatedAt, State: outboxStateTexts[m.State], LastError: m.LastError})
	}
	w, err := s.d.Store.ReplyWaitOf(ctx, det.Item.ID)
	if err != nil {
		return nil, err
	}
	if w.Since != nil {
		rv.Waiting, rv.WaitUntil = w.Since, w.Since.Add(s.d.ReplyWait)
	}
	if w.AnswerLedgerID != 0 {
		m, err := s.d.Store.Message(ctx, w.AnswerLedgerID)
		if err != nil {
			return nil, err
		}
		rv.AnswerAt = m.ReceivedAt
		if m.HasRaw {
			rv.Answer = s.messageView(ctx, sess, m.ID)
		} else {
			rv.Answer = &messageView{Error: "The answer is no longer kept (it is deleted after the retention period)."}
		}
	}
	return rv, nil
}

// staffReply sends a member of staff's own words to the resident in the
// item's secure conversation (kind staff_reply, threaded under the
// resident's latest message, through the outbox), and the item waits for
// their answer. Audited (store.StaffReply).
func (s *server) staffReply(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	det, ok := s.detail(w, r, sess)
	if !ok {
		return
	}
	text := strings.TrimSpace(strings.ToValidUTF8(r.PostForm.Get("reply"), ""))
	if text == "" || utf8.RuneCountInString(text) > notify.MaxTextRunes {
		s.itemWithErrors(w, r, sess, det.Item.ID, []pageError{{Field: "reply",
			Message: fmt.Sprintf("Write your reply to the resident, in 1 to %d characters", notify.MaxTextRunes)}})
		return
	}
	// Thread under the resident's answer when one came after an earlier reply.
	if wait, err := s.d.Store.ReplyWaitOf(r.Context(), det.Item.ID); err != nil {
		s.storeFail(w, r, sess, err)
		return
	} else if wait.AnswerLedgerID != 0 {
		m, err := s.d.Store.Message(r.Context(), wait.AnswerLedgerID)
		if err != nil {
			s.storeFail(w, r, sess, err)
			return
		}
		det.Message = &m
	}
	rt, canEmail := s.replyContext(r.Context(), det)
	if !canEmail {
		s.fail(w, r, sess, http.StatusConflict, "This item has no conversation with an address, so no reply can be sent. Answer by phone or post instead.")
		return
	}
	raw, id, subject, err := s.d.Composer.Compose(notify.Reply{Kind: vocab.KindStaffReply, To: rt.to,
		Data: notify.Data{Ref: rt.ref, Text: text}, InReplyTo: rt.inReplyTo, References: rt.refs})
	if err != nil {
		s.composeFail(w, r, sess, det.Item.ID, err)
		return
	}
	e := &store.Email{Kind: vocab.KindStaffReply, To: rt.to, Subject: subject, Body: string(raw), MessageID: id,
		InReplyTo: rt.inReplyTo, References: rt.refs}
	if _, err := s.d.Store.StaffReply(r.Context(), det.Item.ID, e, store.Actor(sess.Staff.ID)); err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	s.d.Metrics.Action(metrics.ActionReply)
	itemDone(w, r, det.Item.ID, "replied")
}

// answeredOffline closes an item staff answered by phone or post, with
// their note. Audited (store.AnswerOffline).
func (s *server) answeredOffline(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	id, ok := itemID(r)
	if !ok {
		s.fail(w, r, sess, http.StatusNotFound, "There is no such item.")
		return
	}
	note := strings.TrimSpace(strings.ToValidUTF8(r.PostForm.Get("offline-note"), ""))
	if note == "" || utf8.RuneCountInString(note) > store.MaxOfflineNoteRunes {
		s.itemWithErrors(w, r, sess, id, []pageError{{Field: "offline-note",
			Message: fmt.Sprintf("Write how and when you answered, in 1 to %d characters", store.MaxOfflineNoteRunes)}})
		return
	}
	if err := s.d.Store.AnswerOffline(r.Context(), id, note, store.Actor(sess.Staff.ID)); err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	s.d.Metrics.Action(metrics.ActionAnsweredOffline)
	itemDone(w, r, id, "answered")
}

// insertSnippet adds the chosen snippet to the reply being written and
// shows the item again with it, to edit before sending (no script needed).
func (s *server) insertSnippet(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	id, ok := itemID(r)
	if !ok {
		s.fail(w, r, sess, http.StatusNotFound, "There is no such item.")
		return
	}
	text := strings.TrimSpace(strings.ToValidUTF8(r.PostForm.Get("reply"), ""))
	snID, err := strconv.ParseInt(r.PostForm.Get("snippet"), 10, 64)
	var sn store.Snippet
	if err == nil {
		sn, err = s.d.Store.Snippet(r.Context(), snID)
	}
	d, perrs, derr := s.itemPage(r.Context(), sess, id, nil, nil)
	if derr != nil {
		s.storeFail(w, r, sess, derr)
		return
	}
	status := http.StatusOK
	if err != nil {
		status, perrs = http.StatusUnprocessableEntity, append([]pageError{{Field: "snippet", Message: "Choose a snippet to insert"}}, perrs...)
	} else if text == "" {
		text = sn.Body
	} else {
		text += "\n\n" + sn.Body
	}
	if d.Actions.Reply != nil {
		d.Actions.Reply.Text = text
	}
	s.render(w, r, status, "item", page{Title: "Item " + strconv.FormatInt(id, 10), Nav: "queue", Session: sess, Errors: perrs, Data: d})
}
