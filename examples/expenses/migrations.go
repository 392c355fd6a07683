// Scaffolded by `bulwark new` from expense.json; yours to edit (bulwark new
// overwrites it only with --force).

package expenses

import (
	"embed"
	"io/fs"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the domain's goose migrations: its own migration line,
// applied after bulwark's core with its own version table (package schema).
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // unreachable: the directory is embedded
	}
	return sub
}
