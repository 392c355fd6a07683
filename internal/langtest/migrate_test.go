package langtest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/internal/drift"
	"github.com/bulwarkdb/bulwark/sql/schema"
	"github.com/bulwarkdb/bulwark/verify"
)

// TestMigrateUp migrates an empty database as `bulwark migrate up
// --with-examples` does, and then verifies it, on the German server.
func TestMigrateUp(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	url := bulwarktest.EmptyDatabase(t)

	cfg, err := pgx.ParseConfig(url)
	require.NoError(t, err)
	sqlDB := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { sqlDB.Close() })

	var migrations int
	for _, l := range schema.Examples() {
		sums, err := l.Checksums()
		require.NoError(t, err)
		migrations += len(sums)
	}
	results, err := schema.Up(ctx, sqlDB, schema.Examples()...)
	require.NoError(t, err, "migrate up on a German server")
	require.Len(t, results, migrations, "every migration of every line applied")
	for _, r := range results {
		require.NoError(t, r.Error, "migration %s %d", r.Line, r.Source.Version)
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
