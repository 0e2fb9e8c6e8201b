package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/ncl-icb/optout-intake/metrics"
	"github.com/ncl-icb/optout-intake/store"
)

// snippetData is the snippets page: the standard passages admins keep for
// staff replies, each editable, and the form to add one.
type snippetData struct {
	Snippets []store.Snippet
	Title    string // the new snippet's, kept after an error
	Body     string
}

var snippetNotices = map[string]string{
	"added":   "The snippet is added. Staff can insert it into a reply.",
	"saved":   "The snippet is changed.",
	"deleted": "The snippet is deleted.",
}

// snippetsPage lists the snippets (admins).
func (s *server) snippetsPage(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	s.showSnippets(w, r, sess, http.StatusOK, snippetData{}, snippetNotices[r.URL.Query().Get("done")], nil)
}

func (s *server) showSnippets(w http.ResponseWriter, r *http.Request, sess *store.Session, status int, d snippetData, notice string, errs []pageError) {
	list, err := s.d.Store.Snippets(r.Context())
	if err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	d.Snippets = list
	s.render(w, r, status, "snippets", page{Title: "Snippets for replies", Nav: "snippets", Session: sess, Notice: notice, Errors: errs, Data: d})
}

// snippetAction adds (POST /snippets), changes or deletes a snippet
// (POST /snippets/{id}/save|delete). Each is audited by the store.
func (s *server) snippetAction(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	actor := store.Actor(sess.Staff.ID)
	var id int64
	if v := r.PathValue("id"); v != "" {
		var err error
		if id, err = strconv.ParseInt(v, 10, 64); err != nil || id <= 0 {
			s.fail(w, r, sess, http.StatusNotFound, "There is no such snippet.")
			return
		}
	}
	title, body := strings.ToValidUTF8(r.PostForm.Get("title"), ""), strings.ToValidUTF8(r.PostForm.Get("body"), "")
	var err error
	done := "added"
	switch action := r.PathValue("action"); {
	case id == 0:
		_, err = s.d.Store.SaveSnippet(r.Context(), 0, title, body, actor)
	case action == "save":
		_, err = s.d.Store.SaveSnippet(r.Context(), id, title, body, actor)
		done = "saved"
	case action == "delete":
		err, done = s.d.Store.DeleteSnippet(r.Context(), id, actor), "deleted"
	default:
		s.fail(w, r, sess, http.StatusNotFound, "There is no such action.")
		return
	}
	if errors.Is(err, store.ErrBadSnippet) {
		field := "snippet-title"
		if id != 0 {
			field = "snippet-title-" + strconv.FormatInt(id, 10)
		}
		s.showSnippets(w, r, sess, http.StatusUnprocessableEntity, snippetData{Title: title, Body: body}, "",
			[]pageError{{Field: field, Message: "Write a title of 1 to 100 characters and a text of 1 to 5,000 characters"}})
		return
	}
	if err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	s.d.Metrics.Action(metrics.ActionSnippet)
	http.Redirect(w, r, "/snippets?done="+done, http.StatusSeeOther)
}
