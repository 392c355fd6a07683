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
	"testing/fstest"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// All files, so that a migration added at the top level meanwhile is seen.
//
//go:embed *
var lines embed.FS

// embedded presents the lines as the single goose line they were before
// they were split, under their old names, until the lines get their own
// version tables.
var embedded = func() fstest.MapFS {
	m := fstest.MapFS{}
	top, err := fs.Glob(lines, "*.sql")
	if err != nil {
		panic(err)
	}
	for _, name := range top {
		raw, err := lines.ReadFile(name)
		if err != nil {
			panic(err)
		}
		m[name] = &fstest.MapFile{Data: raw}
	}
	for old, now := range map[string]string{
		"00001_bulwark_core.sql":          "core/00001_bulwark_core.sql",
		"00002_article_workflow.sql":      "articles/00001_article_workflow.sql",
		"00004_article_schedules.sql":     "articles/00002_article_schedules.sql",
		"00005_boundary_record.sql":       "core/00002_boundary_record.sql",
		"00006_article_callables.sql":     "articles/00003_article_callables.sql",
		"00007_idempotency_key_check.sql": "core/00003_idempotency_key_check.sql",
	} {
		raw, err := lines.ReadFile(now)
		if err != nil {
			panic(err)
		}
		m[old] = &fstest.MapFile{Data: raw}
	}
	return m
}()

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
