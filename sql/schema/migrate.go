package schema

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"
)

// lockKey is the advisory lock that serializes every run of this package
// against one database: ASCII "bulwarkM". Each line's goose provider takes
// goose's own lock inside it, for as long as it migrates.
const lockKey int64 = 0x62756c776172_6b4d

// unlockTimeout bounds releasing the lock after a run whose context ended.
const unlockTimeout = 10 * time.Second

// MigrationResult is one migration that a run applied or rolled back, or
// that failed (Error is set).
type MigrationResult struct {
	// Line is the name of the migration's line.
	Line string
	*goose.MigrationResult
}

// MigrationStatus is one migration of a line and whether it is applied.
type MigrationStatus struct {
	// Line is the name of the migration's line.
	Line string
	*goose.MigrationStatus
}

// Up applies every pending migration of each line, in the order given, and
// records what it applied: the checksum of each applied migration of each
// line (see [RecordChecksums]), so that `bulwark verify` can tell when an
// applied migration's file changes, and what the run changed behind the
// boundary (see [SnapshotBoundary] and [RecordBoundary]), so that verify
// can tell a function, column or trigger a migration changed from one
// changed by hand.
//
// Each line must come after the lines it requires ([Core] first); Up
// returns a [*RequirementError] or a [*LineError] before touching the
// database otherwise. Before touching it too, it has goose read every file
// of every line (see [Line.Check]) and returns a [*MigrationFileError] for
// one that does not parse: nothing is applied, in any line, and no version
// table is created. It stops at the first migration that fails and
// returns the results so far, the failed one last, with the error; what
// succeeded is recorded. db must connect as the migration role, and must
// allow two connections (the run's lock holds one).
func Up(ctx context.Context, db *sql.DB, lines ...*Line) ([]*MigrationResult, error) {
	if err := checkLines(lines, true); err != nil {
		return nil, err
	}
	if err := checkFiles(lines); err != nil {
		return nil, err
	}
	var results []*MigrationResult
	err := withLock(ctx, db, func() error {
		before, err := SnapshotBoundary(ctx, db)
		if err != nil {
			return err
		}
		var upErr error
		for _, l := range lines {
			var applied []*goose.MigrationResult
			applied, upErr = upLine(ctx, db, l)
			results = append(results, wrapResults(l, applied)...)
			if upErr != nil {
				break
			}
		}
		if err := RecordBoundary(ctx, db, before); err != nil {
			return errors.Join(upErr, err)
		}
		return upErr
	})
	return results, err
}

// upLine applies l's pending migrations and records their checksums.
func upLine(ctx context.Context, db *sql.DB, l *Line) ([]*goose.MigrationResult, error) {
	p, err := l.NewProvider(db)
	if err != nil {
		return nil, err
	}
	results, upErr := p.Up(ctx)
	if upErr != nil {
		upErr = fmt.Errorf("line %s: %w", l.name, upErr)
		var partial *goose.PartialError
		if errors.As(upErr, &partial) {
			results = slices.Clone(partial.Applied)
			if partial.Failed != nil {
				results = append(results, partial.Failed)
			}
		}
	}
	if err := RecordChecksums(ctx, db, l, p, results); err != nil {
		return results, errors.Join(upErr, err)
	}
	return results, upErr
}

// Down rolls back the newest applied migration of l and records what the
// rollback changed (the checksum's record goes; the boundary's record
// follows). It returns [ErrNothingApplied] when no migration of l is
// applied, or l was never migrated (its version table is not created),
// and a [*DependentError] while a line that requires l has applied
// migrations: the built-in lines by their version tables, and, under the
// core, any line with recorded checksums. db must connect as the migration
// role.
func Down(ctx context.Context, db *sql.DB, l *Line) (*MigrationResult, error) {
	results, err := downLocked(ctx, db, l, func(p *goose.Provider) ([]*goose.MigrationResult, error) {
		r, err := p.Down(ctx)
		if r == nil {
			return nil, err
		}
		return []*goose.MigrationResult{r}, err
	})
	if len(results) == 0 {
		return nil, err
	}
	return results[0], err
}

// DownTo rolls l back to version (zero: every migration), newest first,
// as [Down] does one.
func DownTo(ctx context.Context, db *sql.DB, l *Line, version int64) ([]*MigrationResult, error) {
	if version < 0 {
		return nil, &LineError{Line: nameOf(l), Problem: fmt.Sprintf("no version %d to go down to", version)}
	}
	return downLocked(ctx, db, l, func(p *goose.Provider) ([]*goose.MigrationResult, error) {
		return p.DownTo(ctx, version)
	})
}

// Redo rolls back the newest applied migration of l and applies it again,
// recording both as [Down] and [Up] do. It returns [ErrNothingApplied] and
// [*DependentError] as [Down] does, and, before touching the database, a
// [*MigrationFileError] when a file of l does not parse, as [Up] does.
func Redo(ctx context.Context, db *sql.DB, l *Line) ([]*MigrationResult, error) {
	if err := checkLines([]*Line{l}, false); err != nil {
		return nil, err
	}
	if err := checkFiles([]*Line{l}); err != nil {
		return nil, err
	}
	return downLocked(ctx, db, l, func(p *goose.Provider) ([]*goose.MigrationResult, error) {
		down, err := p.Down(ctx)
		if down == nil {
			return nil, err
		}
		if err != nil {
			return []*goose.MigrationResult{down}, err
		}
		up, err := p.UpByOne(ctx)
		if up == nil {
			return []*goose.MigrationResult{down}, err
		}
		return []*goose.MigrationResult{down, up}, err
	})
}

// Reset rolls every given line back to zero, the last line first, as
// [DownTo] does; lines never migrated are skipped. The lines must be in
// the order [Up] wants, so that each line's dependents go first; a line
// outside them that requires one of them makes it return a
// [*DependentError]. As [Up] does, it returns a [*MigrationFileError]
// before touching the database when a file of any line does not parse, so
// that no line is rolled back when another could not be.
func Reset(ctx context.Context, db *sql.DB, lines ...*Line) ([]*MigrationResult, error) {
	if err := checkLines(lines, false); err != nil {
		return nil, err
	}
	if err := checkFiles(lines); err != nil {
		return nil, err
	}
	var results []*MigrationResult
	err := withLock(ctx, db, func() error {
		for _, l := range slices.Backward(lines) {
			before, err := SnapshotBoundary(ctx, db)
			if err != nil {
				return err
			}
			var down []*goose.MigrationResult
			_, err = downLine(ctx, db, l, func(p *goose.Provider) ([]*goose.MigrationResult, error) {
				var err error
				down, err = p.DownTo(ctx, 0)
				return down, err
			})
			results = append(results, wrapResults(l, down)...)
			if errors.Is(err, ErrNothingApplied) {
				err = nil
			}
			if rerr := RecordBoundary(ctx, db, before); rerr != nil {
				return errors.Join(err, rerr)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	return results, err
}

// downLocked runs [downLine] under the run's lock, between a snapshot of
// the boundary and its record.
func downLocked(ctx context.Context, db *sql.DB, l *Line, run func(*goose.Provider) ([]*goose.MigrationResult, error)) ([]*MigrationResult, error) {
	if err := checkLines([]*Line{l}, false); err != nil {
		return nil, err
	}
	var results []*MigrationResult
	err := withLock(ctx, db, func() error {
		before, err := SnapshotBoundary(ctx, db)
		if err != nil {
			return err
		}
		var down []*goose.MigrationResult
		_, downErr := downLine(ctx, db, l, func(p *goose.Provider) ([]*goose.MigrationResult, error) {
			var err error
			down, err = run(p)
			return down, err
		})
		results = wrapResults(l, down)
		if err := RecordBoundary(ctx, db, before); err != nil {
			return errors.Join(downErr, err)
		}
		return downErr
	})
	return results, err
}

// downLine checks that l may go down and runs run with a provider of l,
// then forgets the checksums of what it rolled back. It returns the
// provider it made, nil when it did not get that far.
func downLine(ctx context.Context, db *sql.DB, l *Line, run func(*goose.Provider) ([]*goose.MigrationResult, error)) (*goose.Provider, error) {
	migrated, err := l.Migrated(ctx, db)
	if err != nil {
		return nil, err
	}
	if !migrated {
		return nil, fmt.Errorf("line %s: %w", l.name, ErrNothingApplied)
	}
	if dependent, err := dependentOf(ctx, db, l); err != nil {
		return nil, err
	} else if dependent != "" {
		return nil, &DependentError{Line: l.name, Dependent: dependent}
	}
	p, err := l.NewProvider(db)
	if err != nil {
		return nil, err
	}
	results, runErr := run(p)
	if errors.Is(runErr, goose.ErrNoNextVersion) {
		return p, fmt.Errorf("line %s: %w", l.name, ErrNothingApplied)
	}
	if runErr != nil {
		runErr = fmt.Errorf("line %s: %w", l.name, runErr)
	}
	// Redo's second result is an up, which records its checksum afresh.
	var up []*goose.MigrationResult
	for _, r := range results {
		if r != nil && r.Direction == "up" {
			up = append(up, r)
		}
	}
	if err := RecordChecksums(ctx, db, l, p, up); err != nil {
		return p, errors.Join(runErr, err)
	}
	return p, runErr
}

// dependentOf returns the name of an applied line that requires l, or "".
// The built-in lines are found by their version tables; a team's line,
// which requires the core, by its recorded checksums.
func dependentOf(ctx context.Context, db *sql.DB, l *Line) (string, error) {
	for _, b := range builtin() {
		if !slices.Contains(b.requires, l.name) {
			continue
		}
		applied, err := appliedCount(ctx, db, b.versionTable)
		if err != nil {
			return "", err
		}
		if applied > 0 {
			return b.name, nil
		}
	}
	// A team's line is known only by its recorded checksums, not by what it
	// requires: River stays up under any of them, as the core does (a line
	// that uses River's tables would otherwise keep a version table that
	// claims them). Roll the team's line back first.
	if l.name != LineCore && l.name != LineRiver {
		return "", nil
	}
	applied, err := AppliedLines(ctx, db)
	if err != nil {
		return "", err
	}
	for _, name := range applied {
		if !slices.ContainsFunc(builtin(), func(b *Line) bool { return b.name == name }) {
			return name, nil
		}
	}
	return "", nil
}

// AppliedLines returns the names of the lines that have applied
// migrations recorded in bulwark.migration_checksums, sorted: the built-in
// lines and the teams' own that [Up] migrated, whether or not the caller
// knows their files. It returns none for a database without the record
// (never migrated, or the core rolled back to zero), and the query's error
// when the database cannot answer. It never writes.
func AppliedLines(ctx context.Context, db *sql.DB) ([]string, error) {
	var recorded bool
	if err := db.QueryRowContext(ctx,
		`SELECT pg_catalog.to_regclass('bulwark.migration_checksums') IS NOT NULL`,
	).Scan(&recorded); err != nil {
		return nil, fmt.Errorf("look up the recorded lines: %w", err)
	}
	if !recorded {
		return nil, nil
	}
	rows, err := db.QueryContext(ctx, `
		SELECT DISTINCT m.line COLLATE "C" FROM bulwark.migration_checksums AS m
		ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("look up the recorded lines: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("look up the recorded lines: %w", err)
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up the recorded lines: %w", err)
	}
	return names, nil
}

// appliedCount returns how many migrations the goose version table table
// says are applied; zero when it does not exist.
func appliedCount(ctx context.Context, db *sql.DB, table string) (int, error) {
	var exists bool
	if err := db.QueryRowContext(ctx, `SELECT pg_catalog.to_regclass($1) IS NOT NULL`, table).Scan(&exists); err != nil {
		return 0, fmt.Errorf("look up %s: %w", table, err)
	}
	if !exists {
		return 0, nil
	}
	// goose keeps a row per apply; the newest row of a version says
	// whether it is applied now.
	var n int
	if err := db.QueryRowContext(ctx, `
		SELECT count(*) FROM (
		    SELECT DISTINCT ON (g.version_id) g.is_applied
		    FROM `+pgx.Identifier(strings.Split(table, ".")).Sanitize()+` AS g
		    WHERE g.version_id > 0
		    ORDER BY g.version_id, g.id DESC
		) AS v
		WHERE v.is_applied`).Scan(&n); err != nil {
		return 0, fmt.Errorf("read %s: %w", table, err)
	}
	return n, nil
}

// Status returns every migration of each line and whether it is applied,
// line by line in the order given. It never writes: a line never migrated
// (no version table) is listed as pending without creating its table. It
// returns a [*LineError] for a bad list of lines.
func Status(ctx context.Context, db *sql.DB, lines ...*Line) ([]*MigrationStatus, error) {
	if err := checkLines(lines, false); err != nil {
		return nil, err
	}
	var out []*MigrationStatus
	for _, l := range lines {
		p, err := l.NewProvider(db)
		if err != nil {
			return nil, err
		}
		migrated, err := l.Migrated(ctx, db)
		if err != nil {
			return nil, err
		}
		if !migrated {
			for _, src := range p.ListSources() {
				out = append(out, &MigrationStatus{Line: l.name, MigrationStatus: &goose.MigrationStatus{Source: src, State: goose.StatePending}})
			}
			continue
		}
		statuses, err := p.Status(ctx)
		if err != nil {
			return nil, fmt.Errorf("line %s: read migration status: %w", l.name, err)
		}
		for _, s := range statuses {
			out = append(out, &MigrationStatus{Line: l.name, MigrationStatus: s})
		}
	}
	return out, nil
}

// checkLines returns a [*LineError] for a nil line or two lines that share
// a name or version table and, when ordered, a [*RequirementError] for a
// line that comes before a line it requires.
func checkLines(lines []*Line, ordered bool) error {
	if len(lines) == 0 {
		return &LineError{Line: "(none)", Problem: "no line given"}
	}
	seen := make(map[string]bool)
	tables := make(map[string]string)
	for _, l := range lines {
		if l == nil || l.name == "" {
			return &LineError{Line: "(nil)", Problem: "not a line: use Core, River, Articles or Own"}
		}
		if seen[l.name] {
			return &LineError{Line: l.name, Problem: "given twice"}
		}
		if other, ok := tables[l.versionTable]; ok {
			return &LineError{Line: l.name, Problem: fmt.Sprintf("shares version table %s with line %s", l.versionTable, other)}
		}
		if ordered {
			for _, r := range l.requires {
				if !seen[r] {
					return &RequirementError{Line: l.name, Requires: r}
				}
			}
		}
		seen[l.name] = true
		tables[l.versionTable] = l.name
	}
	return nil
}

// checkFiles returns the [*MigrationFileError] of the first of lines whose
// files goose cannot take (see [Line.Check]). Down and DownTo do without:
// goose parses every migration they roll back before it rolls back any,
// and a file they do not touch need not stop a rollback.
func checkFiles(lines []*Line) error {
	for _, l := range lines {
		if err := l.Check(); err != nil {
			return err
		}
	}
	return nil
}

// nameOf names l in an error, nil too.
func nameOf(l *Line) string {
	if l == nil {
		return "(nil)"
	}
	return l.name
}

// wrapResults tags goose's results with l's name.
func wrapResults(l *Line, results []*goose.MigrationResult) []*MigrationResult {
	var out []*MigrationResult
	for _, r := range results {
		if r != nil {
			out = append(out, &MigrationResult{Line: l.name, MigrationResult: r})
		}
	}
	return out
}

// withLock runs fn holding the run's advisory lock on a connection of its
// own, so that two processes never interleave their lines, snapshots and
// records. The lock is released however fn ends; a connection that could
// not release it is closed, which releases it too.
func withLock(ctx context.Context, db *sql.DB, fn func() error) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("lock migrations: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_catalog.pg_advisory_lock($1)`, lockKey); err != nil {
		_ = conn.Close()
		return fmt.Errorf("lock migrations: %w", err)
	}
	defer func() {
		unlockCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
		defer cancel()
		if _, uerr := conn.ExecContext(unlockCtx, `SELECT pg_catalog.pg_advisory_unlock($1)`, lockKey); uerr != nil {
			// Never back into the pool with the lock held.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		_ = conn.Close()
	}()
	return fn()
}
