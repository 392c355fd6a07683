// Package schema embeds bulwark's goose migrations: the reusable core
// (schema bulwark) first, then the reference article workflow (schema app).
//
// The migrations are the source of truth for every invariant; Go code never
// re-implements them. Run them with [Up] from your own tooling, or with the
// bulwark CLI (`bulwark migrate up`): Up applies them with a goose provider
// from [NewProvider] and records each applied migration's checksum, which
// `bulwark verify` compares with the files. If you drive the provider
// yourself, call [RecordChecksums] after it.
package schema

import (
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed *.sql
var embedded embed.FS

// FS returns the migration files, named with five-digit versions so that
// sqlc's lexicographic order matches goose's numeric order.
func FS() fs.FS { return embedded }

// NewProvider returns a goose provider over db for bulwark's migrations.
// It holds a PostgreSQL advisory lock while migrating, so several processes
// may run it at once against one database. Extra options (a logger, verbose
// output) are passed through to goose.
func NewProvider(db *sql.DB, opts ...goose.ProviderOption) (*goose.Provider, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("create migration lock: %w", err)
	}
	all := append([]goose.ProviderOption{
		goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(riverMigration()),
		goose.WithSessionLocker(locker),
	}, opts...)
	p, err := goose.NewProvider(goose.DialectPostgres, db, embedded, all...)
	if err != nil {
		return nil, fmt.Errorf("create migration provider: %w", err)
	}
	return p, nil
}
