package store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ncl-icb/optout-intake/internal/pgtest"
	"github.com/ncl-icb/optout-intake/store"
)

// schemaOf returns the schema a store's pool uses.
func schemaOf(t *testing.T, s *store.Store) string {
	t.Helper()
	var schema string
	if err := s.Pool().QueryRow(context.Background(), `select current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	return schema
}

func TestAuditChainDetectsOwnerTampering(t *testing.T) {
	t.Parallel()
	s := newStore(t, 8)
	ctx := context.Background()
	// Concurrent writers keep one linear chain.
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			if err := s.WriteAudit(ctx, store.AuditEntry{Actor: store.Actor(i + 1), Action: "test.write", Detail: "n=é"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if _, err := s.CompleteMessage(ctx, formOutcome(record(t, s), mustConv(t, s), "9434765919")); err != nil {
		t.Fatal(err)
	}
	check, err := s.VerifyAudit(ctx)
	if err != nil || check.Break != nil || check.Rows < 41 {
		t.Fatalf("VerifyAudit on an untouched log = %+v, %v; want %d+ rows and no break", check, err, 41)
	}
	var id, seq int64
	if err := s.Pool().QueryRow(ctx, `select id, chain_seq from audit where action = 'test.write' order by chain_seq offset 17 limit 1`).Scan(&id, &seq); err != nil {
		t.Fatal(err)
	}
	// The owner (the test's superuser) can get round the append-only
	// trigger; the chain still shows it.
	for _, q := range []string{
		"alter table audit disable trigger audit_append_only",
		"update audit set detail = 'n=changed' where id = $1",
		"alter table audit enable trigger audit_append_only",
	} {
		args := []any{}
		if strings.Contains(q, "$1") {
			args = append(args, id)
		}
		if _, err := s.Pool().Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	check, err = s.VerifyAudit(ctx)
	if err != nil || check.Break == nil || check.Break.ID != id || check.Break.Seq != seq {
		t.Fatalf("VerifyAudit after changing row %d (chain %d) = %+v, %v; want a break there", id, seq, check.Break, err)
	}

	// A deleted row is found too.
	s2 := newStore(t, 4)
	for range 5 {
		if err := s2.WriteAudit(ctx, store.AuditEntry{Action: "test.write"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{"alter table audit disable trigger audit_append_only",
		"delete from audit where chain_seq = 3", "alter table audit enable trigger audit_append_only"} {
		if _, err := s2.Pool().Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if check, err := s2.VerifyAudit(ctx); err != nil || check.Break == nil || check.Break.Seq != 3 {
		t.Fatalf("VerifyAudit after deleting row 3 = %+v, %v; want a break at 3", check.Break, err)
	}
}

func mustConv(t *testing.T, s *store.Store) int64 {
	t.Helper()
	c, err := s.CreateConversation(context.Background(), "r@example.org")
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// runtimeRole creates a login role with a random name (parallel tests never
// share one), grants it what store.RuntimeGrants says, and returns a pool
// connected as it. The role is dropped when the test ends.
func runtimeRole(t *testing.T, schema string) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	var b [6]byte
	rand.Read(b[:])
	role := "optout_rt_" + hex.EncodeToString(b[:])
	admin, err := pgx.Connect(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "create role "+role+" login"); err != nil {
		t.Fatal(err)
	}
	grants, err := store.RuntimeGrants(schema, role)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, grants); err != nil {
		t.Fatalf("grants:\n%s\n%v", grants, err)
	}
	cfg, err := pgxpool.ParseConfig(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.User = role
	store.ConfigurePool(cfg, schema)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Close()
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, pgtest.URL(t))
		if err != nil {
			t.Errorf("drop role %s: %v", role, err)
			return
		}
		defer conn.Close(ctx)
		// Registered after pgtest's cleanup, so this runs first: the grants
		// go with the role, then pgtest drops the schema.
		if _, err := conn.Exec(ctx, "drop owned by "+role+"; drop role "+role); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	return pool
}

func TestRuntimeRoleLeastPrivilege(t *testing.T) {
	t.Parallel()
	owner := newStore(t, 4)
	ctx := context.Background()
	schema := schemaOf(t, owner)
	pool := runtimeRole(t, schema)
	rt := store.New(pool, store.Options{Schema: schema, Keys: testKeys(t, testDataKey)})

	// The service's own work goes through.
	if _, err := rt.CompleteMessage(ctx, formOutcome(record(t, rt), mustConv(t, rt), "9434765919")); err != nil {
		t.Fatalf("CompleteMessage as the runtime role: %v", err)
	}
	if err := rt.WriteAudit(ctx, store.AuditEntry{Action: "test.runtime"}); err != nil {
		t.Fatalf("WriteAudit as the runtime role: %v", err)
	}
	if _, err := rt.BeginSignin(ctx, "a@nhs.net", "192.0.2.1", store.DefaultSigninPolicy); err != nil {
		t.Fatalf("BeginSignin as the runtime role: %v", err)
	}
	if check, err := rt.VerifyAudit(ctx); err != nil || check.Break != nil {
		t.Fatalf("VerifyAudit as the runtime role = %+v, %v", check, err)
	}
	for _, q := range []string{
		"alter table audit disable trigger audit_append_only",
		"alter table audit disable trigger all",
		"update audit set detail = 'x'",
		"delete from audit",
		"truncate audit",
		"update register_history set reason = 'x'",
		"delete from register_history",
		"update audit_chain set seq = 0",
		"drop table audit",
		"create table evil (id int)",
		"update schema_version set version = 1",
	} {
		_, err := pool.Exec(ctx, q)
		if err == nil || !(strings.Contains(err.Error(), "permission denied") || strings.Contains(err.Error(), "must be owner")) {
			t.Errorf("%s as the runtime role = %v, want permission denied", q, err)
		}
	}
}

func TestSigninLimits(t *testing.T) {
	t.Parallel()
	s := newStore(t, 4)
	ctx := context.Background()
	st, err := s.CreateStaff(ctx, "staff@nhs.net", "x", store.RoleViewer, store.System)
	if err != nil {
		t.Fatal(err)
	}
	p := store.DefaultSigninPolicy
	begin := func(email, addr string) store.SigninVerdict {
		t.Helper()
		v, err := s.BeginSignin(ctx, email, addr, p)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Five failures from one address lock the account from there...
	for i := range p.PairLimit {
		if v := begin(st.Email, "192.0.2.1"); !v.Allowed {
			t.Fatalf("attempt %d refused: %+v", i+1, v)
		}
		if err := s.EndSignin(ctx, st.Email, "192.0.2.1", store.SigninFailed, store.SigninBadPassword, p); err != nil {
			t.Fatal(err)
		}
	}
	if v := begin(st.Email, "192.0.2.1"); v.Allowed || v.Reason != store.SigninLocked || v.RetryAfter <= 0 {
		t.Errorf("6th attempt from the same address = %+v, want locked", v)
	}
	// ...and slow it elsewhere, except from an address that has signed in before.
	if v := begin(st.Email, "192.0.2.2"); v.Allowed || v.Reason != store.SigninSlowed {
		t.Errorf("attempt from a new address = %+v, want slowed", v)
	}
	if _, err := s.Pool().Exec(ctx, `update signin_counters set known_until = now() + '1 day' where kind = 'pair' and attempts = 0 and locked_until is null`); err != nil {
		t.Fatal(err)
	}
	if v := begin(st.Email, "192.0.2.2"); !v.Allowed {
		t.Errorf("attempt from a known address = %+v, want allowed", v)
	} else if err := s.EndSignin(ctx, st.Email, "192.0.2.2", store.SigninSucceeded, "", p); err != nil {
		t.Fatal(err)
	}
	// An admin unlock clears the lock.
	if n, err := s.UnlockStaff(ctx, st.ID, store.Actor(99)); err != nil || n == 0 {
		t.Fatalf("UnlockStaff = %d, %v", n, err)
	}
	if v := begin(st.Email, "192.0.2.1"); !v.Allowed {
		t.Errorf("attempt after unlock = %+v, want allowed", v)
	}
	// Every refusal, the lockout and the unlock are in the audit.
	counts := map[string]int{}
	entries, err := s.ListAudit(ctx, store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		counts[e.Action]++
		if strings.Contains(e.Detail, "staff@") {
			t.Errorf("audit detail holds the email: %q", e.Detail)
		}
	}
	if counts["staff.lockout"] != 1 || counts["staff.unlock"] != 1 || counts["staff.sign_in_failed"] != p.PairLimit+2 {
		t.Errorf("audit actions = %v, want 1 lockout, 1 unlock, %d failures", counts, p.PairLimit+2)
	}
	// OpenID Connect starts count against the client address; a finished
	// sign-in takes its count back.
	for i := range p.AddressLimit {
		v, err := s.CountSigninStart(ctx, "203.0.113.50", p)
		if err != nil || !v.Allowed {
			t.Fatalf("OIDC start %d = %+v, %v", i+1, v, err)
		}
	}
	if v, _ := s.CountSigninStart(ctx, "203.0.113.50", p); v.Allowed || v.Reason != store.SigninAddressLimit {
		t.Errorf("OIDC start past the address limit = %+v, want refused", v)
	}
	if err := s.SigninStartDone(ctx, "203.0.113.50"); err != nil {
		t.Fatal(err)
	}
	if err := s.SigninStartDone(ctx, "203.0.113.50"); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.CountSigninStart(ctx, "203.0.113.50", p); !v.Allowed {
		t.Errorf("OIDC start after two finished sign-ins = %+v, want allowed", v)
	}
	// The address limit counts every attempt, before any password check.
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 60 {
		wg.Go(func() {
			v, err := s.BeginSignin(ctx, "nobody@nhs.net", "198.51.100.7", p)
			if err != nil {
				t.Error(err)
			}
			if v.Allowed {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if allowed != p.PairLimit {
		t.Errorf("60 concurrent attempts at one account from one address: %d allowed, want %d", allowed, p.PairLimit)
	}
}
