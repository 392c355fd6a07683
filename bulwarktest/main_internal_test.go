package bulwarktest

import (
	"context"
	"database/sql"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/internal/pgtest"
	"github.com/bulwarkdb/bulwark/sql/schema"
)

func TestMainOptsConfig(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	noop := func(context.Context, *sql.DB) error { return nil }

	key := func(t *testing.T, opts *MainOpts) string {
		t.Helper()
		cfg, err := opts.config()
		require.NoError(t, err)
		return cfg.Migration.Key
	}

	t.Run("NilMeansTheCoreAlone", func(t *testing.T) {
		t.Parallel()

		core, err := pgtest.LinesMigration(schema.Core())
		require.NoError(t, err)
		require.Equal(t, core.Key, key(t, nil))
		require.Equal(t, core.Key, key(t, &MainOpts{}))
	})

	t.Run("KeysByLinesAndTemplateKey", func(t *testing.T) {
		t.Parallel()

		core := key(t, nil)
		examples := key(t, &MainOpts{Lines: schema.Examples()})
		withKey := key(t, &MainOpts{TemplateKey: "v1"})
		require.NotEqual(t, core, examples)
		require.NotEqual(t, core, withKey)
		require.NotEqual(t, withKey, key(t, &MainOpts{TemplateKey: "v2"}))
		require.Equal(t, withKey, key(t, &MainOpts{TemplateKey: "v1", MigrateFunc: noop}))
	})

	t.Run("RefusesMigrateFuncWithoutTemplateKey", func(t *testing.T) {
		t.Parallel()

		_, err := (&MainOpts{MigrateFunc: noop}).config()
		require.ErrorIs(t, err, ErrTemplateKey)
	})

	t.Run("KeepsTheLanguage", func(t *testing.T) {
		t.Parallel()

		cfg, err := (&MainOpts{Language: "de"}).config()
		require.NoError(t, err)
		require.Equal(t, "de", cfg.Language)
	})

	t.Run("RunsMigrateFuncAfterTheLines", func(t *testing.T) {
		t.Parallel()

		var coreWasThere bool
		cfg, err := (&MainOpts{
			TemplateKey: "probe",
			MigrateFunc: func(ctx context.Context, db *sql.DB) error {
				return db.QueryRowContext(ctx, "SELECT pg_catalog.to_regclass('bulwark.principals') IS NOT NULL").Scan(&coreWasThere)
			},
		}).config()
		require.NoError(t, err)

		pgxCfg, err := pgx.ParseConfig(EmptyDatabase(t))
		require.NoError(t, err)
		db := stdlib.OpenDB(*pgxCfg)
		t.Cleanup(func() { _ = db.Close() })
		require.NoError(t, cfg.Migration.MigrateFunc(ctx, db))
		require.True(t, coreWasThere)
	})
}
