package demo_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/internal/demo"
	"github.com/bulwarkdb/bulwark/internal/pgcluster"
	"github.com/bulwarkdb/bulwark/internal/pgtest"
)

// TestDemo runs the whole story against the test server: every step must
// end in the promised layer, and the demo's database must be gone after.
func TestDemo(t *testing.T) {
	t.Parallel()

	var stdout, stderr bytes.Buffer
	// The demo's verify checks cluster-wide roles, which other test
	// packages create on a shared server while this runs. With the server
	// binaries at hand it gets a cluster of its own, as `make demo` does.
	server := ""
	if _, err := pgcluster.FindBinDir(); err != nil {
		server = pgtest.NewDatabase(t)
	}
	err := demo.Run(context.Background(), demo.Opts{DatabaseURL: server, Stdout: &stdout, Stderr: &stderr})
	require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	require.Contains(t, stdout.String(), "every step (14) ended in the layer the kit promises")
	require.NotContains(t, stdout.String(), "\x1b[", "no colours when not on a terminal")
	if server != "" {
		conn, err := pgx.Connect(context.Background(), server)
		require.NoError(t, err)
		defer conn.Close(context.Background())
		var left int
		require.NoError(t, conn.QueryRow(context.Background(),
			`SELECT count(*) FROM pg_catalog.pg_database WHERE datname LIKE 'bulwark\_demo\_%'`).Scan(&left))
		require.Zero(t, left, "the demo drops its database")
	} else {
		require.Contains(t, stderr.String(), "removing the throwaway PostgreSQL")
	}

	for _, want := range []string{"capability_refused", "missing_capability", "own_article", "separation_of_duties",
		"1 ok, 15", "boundary_violation", "guard_triggers app.articles.bulwark_10_boundary"} {
		require.Contains(t, stdout.String(), want)
	}
}
