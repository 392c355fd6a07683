package bulwarktest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/internal/pgtest"
)

// The group roles the kit's migrations create. [LoginAs] logs in as a
// member of one.
const (
	// RoleApp is the role of services acting for people.
	RoleApp = "bulwark_app"
	// RoleJobs is the role of job runners acting as service principals.
	RoleJobs = "bulwark_jobs"
	// RoleOwner owns the schemas, tables and typed API; migrations run as
	// it.
	RoleOwner = "bulwark_owner"
)

// NewDatabase creates a database for t, cloned from the migrated template,
// and returns its URL, which connects as the migration role (DATABASE_URL's
// role, or the throwaway cluster's superuser) with the default search_path.
// The database is dropped in t's Cleanup, closing any sessions still open.
// It fails t if the server or the template cannot be had.
func NewDatabase(t testing.TB) string {
	t.Helper()
	return pgtest.NewDatabase(t)
}

// EmptyDatabase is [NewDatabase] without any migrations: an empty database
// from template0, for a test of migrating itself. It returns the URL for
// the migration role and drops the database in t's Cleanup.
func EmptyDatabase(t testing.TB) string {
	t.Helper()
	return pgtest.EmptyDatabase(t)
}

// DB returns a pool on a new database (see [NewDatabase]) for a test that
// commits. It connects as the migration role with search_path set to the
// empty string, so unqualified names fail. The pool is closed, then the
// database dropped, in t's Cleanup. It fails t if the database cannot be
// created or reached.
func DB(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return pgtest.DB(t)
}

// Tx returns a transaction for a test that fits in one, as the migration
// role with an empty search_path. It runs in a database shared by the tests
// of this process and is rolled back in t's Cleanup, so tests see none of
// each other's writes; concurrent tests that write the same unique keys
// wait for each other, so use distinct values ([UniqueName]).
func Tx(t testing.TB) pgx.Tx {
	t.Helper()
	return pgtest.Tx(t)
}

// LoginAs returns a URL for the database of dbURL that logs in as
// <groupRole>_login_test, a LOGIN role that is a member of groupRole
// ([RoleApp], [RoleJobs], [RoleOwner], or a group role of the team's own)
// and so holds exactly its privileges, with search_path set to the empty
// string. Roles are cluster-wide, so the login role is made once per
// server, safely against other test processes. It fails t if groupRole does
// not exist.
func LoginAs(t testing.TB, dbURL, groupRole string) string {
	t.Helper()
	return pgtest.LoginAs(t, dbURL, groupRole)
}

// PoolOpts are options for [Pool].
type PoolOpts struct {
	// ConfigFunc, if not nil, adjusts the pool's configuration before the
	// pool is made: a tracer, a size, a runtime parameter.
	ConfigFunc func(cfg *pgxpool.Config)
}

// Pool opens a pool on dbURL whose sessions have an empty search_path, as
// the harness's do, and closes it in t's Cleanup. It fails t if the URL
// does not parse or the server does not answer.
func Pool(t testing.TB, dbURL string, opts *PoolOpts) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(dbURL)
	require.NoError(t, err, "bulwarktest: parse database URL")
	// Unqualified names must fail in tests, as they would for a caller
	// with another search_path.
	cfg.ConnConfig.RuntimeParams["search_path"] = ""
	if opts != nil && opts.ConfigFunc != nil {
		opts.ConfigFunc(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err, "bulwarktest: create pool")
	t.Cleanup(pool.Close)
	require.NoError(t, pool.Ping(ctx), "bulwarktest: connect")
	return pool
}
