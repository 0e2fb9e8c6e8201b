package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
)

// SigninPolicy bounds password sign-in attempts. Three counters are kept in
// PostgreSQL, so restarts and replicas share them, and each attempt is
// counted before its password is checked:
//
//   - per client address: AddressLimit attempts per Window, then refused
//     until the window ends (a flood from one place);
//   - per account from one address: PairLimit failures per Window lock the
//     account from that address only, until the window ends or an admin
//     unlocks it (the hard lock);
//   - per account from anywhere: after SlowAfter failures in AccountWindow
//     each further attempt must wait Delay, 2×Delay, 4×Delay ... up to
//     MaxDelay after the previous one (the slow-down). An address that has signed in to the
//     account successfully within KnownFor skips this wait, so a stranger
//     cannot keep a member of staff out by guessing at their account.
type SigninPolicy struct {
	Window        time.Duration
	AddressLimit  int
	PairLimit     int
	AccountWindow time.Duration
	SlowAfter     int
	Delay         time.Duration
	MaxDelay      time.Duration
	KnownFor      time.Duration
}

// DefaultSigninPolicy is the policy of the triage page.
var DefaultSigninPolicy = SigninPolicy{
	Window: 15 * time.Minute, AddressLimit: 20, PairLimit: 5,
	AccountWindow: 24 * time.Hour, SlowAfter: 5, Delay: time.Second, MaxDelay: time.Minute, KnownFor: 30 * 24 * time.Hour,
}

// Reasons a sign-in attempt is refused or fails; they are the audit
// entries' reason codes (never the password or the email).
const (
	SigninAddressLimit  = "address_limit"   // too many attempts from the client address
	SigninLocked        = "account_locked"  // the account is locked from this address
	SigninSlowed        = "account_slowed"  // the account is in its slow-down: wait
	SigninBusy          = "busy"            // every password-hash slot was taken
	SigninBadPassword   = "bad_password"    // the password did not match
	SigninUnknown       = "unknown_account" // no account with that email
	SigninDisabled      = "disabled"        // the account is disabled
	SigninBadForm       = "bad_form"        // the form's token was missing or wrong
	SigninLocalOff      = "local_off"       // password sign-in is switched off
	SigninOIDCRefused   = "oidc_refused"    // the identity provider's answer was refused
	SigninOIDCNoAccount = "oidc_no_account" // a valid identity with no enabled account
)

// SigninVerdict is BeginSignin's answer.
type SigninVerdict struct {
	Allowed    bool
	Reason     string        // when refused: SigninAddressLimit, SigninLocked or SigninSlowed
	RetryAfter time.Duration // when refused: how long to wait
}

// SigninOutcome says how a counted attempt ended (EndSignin).
type SigninOutcome int

// The outcomes of an attempt.
const (
	SigninFailed     SigninOutcome = iota // the password was checked and refused
	SigninSucceeded                       // signed in
	SigninNotChecked                      // the password was never checked (busy): the attempt is not counted
)

// KeyedHash is the keyed HMAC-SHA256 (under OPTOUT_INDEX_KEY) of value in
// a domain: every replica computes the same one, and nobody without the key
// can. The web page ties its sign-in form's token to a pre-session with it.
func (s *Store) KeyedHash(domain, value string) []byte {
	return s.keys.blind("keyed."+domain, value)
}

func (s *Store) signinKeys(email, address string) (addr, account, pair []byte) {
	email = NormaliseAddress(email)
	return s.keys.blind("signin.address", address), s.keys.blind("signin.account", email),
		s.keys.blind("signin.pair", email+"\x00"+address)
}

type signinCounter struct {
	windowStart time.Time
	attempts    int
	lastAt      *time.Time
	lockedUntil *time.Time
	knownUntil  *time.Time
}

// counter reads a counter row for update, creating it when missing, and
// restarts its window when the window has ended.
func counter(ctx context.Context, tx pgx.Tx, key []byte, kind string, account []byte, window time.Duration, now time.Time) (signinCounter, error) {
	var c signinCounter
	if _, err := tx.Exec(ctx, `insert into signin_counters (key, kind, account, window_start) values ($1, $2, $3, $4)
		on conflict (key) do nothing`, key, kind, account, now); err != nil {
		return c, fmt.Errorf("count sign-in attempt: %w", err)
	}
	err := tx.QueryRow(ctx, `select window_start, attempts, last_at, locked_until, known_until from signin_counters where key = $1 for update`, key).
		Scan(&c.windowStart, &c.attempts, &c.lastAt, &c.lockedUntil, &c.knownUntil)
	if err != nil {
		return c, fmt.Errorf("count sign-in attempt: %w", err)
	}
	if !now.Before(c.windowStart.Add(window)) {
		c.windowStart, c.attempts = now, 0
	}
	return c, nil
}

// accountDelay is the wait the slow-down asks after n failures.
func (p SigninPolicy) accountDelay(n int) time.Duration {
	if n < p.SlowAfter {
		return 0
	}
	d := time.Duration(math.Pow(2, float64(min(n-p.SlowAfter, 30)))) * p.Delay
	return min(d, max(p.MaxDelay, p.Delay))
}

// BeginSignin counts one password sign-in attempt for email from a client
// address and says whether the password may be checked. Refused attempts
// are audited (as staff.sign_in_failed with the reason); the attempt that
// reaches the hard lock is audited as staff.lockout. Every allowed attempt
// must be followed by EndSignin.
func (s *Store) BeginSignin(ctx context.Context, email, address string, p SigninPolicy) (SigninVerdict, error) {
	addrKey, accKey, pairKey := s.signinKeys(email, address)
	var v SigninVerdict
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		v = SigninVerdict{}
		var now time.Time
		if err := tx.QueryRow(ctx, `select now()`).Scan(&now); err != nil {
			return fmt.Errorf("count sign-in attempt: %w", err)
		}
		// Always the same order (address, pair, account), so concurrent
		// attempts never wait for each other in a cycle.
		ac, err := counter(ctx, tx, addrKey, "address", nil, p.Window, now)
		if err != nil {
			return err
		}
		pc, err := counter(ctx, tx, pairKey, "pair", accKey, p.Window, now)
		if err != nil {
			return err
		}
		cc, err := counter(ctx, tx, accKey, "account", accKey, p.AccountWindow, now)
		if err != nil {
			return err
		}
		ac.attempts++
		if _, err := tx.Exec(ctx, `update signin_counters set window_start = $2, attempts = $3, last_at = $4 where key = $1`,
			addrKey, ac.windowStart, ac.attempts, now); err != nil {
			return fmt.Errorf("count sign-in attempt: %w", err)
		}
		known := pc.knownUntil != nil && pc.knownUntil.After(now)
		switch {
		case ac.attempts > p.AddressLimit:
			v.Reason, v.RetryAfter = SigninAddressLimit, ac.windowStart.Add(p.Window).Sub(now)
		case pc.lockedUntil != nil && pc.lockedUntil.After(now):
			v.Reason, v.RetryAfter = SigninLocked, pc.lockedUntil.Sub(now)
		case !known && cc.lastAt != nil && now.Before(cc.lastAt.Add(p.accountDelay(cc.attempts))):
			v.Reason, v.RetryAfter = SigninSlowed, cc.lastAt.Add(p.accountDelay(cc.attempts)).Sub(now)
		}
		staffID, err := staffIDByHash(ctx, tx, s.keys.AddressHash(email))
		if err != nil {
			return err
		}
		if v.Reason != "" {
			return writeAudit(ctx, tx, AuditEntry{Actor: System, Action: "staff.sign_in_failed", ObjectType: "staff", ObjectID: staffID,
				Detail: fmt.Sprintf("reason=%s method=password addr=%s", v.Reason, address)})
		}
		v.Allowed = true
		pc.attempts++
		var lock *time.Time
		if pc.attempts >= p.PairLimit {
			until := now.Add(p.Window)
			lock = &until
		}
		if _, err := tx.Exec(ctx, `update signin_counters set window_start = $2, attempts = $3, last_at = $4, locked_until = coalesce($5, locked_until) where key = $1`,
			pairKey, pc.windowStart, pc.attempts, now, lock); err != nil {
			return fmt.Errorf("count sign-in attempt: %w", err)
		}
		if _, err := tx.Exec(ctx, `update signin_counters set window_start = $2, attempts = $3, last_at = $4 where key = $1`,
			accKey, cc.windowStart, cc.attempts+1, now); err != nil {
			return fmt.Errorf("count sign-in attempt: %w", err)
		}
		if lock != nil {
			return writeAudit(ctx, tx, AuditEntry{Actor: System, Action: "staff.lockout", ObjectType: "staff", ObjectID: staffID,
				Detail: fmt.Sprintf("reason=pair_limit attempts=%d addr=%s until=%s", pc.attempts, address, lock.UTC().Format(time.RFC3339))})
		}
		return nil
	})
	return v, err
}

func staffIDByHash(ctx context.Context, tx pgx.Tx, hash []byte) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `select id from staff where email_hash = $1`, hash).Scan(&id)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("find staff account: %w", err)
	}
	return id, nil
}

// EndSignin settles an attempt BeginSignin allowed. A success clears the
// account's lock and count from this address, marks the address as known
// to the account (it then skips the slow-down) and stops counting the
// attempt against the address; a failure stays counted and is audited as
// staff.sign_in_failed with reason (a Signin* code); an attempt whose
// password was never checked is not counted at all, and is audited with
// reason. Successful sign-ins are audited by CreateSession.
func (s *Store) EndSignin(ctx context.Context, email, address string, outcome SigninOutcome, reason string, p SigninPolicy) error {
	addrKey, accKey, pairKey := s.signinKeys(email, address)
	return s.inTx(ctx, func(tx pgx.Tx) error {
		switch outcome {
		case SigninSucceeded:
			if _, err := tx.Exec(ctx, `update signin_counters set attempts = greatest(attempts - 1, 0) where key = $1`, addrKey); err != nil {
				return fmt.Errorf("settle sign-in attempt: %w", err)
			}
			if _, err := tx.Exec(ctx, `update signin_counters set attempts = 0, locked_until = null, known_until = now() + $2::interval where key = $1`,
				pairKey, p.KnownFor); err != nil {
				return fmt.Errorf("settle sign-in attempt: %w", err)
			}
			// The account's own count stays: a stranger's guesses stay slowed.
			if _, err := tx.Exec(ctx, `update signin_counters set attempts = greatest(attempts - 1, 0) where key = $1`, accKey); err != nil {
				return fmt.Errorf("settle sign-in attempt: %w", err)
			}
			return nil
		case SigninNotChecked:
			// One row at a time, in BeginSignin's order, so this never
			// waits for a lock in a cycle with a concurrent attempt.
			for _, key := range [][]byte{addrKey, pairKey, accKey} {
				if _, err := tx.Exec(ctx, `update signin_counters set attempts = greatest(attempts - 1, 0) where key = $1`, key); err != nil {
					return fmt.Errorf("settle sign-in attempt: %w", err)
				}
			}
		}
		staffID, err := staffIDByHash(ctx, tx, s.keys.AddressHash(email))
		if err != nil {
			return err
		}
		return writeAudit(ctx, tx, AuditEntry{Actor: System, Action: "staff.sign_in_failed", ObjectType: "staff", ObjectID: staffID,
			Detail: fmt.Sprintf("reason=%s method=password addr=%s", reason, address)})
	})
}

// UnlockStaff clears every sign-in counter of an account (its locks from
// every address and its slow-down). Audited as staff.unlock by actor.
func (s *Store) UnlockStaff(ctx context.Context, id int64, actor Actor) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var sealed []byte
		err := tx.QueryRow(ctx, `select email from staff where id = $1`, id).Scan(&sealed)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("unlock staff account %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("unlock staff account %d: %w", id, err)
		}
		email, err := s.keys.openString("staff.email", sealed)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `delete from signin_counters where account = $1 and kind in ('pair', 'account')`,
			s.keys.blind("signin.account", NormaliseAddress(email)))
		if err != nil {
			return fmt.Errorf("unlock staff account %d: %w", id, err)
		}
		n = tag.RowsAffected()
		return writeAudit(ctx, tx, AuditEntry{Actor: actor, Action: "staff.unlock", ObjectType: "staff", ObjectID: id,
			Detail: fmt.Sprintf("counters=%d", n)})
	})
	return n, err
}

// deleteOldSigninRows removes sign-in counters whose windows have ended and
// which mark no known address, and OpenID Connect sign-ins never finished.
func deleteOldSigninRows(ctx context.Context, tx pgx.Tx, p SigninPolicy) (int64, error) {
	tag, err := tx.Exec(ctx, `delete from signin_counters where window_start < now() - $1::interval
		and (locked_until is null or locked_until < now()) and (known_until is null or known_until < now())`, max(p.Window, p.AccountWindow))
	if err != nil {
		return 0, fmt.Errorf("delete old sign-in counters: %w", err)
	}
	n := tag.RowsAffected()
	tag, err = tx.Exec(ctx, `delete from signin_pending where created_at < now() - '1 hour'::interval`)
	if err != nil {
		return 0, fmt.Errorf("delete old sign-in requests: %w", err)
	}
	return n + tag.RowsAffected(), nil
}

// SigninRequest is an OpenID Connect sign-in in flight: what the callback
// needs to finish it.
type SigninRequest struct {
	State      string // sent to the provider; only its SHA-256 is stored
	Presession string // the browser's pre-session cookie; only its SHA-256 is stored
	Nonce      string
	Verifier   string // the PKCE code verifier, sealed at rest
	Next       string // where to go once signed in
}

// maxSigninRequestAge is how long a browser has at the identity provider.
const maxSigninRequestAge = 10 * time.Minute

// PutSigninRequest records an OpenID Connect sign-in being started.
func (s *Store) PutSigninRequest(ctx context.Context, r SigninRequest) error {
	sealed, err := s.keys.sealString("signin_pending.verifier", r.Verifier)
	if err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `insert into signin_pending (state_hash, presession, nonce, verifier, next) values ($1, $2, $3, $4, $5)`,
		tokenHash(r.State), tokenHash(r.Presession), r.Nonce, sealed, r.Next); err != nil {
		return fmt.Errorf("record sign-in request: %w", err)
	}
	return nil
}

// TakeSigninRequest returns and deletes the sign-in request of state, so a
// state works once. It returns ErrNotFound when the state is unknown, used,
// older than ten minutes, or was issued to another browser (presession).
func (s *Store) TakeSigninRequest(ctx context.Context, state, presession string) (SigninRequest, error) {
	r := SigninRequest{State: state, Presession: presession}
	var sealed []byte
	err := s.pool.QueryRow(ctx, `delete from signin_pending where state_hash = $1 and presession = $2 and created_at > now() - $3::interval
		returning nonce, verifier, next`, tokenHash(state), tokenHash(presession), maxSigninRequestAge).Scan(&r.Nonce, &sealed, &r.Next)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("sign-in request: %w", ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("read sign-in request: %w", err)
	}
	r.Verifier, err = s.keys.openString("signin_pending.verifier", sealed)
	return r, err
}

// StaffForIdentity finds the account an identity provider's subject
// (issuer and sub) or, when no account has that subject yet, email belongs
// to. The first sign-in records the subject on the account; afterwards the
// subject must match, so an email address given to someone else at the
// provider does not open the account. Disabled accounts are returned as
// they are: the caller refuses them.
func (s *Store) StaffForIdentity(ctx context.Context, subject, email string) (Staff, error) {
	var st Staff
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		st, err = s.scanStaff(tx.QueryRow(ctx, `select `+staffCols+` from staff where oidc_subject = $1`, subject))
		if err == nil {
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("find staff account: %w", err)
		}
		if email == "" {
			return fmt.Errorf("staff account: %w", ErrNotFound)
		}
		st, err = s.scanStaff(tx.QueryRow(ctx, `select `+staffCols+` from staff where email_hash = $1 and oidc_subject is null for update`,
			s.keys.AddressHash(email)))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("staff account: %w", ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("find staff account: %w", err)
		}
		if st.Disabled {
			return nil
		}
		if _, err := tx.Exec(ctx, `update staff set oidc_subject = $2, updated_at = now() where id = $1`, st.ID, subject); err != nil {
			return fmt.Errorf("record identity of staff %d: %w", st.ID, err)
		}
		return writeAudit(ctx, tx, AuditEntry{Actor: System, Action: "staff.identity_linked", ObjectType: "staff", ObjectID: st.ID})
	})
	return st, err
}

// CountSigninStart counts an OpenID Connect sign-in started from a client
// address against the address limit (each start stores a request, so a
// flood must stop somewhere). A refusal is audited. SigninStartDone takes
// the count back when the sign-in succeeds.
func (s *Store) CountSigninStart(ctx context.Context, address string, p SigninPolicy) (SigninVerdict, error) {
	addrKey := s.keys.blind("signin.address", address)
	var v SigninVerdict
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		v = SigninVerdict{Allowed: true}
		var now time.Time
		if err := tx.QueryRow(ctx, `select now()`).Scan(&now); err != nil {
			return fmt.Errorf("count sign-in start: %w", err)
		}
		ac, err := counter(ctx, tx, addrKey, "address", nil, p.Window, now)
		if err != nil {
			return err
		}
		ac.attempts++
		if _, err := tx.Exec(ctx, `update signin_counters set window_start = $2, attempts = $3, last_at = $4 where key = $1`,
			addrKey, ac.windowStart, ac.attempts, now); err != nil {
			return fmt.Errorf("count sign-in start: %w", err)
		}
		if ac.attempts <= p.AddressLimit {
			return nil
		}
		v = SigninVerdict{Reason: SigninAddressLimit, RetryAfter: ac.windowStart.Add(p.Window).Sub(now)}
		return writeAudit(ctx, tx, AuditEntry{Actor: System, Action: "staff.sign_in_failed", ObjectType: "staff",
			Detail: fmt.Sprintf("reason=%s method=oidc addr=%s", v.Reason, address)})
	})
	return v, err
}

// SigninStartDone stops counting a sign-in start from address against the
// address limit (it ended in a sign-in).
func (s *Store) SigninStartDone(ctx context.Context, address string) error {
	if _, err := s.pool.Exec(ctx, `update signin_counters set attempts = greatest(attempts - 1, 0) where key = $1`,
		s.keys.blind("signin.address", address)); err != nil {
		return fmt.Errorf("settle sign-in start: %w", err)
	}
	return nil
}

// LockedStaff reports which of the accounts in list are locked from some
// address, or slowed down, by failed sign-ins under policy p (see
// SigninPolicy), for the staff page's "Unlock" button. It reads only the
// counters.
func (s *Store) LockedStaff(ctx context.Context, list []Staff, p SigninPolicy) (map[int64]bool, error) {
	keys := make([][]byte, len(list))
	byKey := make(map[string]int64, len(list))
	for i, st := range list {
		keys[i] = s.keys.blind("signin.account", NormaliseAddress(st.Email))
		byKey[string(keys[i])] = st.ID
	}
	rows, err := s.pool.Query(ctx, `select distinct account from signin_counters
		where account = any($1) and (locked_until > now() or (kind = 'account' and attempts >= $2 and window_start > now() - $3::interval))`,
		keys, p.SlowAfter, p.AccountWindow)
	if err != nil {
		return nil, fmt.Errorf("read sign-in locks: %w", err)
	}
	defer rows.Close()
	locked := map[int64]bool{}
	for rows.Next() {
		var k []byte
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("read sign-in locks: %w", err)
		}
		locked[byKey[string(k)]] = true
	}
	return locked, rows.Err()
}
