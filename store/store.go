// Package store is the service's register and memory in PostgreSQL: the mail
// ledger, conversations with residents, the forms read (submissions), the
// opt-out register and its append-only history, the outbox of emails to
// send, the triage queue, staff accounts and sessions, and the append-only
// audit log. Personal values are sealed with AES-256-GCM (see Keyring) and
// looked up through keyed HMAC blind indexes.
//
// Every operation that changes more than one row runs in one transaction.
// The central one is CompleteMessage: everything one email causes, as
// intake.Decide planned it (a Plan: its conversation, forms, register
// changes, replies, triage items and audit, the parts tied by pointer),
// commits together with the ledger row turning "done", or not at all, which
// makes processing exactly-once even when a message is fetched twice or two
// replicas see it. Work shared between replicas (outbox, failed messages) is
// claimed with SELECT … FOR UPDATE SKIP LOCKED.
//
// The codes kept in its columns (triage reasons, reply kinds, channels,
// states, statuses, ledger actions) are the vocab package's values; any
// reason or kind is stored, so a new one needs no change here.
//
// Errors never contain personal values; expected outcomes are sentinels
// (ErrNotFound, ErrDuplicate, ErrAlreadyDone, ErrWrongKey).
package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ncl-icb/optout-intake/internal/retry"
)

// Sentinel errors for expected outcomes. Test with errors.Is.
var (
	// ErrNotFound: the row asked for does not exist (or is not in the state asked).
	ErrNotFound = errors.New("not found")
	// ErrDuplicate: a unique value (staff email, idempotency key, reference) already exists.
	ErrDuplicate = errors.New("already exists")
	// ErrAlreadyDone: the ledger row was already completed, so nothing was changed.
	ErrAlreadyDone = errors.New("message already processed")
	// ErrConflict: the row is not in a state that allows the change (for example a closed triage item).
	ErrConflict = errors.New("not allowed in the current state")
)

// DefaultSchema is the PostgreSQL schema the tables live in unless Options.Schema says otherwise.
const DefaultSchema = "optout"

// DefaultRetention is how long raw messages and attachments are kept after receipt.
const DefaultRetention = 90 * 24 * time.Hour

var schemaPattern = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Options configure a Store. The command layer fills them from DATABASE_URL,
// OPTOUT_DATA_KEY and OPTOUT_INDEX_KEY; store reads no environment itself.
type Options struct {
	// DatabaseURL is a pgx connection string (DATABASE_URL). Used by Open only.
	DatabaseURL string
	// Schema holds every table; default DefaultSchema. Lower-case letters,
	// digits and '_' only. Tests use one schema each.
	Schema string
	// Keys seal personal values and compute blind indexes. Required.
	Keys *Keyring
	// MaxConns caps the pool Open makes (0: pgx's default).
	MaxConns int32
	// Migrate makes Open apply pending migrations before returning.
	Migrate bool
	// Logger receives operational messages (no personal data). Default: discard.
	Logger *slog.Logger
	// RetryBase and RetryMax bound the exponential backoff (with jitter, see
	// internal/retry) of failed messages (defaults 1 minute and 6 hours).
	// Failed sends are due again when the sender's own policy says (see
	// RetryOutbox).
	RetryBase, RetryMax time.Duration
}

// Store is the register. It is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	schema string
	keys   *Keyring
	log    *slog.Logger
	retry  retry.Policy // when a failed message is tried again
	owned  bool
	ids    idBlocks
}

// Open connects to opts.DatabaseURL with every connection's search_path set
// to the schema, optionally migrates, and returns the Store. Close it.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if err := checkOptions(&opts); err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(opts.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	ConfigurePool(cfg, opts.Schema)
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database (check DATABASE_URL and that PostgreSQL is running): %w", err)
	}
	// An up-to-date schema is left alone, so the daemon can run as a role
	// that may not change it (see RuntimeGrants).
	if opts.Migrate && !schemaCurrent(ctx, pool, opts.Schema) {
		if err := Migrate(ctx, pool, opts.Schema); err != nil {
			pool.Close()
			return nil, err
		}
	}
	s := New(pool, opts)
	s.owned = true
	return s, nil
}

// ConfigurePool sets search_path on every connection of a pool config to the
// schema (and public for extensions). New needs a pool configured this way.
func ConfigurePool(cfg *pgxpool.Config, schema string) {
	if schema == "" {
		schema = DefaultSchema
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	// Date arithmetic in SQL (a triage item's answer-by date is "received +
	// one calendar month") must follow the London calendar, not the server's
	// default time zone: 00:30 BST on 1 May is due on 1 June, not 31 May.
	cfg.ConnConfig.RuntimeParams["timezone"] = "Europe/London"
}

// New wraps a pool whose connections use the schema (see ConfigurePool).
// opts.DatabaseURL and opts.Migrate are ignored. It panics if opts.Keys is nil
// or the schema name is invalid: both are programming errors, found by Open.
func New(pool *pgxpool.Pool, opts Options) *Store {
	if err := checkOptions(&opts); err != nil {
		panic("store.New: " + err.Error())
	}
	return &Store{pool: pool, schema: opts.Schema, keys: opts.Keys, log: opts.Logger,
		retry: retry.Policy{Base: opts.RetryBase, Max: opts.RetryMax}}
}

func checkOptions(o *Options) error {
	if o.Schema == "" {
		o.Schema = DefaultSchema
	}
	if !schemaPattern.MatchString(o.Schema) {
		return fmt.Errorf("store schema %q is not a plain lower-case identifier", o.Schema)
	}
	if o.Keys == nil {
		return errors.New("store needs keys: set OPTOUT_DATA_KEY and OPTOUT_INDEX_KEY (see `optoutd genkey`)")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.RetryBase <= 0 {
		o.RetryBase = time.Minute
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 6 * time.Hour
	}
	return nil
}

// Close closes the pool if Open made it.
func (s *Store) Close() {
	if s.owned {
		s.pool.Close()
	}
}

// Pool returns the underlying pool (for health checks).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Keys returns the keyring.
func (s *Store) Keys() *Keyring { return s.keys }

// Ping checks the database answers (for /readyz).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// inTx runs fn in one transaction, committing when it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// pipelinedTx runs fn on one connection of the pool. fn sends BEGIN and
// COMMIT itself, inside its pipelined batches, so a whole transaction costs
// as few round trips as its data dependencies allow (pgx's Begin and Commit
// are a round trip each). Whatever fn leaves open, because it failed or ctx
// ended, is rolled back; a connection that cannot roll back is closed, which
// ends the transaction on the server too.
func (s *Store) pipelinedTx(ctx context.Context, fn func(*pgx.Conn) error) error {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect to database: %w", err)
	}
	defer c.Release()
	conn := c.Conn()
	err = fn(conn)
	if conn.IsClosed() || conn.PgConn().TxStatus() == 'I' {
		return err
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, rerr := conn.Exec(rctx, "rollback"); rerr != nil {
		conn.Close(rctx) //nolint:errcheck // closing is what ends the transaction
	}
	if err == nil {
		err = errors.New("transaction left open: rolled back")
	}
	return err
}

// isUnique reports whether err is a unique violation.
func isUnique(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "23505"
}

// Actor is who did something: 0 is the service itself ("system"), any other
// value is a staff id.
type Actor int64

// System is the service acting on its own.
const System Actor = 0

// String is the audit form: "system" or "staff:<id>".
func (a Actor) String() string {
	if a == System {
		return "system"
	}
	return "staff:" + strconv.FormatInt(int64(a), 10)
}

// ParseActor reads the form String writes.
func ParseActor(s string) (Actor, bool) {
	if s == "system" {
		return System, true
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(s, "staff:"), 10, 64)
	if err != nil || !strings.HasPrefix(s, "staff:") || n <= 0 {
		return 0, false
	}
	return Actor(n), true
}

// referenceAlphabet has no 0/O, 1/I/L, or U (vowel-like confusions), so a
// code read aloud or retyped survives.
const referenceAlphabet = "23456789ABCDEFGHJKMNPQRSTVWXYZ"

var referencePattern = regexp.MustCompile(`(?i)\bNCL-([` + referenceAlphabet + `]{4})-([` + referenceAlphabet + `]{4})\b`)

// NewReference returns a fresh reference code like "NCL-7K3Q-9XWD" (about
// 40 bits from crypto/rand). Uniqueness is enforced by the database.
func NewReference() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make reference code: %w", err)
	}
	out := []byte("NCL-xxxx-xxxx")
	j := 4
	for i, v := range b {
		if i == 4 {
			j++
		}
		// 256 % 30 bias is below 1 in 30: harmless for an identifier.
		out[j] = referenceAlphabet[int(v)%len(referenceAlphabet)]
		j++
	}
	return string(out), nil
}

// FindReference finds a reference code in text such as a subject line,
// ignoring case, and returns it in canonical upper case.
func FindReference(text string) (string, bool) {
	m := referencePattern.FindStringSubmatch(strings.ToUpper(text))
	if m == nil {
		return "", false
	}
	return "NCL-" + m[1] + "-" + m[2], true
}

// querier runs a query: the pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// queryAll runs sql and scans every row it returns with scan. Errors start
// with what, the task in words ("list triage").
func queryAll[T any](ctx context.Context, q querier, what string, scan func(pgx.Row) (T, error), sql string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// countOldest runs sql, which returns a key, a count and the oldest time of
// each group, and returns the counts by key and the oldest time among the
// groups keep accepts (nil when none). Errors start with what.
func countOldest[K ~string](ctx context.Context, q querier, what string, keep func(K) bool, sql string, args ...any) (map[K]int, *time.Time, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	counts := map[K]int{}
	var oldest *time.Time
	var key K
	var n int
	var at time.Time
	_, err = pgx.ForEachRow(rows, []any{&key, &n, &at}, func() error {
		counts[key] = n
		if keep(key) && (oldest == nil || at.Before(*oldest)) {
			a := at
			oldest = &a
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	return counts, oldest, nil
}
