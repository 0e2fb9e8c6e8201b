package web

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/ncl-icb/optout-intake/metrics"
	"github.com/ncl-icb/optout-intake/store"
)

// The staff page lets administrators do on the page what `optoutd staff`
// does on the command line (both call the same store functions, which
// audit every change and keep at least one enabled administrator), plus
// resetting a password to a new one shown once and lifting a sign-in lock.

type staffRow struct {
	store.Staff
	Me     bool
	Locked bool // too many failed sign-ins in the current window
}

// newSecret is a password shown once, after an account is added or its
// password reset.
type newSecret struct {
	Email    string
	Password string
	Added    bool
}

type staffData struct {
	Rows   []staffRow
	Roles  []option
	Email  string // the add form, after an error
	Role   string
	Secret *newSecret
}

var roleOptions = []option{
	{string(store.RoleViewer), "Viewer: reads the queue, people and outgoing mail"},
	{string(store.RoleTriager), "Triager: also decides items and acts on mail"},
	{string(store.RoleAdmin), "Administrator: also manages staff and reads the audit log"},
}

var staffNotices = map[string]string{
	"role":    "The role is changed and the account's sessions are ended.",
	"disable": "The account is disabled and its sessions are ended.",
	"enable":  "The account is enabled.",
	"unlock":  "The account can try to sign in again.",
}

// newPassword makes a random initial password: 100 bits in five groups of
// four letters and digits, easy to read out and to type.
func newPassword() string {
	var b [15]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error()) // the runtime aborts before this on Linux
	}
	s := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))[:20]
	return s[:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:]
}

func (s *server) staffPage(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	s.showStaff(w, r, sess, http.StatusOK, staffData{}, staffNotices[r.URL.Query().Get("done")], nil)
}

func (s *server) showStaff(w http.ResponseWriter, r *http.Request, sess *store.Session, status int, d staffData, notice string, errs []pageError) {
	list, err := s.d.Store.ListStaff(r.Context())
	if err == nil {
		err = s.d.Store.WriteAudit(r.Context(), store.AuditEntry{Actor: store.Actor(sess.Staff.ID), Action: "staff.view", ObjectType: "staff"})
	}
	if err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	d.Roles = roleOptions
	if d.Role == "" {
		d.Role = string(store.RoleTriager)
	}
	locked, err := s.d.Store.LockedStaff(r.Context(), list, *s.d.SigninPolicy)
	if err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	for _, st := range list {
		d.Rows = append(d.Rows, staffRow{Staff: st, Me: st.ID == sess.Staff.ID, Locked: locked[st.ID]})
	}
	s.render(w, r, status, "staff", page{Title: "Staff", Nav: "staff", Session: sess, Notice: notice, Errors: errs, Data: d})
}

// addStaff adds an account with a random password shown once.
func (s *server) addStaff(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	d := staffData{Email: strings.TrimSpace(r.PostForm.Get("email")), Role: r.PostForm.Get("role")}
	var errs []pageError
	email, ok := parseAddress(d.Email)
	if !ok {
		errs = append(errs, pageError{Field: "new-email", Message: "Enter the email address in the correct format, like name@nhs.net"})
	}
	role := store.Role(d.Role)
	if !role.Valid() {
		errs = append(errs, pageError{Field: "new-role-viewer", Message: "Choose a role"})
	}
	if errs != nil {
		s.showStaff(w, r, sess, http.StatusUnprocessableEntity, d, "", errs)
		return
	}
	pw := newPassword()
	hash, err := HashPassword(pw)
	if err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	st, err := s.d.Store.CreateStaff(r.Context(), email, hash, role, store.Actor(sess.Staff.ID))
	if errors.Is(err, store.ErrDuplicate) {
		s.showStaff(w, r, sess, http.StatusUnprocessableEntity, d, "", []pageError{{Field: "new-email", Message: "There is already an account with this email address"}})
		return
	}
	if err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	s.d.Metrics.Action(metrics.ActionStaffAdd)
	s.showStaff(w, r, sess, http.StatusOK, staffData{Secret: &newSecret{Email: st.Email, Password: pw, Added: true}}, "", nil)
}

// staffAction changes one account: role, disable, enable, password, unlock.
func (s *server) staffAction(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	id, ok := itemID(r)
	if !ok {
		s.fail(w, r, sess, http.StatusNotFound, "There is no such account.")
		return
	}
	st, err := s.d.Store.StaffByID(r.Context(), id)
	if err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	action := r.PathValue("action")
	actor := store.Actor(sess.Staff.ID)
	var u store.StaffUpdate
	var pw string
	switch action {
	case "role":
		role := store.Role(r.PostForm.Get("role"))
		if !role.Valid() {
			s.showStaff(w, r, sess, http.StatusUnprocessableEntity, staffData{}, "", []pageError{{Field: "role-" + strconv.FormatInt(id, 10), Message: "Choose a role"}})
			return
		}
		u.Role = &role
	case "disable", "enable":
		disabled := action == "disable"
		u.Disabled = &disabled
	case "password":
		pw = newPassword()
		hash, err := HashPassword(pw)
		if err != nil {
			s.storeFail(w, r, sess, err)
			return
		}
		u.PasswordHash = &hash
	case "unlock":
		if _, err := s.d.Store.UnlockStaff(r.Context(), id, actor); err != nil {
			s.storeFail(w, r, sess, err)
			return
		}
		s.d.Metrics.Action(metrics.ActionStaffUnlock)
		http.Redirect(w, r, "/staff?done=unlock", http.StatusSeeOther)
		return
	default:
		s.fail(w, r, sess, http.StatusNotFound, "There is no such action.")
		return
	}
	if id == sess.Staff.ID && action != "password" {
		s.fail(w, r, sess, http.StatusConflict, "You cannot disable your own account or change your own role. Ask another administrator.")
		return
	}
	err = s.d.Store.UpdateStaff(r.Context(), id, u, actor)
	if errors.Is(err, store.ErrLastAdmin) {
		s.fail(w, r, sess, http.StatusConflict, "This is the last enabled administrator: make another member of staff an administrator first.")
		return
	}
	if err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	s.d.Metrics.Action(map[string]metrics.WebAction{"role": metrics.ActionStaffRole, "disable": metrics.ActionStaffDisable,
		"enable": metrics.ActionStaffEnable, "password": metrics.ActionStaffPassword}[action])
	if action == "password" {
		if id == sess.Staff.ID {
			// Changing one's own password ends one's own sessions too.
			http.Redirect(w, r, "/signin", http.StatusSeeOther)
			return
		}
		s.showStaff(w, r, sess, http.StatusOK, staffData{Secret: &newSecret{Email: st.Email, Password: pw}}, "", nil)
		return
	}
	http.Redirect(w, r, "/staff?done="+action, http.StatusSeeOther)
}
