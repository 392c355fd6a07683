package bulwarktest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
)

// sqlStateDirectWrite is the write guard's refusal (BWI04).
const sqlStateDirectWrite = db.SQLStateDirectWrite

func TestRequireRefused(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	type testBundle struct {
		admin  *pgxpool.Pool
		app    *pgxpool.Pool
		dbURL  string
		note   uuid.UUID
		writer uuid.UUID
	}

	// setup makes a database with one note in it, so that an UPDATE that
	// got through would have a row to change.
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		dbURL := bulwarktest.NewDatabase(t)
		b := &testBundle{
			admin: bulwarktest.Pool(t, dbURL, nil),
			app:   bulwarktest.Pool(t, bulwarktest.LoginAs(t, dbURL, bulwarktest.RoleApp), nil),
			dbURL: dbURL,
		}
		b.writer = bulwarktest.Principal(t, b.admin, "writer", "note_writer")
		require.NoError(t, b.app.QueryRow(ctx, "SELECT id FROM notes.note_create($1, 'Hello', NULL)", b.writer).Scan(&b.note))
		return b
	}

	t.Run("AppCannotWriteAGuardedTable", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		// Parallel refusals on one database run at once.
		for _, sql := range []string{
			"INSERT INTO notes.notes (body) VALUES ('forged')",
			"UPDATE notes.notes SET state = 'published'",
			"DELETE FROM notes.notes",
			"TRUNCATE notes.notes CASCADE",
			"UPDATE bulwark.principal_roles SET role = 'admin'",
		} {
			t.Run(sql, func(t *testing.T) {
				t.Parallel()
				bulwarktest.RequireRefused(t, b.app, sql, pgerrcode.InsufficientPrivilege)
			})
		}
	})

	t.Run("OwnerMeetsTheWriteGuard", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		owner := bulwarktest.Pool(t, bulwarktest.LoginAs(t, b.dbURL, bulwarktest.RoleOwner), nil)
		// The owner holds the privileges; the guard's triggers refuse,
		// after the statement took its locks: a TRUNCATE ... CASCADE
		// locks tables in another order than a parallel snapshot reads
		// them, and must not deadlock with it.
		for _, sql := range []string{
			"UPDATE notes.notes SET body = 'rewritten'",
			"DELETE FROM notes.notes",
			"TRUNCATE notes.notes",
			"TRUNCATE bulwark.principals CASCADE",
		} {
			t.Run(sql, func(t *testing.T) {
				t.Parallel()
				pgErr := bulwarktest.RequireRefused(t, owner, sql, sqlStateDirectWrite)
				require.Equal(t, "ERROR", pgErr.SeverityUnlocalized)
			})
		}
	})

	t.Run("RollsBackWhatTheSessionLeftOpen", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		conn, err := pgx.Connect(ctx, bulwarktest.LoginAs(t, b.dbURL, bulwarktest.RoleOwner))
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close(context.Background()) })
		_, err = conn.Exec(ctx, "BEGIN")
		require.NoError(t, err)
		bulwarktest.RequireRefused(t, conn, "UPDATE notes.notes SET body = 'rewritten'", sqlStateDirectWrite)
		require.Equal(t, byte('I'), conn.PgConn().TxStatus())
	})

	t.Run("FailsWhenTheStatementSucceeds", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		requireFails(t, "the statement succeeded", func(tb testing.TB) {
			bulwarktest.RequireRefused(tb, b.app, "SELECT count(*) FROM notes.notes", pgerrcode.InsufficientPrivilege)
		})
	})

	t.Run("FailsForAnotherSQLState", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		requireFails(t, "SQLSTATE of", func(tb testing.TB) {
			bulwarktest.RequireRefused(tb, b.app, "SELECT 1/0", pgerrcode.InsufficientPrivilege)
		})
	})

	t.Run("FailsWhenTheRefusalChangedSomething", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		// The explicit COMMIT inside one simple query keeps the write,
		// then the last statement fails as the test wants.
		requireFails(t, "changed the database", func(tb testing.TB) {
			bulwarktest.RequireRefused(tb, b.admin,
				"BEGIN; SELECT bulwark.declare_role('sneaked_in', ARRAY['note.create']); COMMIT; SELECT 1/0",
				pgerrcode.DivisionByZero)
		})
	})

	t.Run("FailsWhenTheSessionLocksTheSnapshotOut", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		conn, err := pgx.Connect(ctx, b.dbURL)
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close(context.Background()) })
		_, err = conn.Exec(ctx, "BEGIN; LOCK TABLE notes.notes IN ACCESS EXCLUSIVE MODE")
		require.NoError(t, err)
		requireFails(t, "lock", func(tb testing.TB) {
			bulwarktest.RequireRefused(tb, conn, "UPDATE notes.notes SET body = 'rewritten'", sqlStateDirectWrite)
		})
	})

	t.Run("FailsForATransaction", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		tx, err := b.app.Begin(ctx)
		require.NoError(t, err)
		t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
		requireFails(t, "not a transaction", func(tb testing.TB) {
			bulwarktest.RequireRefused(tb, tx, "DELETE FROM notes.notes", pgerrcode.InsufficientPrivilege)
		})
	})
}

func TestRequireRefusedAfter(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	dial := func(t *testing.T, url string) *pgx.Conn {
		t.Helper()
		conn, err := pgx.Connect(ctx, url)
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close(context.Background()) })
		return conn
	}

	t.Run("SetsTheSessionUpAfterTheFirstSnapshot", func(t *testing.T) {
		t.Parallel()

		dbURL := bulwarktest.NewDatabase(t)
		conn := dial(t, dbURL)
		// The switch writes the log in the open transaction: rolled back
		// after the refusal, so nothing changed.
		maintenance := []string{"BEGIN", "SELECT bulwark.maintenance_begin('bulwarktest: an attack under the switch')"}
		bulwarktest.RequireRefusedAfter(t, conn, maintenance, "DELETE FROM bulwark.transition_log", db.SQLStateFrozen)
		require.Equal(t, byte('I'), conn.PgConn().TxStatus())
	})

	t.Run("SetupMayHoldLocks", func(t *testing.T) {
		t.Parallel()

		// Run before the first snapshot, the setup's lock would keep the
		// snapshot out; run after it, the lock lasts until the rollback.
		conn := dial(t, bulwarktest.NewDatabase(t))
		bulwarktest.RequireRefusedAfter(t, conn, []string{"BEGIN", "LOCK TABLE notes.notes IN ACCESS EXCLUSIVE MODE"},
			"INSERT INTO notes.notes (body) VALUES ('forged')", sqlStateDirectWrite)
	})

	t.Run("SettingsReachTheStatement", func(t *testing.T) {
		t.Parallel()

		conn := dial(t, bulwarktest.NewDatabase(t))
		bulwarktest.RequireRefusedAfter(t, conn, []string{"SET ROLE bulwark_app"},
			"INSERT INTO bulwark.roles (name) VALUES ('forged')", pgerrcode.InsufficientPrivilege)
	})

	t.Run("FailsWhenSetupFails", func(t *testing.T) {
		t.Parallel()

		conn := dial(t, bulwarktest.NewDatabase(t))
		requireFails(t, "setup statement", func(tb testing.TB) {
			bulwarktest.RequireRefusedAfter(tb, conn, []string{"BEGIN", "SELECT 1/0"}, "SELECT 1", pgerrcode.DivisionByZero)
		})
		require.Equal(t, byte('I'), conn.PgConn().TxStatus(), "the failed setup's transaction is rolled back")
	})

	// Parallel attacks whose setups write the log (the maintenance switch)
	// beside one that truncates it: the TRUNCATE waits for their locks,
	// and their snapshots must not wait for it with the locks still held.
	// (Two such TRUNCATEs would deadlock in the server, each waiting for
	// the other's setup: one is enough.)
	t.Run("ParallelSetupsDoNotStall", func(t *testing.T) {
		t.Parallel()

		dbURL := bulwarktest.NewDatabase(t)
		for i := range 6 {
			sql := "DELETE FROM bulwark.transition_log"
			if i == 0 {
				sql = "TRUNCATE bulwark.transition_log"
			}
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				maintenance := []string{"BEGIN", "SELECT bulwark.maintenance_begin('bulwarktest: parallel attacks')"}
				bulwarktest.RequireRefusedAfter(t, dial(t, dbURL), maintenance, sql, db.SQLStateFrozen)
			})
		}
	})
}
