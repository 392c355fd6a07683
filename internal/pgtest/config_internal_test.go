package pgtest

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/sql/schema"
)

func TestConfig(t *testing.T) {
	t.Parallel()

	noop := func(context.Context, *sql.DB) error { return nil }

	t.Run("DefaultsToTheKitsMigrations", func(t *testing.T) {
		t.Parallel()

		m, err := Config{}.migration()
		require.NoError(t, err)
		kit, err := KitMigration()
		require.NoError(t, err)
		require.Equal(t, kit.Key, m.Key)
		require.True(t, strings.HasPrefix(m.Key, "lines:"), m.Key)
	})

	t.Run("KeysLinesByWhatTheyHold", func(t *testing.T) {
		t.Parallel()

		key := func(lines ...*schema.Line) string {
			t.Helper()
			m, err := LinesMigration(lines...)
			require.NoError(t, err)
			return m.Key
		}
		own := func(files fstest.MapFS, table string) *schema.Line {
			t.Helper()
			l, err := schema.Own(files, &schema.OwnOpts{VersionTable: table})
			require.NoError(t, err)
			return l
		}
		a := fstest.MapFS{"00001_a.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n")}}
		b := fstest.MapFS{"00001_a.sql": {Data: []byte("-- +goose Up\nSELECT 2;\n")}}

		base := key(schema.Core(), own(a, "public.a_version"))
		require.Equal(t, base, key(schema.Core(), own(a, "public.a_version")))
		require.NotEqual(t, base, key(schema.Core()))
		require.NotEqual(t, base, key(schema.Core(), own(b, "public.a_version")), "a changed file")
		require.NotEqual(t, base, key(schema.Core(), own(a, "public.b_version")), "another version table")
		require.NotEqual(t, key(schema.Core(), schema.River()), key(schema.Core()), "a line of Go migrations")
	})

	t.Run("NamesTheTemplateAfterTheKey", func(t *testing.T) {
		t.Parallel()

		a, err := (&Migration{Key: "a", MigrateFunc: noop}).templateName()
		require.NoError(t, err)
		again, err := (&Migration{Key: "a", MigrateFunc: noop}).templateName()
		require.NoError(t, err)
		b, err := (&Migration{Key: "b", MigrateFunc: noop}).templateName()
		require.NoError(t, err)
		require.Equal(t, a, again)
		require.NotEqual(t, a, b)
		require.True(t, strings.HasPrefix(a, templatePrefix), a)
		require.Len(t, a, len(templatePrefix)+12)
	})

	t.Run("RefusesAnIncompleteMigration", func(t *testing.T) {
		t.Parallel()

		for _, m := range []*Migration{{Key: "a"}, {MigrateFunc: noop}} {
			_, err := Config{Migration: m}.migration()
			require.ErrorIs(t, err, errNoMigration)
		}
	})
}
