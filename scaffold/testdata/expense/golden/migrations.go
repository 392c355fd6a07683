// Scaffolded by `bulwark new` from declaration.json; yours to edit (bulwark new
// overwrites it only with --force).

package expenses

import (
	"embed"
	"io/fs"

	"github.com/bulwarkdb/bulwark/sql/schema"
)

// LineName and VersionTable name the domain's migration line: its name in
// bulwark.migration_checksums, and its own goose version table beside the
// core's.
const (
	LineName     = "expenses"
	VersionTable = "public.expenses_goose_version"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the domain's goose migration files.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // unreachable: the directory is embedded
	}
	return sub
}

// Line returns the domain's migration line, applied after bulwark's core:
//
//	schema.Up(ctx, db, schema.Core(), expenses.Line())
//
// and named to bulwark verify with verify.Opts.Lines (or bulwark verify
// --migrations DIR --line-name expenses --version-table public.expenses_goose_version).
func Line() *schema.Line {
	l, err := schema.Own(Migrations(), &schema.OwnOpts{Name: LineName, VersionTable: VersionTable})
	if err != nil {
		panic(err) // unreachable: the name and the table are valid constants
	}
	return l
}
