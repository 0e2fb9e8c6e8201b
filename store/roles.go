package store

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// appendOnlyTables may be read and added to by the runtime role, never
// changed: the register's history and the audit trail.
var appendOnlyTables = []string{"register_history", "audit"}

// RuntimeGrants returns the SQL that lets role run the daemon and the triage
// page on schema with least privilege: it may read and write the service's
// tables, read and insert into the append-only ones, and nothing else. It
// owns nothing, so it cannot ALTER a table, disable a trigger or drop
// anything; it gets no UPDATE, DELETE or TRUNCATE on the audit trail or the
// register's history, only SELECT on the audit chain's head (the
// owner's trigger function moves it), and may only read the migrations' version.
// Run it as the owner role after every `optoutd migrate` (new tables need
// their grants); it is idempotent. See docs/store.md.
func RuntimeGrants(schema, role string) (string, error) {
	if schema == "" {
		schema = DefaultSchema
	}
	if !schemaPattern.MatchString(schema) {
		return "", fmt.Errorf("grants: schema %q is not a plain lower-case identifier", schema)
	}
	if role == "" || len(role) > 63 || strings.ContainsAny(role, "\x00") {
		return "", fmt.Errorf("grants: %q is not a role name", role)
	}
	sc, r := pgx.Identifier{schema}.Sanitize(), pgx.Identifier{role}.Sanitize()
	var b strings.Builder
	fmt.Fprintf(&b, "-- Runtime role %s on schema %s: run as the owner role after every migration.\n", role, schema)
	fmt.Fprintf(&b, "revoke all on all tables in schema %s from %s;\n", sc, r)
	fmt.Fprintf(&b, "grant usage on schema %s to %s;\n", sc, r)
	fmt.Fprintf(&b, "grant select, insert, update, delete on all tables in schema %s to %s;\n", sc, r)
	fmt.Fprintf(&b, "grant usage, select on all sequences in schema %s to %s;\n", sc, r)
	for _, t := range appendOnlyTables {
		fmt.Fprintf(&b, "revoke update, delete, truncate on %s.%s from %s;\n", sc, t, r)
	}
	fmt.Fprintf(&b, "revoke insert, update, delete, truncate on %s.audit_chain from %s;\n", sc, r)
	fmt.Fprintf(&b, "revoke insert, update, delete on %s.schema_version from %s;\n", sc, r)
	return b.String(), nil
}
