package schema_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

// TestContract checks what bulwark.guard() and the declarations record in
// the enforcement contract that bulwark verify reads.
func TestContract(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	type testBundle struct{ conn *pgx.Conn }

	setup := func(t *testing.T) *testBundle {
		t.Helper()
		conn := connect(t)
		return &testBundle{conn: conn}
	}

	contract := func(t *testing.T, conn *pgx.Conn, table string) []string {
		t.Helper()
		rows, err := conn.Query(ctx, `
			SELECT name || ' ' || kind || ' ' || definition
			FROM bulwark.contract_constraints
			WHERE relation = $1::regclass
			ORDER BY name`, table)
		require.NoError(t, err)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return lines
	}

	// guardWidgets puts a small table behind the boundary, as a domain
	// migration would.
	guardWidgets := func(t *testing.T, conn *pgx.Conn) {
		t.Helper()
		_, err := conn.Exec(ctx, `
			BEGIN;
			SET LOCAL ROLE bulwark_owner;
			CREATE TABLE app.widgets (
			    id      uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
			    name    text NOT NULL,
			    state   text NOT NULL DEFAULT 'draft',
			    version integer NOT NULL DEFAULT 1,
			    CONSTRAINT widget_name_length CHECK (pg_catalog.char_length(name) <= 50)
			);
			CREATE UNIQUE INDEX widget_name_unique ON app.widgets (name);
			CREATE INDEX widget_state ON app.widgets (state);
			SELECT bulwark.declare_machine('widget', 'draft', ARRAY['draft']);
			SELECT bulwark.guard('app.widgets', 'widget', 'state');
			COMMIT`)
		require.NoError(t, err)
	}

	t.Run("BackfillsTablesGuardedBefore", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		lines := contract(t, bundle.conn, "app.articles")
		require.Contains(t, lines, "article_title_length check CHECK ((char_length(title) <= 300))")
		require.Contains(t, lines, "article_slug_published_unique unique_index CREATE UNIQUE INDEX article_slug_published_unique ON app.articles USING btree (slug) WHERE (state = 'published'::text)")
		require.Contains(t, lines, "articles_author_id_fkey foreign_key FOREIGN KEY (author_id) REFERENCES bulwark.principals(id)")
		require.Contains(t, lines, "articles_pkey primary_key PRIMARY KEY (id)")
	})

	t.Run("DeclareConstraintAddedLater", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		guardWidgets(t, bundle.conn)
		_, err := bundle.conn.Exec(ctx, `
			BEGIN;
			SET LOCAL ROLE bulwark_owner;
			ALTER TABLE app.widgets ADD CONSTRAINT widget_name_present CHECK (name <> '');
			SELECT bulwark.declare_constraint('app.widgets', 'widget_name_present');
			COMMIT`)
		require.NoError(t, err)
		require.Contains(t, contract(t, bundle.conn, "app.widgets"), "widget_name_present check CHECK ((name <> ''::text))")

		_, err = bundle.conn.Exec(ctx, `
			BEGIN;
			SET LOCAL ROLE bulwark_owner;
			ALTER TABLE app.widgets DROP CONSTRAINT widget_name_present;
			SELECT bulwark.undeclare_constraint('app.widgets', 'widget_name_present');
			COMMIT`)
		require.NoError(t, err)
		require.NotContains(t, contract(t, bundle.conn, "app.widgets"), "widget_name_present check CHECK ((name <> ''::text))")
	})

	t.Run("GuardRecordsConstraintsAndUniqueIndexes", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		guardWidgets(t, bundle.conn)
		require.Equal(t, []string{
			"widget_name_length check CHECK ((char_length(name) <= 50))",
			"widget_name_unique unique_index CREATE UNIQUE INDEX widget_name_unique ON app.widgets USING btree (name)",
			"widgets_pkey primary_key PRIMARY KEY (id)",
		}, contract(t, bundle.conn, "app.widgets"))
	})

	t.Run("RefusesNotValid", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		guardWidgets(t, bundle.conn)
		_, err := bundle.conn.Exec(ctx, `
			BEGIN;
			SET LOCAL ROLE bulwark_owner;
			ALTER TABLE app.widgets ADD CONSTRAINT widget_name_present CHECK (name <> '') NOT VALID;
			SELECT bulwark.declare_constraint('app.widgets', 'widget_name_present');
			COMMIT`)
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr)
		require.Equal(t, "22023", pgErr.Code)
	})

	t.Run("UnguardDropsTheContract", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		guardWidgets(t, bundle.conn)
		_, err := bundle.conn.Exec(ctx, `
			BEGIN;
			SET LOCAL ROLE bulwark_owner;
			SELECT bulwark.unguard('app.widgets');
			COMMIT`)
		require.NoError(t, err)
		require.Empty(t, contract(t, bundle.conn, "app.widgets"))
	})
}
