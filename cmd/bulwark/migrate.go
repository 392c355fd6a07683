package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/bulwarkdb/bulwark/sql/schema"
)

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	databaseURL := fs.String("database-url", os.Getenv("DATABASE_URL"), "PostgreSQL URL of the migration role (default $DATABASE_URL)")
	noVerify := fs.Bool("no-verify", false, "do not run bulwark verify after up or redo (not recommended)")
	var roles roleList
	fs.Var(&roles, "migration-role", "for the verify after up or redo: a login role allowed in bulwark_owner (repeatable; default: the connecting role)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: bulwark migrate up|down|status|redo [--database-url URL] [--no-verify] [--migration-role ROLE]...")
		fmt.Fprintln(stderr, "up and redo then run bulwark verify and fail (exit 1) when the enforcement boundary is weakened.")
		fs.PrintDefaults()
	}
	if len(args) == 0 {
		fs.Usage()
		return &exitError{code: exitUsage, err: errors.New("missing subcommand")}
	}
	sub := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if *databaseURL == "" {
		return &exitError{code: exitUsage, err: errors.New("no database: pass --database-url or set DATABASE_URL")}
	}

	db, err := openSQL(*databaseURL)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("connect: %w", err)}
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
		return verifyAfterMigrate(ctx, *databaseURL, *noVerify, roles, stdout, stderr)
	case "down":
		result, err := provider.Down(ctx)
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
	case "redo":
		down, err := provider.Down(ctx)
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
		return verifyAfterMigrate(ctx, *databaseURL, *noVerify, roles, stdout, stderr)
	case "status":
		statuses, err := provider.Status(ctx)
		if err != nil {
			return fmt.Errorf("migrate status: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tSTATE\tAPPLIED AT\tFILE")
		for _, s := range statuses {
			applied := "-"
			if !s.AppliedAt.IsZero() {
				applied = s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
			}
			fmt.Fprintf(tw, "%05d\t%s\t%s\t%s\n", s.Source.Version, s.State, applied, sourceName(s.Source))
		}
		return tw.Flush()
	default:
		fs.Usage()
		return &exitError{code: exitUsage, err: fmt.Errorf("unknown subcommand %q", sub)}
	}
	return nil
}

// verifyAfterMigrate runs bulwark verify after up or redo: a migration
// that weakened the boundary fails the command (exit 1), so a deploy stops
// there. --no-verify skips it, and says so where nobody can miss it.
func verifyAfterMigrate(ctx context.Context, url string, skip bool, roles []string, stdout, stderr io.Writer) error {
	if skip {
		fmt.Fprintln(stderr, "WARNING: --no-verify: the enforcement boundary was NOT verified after migrating.")
		fmt.Fprintln(stderr, "WARNING: run `bulwark verify` before trusting this database.")
		return nil
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "verify:")
	err := verifyDatabase(ctx, url, "text", roles, stdout)
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
