package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/bulwarkdb/bulwark/sql/schema"
)

// Environment variables that name a team's own migration line, for migrate
// and verify alike.
const (
	envLineName     = "BULWARK_LINE_NAME"
	envMigrations   = "BULWARK_MIGRATIONS"
	envVersionTable = "BULWARK_VERSION_TABLE"
)

// ownLineFlags are the flags that name a team's own migration line.
type ownLineFlags struct {
	dir          *string
	name         *string
	versionTable *string
}

// addOwnLineFlags registers --migrations, --version-table and --line-name
// on fs, their defaults from the environment.
func addOwnLineFlags(fs *flag.FlagSet) *ownLineFlags {
	return &ownLineFlags{
		dir: fs.String("migrations", os.Getenv(envMigrations),
			"directory of your own goose migrations, a line beside bulwark's (default $"+envMigrations+")"),
		name: fs.String("line-name", os.Getenv(envLineName),
			"name of your line in bulwark.migration_checksums (default $"+envLineName+", else "+schema.DefaultOwnName+")"),
		versionTable: fs.String("version-table", os.Getenv(envVersionTable),
			"your line's goose version table, schema.table (default $"+envVersionTable+", else "+schema.DefaultVersionTable+")"),
	}
}

// line returns the team's line the flags name, nil when --migrations is
// not given. It returns an exitUsage error for a directory that is not
// one, a version table or name given without a directory, and what
// [schema.Own] refuses.
func (f *ownLineFlags) line() (*schema.Line, error) {
	if *f.dir == "" {
		if *f.versionTable != "" || *f.name != "" {
			return nil, &exitError{code: exitUsage, err: errors.New("--version-table and --line-name name the line of --migrations DIR: pass the directory too")}
		}
		return nil, nil
	}
	info, err := os.Stat(*f.dir)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("--migrations: %w", err)}
	}
	if !info.IsDir() {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("--migrations: %s is not a directory", *f.dir)}
	}
	l, err := schema.Own(os.DirFS(*f.dir), &schema.OwnOpts{Name: *f.name, VersionTable: *f.versionTable})
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	// Read the directory now: a file goose cannot take (two files with one
	// version) is a bad invocation, found before connecting.
	if _, err := l.Checksums(); err != nil {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("--migrations %s: %w", *f.dir, err)}
	}
	return l, nil
}

// checkFiles returns an exitUsage error naming the line and the file when
// goose cannot take a migration file of one of lines (see
// [schema.Line.Check]). Like a --migrations directory that is not one, a
// file that does not parse is bad input: found before connecting, it
// stops the run before anything is migrated.
func checkFiles(lines []*schema.Line) error {
	for _, l := range lines {
		if err := l.Check(); err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("%w (nothing was run: fix the file, then run again)", err)}
		}
	}
	return nil
}
