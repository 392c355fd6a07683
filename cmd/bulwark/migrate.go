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
	"github.com/bulwarkdb/bulwark/verify"
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
	// lines are the lines to migrate, in order: the core, River and the
	// articles as asked, the team's own last.
	lines    []*schema.Line
	noVerify bool
	// own is the team's line, nil when --migrations is not given.
	own   *schema.Line
	roles []string
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	databaseURL := fs.String("database-url", os.Getenv("DATABASE_URL"), "PostgreSQL URL of the migration role (default $DATABASE_URL)")
	noVerify := fs.Bool("no-verify", false, "do not run bulwark verify after up or redo (not recommended)")
	var roles roleList
	fs.Var(&roles, "migration-role", "for the verify after up or redo: a login role allowed in bulwark_owner (repeatable; default: the connecting role)")
	withRiver := fs.Bool("with-river", false, "also River's tables (schema river), for job runners")
	withExamples := fs.Bool("with-examples", false, "also River's tables and the article reference domain (schema app), for the demo and the bench")
	own := addOwnLineFlags(fs)
	timeout := timeoutFlag(fs, defaultMigrateTimeout)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: bulwark migrate up|down|status|redo [--migrations DIR [--version-table T] [--line-name N]] [--with-river] [--with-examples] [--database-url URL] [--no-verify] [--migration-role ROLE]... [--timeout D]")
		fmt.Fprintln(stderr, "Lines, in order: bulwark's core (always), River (--with-river), the article domain (--with-examples), yours (--migrations).")
		fmt.Fprintln(stderr, "up applies every line; down and redo act on the newest migration of the last line given that has one applied.")
		fmt.Fprintln(stderr, "up and redo then run bulwark verify and fail (exit 1) when the enforcement boundary is weakened.")
		fmt.Fprintln(stderr, "status, down and redo on a database never migrated say so and change nothing (exit 0).")
		fmt.Fprintln(stderr, "up, redo and status first check that goose parses every file of every line: a bad one stops them before connecting (exit 2).")
		fs.PrintDefaults()
	}
	if len(args) == 0 {
		fs.Usage()
		return &exitError{code: exitUsage, err: errors.New("missing subcommand")}
	}
	sub := args[0]
	if isHelp(sub) {
		fs.Usage()
		return flag.ErrHelp
	}
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
	ownLine, err := own.line()
	if err != nil {
		return err
	}
	if *databaseURL == "" {
		return &exitError{code: exitUsage, err: errors.New("no database: pass --database-url or set DATABASE_URL")}
	}
	lines := []*schema.Line{schema.Core()}
	if *withRiver || *withExamples {
		lines = append(lines, schema.River())
	}
	if *withExamples {
		lines = append(lines, schema.Articles())
	}
	if ownLine != nil {
		lines = append(lines, ownLine)
	}
	if sub != "down" {
		// Before connecting: up would otherwise apply the lines before a
		// bad file's, and leave the database half-migrated.
		if err := checkFiles(lines); err != nil {
			return err
		}
	}
	opts := &migrateOpts{databaseURL: *databaseURL, lines: lines, noVerify: *noVerify, own: ownLine, roles: roles}
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
	core := opts.lines[0]
	// Every goose provider method creates its version table when it is
	// missing, even Status: ask the catalog first (schema.Status and
	// schema.Down do too), so that reading or rolling back a database that
	// was never migrated writes nothing.
	migrated, err := core.Migrated(ctx, db)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", sub, err)
	}
	notMigrated := "not migrated: " + core.VersionTable() + " does not exist"

	switch sub {
	case "up":
		// schema.Up also records the checksums verify compares.
		results, err := schema.Up(ctx, db, opts.lines...)
		printResults(stdout, opts.lines, results)
		if err != nil {
			return migrateError(sub, err)
		}
		if len(results) == 0 {
			fmt.Fprintln(stdout, "no pending migrations")
		}
		return verifyAfterMigrate(ctx, opts, stdout, stderr)
	case "down", "redo":
		what := map[string]string{"down": "roll back", "redo": "redo"}[sub]
		if !migrated {
			fmt.Fprintf(stdout, "%s: nothing to %s\n", notMigrated, what)
			return nil
		}
		line, err := newestLine(ctx, db, opts.lines)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", sub, err)
		}
		if line == nil {
			fmt.Fprintf(stdout, "no migration is applied: nothing to %s\n", what)
			return nil
		}
		var results []*schema.MigrationResult
		if sub == "down" {
			var r *schema.MigrationResult
			r, err = schema.Down(ctx, db, line)
			if r != nil {
				results = append(results, r)
			}
		} else {
			results, err = schema.Redo(ctx, db, line)
		}
		printResults(stdout, opts.lines, results)
		if errors.Is(err, schema.ErrNothingApplied) {
			// Rolled back by another process meanwhile.
			fmt.Fprintf(stdout, "no migration is applied: nothing to %s\n", what)
			return nil
		}
		var dependent *schema.DependentError
		if errors.As(err, &dependent) {
			return &exitError{code: exitUsage, err: fmt.Errorf("migrate %s: %w (%s)", sub, err, dependentHint(dependent.Dependent))}
		}
		if err != nil {
			return migrateError(sub, err)
		}
		if sub == "redo" {
			return verifyAfterMigrate(ctx, opts, stdout, stderr)
		}
	case "status":
		if !migrated {
			fmt.Fprintln(stdout, notMigrated+"; `bulwark migrate up` applies:")
		}
		statuses, err := schema.Status(ctx, db, opts.lines...)
		if err != nil {
			return fmt.Errorf("migrate status: %w", err)
		}
		if err := printStatus(stdout, opts.lines, statuses); err != nil {
			return err
		}
		// A line the database applied but the flags did not name would
		// otherwise go unmentioned: say how to bring it in.
		applied, err := schema.AppliedLines(ctx, db)
		if err != nil {
			return fmt.Errorf("migrate status: %w", err)
		}
		for _, name := range applied {
			if lineNamed(opts.lines, name) == nil {
				fmt.Fprintf(stdout, "line %s is applied in this database but not listed: %s to include it\n", name, includeHint(name))
			}
		}
	}
	return nil
}

// migrateError wraps the error of a migrate run: a migration file goose
// cannot take, changed since [checkFiles] read it, is the user's input
// (exit 2) as it is before connecting; the rest is a failed migration.
func migrateError(sub string, err error) error {
	err = fmt.Errorf("migrate %s: %w", sub, err)
	var fileErr *schema.MigrationFileError
	if errors.As(err, &fileErr) {
		return &exitError{code: exitUsage, err: err}
	}
	return err
}

// newestLine returns the last of lines that has an applied migration, nil
// when none has.
func newestLine(ctx context.Context, db *sql.DB, lines []*schema.Line) (*schema.Line, error) {
	statuses, err := schema.Status(ctx, db, lines...)
	if err != nil {
		return nil, err
	}
	var newest *schema.Line
	for _, s := range statuses {
		if s.State == goose.StateApplied {
			newest = lineNamed(lines, s.Line)
		}
	}
	return newest, nil
}

// dependentHint says which flag brings the dependent line into the run.
func dependentHint(line string) string {
	switch line {
	case schema.LineRiver:
		return "pass --with-river to roll River back first"
	case schema.LineArticles:
		return "pass --with-examples to roll the article domain back first"
	}
	return "pass that line's --migrations DIR to roll it back first"
}

// includeHint says which flags bring the applied line named line into a
// migrate run (the core's is in every run).
func includeHint(line string) string {
	switch line {
	case schema.LineRiver:
		return "pass --with-river"
	case schema.LineArticles:
		return "pass --with-examples"
	case schema.DefaultOwnName:
		return "pass --migrations DIR (and its --version-table, unless " + schema.DefaultVersionTable + ")"
	}
	return "pass --migrations DIR --line-name " + line + " (and its --version-table, unless " + schema.DefaultVersionTable + ")"
}

// lineNamed returns the line of lines named name, nil if none is.
func lineNamed(lines []*schema.Line, name string) *schema.Line {
	for _, l := range lines {
		if l.Name() == name {
			return l
		}
	}
	return nil
}

// printStatus writes one row per migration.
func printStatus(w io.Writer, lines []*schema.Line, statuses []*schema.MigrationStatus) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LINE\tVERSION\tSTATE\tAPPLIED AT\tFILE")
	for _, s := range statuses {
		applied := "-"
		if !s.AppliedAt.IsZero() {
			applied = s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
		}
		fmt.Fprintf(tw, "%s\t%05d\t%s\t%s\t%s\n", s.Line, s.Source.Version, s.State, applied, sourceName(lineNamed(lines, s.Line), s.Source))
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
	vopts := &verify.Opts{MigrationRoles: opts.roles}
	if opts.own != nil {
		vopts.Lines = []*schema.Line{opts.own}
	}
	err := verifyWith(ctx, opts.databaseURL, "text", vopts, stdout)
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

func printResults(w io.Writer, lines []*schema.Line, results []*schema.MigrationResult) {
	for _, r := range results {
		direction := "up"
		if r.Direction == "down" {
			direction = "down"
		}
		status := "ok"
		if r.Error != nil {
			status = "FAILED"
		}
		fmt.Fprintf(w, "%-4s %-8s %05d %-40s %-6s %s\n", direction, r.Line, r.Source.Version, sourceName(lineNamed(lines, r.Line), r.Source), status, r.Duration.Round(1e6))
	}
}

// sourceName names a migration of line: its file, or, for a Go migration,
// what it installs (its recorded checksum marker).
func sourceName(line *schema.Line, src *goose.Source) string {
	if src.Path != "" {
		return src.Path
	}
	if line != nil {
		if sums, err := line.Checksums(); err == nil {
			for _, c := range sums {
				if c.Version == src.Version {
					return "(Go) " + c.Sum
				}
			}
		}
	}
	return "(Go migration)"
}
