package bulwarktest_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
)

func TestTakeSnapshot(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	type testBundle struct {
		admin  *pgxpool.Pool
		note   uuid.UUID
		writer uuid.UUID
	}

	setup := func(t *testing.T) *testBundle {
		t.Helper()
		dbURL := bulwarktest.NewDatabase(t)
		b := &testBundle{admin: bulwarktest.Pool(t, dbURL, nil)}
		b.writer = bulwarktest.Principal(t, b.admin, "writer", "note_writer")
		require.NoError(t, b.admin.QueryRow(ctx, "SELECT id FROM notes.note_create($1, 'Hello', NULL)", b.writer).Scan(&b.note))
		return b
	}

	exec := func(t *testing.T, q db.DBTX, sql string, args ...any) {
		t.Helper()
		_, err := q.Exec(ctx, sql, args...)
		require.NoError(t, err, sql)
	}

	// inTx runs f in a transaction rolled back in t's Cleanup: roles are
	// cluster-wide, and a role committed with powers would show in the
	// snapshots of every other test on the server.
	inTx := func(t *testing.T, b *testBundle, f func(tx pgx.Tx)) {
		t.Helper()
		tx, err := b.admin.Begin(ctx)
		require.NoError(t, err)
		t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
		f(tx)
	}

	t.Run("HasEveryGuardedAndCoreTable", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		s := bulwarktest.TakeSnapshot(t, b.admin)
		for _, part := range []string{
			"table notes.notes",
			"table bulwark.principals",
			"table bulwark.principal_roles",
			"table bulwark.transition_log",
			"table bulwark.idempotency_keys",
			"catalog database",
			"catalog function",
			"catalog relation",
			"catalog role",
			"catalog schema",
			"catalog trigger",
		} {
			require.Contains(t, s, part)
		}
		require.Equal(t, s, bulwarktest.TakeSnapshot(t, b.admin), "a second look sees the same")
	})

	// Each change must show in the part that holds it.
	for _, tt := range []struct {
		name   string
		part   string
		change func(t *testing.T, b *testBundle, q db.DBTX)
	}{
		{"ATransition", "table notes.notes", func(t *testing.T, b *testBundle, q db.DBTX) {
			exec(t, q, "SELECT notes.note_publish($1, $2, 1, NULL)", b.writer, b.note)
		}},
		{"AGrant", "table bulwark.principal_roles", func(t *testing.T, _ *testBundle, q db.DBTX) {
			bulwarktest.Grant(t, q, bulwarktest.Principal(t, q, "newcomer"), "note_writer")
		}},
		{"ADisabledTrigger", "catalog trigger", func(t *testing.T, _ *testBundle, q db.DBTX) {
			exec(t, q, "ALTER TABLE notes.notes DISABLE TRIGGER USER")
		}},
		{"ADatabasePrivilege", "catalog database", func(t *testing.T, b *testBundle, q db.DBTX) {
			var name string
			require.NoError(t, q.QueryRow(ctx, "SELECT current_database()").Scan(&name))
			exec(t, q, "GRANT CREATE ON DATABASE "+pgx.Identifier{name}.Sanitize()+" TO bulwark_app")
		}},
		{"AGrantedPrivilege", "catalog relation", func(t *testing.T, _ *testBundle, q db.DBTX) {
			exec(t, q, "GRANT INSERT ON notes.notes TO bulwark_app")
		}},
		{"AReplacedFunction", "catalog function", func(t *testing.T, _ *testBundle, q db.DBTX) {
			exec(t, q, `CREATE OR REPLACE FUNCTION notes.note_create(p_actor uuid, p_body text, p_idem_key text)
				RETURNS notes.notes LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
				AS $$ BEGIN RETURN NULL; END $$`)
		}},
		{"AnEscalatedLogin", "catalog role", func(t *testing.T, _ *testBundle, q db.DBTX) {
			role := bulwarktest.UniqueName("bulwarktest_escalated")
			exec(t, q, "CREATE ROLE "+role+" LOGIN IN ROLE bulwark_app")
			exec(t, q, "GRANT bulwark_owner TO "+role)
		}},
		{"AMemberOfTheEngine", "catalog role", func(t *testing.T, _ *testBundle, q db.DBTX) {
			exec(t, q, "CREATE ROLE "+bulwarktest.UniqueName("bulwarktest_engine")+" IN ROLE bulwark_engine")
		}},
		{"ASchemaPrivilege", "catalog schema", func(t *testing.T, _ *testBundle, q db.DBTX) {
			exec(t, q, "GRANT CREATE ON SCHEMA notes TO bulwark_app")
		}},
	} {
		t.Run("Sees"+tt.name, func(t *testing.T) {
			t.Parallel()

			b := setup(t)
			inTx(t, b, func(tx pgx.Tx) {
				before := bulwarktest.TakeSnapshot(t, tx)
				tt.change(t, b, tx)
				after := bulwarktest.TakeSnapshot(t, tx)
				require.NotEqual(t, before[tt.part], after[tt.part], "%s does not show in %s", tt.name, tt.part)
			})
		})
	}

	// What a refusal cannot undo, or what other tests do meanwhile, is no
	// change.
	for _, tt := range []struct {
		name   string
		change func(t *testing.T, q db.DBTX)
	}{
		{"ANewPlainLogin", func(t *testing.T, q db.DBTX) {
			exec(t, q, "CREATE ROLE "+bulwarktest.UniqueName("bulwarktest_plain")+" LOGIN IN ROLE bulwark_app")
		}},
		{"AnAdvancedSequence", func(t *testing.T, q db.DBTX) {
			exec(t, q, "CREATE SEQUENCE public.bulwarktest_seq")
			exec(t, q, "SELECT nextval('public.bulwarktest_seq')")
		}},
		{"AWriteOutsideTheBoundary", func(t *testing.T, q db.DBTX) {
			exec(t, q, "CREATE TABLE public.scratch (id integer)")
			exec(t, q, "INSERT INTO public.scratch VALUES (1)")
		}},
	} {
		t.Run("Ignores"+tt.name, func(t *testing.T) {
			t.Parallel()

			b := setup(t)
			inTx(t, b, func(tx pgx.Tx) {
				before := bulwarktest.TakeSnapshot(t, tx)
				tt.change(t, tx)
				require.Equal(t, before, bulwarktest.TakeSnapshot(t, tx))
			})
		})
	}

	t.Run("FailsWithoutTheCore", func(t *testing.T) {
		t.Parallel()

		empty := bulwarktest.Pool(t, bulwarktest.EmptyDatabase(t), nil)
		requireFails(t, "snapshot", func(tb testing.TB) {
			bulwarktest.TakeSnapshot(tb, empty)
		})
	})
}
