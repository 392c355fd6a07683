package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// opTimeout bounds one harness operation, such as creating a database.
const opTimeout = time.Minute

// NewDatabase creates a database for t, cloned from the migrated template,
// and returns its URL, which connects as the migration role (DATABASE_URL's
// role, or the throwaway cluster's superuser) with the default search_path. The
// database is dropped in t's Cleanup, closing any sessions still open. It
// fails t if the server or the template cannot be had.
func NewDatabase(t testing.TB) string {
	t.Helper()

	e := get(t)
	name, err := e.createDatabase(e.template)
	require.NoError(t, err, "pgtest: create database")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		require.NoError(t, dropDatabase(ctx, e.admin, name), "pgtest: drop database")
	})

	dbURL, err := databaseURL(e.adminURL, name)
	require.NoError(t, err)
	return dbURL
}

// EmptyDatabase is [NewDatabase] without the migrations: it creates an
// empty database from template0, for a test of migrating itself, and
// returns its URL for the migration role. The database is dropped in t's
// Cleanup.
func EmptyDatabase(t testing.TB) string {
	t.Helper()

	e := get(t)
	name, err := e.createDatabase("template0")
	require.NoError(t, err, "pgtest: create empty database")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		require.NoError(t, dropDatabase(ctx, e.admin, name), "pgtest: drop database")
	})

	dbURL, err := databaseURL(e.adminURL, name)
	require.NoError(t, err)
	return dbURL
}

// DatabaseURL returns the URL of the database name on the harness's
// server, for the migration role with the default search_path: for a
// second session on a database that [NewDatabase] made, as the migration
// role, when the test holds only another role's session. It fails t if
// the server cannot be had.
func DatabaseURL(t testing.TB, name string) string {
	t.Helper()

	e := get(t)
	dbURL, err := databaseURL(e.adminURL, name)
	require.NoError(t, err)
	return dbURL
}

// DB returns a pool on a new database (see [NewDatabase]) for a test that
// commits. It connects as the migration role with search_path set to the
// empty string, so unqualified names fail. The pool is closed, then the database
// dropped, in t's Cleanup. The pool has pgx's default size; a test that
// needs more concurrent sessions builds its own pool from NewDatabase. It
// fails t if the database cannot be created or reached.
func DB(t testing.TB) *pgxpool.Pool {
	t.Helper()

	dbURL := NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	pool, err := newTestPool(ctx, dbURL, 0)
	require.NoError(t, err, "pgtest: open pool")
	// Registered after NewDatabase's drop, so it runs before it.
	t.Cleanup(pool.Close)
	return pool
}

// Tx returns a transaction for a test that fits in one. It runs in a
// database shared by the tests of this process (made like [DB]'s, and
// dropped when [Main] returns) and is rolled back in t's Cleanup, so tests
// see none of each other's writes; concurrent tests that write the same
// unique keys wait for each other, so use distinct values. It fails t if
// the shared database cannot be created or the transaction begun.
func Tx(t testing.TB) pgx.Tx {
	t.Helper()

	e := get(t)
	pool, err := e.sharedPool()
	require.NoError(t, err, "pgtest: open shared database")

	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	tx, err := pool.Begin(ctx)
	require.NoError(t, err, "pgtest: begin transaction")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if err := tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
			require.NoError(t, err, "pgtest: roll back transaction")
		}
	})
	return tx
}

// createDatabase clones template into a new database and returns its name.
func (e *environment) createDatabase(template string) (string, error) {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails
	name := "bulwark_test_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	// A session on the template (autovacuum before ALLOW_CONNECTIONS took
	// effect) makes the clone fail for a moment.
	err := retryInUse(ctx, func() error {
		_, err := e.admin.Exec(ctx, "CREATE DATABASE "+ident(name)+" TEMPLATE "+ident(template))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("create database %s from %s: %w", name, template, err)
	}
	return name, nil
}

// sharedPool returns the pool on this process's shared database, creating
// both on first use.
func (e *environment) sharedPool() (*pgxpool.Pool, error) {
	e.txOnce.Do(func() {
		if e.txDB, e.txErr = e.createDatabase(e.template); e.txErr != nil {
			return
		}
		dbURL, err := databaseURL(e.adminURL, e.txDB)
		if err != nil {
			e.txErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		// Every running test may hold a session, and a test may hold more
		// than one.
		e.txPool, e.txErr = newTestPool(ctx, dbURL, max(8, 2*testParallelism()))
	})
	return e.txPool, e.txErr
}

// newTestPool opens a pool on dbURL whose sessions have an empty
// search_path. maxConns zero means pgx's default.
func newTestPool(ctx context.Context, dbURL string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	// Unqualified names must fail in tests, as they would for a caller
	// with another search_path.
	cfg.ConnConfig.RuntimeParams["search_path"] = ""
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("create pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	return pool, nil
}

// dropDatabase drops the database name, closing its sessions.
func dropDatabase(ctx context.Context, admin *pgxpool.Pool, name string) error {
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// testParallelism returns the -test.parallel setting.
func testParallelism() int32 {
	n := runtime.GOMAXPROCS(0)
	if f := flag.Lookup("test.parallel"); f != nil {
		if v, err := strconv.Atoi(f.Value.String()); err == nil && v > 0 {
			n = v
		}
	}
	return int32(min(n, 1000))
}

// checkURL reports an error unless s is a postgres:// URL, the only form
// the harness can point at other databases.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("parse URL: %w", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return fmt.Errorf("want a postgres:// URL, got %s", redact(s))
	}
	return nil
}

// databaseURL returns serverURL pointed at the database name.
func databaseURL(serverURL, name string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", fmt.Errorf("parse server URL: %w", err)
	}
	u.Path, u.RawPath = "/"+name, ""
	return u.String(), nil
}

// redact returns s with any password masked.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
