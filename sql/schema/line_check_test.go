package schema_test

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/internal/pgtest"
	"github.com/bulwarkdb/bulwark/sql/schema"
)

// goodTeamFile is a team's first migration, which goose takes.
const goodTeamFile = "-- +goose Up\nCREATE TABLE public.notes (id bigint PRIMARY KEY);\n-- +goose Down\nDROP TABLE public.notes;\n"

// badTeamLines are a team's migration directories that goose refuses, by
// case, each with the file at fault.
var badTeamLines = map[string]struct {
	fsys fstest.MapFS
	file string
}{
	"MissingUpAnnotation": {
		fsys: fstest.MapFS{
			"00001_notes.sql": {Data: []byte(goodTeamFile)},
			"00002_tags.sql":  {Data: []byte("CREATE TABLE public.tags (id bigint PRIMARY KEY);\n")},
		},
		file: "00002_tags.sql",
	},
	"OpenStatementBegin": {
		fsys: fstest.MapFS{
			"00001_notes.sql": {Data: []byte(goodTeamFile)},
			"00002_touch.sql": {Data: []byte("-- +goose Up\n-- +goose StatementBegin\nCREATE FUNCTION public.touch() RETURNS void LANGUAGE sql AS $$ SELECT 1 $$;\n")},
		},
		file: "00002_touch.sql",
	},
	"OpenStatementBeginInDown": {
		fsys: fstest.MapFS{
			"00001_notes.sql": {Data: []byte(goodTeamFile)},
			"00002_touch.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n-- +goose Down\n-- +goose StatementBegin\nSELECT 1;\n")},
		},
		file: "00002_touch.sql",
	},
	"DuplicateVersion": {
		fsys: fstest.MapFS{
			"00001_notes.sql": {Data: []byte(goodTeamFile)},
			"00002_a.sql":     {Data: []byte("-- +goose Up\nSELECT 1;\n")},
			"00002_b.sql":     {Data: []byte("-- +goose Up\nSELECT 2;\n")},
		},
		file: "00002_b.sql",
	},
}

// TestLineCheck proves that a team's file goose cannot take stops every
// run before it touches the database, whichever line it is in.
func TestLineCheck(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	team := func(t *testing.T, fsys fstest.MapFS) *schema.Line {
		t.Helper()
		l, err := schema.Own(fsys, &schema.OwnOpts{Name: "team"})
		require.NoError(t, err)
		return l
	}

	t.Run("AcceptsWhatGooseRuns", func(t *testing.T) {
		t.Parallel()

		for _, l := range schema.Examples() {
			require.NoError(t, l.Check(), l.Name())
		}
		require.NoError(t, team(t, fstest.MapFS{
			"00001_notes.sql": {Data: []byte(goodTeamFile)},
			"00002_index.sql": {Data: []byte("-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY notes_id ON public.notes (id);\n-- +goose Down\nDROP INDEX CONCURRENTLY public.notes_id;\n")},
			"00003_empty.sql": {Data: []byte("-- +goose NO TRANSACTION\n-- +goose Up\n")},
			"README.md":       {Data: []byte("not a migration\n")},
		}).Check())
	})

	t.Run("NamesTheLineAndTheFile", func(t *testing.T) {
		t.Parallel()

		for name, tc := range badTeamLines {
			err := team(t, tc.fsys).Check()
			var fileErr *schema.MigrationFileError
			require.ErrorAs(t, err, &fileErr, name)
			require.Equal(t, "team", fileErr.Line, name)
			require.Equal(t, tc.file, fileErr.File, name)
			require.NotNil(t, fileErr.Err, name)
		}
	})

	// On a database never migrated, Up with a bad team line applies
	// nothing: no bulwark schema, no version table, no relation at all.
	t.Run("UpAppliesNothing", func(t *testing.T) {
		t.Parallel()

		for name, tc := range badTeamLines {
			t.Run(name, func(t *testing.T) {
				t.Parallel()

				db := openDB(t, pgtest.EmptyDatabase(t))
				results, err := schema.Up(ctx, db, append(schema.Examples(), team(t, tc.fsys))...)
				var fileErr *schema.MigrationFileError
				require.ErrorAs(t, err, &fileErr)
				require.Equal(t, &schema.MigrationFileError{Line: "team", File: tc.file, Err: fileErr.Err}, fileErr)
				require.Empty(t, results)

				var schemas, relations int
				require.NoError(t, db.QueryRowContext(ctx,
					`SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname IN ('bulwark', 'river', 'app')`).Scan(&schemas))
				require.Zero(t, schemas, "a schema of a built-in line was created")
				require.NoError(t, db.QueryRowContext(ctx, `
					SELECT count(*) FROM pg_catalog.pg_class AS c
					WHERE c.relnamespace::regnamespace::text NOT IN ('pg_catalog', 'information_schema', 'pg_toast')`).Scan(&relations))
				require.Zero(t, relations, "a version table or another relation was created")
			})
		}
	})

	// Redo and Reset refuse the same way, before they roll anything back.
	t.Run("RedoAndResetChangeNothing", func(t *testing.T) {
		t.Parallel()

		url := pgtest.NewDatabase(t)
		db := openDB(t, url)
		before := snapshot(t, ctx, url)
		for name, tc := range badTeamLines {
			bad := team(t, tc.fsys)
			var fileErr *schema.MigrationFileError
			_, err := schema.Redo(ctx, db, bad)
			require.ErrorAs(t, err, &fileErr, name)
			require.Equal(t, tc.file, fileErr.File, name)
			_, err = schema.Reset(ctx, db, append(schema.Examples(), bad)...)
			require.ErrorAs(t, err, &fileErr, name)
			require.Equal(t, tc.file, fileErr.File, name)
			require.Equal(t, before, snapshot(t, ctx, url), "%s: a refused run changed the database", name)
			migrated, err := bad.Migrated(ctx, db)
			require.NoError(t, err)
			require.False(t, migrated, "%s: the team's version table was created", name)
		}
	})
}
