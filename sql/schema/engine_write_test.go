package schema_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestEngineWriteMarker attacks the one exemption the guarded tables'
// triggers make: the apply function's own write (by bulwark_engine, of the
// row, table and version it names in bulwark.engine_write, to the next
// version) skips them, and the apply function logs it itself. Engine code
// that writes around its machine (a domain trigger or helper declared with
// bulwark.declare_function) must still meet the boundary trigger, whatever
// it does to the row, and a write that changed nothing must not be logged.
func TestEngineWriteMarker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	// setup returns a connection as the migration role to a fresh
	// database, one draft article and the function that counts its log
	// rows and reads its version and title.
	setup := func(t *testing.T, trigger string) (*pgx.Conn, string) {
		t.Helper()
		conn := connect(t)
		var id string
		require.NoError(t, conn.QueryRow(ctx, `
			SELECT (app.article_create(bulwark.declare_principal('human', 'writer', ARRAY['author'], NULL), 'Title', 'body', 'create-1')).id::text`).Scan(&id))
		if trigger != "" {
			_, err := conn.Exec(ctx, "BEGIN; SET LOCAL ROLE bulwark_owner; "+trigger+"; COMMIT")
			require.NoError(t, err)
		}
		return conn, id
	}
	state := func(t *testing.T, conn *pgx.Conn, id string) (version, logged int, title string) {
		t.Helper()
		require.NoError(t, conn.QueryRow(ctx, `
			SELECT a.version, (SELECT count(*) FROM bulwark.transition_log AS l WHERE l.entity_id = a.id), a.title
			FROM app.articles AS a WHERE a.id = $1`, id).Scan(&version, &logged, &title))
		return version, logged, title
	}
	edit := func(conn *pgx.Conn, id, title, key string) error {
		_, err := conn.Exec(ctx, `SELECT app.article_edit(bulwark.principal_id('writer'), $1, 1, $2, NULL, NULL, 'body', $3)`, id, title, key)
		return err
	}

	t.Run("SameRowRewrittenByADomainTrigger", func(t *testing.T) {
		t.Parallel()
		// An AFTER trigger of the table, running as the engine while the
		// marker is set, rewrites the row the apply function just wrote,
		// bumping the version as the engine does.
		conn, id := setup(t, `
			SELECT bulwark.declare_function('app.probe_rewrite()', $d$
			CREATE FUNCTION app.probe_rewrite() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $f$
			BEGIN
			    IF NEW.title = 'rewrite' THEN
			        UPDATE app.articles SET title = 'rewritten unlogged', version = NEW.version + 1 WHERE id = NEW.id;
			    END IF;
			    RETURN NULL;
			END $f$ $d$);
			CREATE TRIGGER probe_rewrite AFTER UPDATE ON app.articles FOR EACH ROW EXECUTE FUNCTION app.probe_rewrite()`)
		require.Equal(t, "BWI04", sqlState(edit(conn, id, "rewrite", "edit-1")))
		version, logged, title := state(t, conn, id)
		require.Equal(t, []any{1, 1, "Title"}, []any{version, logged, title})
		require.NoError(t, edit(conn, id, "fine", "edit-2"), "an ordinary edit still passes")
		version, logged, _ = state(t, conn, id)
		require.Equal(t, []any{2, 2}, []any{version, logged})
	})

	t.Run("AnotherTablesRowOfTheSameID", func(t *testing.T) {
		t.Parallel()
		// The marker names the table: a row of another guarded table with
		// the same id is another row.
		conn, id := setup(t, `
			SELECT bulwark.declare_function('app.probe_other()', $d$
			CREATE FUNCTION app.probe_other() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $f$
			BEGIN
			    UPDATE app.article_schedules SET state = 'cancelled', version = version + 1 WHERE id = NEW.id;
			    RETURN NEW;
			END $f$ $d$);
			CREATE TRIGGER a_probe_other BEFORE UPDATE ON app.articles FOR EACH ROW EXECUTE FUNCTION app.probe_other()`)
		tx, err := conn.Begin(ctx)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, `SELECT bulwark.maintenance_begin('a schedule sharing the article''s id')`)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, `INSERT INTO app.article_schedules (id, article_id, created_by, publish_at)
			VALUES ($1, $1, bulwark.principal_id('writer'), pg_catalog.now() + interval '1 day')`, id)
		require.NoError(t, err)
		require.NoError(t, tx.Commit(ctx))
		require.Equal(t, "BWI04", sqlState(edit(conn, id, "other", "edit-1")))
		var scheduleState string
		require.NoError(t, conn.QueryRow(ctx, `SELECT state FROM app.article_schedules WHERE id = $1`, id).Scan(&scheduleState))
		require.Equal(t, "pending", scheduleState)
	})

	t.Run("NestedApplyKeepsTheOuterMarker", func(t *testing.T) {
		t.Parallel()
		// A trigger of the table that runs another apply (a create) before
		// the boundary trigger is evaluated: the nested apply puts back the
		// marker it found, so the outer write still passes, and both are
		// logged.
		conn, id := setup(t, `
			SELECT bulwark.declare_function('app.probe_nest()', $d$
			CREATE FUNCTION app.probe_nest() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $f$
			BEGIN
			    IF NEW.title = 'nest' THEN
			        PERFORM app.article_apply('create', NEW.author_id, NULL, NULL, NULL, '{"title": "nested"}'::jsonb);
			    END IF;
			    RETURN NEW;
			END $f$ $d$);
			CREATE TRIGGER a_probe_nest BEFORE UPDATE ON app.articles FOR EACH ROW EXECUTE FUNCTION app.probe_nest()`)
		require.NoError(t, edit(conn, id, "nest", "edit-1"))
		version, logged, title := state(t, conn, id)
		require.Equal(t, []any{2, 2, "nest"}, []any{version, logged, title})
		var nested, nestedLogged int
		require.NoError(t, conn.QueryRow(ctx, `
			SELECT count(*), (SELECT count(*) FROM bulwark.transition_log AS l JOIN app.articles AS a ON a.id = l.entity_id WHERE a.title = 'nested')
			FROM app.articles WHERE title = 'nested'`).Scan(&nested, &nestedLogged))
		require.Equal(t, []int{1, 1}, []int{nested, nestedLogged})
	})

	t.Run("SkippedWriteIsNotLogged", func(t *testing.T) {
		t.Parallel()
		// A BEFORE trigger that skips the row: the apply function changed
		// nothing, so it refuses rather than log a write that did not
		// happen or store the key.
		conn, id := setup(t, `
			SELECT bulwark.declare_function('app.probe_skip()', $d$
			CREATE FUNCTION app.probe_skip() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $f$
			BEGIN
			    IF NEW.title = 'skip' THEN
			        RETURN NULL;
			    END IF;
			    RETURN NEW;
			END $f$ $d$);
			CREATE TRIGGER a_probe_skip BEFORE UPDATE ON app.articles FOR EACH ROW EXECUTE FUNCTION app.probe_skip()`)
		require.Equal(t, "BWI04", sqlState(edit(conn, id, "skip", "edit-1")))
		version, logged, _ := state(t, conn, id)
		require.Equal(t, []any{1, 1}, []any{version, logged})
		var keys int
		require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM bulwark.idempotency_keys WHERE key = 'edit-1'`).Scan(&keys))
		require.Zero(t, keys)
	})

	t.Run("EmptyNoteIsNoNote", func(t *testing.T) {
		t.Parallel()
		conn, id := setup(t, "")
		_, err := conn.Exec(ctx, `SELECT bulwark.declare_principal('human', 'reviewer', ARRAY['editor'], NULL)`)
		require.NoError(t, err)
		_, err = conn.Exec(ctx, `SELECT app.article_submit(bulwark.principal_id('writer'), $1, 1, NULL)`, id)
		require.NoError(t, err)
		_, err = conn.Exec(ctx, `SELECT app.article_request_changes(bulwark.principal_id('reviewer'), $1, 2, '', NULL)`, id)
		require.NoError(t, err)
		var noteIsNull, chained bool
		require.NoError(t, conn.QueryRow(ctx, `
			SELECT l.note IS NULL, l.hash = bulwark.log_row_hash(l.prev_hash, l)
			FROM bulwark.transition_log AS l WHERE l.entity_id = $1 ORDER BY l.id DESC LIMIT 1`, id).Scan(&noteIsNull, &chained))
		require.True(t, noteIsNull)
		require.True(t, chained)
	})
}
