package bulwarktest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/bulwarkdb/bulwark/internal/pgtest"
	"github.com/bulwarkdb/bulwark/sql/schema"
)

// MainOpts are options for [Main]. A nil *MainOpts means the core's line
// alone (schema.Core), on DATABASE_URL or a throwaway cluster.
type MainOpts struct {
	// Language, if not empty, is a message catalog name such as "de": the
	// tests run on a throwaway cluster whose server speaks it (LANGUAGE in
	// its environment, lc_messages = 'C.UTF-8'), so that its messages,
	// context lines and severities reach clients translated, as on a
	// production server set up in that language. It proves that nothing
	// decides by the server's text. DATABASE_URL is ignored then, because a
	// client cannot choose a server's language: the local server binaries
	// and their message catalog for Language must be installed.
	Language string

	// Lines are the migration lines the template gets, applied in order
	// with schema.Up, which records their checksums as `bulwark migrate`
	// does: typically schema.Core(), schema.River() if the team runs jobs,
	// and the team's own line from schema.Own. Nil means schema.Core()
	// alone.
	Lines []*schema.Line

	// MigrateFunc, if not nil, migrates the template further after the
	// lines: for what is no goose line (reference data, another tool's
	// migrations). It gets a *sql.DB on the template, connected as the
	// migration role with the default search_path.
	MigrateFunc func(ctx context.Context, db *sql.DB) error

	// TemplateKey names what the lines' checksums do not show, and is
	// required with MigrateFunc: what MigrateFunc installs, or the code of
	// a line's Go migrations (recorded as "go", whatever it does). Change it
	// whenever that changes, or tests run on a stale template.
	TemplateKey string
}

// ErrTemplateKey reports a [MainOpts] with a MigrateFunc but no
// TemplateKey. [Main] prints it and exits 2 before any test runs.
var ErrTemplateKey = errors.New("bulwarktest: MainOpts.MigrateFunc needs a TemplateKey that changes with what it installs")

// Main runs the tests of m against PostgreSQL, then releases the server
// (stopping the shared throwaway cluster if this process was its last
// user), and exits with the tests' status, or 1 if releasing failed. Call
// it from TestMain:
//
//	func TestMain(m *testing.M) {
//		bulwarktest.Main(m, &bulwarktest.MainOpts{Lines: []*schema.Line{schema.Core(), own}})
//	}
//
// The template database is built once per server, by the first test
// process that needs it, and named after a hash of the lines' files and
// checksums and of [MainOpts].TemplateKey: test processes that wire the
// same migrations share it, across packages and runs, and a changed
// migration gets a new one. The server and the template are set up
// lazily, by the first test that asks for a database, so a package that
// never does costs nothing. With opts that are not valid, Main prints why
// and exits 2 without running the tests.
func Main(m *testing.M, opts *MainOpts) {
	cfg, err := opts.config()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	pgtest.MainWith(m, cfg)
}

// config returns the harness's configuration for opts.
func (opts *MainOpts) config() (pgtest.Config, error) {
	var o MainOpts
	if opts != nil {
		o = *opts
	}
	if o.MigrateFunc != nil && o.TemplateKey == "" {
		return pgtest.Config{}, ErrTemplateKey
	}
	lines := o.Lines
	if lines == nil {
		lines = []*schema.Line{schema.Core()}
	}
	migration, err := pgtest.LinesMigration(lines...)
	if err != nil {
		return pgtest.Config{}, fmt.Errorf("bulwarktest: %w", err)
	}
	if o.TemplateKey != "" {
		// NUL occurs in neither key, so no two pairs run together into
		// one.
		migration.Key += "\x00" + o.TemplateKey
	}
	if own := o.MigrateFunc; own != nil {
		up := migration.MigrateFunc
		migration.MigrateFunc = func(ctx context.Context, db *sql.DB) error {
			if err := up(ctx, db); err != nil {
				return err
			}
			if err := own(ctx, db); err != nil {
				return fmt.Errorf("MainOpts.MigrateFunc: %w", err)
			}
			return nil
		}
	}
	return pgtest.Config{Language: o.Language, Migration: migration}, nil
}
