package schema

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
)

// ChecksumGo is the checksum recorded for a Go migration that names no
// marker of its own. Its code is compiled into the binary, not read from a
// file, so there is nothing stable to hash. A Go migration whose effect
// depends on a pinned version (River's schema) records that version
// instead, e.g. "go:river-schema-8", so that changing the pin is drift.
const ChecksumGo = "go"

// Checksum is what bulwark records for an applied migration, and what
// `bulwark verify` compares the record with.
type Checksum struct {
	// Version is the goose version.
	Version int64
	// Path is the migration's file name; empty for a Go migration
	// registered without one.
	Path string
	// Sum is "sha256:<hex>" of a SQL file's bytes, or [ChecksumGo].
	Sum string
}

// Checksums returns the checksum of every migration that [NewProvider]
// with opts knows, in version order. It never connects to a database. It
// fails if a migration file cannot be read.
func Checksums(opts ...goose.ProviderOption) ([]Checksum, error) {
	// A provider wants a *sql.DB, but listing its migrations never uses
	// it: give it one that cannot connect.
	db := sql.OpenDB(offlineConnector{})
	defer db.Close()
	p, err := NewProvider(db, opts...)
	if err != nil {
		return nil, err
	}
	return checksumsOf(p)
}

// checksumsOf returns the checksums of p's migrations.
func checksumsOf(p *goose.Provider) ([]Checksum, error) {
	var sums []Checksum
	for _, src := range p.ListSources() {
		sum := ChecksumGo
		if marker, ok := goMigrationMarkers[src.Version]; ok {
			sum = marker
		}
		if src.Type == goose.TypeSQL {
			raw, err := fs.ReadFile(embedded, src.Path)
			if err != nil {
				return nil, fmt.Errorf("read migration %s: %w", src.Path, err)
			}
			h := sha256.Sum256(raw)
			sum = "sha256:" + hex.EncodeToString(h[:])
		}
		sums = append(sums, Checksum{Version: src.Version, Path: src.Path, Sum: sum})
	}
	return sums, nil
}

// Up applies every pending migration with a provider from [NewProvider]
// and then records the checksum of each applied migration (see
// [RecordChecksums]), so that `bulwark verify` can tell when an applied
// migration's file changes, and what the migrations changed behind the
// boundary (see [SnapshotBoundary] and [RecordBoundary]), so that verify
// can tell a function, column or trigger a migration changed from one
// changed by hand. Use it rather than the provider's Up. It returns the
// results of the migrations it applied; on failure, those that succeeded
// before the error, whose checksums and changes are recorded.
func Up(ctx context.Context, db *sql.DB, opts ...goose.ProviderOption) ([]*goose.MigrationResult, error) {
	p, err := NewProvider(db, opts...)
	if err != nil {
		return nil, err
	}
	before, err := SnapshotBoundary(ctx, db)
	if err != nil {
		return nil, err
	}
	results, upErr := p.Up(ctx)
	if upErr != nil {
		var partial *goose.PartialError
		if errors.As(upErr, &partial) {
			results = partial.Applied
		}
	}
	if err := RecordChecksums(ctx, db, p, results); err != nil {
		return results, errors.Join(upErr, err)
	}
	if err := RecordBoundary(ctx, db, before); err != nil {
		return results, errors.Join(upErr, err)
	}
	return results, upErr
}

// BoundarySnapshot is what the boundary's functions, columns, triggers,
// policies and row-security settings were at one moment
// (bulwark.boundary_catalog), taken by [SnapshotBoundary] before
// migrating. The zero value means there was nothing to take: the database
// predates the record (migration 00005).
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

// RecordChecksums records in bulwark.migration_checksums what p's applied
// migrations are: applied, the migrations p just ran (their checksums are
// replaced); every other applied migration keeps the checksum it was first
// recorded with, or gets one now if it had none (a database migrated
// before checksums existed trusts its files on first use); a migration
// rolled back loses its record. It runs as bulwark_owner, so db must
// connect as the migration role. It does nothing on a database whose
// migrations predate the checksums. Call it after running p's Up,
// UpTo, UpByOne or Down directly.
func RecordChecksums(ctx context.Context, db *sql.DB, p *goose.Provider, applied []*goose.MigrationResult) error {
	sums, err := checksumsOf(p)
	if err != nil {
		return err
	}
	statuses, err := p.Status(ctx)
	if err != nil {
		return fmt.Errorf("read migration status: %w", err)
	}
	now := make(map[int64]bool)
	for _, r := range applied {
		if r != nil && r.Error == nil && r.Direction == "up" && r.Source != nil {
			now[r.Source.Version] = true
		}
	}
	state := make(map[int64]string)
	for _, s := range statuses {
		switch {
		case s.State == goose.StatePending:
			state[s.Source.Version] = "pending"
		case now[s.Source.Version]:
			state[s.Source.Version] = "applied_now"
		default:
			state[s.Source.Version] = "applied"
		}
	}

	type entry struct {
		Checksum string `json:"checksum"`
		Path     string `json:"path"`
		State    string `json:"state"`
		Version  int64  `json:"version"`
	}
	var entries []entry
	for _, s := range sums {
		if st, ok := state[s.Version]; ok {
			entries = append(entries, entry{Checksum: s.Sum, Path: s.Path, State: st, Version: s.Version})
		}
	}
	payload, err := json.Marshal(entries)
	if err != nil {
		return fmt.Errorf("encode checksums: %w", err)
	}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record checksums: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var installed bool
	if err := tx.QueryRowContext(ctx,
		`SELECT pg_catalog.to_regprocedure('bulwark.migration_checksums_record(jsonb)') IS NOT NULL`,
	).Scan(&installed); err != nil {
		return fmt.Errorf("record checksums: %w", err)
	}
	if !installed {
		return nil
	}
	// As the owner, like the migrations themselves: the table is behind
	// the write guard, which only the owner's functions pass.
	if _, err := tx.ExecContext(ctx, `SET LOCAL ROLE bulwark_owner`); err != nil {
		return fmt.Errorf("record checksums: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `SELECT bulwark.migration_checksums_record($1::jsonb)`, string(payload)); err != nil {
		return fmt.Errorf("record checksums: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record checksums: %w", err)
	}
	return nil
}

// offlineConnector is a database/sql connector that never connects.
type offlineConnector struct{}

var errOffline = errors.New("schema: listing migrations needs no database")

func (offlineConnector) Connect(context.Context) (driver.Conn, error) { return nil, errOffline }
func (c offlineConnector) Driver() driver.Driver                      { return c }
func (offlineConnector) Open(string) (driver.Conn, error)             { return nil, errOffline }
