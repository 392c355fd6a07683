package schema

import (
	"context"
	"database/sql"
	"fmt"
)

// BoundarySnapshot is what the boundary's functions, columns, triggers,
// policies and row-security settings were at one moment
// (bulwark.boundary_catalog), taken by [SnapshotBoundary] before
// migrating. The zero value means there was nothing to take: the database
// predates the record (the core's migration 00002).
type BoundarySnapshot struct {
	catalog []byte // JSON array of {kind, object, definition}
}

// SnapshotBoundary returns what the boundary holds now, for
// [RecordBoundary] after migrating. On a database without the record it
// returns the zero snapshot. It fails when the database cannot answer.
func SnapshotBoundary(ctx context.Context, db *sql.DB) (BoundarySnapshot, error) {
	var installed bool
	if err := db.QueryRowContext(ctx,
		`SELECT pg_catalog.to_regprocedure('bulwark.boundary_catalog(text)') IS NOT NULL`,
	).Scan(&installed); err != nil {
		return BoundarySnapshot{}, fmt.Errorf("snapshot the boundary: %w", err)
	}
	if !installed {
		return BoundarySnapshot{}, nil
	}
	var catalog []byte
	if err := db.QueryRowContext(ctx, `
		SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
		           'kind', c.kind, 'object', c.object, 'definition', c.definition)), '[]')::text
		FROM bulwark.boundary_catalog() AS c`).Scan(&catalog); err != nil {
		return BoundarySnapshot{}, fmt.Errorf("snapshot the boundary: %w", err)
	}
	return BoundarySnapshot{catalog: catalog}, nil
}

// RecordBoundary records in bulwark.contract_objects what changed behind
// the boundary since before was taken: every function, column, trigger,
// policy or row-security setting whose definition differs from before, and
// every one that before had and the catalog no longer has. What differed
// from the record already before (changed by hand) stays different, so
// verify keeps reporting it. With the zero snapshot (the record did not
// exist before), it records everything as it is, trusted on first use. It
// runs as bulwark_owner, so db must connect as the migration role; it does
// nothing on a database without the record. Call it after running a
// provider's Up, UpTo, UpByOne, Down or DownTo directly, with a snapshot
// taken before.
func RecordBoundary(ctx context.Context, db *sql.DB, before BoundarySnapshot) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record the boundary: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var installed bool
	if err := tx.QueryRowContext(ctx,
		`SELECT pg_catalog.to_regprocedure('bulwark.boundary_record(jsonb)') IS NOT NULL`,
	).Scan(&installed); err != nil {
		return fmt.Errorf("record the boundary: %w", err)
	}
	if !installed {
		return nil
	}
	// As the owner, like the migrations: the record is written only by the
	// engine's function, which the owner may call.
	if _, err := tx.ExecContext(ctx, `SET LOCAL ROLE bulwark_owner`); err != nil {
		return fmt.Errorf("record the boundary: %w", err)
	}
	var arg any
	if before.catalog != nil {
		arg = string(before.catalog)
	}
	if _, err := tx.ExecContext(ctx, `SELECT bulwark.boundary_record($1::jsonb)`, arg); err != nil {
		return fmt.Errorf("record the boundary: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record the boundary: %w", err)
	}
	return nil
}
