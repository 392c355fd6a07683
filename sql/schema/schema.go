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
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed *.sql
var embedded embed.FS

// VersionTable is goose's version table, schema-qualified so that every
// session finds the same table whatever its search_path (a login whose
// search_path is empty would otherwise find none, or create one elsewhere).
// `bulwark verify` reads it under the same name.
const VersionTable = "public.goose_db_version"

// FS returns the migration files, named with five-digit versions so that
// sqlc's lexicographic order matches goose's numeric order.
func FS() fs.FS { return embedded }

// NewProvider returns a goose provider over db for bulwark's migrations,
// recorded in [VersionTable]. It holds a PostgreSQL advisory lock while
// migrating, so several processes may run it at once against one database.
// Extra options (a logger, verbose output) are passed through to goose; a
// goose.WithStore option conflicts with the pinned table name and fails.
//
// Every method of the provider, even Status, first creates the version
// table if it is missing: call [Migrated] first where a read must not write.
func NewProvider(db *sql.DB, opts ...goose.ProviderOption) (*goose.Provider, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("create migration lock: %w", err)
	}
	all := append([]goose.ProviderOption{
		goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(riverMigration()),
		goose.WithSessionLocker(locker),
		goose.WithTableName(VersionTable),
	}, opts...)
	p, err := goose.NewProvider(goose.DialectPostgres, db, embedded, all...)
	if err != nil {
		return nil, fmt.Errorf("create migration provider: %w", err)
	}
	return p, nil
}

// Migrated reports whether db was ever migrated, that is whether
// [VersionTable] exists, by asking the catalog: unlike the provider's
// methods, it never creates the table. It returns the query's error when
// the database cannot answer.
func Migrated(ctx context.Context, db *sql.DB) (bool, error) {
	var exists bool
	if err := db.QueryRowContext(ctx,
		`SELECT pg_catalog.to_regclass($1) IS NOT NULL`, VersionTable,
	).Scan(&exists); err != nil {
		return false, fmt.Errorf("look up %s: %w", VersionTable, err)
	}
	return exists, nil
}
