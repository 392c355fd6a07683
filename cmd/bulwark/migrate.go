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
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: bulwark migrate up|down|status|redo [--database-url URL]")
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
		results, err := provider.Up(ctx)
		printResults(stdout, results)
		if err != nil {
			return fmt.Errorf("migrate up: %w", err)
		}
		if len(results) == 0 {
			fmt.Fprintln(stdout, "no pending migrations")
		}
	case "down":
		result, err := provider.Down(ctx)
		if result != nil {
			printResults(stdout, []*goose.MigrationResult{result})
		}
		if err != nil {
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
			fmt.Fprintf(tw, "%05d\t%s\t%s\t%s\n", s.Source.Version, s.State, applied, s.Source.Path)
		}
		return tw.Flush()
	default:
		fs.Usage()
		return &exitError{code: exitUsage, err: fmt.Errorf("unknown subcommand %q", sub)}
	}
	return nil
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
		fmt.Fprintf(w, "%-4s %05d %-40s %-6s %s\n", direction, r.Source.Version, r.Source.Path, status, r.Duration.Round(1e6))
	}
}
