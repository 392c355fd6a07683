package pgtest

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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
		require.True(t, strings.HasPrefix(m.Key, "bulwark:"), m.Key)
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
