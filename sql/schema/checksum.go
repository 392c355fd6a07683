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
	// Line is the name of the migration's line.
	Line string
	// Version is the goose version, within the line.
	Version int64
	// Path is the migration's file name; empty for a Go migration
	// registered without one.
	Path string
	// Sum is "sha256:<hex>" of a SQL file's bytes, or [ChecksumGo] or a
	// "go:" marker for a Go migration.
	Sum string
}

// Checksums returns the checksum of every migration of the line, in
// version order. It never connects to a database. It fails if a migration
// file cannot be read or the line's files are not a goose line (two files
// with one version, say).
func (l *Line) Checksums() ([]Checksum, error) {
	// A provider wants a *sql.DB, but listing its migrations never uses
	// it: give it one that cannot connect.
	db := sql.OpenDB(offlineConnector{})
	defer db.Close()
	p, err := l.NewProvider(db)
	if err != nil {
		return nil, err
	}
	return l.checksumsOf(p)
}

// checksumsOf returns the checksums of p's migrations, p being a provider
// of l.
func (l *Line) checksumsOf(p *goose.Provider) ([]Checksum, error) {
	var sums []Checksum
	for _, src := range p.ListSources() {
		sum := ChecksumGo
		if marker, ok := l.markers[src.Version]; ok {
			sum = marker
		}
		if src.Type == goose.TypeSQL {
			raw, err := fs.ReadFile(l.fsys, src.Path)
			if err != nil {
				return nil, fmt.Errorf("line %s: read migration %s: %w", l.name, src.Path, err)
			}
			h := sha256.Sum256(raw)
			sum = "sha256:" + hex.EncodeToString(h[:])
		}
		sums = append(sums, Checksum{Line: l.name, Version: src.Version, Path: src.Path, Sum: sum})
	}
	return sums, nil
}

// RecordChecksums records in bulwark.migration_checksums, under l's name,
// what l's applied migrations are: applied, the migrations p (a provider
// of l) just ran, have their checksums replaced; every other applied
// migration keeps the checksum it was first recorded with, or gets one now
// if it had none (trusted on first use); a migration rolled back loses its
// record. It runs as bulwark_owner, so db must connect as the migration
// role. It does nothing on a database without the core's record (the core
// rolled back to zero). [Up], [Down] and [Redo] call it; call it after
// running p's Up, UpTo, UpByOne, Down or DownTo directly.
func RecordChecksums(ctx context.Context, db *sql.DB, l *Line, p *goose.Provider, applied []*goose.MigrationResult) error {
	sums, err := l.checksumsOf(p)
	if err != nil {
		return err
	}
	statuses, err := p.Status(ctx)
	if err != nil {
		return fmt.Errorf("line %s: read migration status: %w", l.name, err)
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
		`SELECT pg_catalog.to_regprocedure('bulwark.migration_checksums_record(text, jsonb)') IS NOT NULL`,
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
	if _, err := tx.ExecContext(ctx, `SELECT bulwark.migration_checksums_record($1, $2::jsonb)`, l.name, string(payload)); err != nil {
		return fmt.Errorf("line %s: record checksums: %w", l.name, err)
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
