package bulwarktest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/internal/pgtest"
)

// refusalLocks holds a mutex per database name, so that refusals of
// parallel tests on one database take turns: a refused TRUNCATE ...
// CASCADE locks tables in another order than a snapshot reads them, and
// the two would deadlock.
var refusalLocks sync.Map // database name -> *sync.Mutex

const (
	// refusalTimeout bounds one RequireRefused.
	refusalTimeout = time.Minute
	// snapshotLockTimeout bounds the snapshot's wait for a lock.
	snapshotLockTimeout = "5s"
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
// run in one implicit transaction. Whatever the session set beforehand (a
// role, a setting, an open transaction) applies; a transaction left open
// is rolled back before the second snapshot, so that its locks cannot hide
// a change.
//
// conn must be a pool or a connection on a database made by this harness
// ([NewDatabase], [DB]), not a transaction (pgx.Tx), whose changes another
// session could not see anyway. It must hold no lock that keeps readers
// out (LOCK TABLE): the snapshot gives up after five seconds of waiting.
// Refusals on one database take turns within the test process, but
// nothing else may write the database meanwhile: give the test a database
// of its own, or keep the parallel subtests that share one from writing
// while they attack.
//
// It fails t if the statement succeeds, fails with another SQLSTATE, or
// changed anything.
func RequireRefused(t testing.TB, conn db.DBTX, sql, sqlState string) *pgconn.PgError {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), refusalTimeout)
	defer cancel()

	_, isTx := conn.(pgx.Tx)
	require.False(t, isTx, "bulwarktest: RequireRefused needs a pool or a connection, not a transaction")

	var name string
	require.NoError(t, conn.QueryRow(ctx, "SELECT pg_catalog.current_database()").Scan(&name),
		"bulwarktest: find the database of the connection")
	mu, _ := refusalLocks.LoadOrStore(name, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()

	cfg, err := pgx.ParseConfig(pgtest.DatabaseURL(t, name))
	require.NoError(t, err)
	cfg.RuntimeParams["search_path"] = ""
	// A session that holds a lock a reader waits for (LOCK TABLE) would
	// hold the snapshot off for good: fail instead, saying so.
	cfg.RuntimeParams["lock_timeout"] = snapshotLockTimeout
	admin, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err, "bulwarktest: connect as the migration role to snapshot %s", name)
	defer admin.Close(context.Background())

	before := TakeSnapshot(t, admin)
	// Without arguments, pgx sends the statement over the simple protocol.
	_, err = conn.Exec(ctx, sql)
	if c, ok := conn.(*pgx.Conn); ok && c.PgConn().TxStatus() != 'I' {
		_, rbErr := c.Exec(ctx, "ROLLBACK")
		require.NoError(t, rbErr, "bulwarktest: roll back the refused statement's transaction")
	}
	after := TakeSnapshot(t, admin)

	require.Error(t, err, "the statement succeeded; want SQLSTATE %s: %s", sqlState, sql)
	pgErr := RequireSQLState(t, err, sqlState)
	require.Equal(t, before, after, "the refused statement changed the database: %s", sql)
	return pgErr
}
