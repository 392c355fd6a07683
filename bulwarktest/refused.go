package bulwarktest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/internal/pgtest"
)

const (
	// refusalTimeout bounds one RequireRefused.
	refusalTimeout = time.Minute

	// snapshotLockTimeout is how long one attempt of a snapshot waits for
	// a lock before it lets go of those it holds and tries again: far below
	// deadlock_timeout (1s by default), so that a snapshot never deadlocks
	// with a parallel test's refused statement that locks tables in
	// another order (TRUNCATE ... CASCADE): it yields first.
	snapshotLockTimeout = "50ms"

	// snapshotPatience is how long a snapshot keeps trying while a lock
	// keeps readers out.
	snapshotPatience = 5 * time.Second
)

// RequireRefused runs sql on conn, with the privileges of the role conn
// logged in as (typically a login of [LoginAs]), and asserts that the
// server refuses it with the SQLSTATE sqlState and that nothing changed: a
// [Snapshot] of the database, taken as the migration role on a session of
// its own before and after, is the same. It returns the server's error, so
// that a test can check the constraint or the table it names.
//
// sql is sent without arguments, over the simple protocol, as a person at
// a psql prompt would send it; it may hold several statements, which then
// run in one implicit transaction. A transaction it leaves open is rolled
// back before the second snapshot, so that its locks cannot hide a change.
// To set the session up first in statements of their own (a role, a
// setting, an open transaction), use [RequireRefusedAfter], not conn
// beforehand: a session that holds a lock while it waits for the first
// snapshot can stall a parallel test's refused statement, which the
// snapshot then waits for in turn.
//
// conn must be a pool or a connection on a database made by this harness
// ([NewDatabase], [DB]), not a transaction (pgx.Tx), whose changes another
// session could not see anyway. Parallel tests may refuse statements on
// one database at once, but nothing may change it meanwhile: give the test
// a database of its own, or keep the parallel subtests that share one from
// writing while they attack. A snapshot that a lock keeps out for five
// seconds fails the test.
//
// It fails t if the statement succeeds, fails with another SQLSTATE, or
// changed anything.
func RequireRefused(t testing.TB, conn db.DBTX, sql, sqlState string) *pgconn.PgError {
	t.Helper()
	return requireRefused(t, conn, nil, sql, sqlState)
}

// RequireRefusedAfter is [RequireRefused] with setup: after the first
// snapshot, each statement of setup runs on conn, in order and over the
// simple protocol, and must succeed; then sql runs. Setup is how an attack
// takes a role (SET ROLE), forges a setting, opens a transaction or the
// maintenance switch, or defines a temporary function, in statements of
// its own as a person at a psql prompt would. conn must be a connection
// (*pgx.Conn), so that the statements share its session.
func RequireRefusedAfter(t testing.TB, conn *pgx.Conn, setup []string, sql, sqlState string) *pgconn.PgError {
	t.Helper()
	return requireRefused(t, conn, setup, sql, sqlState)
}

// requireRefused is RequireRefused with setup statements.
func requireRefused(t testing.TB, conn db.DBTX, setup []string, sql, sqlState string) *pgconn.PgError {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), refusalTimeout)
	defer cancel()

	_, isTx := conn.(pgx.Tx)
	require.False(t, isTx, "bulwarktest: RequireRefused needs a pool or a connection, not a transaction")

	var name string
	require.NoError(t, conn.QueryRow(ctx, "SELECT pg_catalog.current_database()").Scan(&name),
		"bulwarktest: find the database of the connection")
	cfg, err := pgx.ParseConfig(pgtest.DatabaseURL(t, name))
	require.NoError(t, err)
	cfg.RuntimeParams["search_path"] = ""
	cfg.RuntimeParams["lock_timeout"] = snapshotLockTimeout
	admin, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err, "bulwarktest: connect as the migration role to snapshot %s", name)
	defer admin.Close(context.Background())

	before, err := patientSnapshot(ctx, admin)
	require.NoError(t, err, "bulwarktest: take a snapshot before the statement")
	// Without arguments, pgx sends statements over the simple protocol.
	for _, stmt := range setup {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			require.NoError(t, errors.Join(err, rollBack(ctx, conn)), "bulwarktest: setup statement %s", stmt)
		}
	}
	_, err = conn.Exec(ctx, sql)
	rbErr := rollBack(ctx, conn)
	require.NoError(t, rbErr, "bulwarktest: roll back the refused statement's transaction")
	after, snapErr := patientSnapshot(ctx, admin)

	require.Error(t, err, "the statement succeeded; want SQLSTATE %s: %s", sqlState, sql)
	pgErr := RequireSQLState(t, err, sqlState)
	require.NoError(t, snapErr, "bulwarktest: take a snapshot after the statement")
	require.Equal(t, before, after, "the refused statement changed the database: %s", sql)
	return pgErr
}

// rollBack rolls back the transaction a connection left open, if any.
func rollBack(ctx context.Context, conn db.DBTX) error {
	c, ok := conn.(*pgx.Conn)
	if !ok || c.PgConn().TxStatus() == 'I' {
		return nil
	}
	_, err := c.Exec(ctx, "ROLLBACK")
	return err
}

// patientSnapshot takes a snapshot on conn, whose lock_timeout is short,
// trying again while a lock keeps it out, or a deadlock chose it, for at
// most snapshotPatience.
func patientSnapshot(ctx context.Context, conn *pgx.Conn) (Snapshot, error) {
	deadline := time.Now().Add(snapshotPatience)
	for {
		s, err := takeSnapshot(ctx, conn)
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) ||
			(pgErr.Code != pgerrcode.LockNotAvailable && pgErr.Code != pgerrcode.DeadlockDetected) {
			return s, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("a lock kept the snapshot out for %s (does a session hold LOCK TABLE?): %w", snapshotPatience, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
