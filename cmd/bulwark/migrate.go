package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/bulwarkdb/bulwark/sql/schema"
)

// defaultMigrateTimeout bounds a whole migrate run, the verify after it
// included. bulwark's own migrations take seconds; a deployment whose own
// migrations rewrite large tables passes a longer --timeout.
const defaultMigrateTimeout = 30 * time.Minute

// migrateSubcommands are the subcommands of migrate, in usage order.
var migrateSubcommands = []string{"up", "down", "status", "redo"}

// migrateOpts are a migrate run's parsed flags.
type migrateOpts struct {
	databaseURL string
	noVerify    bool
	roles       []string
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	databaseURL := fs.String("database-url", os.Getenv("DATABASE_URL"), "PostgreSQL URL of the migration role (default $DATABASE_URL)")
	noVerify := fs.Bool("no-verify", false, "do not run bulwark verify after up or redo (not recommended)")
	var roles roleList
	fs.Var(&roles, "migration-role", "for the verify after up or redo: a login role allowed in bulwark_owner (repeatable; default: the connecting role)")
	timeout := timeoutFlag(fs, defaultMigrateTimeout)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: bulwark migrate up|down|status|redo [--database-url URL] [--no-verify] [--migration-role ROLE]... [--timeout D]")
		fmt.Fprintln(stderr, "up and redo then run bulwark verify and fail (exit 1) when the enforcement boundary is weakened.")
		fmt.Fprintln(stderr, "status, down and redo on a database never migrated say so and change nothing (exit 0).")
		fs.PrintDefaults()
	}
	if len(args) == 0 {
		fs.Usage()
		return &exitError{code: exitUsage, err: errors.New("missing subcommand")}
	}
	sub := args[0]
	if !slices.Contains(migrateSubcommands, sub) {
		fs.Usage()
		return &exitError{code: exitUsage, err: fmt.Errorf("unknown subcommand %q", sub)}
	}
	if err := fs.Parse(args[1:]); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return &exitError{code: exitUsage, err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if err := checkTimeout(*timeout); err != nil {
		return err
	}
	if *databaseURL == "" {
		return &exitError{code: exitUsage, err: errors.New("no database: pass --database-url or set DATABASE_URL")}
	}
	opts := &migrateOpts{databaseURL: *databaseURL, noVerify: *noVerify, roles: roles}
	return withDeadline(ctx, *timeout, func(ctx context.Context) error {
		return migrate(ctx, sub, opts, stdout, stderr)
	})
}

// migrate runs the subcommand sub (one of [migrateSubcommands]).
func migrate(ctx context.Context, sub string, opts *migrateOpts, stdout, stderr io.Writer) error {
	db, err := openSQL(opts.databaseURL)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("connect: %w", err)}
	}
	// Every provider method creates goose's version table when it is
	// missing, even Status: ask the catalog first, so that reading or
	// rolling back a database that was never migrated writes nothing.
	migrated, err := schema.Migrated(ctx, db)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", sub, err)
	}
	provider, err := schema.NewProvider(db)
	if err != nil {
		return err
	}

	switch sub {
	case "up":
		// schema.Up also records the checksums verify compares.
		results, err := schema.Up(ctx, db)
		printResults(stdout, results)
		if err != nil {
			return fmt.Errorf("migrate up: %w", err)
		}
		if len(results) == 0 {
			fmt.Fprintln(stdout, "no pending migrations")
		}
		return verifyAfterMigrate(ctx, opts, stdout, stderr)
	case "down":
		if !migrated {
			fmt.Fprintln(stdout, notMigrated+": nothing to roll back")
			return nil
		}
		// What the boundary holds before, so that the record follows what
		// the rollback changes and nothing else (verify compares with it).
		before, err := schema.SnapshotBoundary(ctx, db)
		if err != nil {
			return fmt.Errorf("migrate down: %w", err)
		}
		result, err := provider.Down(ctx)
		if errors.Is(err, goose.ErrNoNextVersion) {
			fmt.Fprintln(stdout, "no migration is applied: nothing to roll back")
			return nil
		}
		if result != nil {
			printResults(stdout, []*goose.MigrationResult{result})
		}
		if err != nil {
			return fmt.Errorf("migrate down: %w", err)
		}
		// Forget the checksum of what was rolled back, so that applying it
		// again records it afresh.
		if err := schema.RecordChecksums(ctx, db, provider, nil); err != nil {
			return fmt.Errorf("migrate down: %w", err)
		}
		if err := schema.RecordBoundary(ctx, db, before); err != nil {
			return fmt.Errorf("migrate down: %w", err)
		}
	case "redo":
		if !migrated {
			fmt.Fprintln(stdout, notMigrated+": nothing to redo")
			return nil
		}
		before, err := schema.SnapshotBoundary(ctx, db)
		if err != nil {
			return fmt.Errorf("migrate redo: %w", err)
		}
		down, err := provider.Down(ctx)
		if errors.Is(err, goose.ErrNoNextVersion) {
			fmt.Fprintln(stdout, "no migration is applied: nothing to redo")
			return nil
		}
		if down != nil {
			printResults(stdout, []*goose.MigrationResult{down})
		}
		if err != nil {
			return fmt.Errorf("migrate redo (down): %w", err)
		}
		up, err := provider.UpByOne(ctx)
		if up != nil {
			printResults(stdout, []*goose.MigrationResult{up})
		}
		if err != nil {
			return fmt.Errorf("migrate redo (up): %w", err)
		}
		if err := schema.RecordChecksums(ctx, db, provider, []*goose.MigrationResult{up}); err != nil {
			return fmt.Errorf("migrate redo: %w", err)
		}
		if err := schema.RecordBoundary(ctx, db, before); err != nil {
			return fmt.Errorf("migrate redo: %w", err)
		}
		return verifyAfterMigrate(ctx, opts, stdout, stderr)
	case "status":
		if !migrated {
			fmt.Fprintln(stdout, notMigrated+"; `bulwark migrate up` applies:")
			var statuses []*goose.MigrationStatus
			for _, src := range provider.ListSources() {
				statuses = append(statuses, &goose.MigrationStatus{Source: src, State: goose.StatePending})
			}
			return printStatus(stdout, statuses)
		}
		statuses, err := provider.Status(ctx)
		if err != nil {
			return fmt.Errorf("migrate status: %w", err)
		}
		return printStatus(stdout, statuses)
	}
	return nil
}

// notMigrated opens what migrate says about a database that was never
// migrated.
const notMigrated = "not migrated: " + schema.VersionTable + " does not exist"

// printStatus writes one row per migration.
func printStatus(w io.Writer, statuses []*goose.MigrationStatus) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tSTATE\tAPPLIED AT\tFILE")
	for _, s := range statuses {
		applied := "-"
		if !s.AppliedAt.IsZero() {
			applied = s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
		}
		fmt.Fprintf(tw, "%05d\t%s\t%s\t%s\n", s.Source.Version, s.State, applied, sourceName(s.Source))
	}
	return tw.Flush()
}

// verifyAfterMigrate runs bulwark verify after up or redo: a migration
// that weakened the boundary fails the command (exit 1), so a deploy stops
// there. --no-verify skips it, and says so where nobody can miss it.
func verifyAfterMigrate(ctx context.Context, opts *migrateOpts, stdout, stderr io.Writer) error {
	if opts.noVerify {
		fmt.Fprintln(stderr, "WARNING: --no-verify: the enforcement boundary was NOT verified after migrating.")
		fmt.Fprintln(stderr, "WARNING: run `bulwark verify` before trusting this database.")
		return nil
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "verify:")
	err := verifyDatabase(ctx, opts.databaseURL, "text", opts.roles, stdout)
	var exitErr *exitError
	if errors.As(err, &exitErr) && exitErr.code == exitDrift {
		return &exitError{code: exitDrift, err: fmt.Errorf("migrated, but %w", exitErr.err)}
	}
	return err
}

func openSQL(url string) (*sql.DB, error) {
	cfg, err := pgxConfig(url)
	if err != nil {
		return nil, err
	}
	return stdlib.OpenDB(*cfg), nil
}

func printResults(w io.Writer, results []*goose.MigrationResult) {
	for _, r := range results {
		direction := "up"
		if r.Direction == "down" {
			direction = "down"
		}
		status := "ok"
		if r.Error != nil {
			status = "FAILED"
		}
		fmt.Fprintf(w, "%-4s %05d %-40s %-6s %s\n", direction, r.Source.Version, sourceName(r.Source), status, r.Duration.Round(1e6))
	}
}

// sourceName names a migration: its file, or, for a Go migration, what it
// installs (its recorded checksum marker).
func sourceName(src *goose.Source) string {
	if src.Path != "" {
		return src.Path
	}
	sums, err := schema.Checksums()
	if err == nil {
		for _, c := range sums {
			if c.Version == src.Version {
				return "(Go) " + c.Sum
			}
		}
	}
	return "(Go migration)"
}
