package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrate creates the schema when missing and applies every pending
// embedded migration (store/migrations/NNN_name.sql), each in its own
// transaction. tern holds a PostgreSQL advisory lock while it works, and a
// second, per-schema lock covers creating the schema, so replicas starting
// together wait for each other instead of racing. Re-running is a no-op.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	if schema == "" {
		schema = DefaultSchema
	}
	if !schemaPattern.MatchString(schema) {
		return fmt.Errorf("migrate: schema %q is not a plain lower-case identifier", schema)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: connect to database: %w", err)
	}
	defer conn.Release()
	if err := migrateConn(ctx, conn.Conn(), schema, 0); err != nil {
		// The session may hold a lock or an aborted state: do not reuse it.
		conn.Conn().Close(context.WithoutCancel(ctx)) //nolint:errcheck
		return err
	}
	return nil
}

// migrateConn applies the migrations up to target (0: all of them).
func migrateConn(ctx context.Context, conn *pgx.Conn, schema string, target int32) error {
	lock := "optout-migrate:" + schema
	if _, err := conn.Exec(ctx, "select pg_advisory_lock(hashtextextended($1, 0))", lock); err != nil {
		return fmt.Errorf("migrate: take advisory lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "select pg_advisory_unlock(hashtextextended($1, 0))", lock) //nolint:errcheck
	if _, err := conn.Exec(ctx, "create schema if not exists "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return fmt.Errorf("migrate: create schema %s: %w", schema, err)
	}
	m, err := migrate.NewMigrator(ctx, conn, pgx.Identifier{schema, "schema_version"}.Sanitize())
	if err != nil {
		return fmt.Errorf("migrate: prepare version table in schema %s: %w", schema, err)
	}
	m.Data["schema"] = pgx.Identifier{schema}.Sanitize()
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("migrate: read embedded migrations: %w", err)
	}
	if err := m.LoadMigrations(sub); err != nil {
		return fmt.Errorf("migrate: load embedded migrations: %w", err)
	}
	if target > 0 {
		err = m.MigrateTo(ctx, target)
	} else {
		err = m.Migrate(ctx)
	}
	if err != nil {
		return fmt.Errorf("migrate schema %s: %w", schema, err)
	}
	return nil
}

// SchemaVersion returns the number of the last applied migration and the
// number of embedded migrations.
func SchemaVersion(ctx context.Context, pool *pgxpool.Pool, schema string) (applied, available int, err error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return 0, 0, fmt.Errorf("read embedded migrations: %w", err)
	}
	var v int32
	err = pool.QueryRow(ctx, "select version from "+pgx.Identifier{schema, "schema_version"}.Sanitize()).Scan(&v)
	if err != nil {
		return 0, len(names), fmt.Errorf("read schema version (run `optoutd migrate`): %w", err)
	}
	return int(v), len(names), nil
}

// schemaCurrent reports whether every embedded migration is applied.
func schemaCurrent(ctx context.Context, pool *pgxpool.Pool, schema string) bool {
	applied, available, err := SchemaVersion(ctx, pool, schema)
	return err == nil && applied >= available
}
