package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/ncl-icb/optout-intake/store"
)

var secretRE = regexp.MustCompile(`<p class="secret" id="new-password">([^<]+)</p>`)

// TestStaffPage: admins add an account (password shown once, and it signs
// in), change its role, reset its password, disable and enable it, and
// unlock it after failed sign-ins; the last admin is kept; every change is
// audited; only admins reach the page.
func TestStaffPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if resp, _ := e.signIn(e.triager).get("/staff"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET /staff as triager = %d, want 403", resp.StatusCode)
	}
	c := e.signIn(e.admin)
	resp, body := c.get("/staff")
	if resp.StatusCode != 200 || !strings.Contains(body, e.viewer.Email) {
		t.Fatalf("GET /staff = %d, lists viewer: %t", resp.StatusCode, strings.Contains(body, e.viewer.Email))
	}
	if resp, _ := c.post("/staff", url.Values{"email": {"not-an-address"}, "role": {"viewer"}}); resp.StatusCode != 422 {
		t.Errorf("add with a bad address = %d, want 422", resp.StatusCode)
	}
	if resp, _ := c.post("/staff", url.Values{"email": {e.viewer.Email}, "role": {"viewer"}}); resp.StatusCode != 422 {
		t.Errorf("add an existing address = %d, want 422", resp.StatusCode)
	}
	resp, body = c.post("/staff", url.Values{"email": {"new.starter@nhs.net"}, "role": {"triager"}})
	m := secretRE.FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("add = %d, password shown: %v", resp.StatusCode, m)
	}
	st, err := e.st.StaffByEmail(ctx, "new.starter@nhs.net")
	if err != nil || st.Role != store.RoleTriager {
		t.Fatalf("new account = %+v, %v", st, err)
	}
	if _, body := c.get("/staff"); strings.Contains(body, m[1]) {
		t.Errorf("the password is shown again")
	}
	// The shown password signs in.
	signIn := func(email, password string) int {
		a := e.anon()
		_, b := a.get("/signin")
		r, _ := a.postRaw("/signin", url.Values{"csrf": {csrfOf(t, b)}, "email": {email}, "password": {password}})
		return r.StatusCode
	}
	if code := signIn(st.Email, m[1]); code != http.StatusSeeOther {
		t.Errorf("sign in with the shown password = %d, want 303", code)
	}
	id := fmt.Sprint(st.ID)
	if resp, _ := c.post("/staff/"+id+"/role", url.Values{"role": {"viewer"}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("change role = %d", resp.StatusCode)
	}
	resp, body = c.post("/staff/"+id+"/password", nil)
	m2 := secretRE.FindStringSubmatch(body)
	if resp.StatusCode != 200 || m2 == nil || m2[1] == m[1] {
		t.Fatalf("reset password = %d, new password shown: %v", resp.StatusCode, m2)
	}
	if code := signIn(st.Email, m[1]); code != http.StatusUnauthorized {
		t.Errorf("sign in with the old password = %d, want 401", code)
	}
	// Lock the account with failed sign-ins, then unlock it.
	for range 5 {
		signIn(st.Email, "wrong password here")
	}
	if code := signIn(st.Email, m2[1]); code != http.StatusTooManyRequests {
		t.Fatalf("sign in when locked = %d, want 429", code)
	}
	if _, body := c.get("/staff"); !strings.Contains(body, "Locked: too many failed sign-ins") {
		t.Errorf("the staff page does not show the lock")
	}
	if resp, _ := c.post("/staff/"+id+"/unlock", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("unlock = %d", resp.StatusCode)
	}
	if code := signIn(st.Email, m2[1]); code != http.StatusSeeOther {
		t.Errorf("sign in after unlock = %d, want 303", code)
	}
	if resp, _ := c.post("/staff/"+id+"/disable", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("disable = %d", resp.StatusCode)
	}
	if code := signIn(st.Email, m2[1]); code != http.StatusUnauthorized {
		t.Errorf("sign in when disabled = %d, want 401", code)
	}
	if resp, _ := c.post("/staff/"+id+"/enable", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("enable = %d", resp.StatusCode)
	}
	if st, _ = e.st.StaffByID(ctx, st.ID); st.Disabled || st.Role != store.RoleViewer {
		t.Errorf("after the changes the account is %+v", st)
	}
	// Yourself: no disable or demotion; the last admin stays one.
	if resp, _ := c.post(fmt.Sprintf("/staff/%d/disable", e.admin.ID), nil); resp.StatusCode != http.StatusConflict {
		t.Errorf("disable yourself = %d, want 409", resp.StatusCode)
	}
	if resp, _ := c.post("/staff/"+id+"/role", url.Values{"role": {"admin"}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("promote = %d", resp.StatusCode)
	}
	// The new admin demotes the first; the first cannot then demote the second (now the last).
	if err := e.st.UpdateStaff(ctx, e.admin.ID, store.StaffUpdate{Role: ptr(store.RoleTriager)}, store.Actor(st.ID)); err != nil {
		t.Fatal(err)
	}
	if err := e.st.UpdateStaff(ctx, st.ID, store.StaffUpdate{Disabled: ptr(true)}, store.Actor(e.admin.ID)); err == nil {
		t.Errorf("disabling the last admin succeeded")
	}
	for action, n := range map[string]int{"staff.create": 1, "staff.update": 5, "staff.unlock": 1} {
		a, _ := e.st.ListAudit(ctx, store.AuditFilter{Action: action, Actor: ptr(store.Actor(e.admin.ID))})
		if len(a) != n {
			t.Errorf("audit %s by the admin = %d, want %d", action, len(a), n)
		}
	}
}

func ptr[T any](v T) *T { return &v }
