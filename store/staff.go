package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Role is a staff member's permission level on the triage page.
type Role string

// The roles, from least to most trusted.
const (
	RoleViewer  Role = "viewer"  // sees the queue and people, changes nothing
	RoleTriager Role = "triager" // works the queue and records opt back ins
	RoleAdmin   Role = "admin"   // all of the above, plus the audit log and staff
)

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool { return r == RoleViewer || r == RoleTriager || r == RoleAdmin }

// Staff is a staff account. PasswordHash is whatever the web layer stored
// (an argon2id PHC string); the store never sees passwords.
type Staff struct {
	ID           int64
	Email        string
	PasswordHash string
	Role         Role
	Disabled     bool
	CreatedAt    time.Time
}

// CreateStaff adds a staff account. It returns ErrDuplicate when the email
// (ignoring case) already has one. Audited as actor.
func (s *Store) CreateStaff(ctx context.Context, email, passwordHash string, role Role, actor Actor) (Staff, error) {
	if !role.Valid() {
		return Staff{}, fmt.Errorf("create staff: role %q is not viewer, triager or admin", role)
	}
	email = NormaliseAddress(email)
	if email == "" || passwordHash == "" {
		return Staff{}, errors.New("create staff: email and password hash are required")
	}
	sealed, err := s.keys.sealString("staff.email", email)
	if err != nil {
		return Staff{}, err
	}
	st := Staff{Email: email, PasswordHash: passwordHash, Role: role}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `insert into staff (email, email_hash, password_hash, role) values ($1, $2, $3, $4)
			returning id, created_at`, sealed, s.keys.AddressHash(email), passwordHash, string(role)).Scan(&st.ID, &st.CreatedAt)
		if isUnique(err) {
			return fmt.Errorf("create staff: an account with that email: %w", ErrDuplicate)
		}
		if err != nil {
			return fmt.Errorf("create staff: %w", err)
		}
		return writeAudit(ctx, tx, AuditEntry{Actor: actor, Action: "staff.create", ObjectType: "staff", ObjectID: st.ID, Detail: "role=" + string(role)})
	})
	return st, err
}

const staffCols = `id, email, password_hash, role, disabled, created_at`

func (s *Store) scanStaff(row pgx.Row) (Staff, error) {
	var st Staff
	var sealed []byte
	if err := row.Scan(&st.ID, &sealed, &st.PasswordHash, &st.Role, &st.Disabled, &st.CreatedAt); err != nil {
		return st, err
	}
	email, err := s.keys.openString("staff.email", sealed)
	st.Email = email
	return st, err
}

// StaffByEmail finds an account by email (ignoring case), disabled or not.
func (s *Store) StaffByEmail(ctx context.Context, email string) (Staff, error) {
	st, err := s.scanStaff(s.pool.QueryRow(ctx, `select `+staffCols+` from staff where email_hash = $1`, s.keys.AddressHash(email)))
	if errors.Is(err, pgx.ErrNoRows) {
		return st, fmt.Errorf("staff account: %w", ErrNotFound)
	}
	if err != nil {
		return st, fmt.Errorf("find staff account: %w", err)
	}
	return st, nil
}

// StaffByID finds an account by id.
func (s *Store) StaffByID(ctx context.Context, id int64) (Staff, error) {
	st, err := s.scanStaff(s.pool.QueryRow(ctx, `select `+staffCols+` from staff where id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return st, fmt.Errorf("staff account %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return st, fmt.Errorf("read staff account %d: %w", id, err)
	}
	return st, nil
}

// ListStaff lists every account by id.
func (s *Store) ListStaff(ctx context.Context) ([]Staff, error) {
	return queryAll(ctx, s.pool, "list staff", s.scanStaff, `select `+staffCols+` from staff order by id`)
}

// StaffUpdate changes an account; nil fields stay as they are.
type StaffUpdate struct {
	PasswordHash *string
	Role         *Role
	Disabled     *bool
}

// UpdateStaff changes an account. Disabling it, or changing its password or
// role, ends its sessions. Disabling or demoting the last enabled
// administrator fails with ErrLastAdmin, checked in the same transaction.
// Audited (never with the hash).
func (s *Store) UpdateStaff(ctx context.Context, id int64, u StaffUpdate, actor Actor) error {
	if u.Role != nil && !u.Role.Valid() {
		return fmt.Errorf("update staff %d: role %q is not viewer, triager or admin", id, *u.Role)
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if (u.Disabled != nil && *u.Disabled) || (u.Role != nil && *u.Role != RoleAdmin) {
			if err := keepAnAdmin(ctx, tx, id); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `update staff set password_hash = coalesce($2, password_hash), role = coalesce($3, role),
			disabled = coalesce($4, disabled), updated_at = now() where id = $1`, id, u.PasswordHash, u.Role, u.Disabled)
		if err != nil {
			return fmt.Errorf("update staff %d: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("staff account %d: %w", id, ErrNotFound)
		}
		if _, err := tx.Exec(ctx, `delete from staff_sessions where staff_id = $1`, id); err != nil {
			return fmt.Errorf("end sessions of staff %d: %w", id, err)
		}
		detail := ""
		if u.Role != nil {
			detail += "role=" + string(*u.Role) + " "
		}
		if u.Disabled != nil {
			detail += fmt.Sprintf("disabled=%t ", *u.Disabled)
		}
		if u.PasswordHash != nil {
			detail += "password changed"
		}
		return writeAudit(ctx, tx, AuditEntry{Actor: actor, Action: "staff.update", ObjectType: "staff", ObjectID: id, Detail: detail})
	})
}

// ErrLastAdmin: the change would leave no enabled administrator.
var ErrLastAdmin = errors.New("the last enabled administrator cannot be disabled or given another role; make another administrator first")

// keepAnAdmin locks every enabled administrator (so two changes in flight
// serialise) and returns ErrLastAdmin when id is the only one.
func keepAnAdmin(ctx context.Context, tx pgx.Tx, id int64) error {
	rows, err := tx.Query(ctx, `select id from staff where role = 'admin' and not disabled order by id for update`)
	if err != nil {
		return fmt.Errorf("update staff %d: count administrators: %w", id, err)
	}
	admins, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("update staff %d: count administrators: %w", id, err)
	}
	if len(admins) == 1 && admins[0] == id {
		return fmt.Errorf("update staff %d: %w", id, ErrLastAdmin)
	}
	return nil
}

// Session is a signed-in staff session, with its account.
type Session struct {
	ID        int64
	Staff     Staff
	CSRFToken string // base64url; embed in forms, compare in constant time
	CreatedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time
}

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func randomToken() (string, []byte, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, fmt.Errorf("make session token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), b[:], nil
}

// CreateSession starts a session for an enabled account, valid for idle
// from now. It returns the cookie token (only its SHA-256 is stored) and
// the session. Audited as a sign-in, with detail (how and from where).
func (s *Store) CreateSession(ctx context.Context, staffID int64, idle time.Duration, detail string) (token string, sess Session, err error) {
	token, _, err = randomToken()
	if err != nil {
		return "", sess, err
	}
	csrf, csrfRaw, err := randomToken()
	if err != nil {
		return "", sess, err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		st, err := s.scanStaff(tx.QueryRow(ctx, `select `+staffCols+` from staff where id = $1 and not disabled`, staffID))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("start session: enabled staff account %d: %w", staffID, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("start session: %w", err)
		}
		sess.Staff, sess.CSRFToken = st, csrf
		err = tx.QueryRow(ctx, `insert into staff_sessions (token_hash, staff_id, csrf_secret, expires_at)
			values ($1, $2, $3, now() + $4::interval) returning id, created_at, last_seen, expires_at`,
			tokenHash(token), staffID, csrfRaw, idle).Scan(&sess.ID, &sess.CreatedAt, &sess.LastSeen, &sess.ExpiresAt)
		if err != nil {
			return fmt.Errorf("start session: %w", err)
		}
		return writeAudit(ctx, tx, AuditEntry{Actor: Actor(staffID), Action: "staff.sign_in", ObjectType: "staff", ObjectID: staffID, Detail: detail})
	})
	return token, sess, err
}

// Session returns the live session for a cookie token and, when idle > 0,
// extends it to idle from now (sliding expiry), never beyond max after it
// started (when max > 0: the absolute lifetime). Expired sessions and
// disabled accounts return ErrNotFound.
func (s *Store) Session(ctx context.Context, token string, idle, max time.Duration) (Session, error) {
	var sess Session
	var csrf, sealed []byte
	st := &sess.Staff
	err := s.pool.QueryRow(ctx, `update staff_sessions ss set last_seen = now(),
			expires_at = least(case when $2::interval > '0'::interval then now() + $2::interval else ss.expires_at end,
				case when $3::interval > '0'::interval then ss.created_at + $3::interval else 'infinity' end)
		from staff st
		where ss.token_hash = $1 and ss.expires_at > now() and st.id = ss.staff_id and not st.disabled
			and ($3::interval <= '0'::interval or ss.created_at + $3::interval > now())
		returning ss.id, ss.csrf_secret, ss.created_at, ss.last_seen, ss.expires_at,
			st.id, st.email, st.password_hash, st.role, st.disabled, st.created_at`, tokenHash(token), idle, max).
		Scan(&sess.ID, &csrf, &sess.CreatedAt, &sess.LastSeen, &sess.ExpiresAt,
			&st.ID, &sealed, &st.PasswordHash, &st.Role, &st.Disabled, &st.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return sess, fmt.Errorf("session: %w", ErrNotFound)
	}
	if err != nil {
		return sess, fmt.Errorf("read session: %w", err)
	}
	sess.CSRFToken = base64.RawURLEncoding.EncodeToString(csrf)
	if st.Email, err = s.keys.openString("staff.email", sealed); err != nil {
		return sess, err
	}
	return sess, nil
}

// DeleteSession ends a session (sign-out). Unknown tokens are not an error.
func (s *Store) DeleteSession(ctx context.Context, token string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var staffID int64
		err := tx.QueryRow(ctx, `delete from staff_sessions where token_hash = $1 returning staff_id`, tokenHash(token)).Scan(&staffID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("end session: %w", err)
		}
		return writeAudit(ctx, tx, AuditEntry{Actor: Actor(staffID), Action: "staff.sign_out", ObjectType: "staff", ObjectID: staffID})
	})
}

// AuditEntry is one line of the audit log. Detail must never hold personal
// values (names, NHS numbers, dates of birth, addresses, message text):
// refer to records by type, id and reference code.
type AuditEntry struct {
	ID         int64
	At         time.Time
	Actor      Actor
	Action     string // dotted code such as "triage.accept", "register.export"
	ObjectType string // "submission", "triage", "register", "ledger", "staff", "outbox", ...
	ObjectID   int64  // 0 when none
	Reference  string // conversation reference code, when there is one
	Detail     string
	ChainSeq   int64 // place in the tamper-evident chain (set by the database)
}

// execer is a pool, connection or transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// WriteAudit appends one entry to the audit log.
func (s *Store) WriteAudit(ctx context.Context, e AuditEntry) error {
	return writeAudit(ctx, s.pool, e)
}

func writeAudit(ctx context.Context, q execer, e AuditEntry) error {
	var obj *int64
	if e.ObjectID != 0 {
		obj = &e.ObjectID
	}
	if _, err := q.Exec(ctx, `insert into audit (actor, action, object_type, object_id, reference, detail) values ($1, $2, $3, $4, $5, $6)`,
		e.Actor.String(), e.Action, e.ObjectType, obj, e.Reference, e.Detail); err != nil {
		return fmt.Errorf("write audit %s: %w", e.Action, err)
	}
	return nil
}

// AuditFilter selects audit entries. Zero fields match everything.
type AuditFilter struct {
	BeforeID  int64 // only entries with a smaller id (paging back)
	Actor     *Actor
	Action    string
	Reference string
	From      time.Time // only entries at or after
	Until     time.Time // only entries before
	Limit     int       // default 100
}

// ListAudit lists audit entries, newest first.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	var actor *string
	if f.Actor != nil {
		a := f.Actor.String()
		actor = &a
	}
	var from, until *time.Time
	if !f.From.IsZero() {
		from = &f.From
	}
	if !f.Until.IsZero() {
		until = &f.Until
	}
	rows, err := s.pool.Query(ctx, `select id, at, actor, action, object_type, coalesce(object_id, 0), reference, detail, coalesce(chain_seq, 0) from audit
		where ($1 = 0 or id < $1) and ($2::text is null or actor = $2) and ($3 = '' or action = $3) and ($4 = '' or reference = $4)
			and ($6::timestamptz is null or at >= $6) and ($7::timestamptz is null or at < $7)
		order by id desc limit $5`, f.BeforeID, actor, f.Action, f.Reference, f.Limit, from, until)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		var actor string
		err := r.Scan(&e.ID, &e.At, &actor, &e.Action, &e.ObjectType, &e.ObjectID, &e.Reference, &e.Detail, &e.ChainSeq)
		e.Actor, _ = ParseActor(actor)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return out, nil
}

// PutSecret stores a small sealed value under a name (for example a rotated
// OAuth refresh token), replacing any previous one.
func (s *Store) PutSecret(ctx context.Context, name string, value []byte) error {
	sealed, err := s.keys.Seal("secrets."+name, value)
	if err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `insert into secrets (name, value) values ($1, $2)
		on conflict (name) do update set value = excluded.value, updated_at = now()`, name, sealed); err != nil {
		return fmt.Errorf("store secret %s: %w", name, err)
	}
	return nil
}

// Secret returns a value stored by PutSecret, or ErrNotFound.
func (s *Store) Secret(ctx context.Context, name string) ([]byte, error) {
	var sealed []byte
	err := s.pool.QueryRow(ctx, `select value from secrets where name = $1`, name).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("secret %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read secret %s: %w", name, err)
	}
	return s.keys.Open("secrets."+name, sealed)
}
