package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/web"
)

// fakeStaff is an in-memory staffStore.
type fakeStaff struct {
	list     []store.Staff
	unlocked []int64
}

func (f *fakeStaff) CreateStaff(_ context.Context, email, hash string, role store.Role, _ store.Actor) (store.Staff, error) {
	for _, s := range f.list {
		if s.Email == email {
			return store.Staff{}, store.ErrDuplicate
		}
	}
	st := store.Staff{ID: int64(len(f.list) + 1), Email: email, PasswordHash: hash, Role: role}
	f.list = append(f.list, st)
	return st, nil
}

func (f *fakeStaff) StaffByEmail(_ context.Context, email string) (store.Staff, error) {
	for _, s := range f.list {
		if s.Email == email {
			return s, nil
		}
	}
	return store.Staff{}, store.ErrNotFound
}

func (f *fakeStaff) StaffByID(_ context.Context, id int64) (store.Staff, error) {
	if id < 1 || int(id) > len(f.list) {
		return store.Staff{}, store.ErrNotFound
	}
	return f.list[id-1], nil
}

func (f *fakeStaff) ListStaff(context.Context) ([]store.Staff, error) { return f.list, nil }

func (f *fakeStaff) UpdateStaff(_ context.Context, id int64, u store.StaffUpdate, _ store.Actor) error {
	if id < 1 || int(id) > len(f.list) {
		return store.ErrNotFound
	}
	s := &f.list[id-1]
	if u.Disabled != nil {
		s.Disabled = *u.Disabled
	}
	if u.PasswordHash != nil {
		s.PasswordHash = *u.PasswordHash
	}
	return nil
}

func (f *fakeStaff) UnlockStaff(_ context.Context, id int64, _ store.Actor) (int64, error) {
	if id < 1 || int(id) > len(f.list) {
		return 0, store.ErrNotFound
	}
	f.unlocked = append(f.unlocked, id)
	return 2, nil
}

func TestStaffCommands(t *testing.T) {
	fs := &fakeStaff{}
	open := func() (staffStore, func(), error) { return fs, func() {}, nil }
	run := func(stdin string, args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := staffCommand(context.Background(), args[0], args[1:], strings.NewReader(stdin), &out, &errOut, open)
		return out.String(), err
	}
	tests := []struct {
		name     string
		stdin    string
		args     []string
		wantCode int // 0: success
		wantOut  string
	}{
		{"add admin", "a very long password\n", []string{"add", "--email", "Lead@NHS.net", "--role", "admin"}, 0, "created staff account 1 with role admin"},
		{"password as argument refused", "", []string{"add", "--email", "x@nhs.net", "--role", "admin", "secretpassword"}, 2, ""},
		{"bad role", "a very long password\n", []string{"add", "--email", "x@nhs.net", "--role", "boss"}, 2, ""},
		{"no email", "a very long password\n", []string{"add", "--role", "viewer"}, 2, ""},
		{"short password", "short\n", []string{"add", "--email", "x@nhs.net", "--role", "viewer"}, 1, ""},
		{"empty stdin", "", []string{"add", "--email", "x@nhs.net", "--role", "viewer"}, 1, ""},
		{"duplicate", "a very long password\n", []string{"add", "--email", "Lead@NHS.net", "--role", "viewer"}, 1, ""},
		{"list", "", []string{"list"}, 0, "Lead@NHS.net"},
		{"disable", "", []string{"disable", "--id", "1"}, 0, "disable done"},
		{"disable unknown", "", []string{"disable", "--email", "nobody@nhs.net"}, 1, ""},
		{"disable needs a target", "", []string{"disable"}, 2, ""},
		{"list shows disabled", "", []string{"list"}, 0, "disabled"},
		{"unlock by email", "", []string{"unlock", "Lead@NHS.net"}, 0, "unlocked"},
		{"unlock by id", "", []string{"unlock", "--id", "1"}, 0, "unlocked"},
		{"unlock needs a target", "", []string{"unlock"}, 2, ""},
		{"unlock takes an email, not a word", "", []string{"unlock", "lead"}, 2, ""},
		{"unknown", "", []string{"promote"}, 2, ""},
	}
	for _, tc := range tests {
		out, err := run(tc.stdin, tc.args...)
		code := 0
		if err != nil {
			code = 1
			var ec interface{ ExitCode() int }
			if errors.As(err, &ec) {
				code = ec.ExitCode()
			}
		}
		if code != tc.wantCode || !strings.Contains(out, tc.wantOut) {
			t.Errorf("%s: staff %v = %q, exit %d (%v); want exit %d and %q", tc.name, tc.args, out, code, err, tc.wantCode, tc.wantOut)
		}
	}
	if len(fs.unlocked) != 2 || fs.unlocked[0] != 1 {
		t.Errorf("unlocked accounts = %v, want account 1 twice", fs.unlocked)
	}
	ok, err := web.VerifyPassword(fs.list[0].PasswordHash, "a very long password")
	if !ok || err != nil {
		t.Errorf("stored hash does not verify the password read from stdin: %v, %v", ok, err)
	}
}
