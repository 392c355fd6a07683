package bulwarktest_test

import (
	"context"
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
