package schema_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/internal/pgtest"
	"github.com/bulwarkdb/bulwark/sql/schema"
)

func TestVersionTable(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("MigratedAsksWithoutWriting", func(t *testing.T) {
		t.Parallel()

		url := pgtest.NewDatabase(t)
		db := openDB(t, url)
		core := schema.Core()
		migrated, err := core.Migrated(ctx, db)
		require.NoError(t, err)
		require.True(t, migrated)

		_, err = db.ExecContext(ctx, `DROP TABLE `+core.VersionTable())
		require.NoError(t, err)
		for range 2 {
			migrated, err = core.Migrated(ctx, db)
			require.NoError(t, err)
			require.False(t, migrated)
		}
	})

	// A migration login whose search_path is empty finds the version table
	// all the same: goose's name for it is schema-qualified.
	t.Run("FoundWithEmptySearchPath", func(t *testing.T) {
		t.Parallel()

		cfg, err := pgx.ParseConfig(pgtest.NewDatabase(t))
		require.NoError(t, err)
		cfg.RuntimeParams["search_path"] = ""
		db := stdlib.OpenDB(*cfg)
		t.Cleanup(func() { _ = db.Close() })

		for _, line := range schema.Examples() {
			migrated, err := line.Migrated(ctx, db)
			require.NoError(t, err)
			require.True(t, migrated, line.Name())
			provider, err := line.NewProvider(db)
			require.NoError(t, err)
			statuses, err := provider.Status(ctx)
			require.NoError(t, err)
			require.NotEmpty(t, statuses)
			for _, s := range statuses {
				require.Equal(t, goose.StateApplied, s.State, "%s version %d", line.Name(), s.Source.Version)
			}
		}
	})
}
