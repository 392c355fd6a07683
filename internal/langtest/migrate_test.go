package langtest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/internal/drift"
	"github.com/bulwarkdb/bulwark/internal/pgtest"
	"github.com/bulwarkdb/bulwark/sql/schema"
	"github.com/bulwarkdb/bulwark/verify"
)

// TestMigrateUp migrates an empty database as `bulwark migrate up` does,
// and then verifies it, on the German server.
func TestMigrateUp(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	url := pgtest.EmptyDatabase(t)

	cfg, err := pgx.ParseConfig(url)
	require.NoError(t, err)
	sqlDB := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { sqlDB.Close() })

	provider, err := schema.NewProvider(sqlDB)
	require.NoError(t, err)
	results, err := schema.Up(ctx, sqlDB)
	require.NoError(t, err, "migrate up on a German server")
	require.Len(t, results, len(provider.ListSources()), "every migration applied")
	for _, r := range results {
		require.NoError(t, r.Error, "migration %d", r.Source.Version)
	}

	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	report, err := verify.Run(ctx, conn, &verify.Opts{MigrationRoles: drift.MigrationRoles(t, url, nil, "")})
	require.NoError(t, err)
	var text strings.Builder
	require.NoError(t, report.WriteText(&text))
	require.True(t, report.OK, "verify after migrating:\n%s", text.String())
}
