package store

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// MigrateTo applies the embedded migrations up to version, for tests of a
// migration's data changes.
func MigrateTo(ctx context.Context, pool *pgxpool.Pool, schema string, version int32) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	return migrateConn(ctx, conn.Conn(), schema, version)
}
