package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/internal/bench"
	"github.com/bulwarkdb/bulwark/internal/pgtest"
)

func TestRun(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	// The bench makes a database of its own on the server; the test's
	// database only gives it a URL to connect with.
	serverURL := pgtest.NewDatabase(t)
	var progress bytes.Buffer
	report, err := bench.Run(ctx, serverURL, &bench.RunOpts{
		Clients:  []int{1, 4},
		Duration: 300 * time.Millisecond,
		Progress: &progress,
		Seed:     1,
	})
	require.NoError(t, err, "progress:\n%s", progress.String())

	t.Run("DropsItsDatabaseAndRole", func(t *testing.T) {
		t.Parallel()

		conn, err := pgx.Connect(ctx, serverURL)
		require.NoError(t, err)
		defer conn.Close(ctx)
		var database, role bool
		require.NoError(t, conn.QueryRow(ctx, `
			SELECT EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = $1),
			       EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = $1 || '_app')`,
			report.Database,
		).Scan(&database, &role))
		require.False(t, database, "database %s is left", report.Database)
		require.False(t, role, "role %s_app is left", report.Database)
	})

	t.Run("GatedImplementationsBreakNothing", func(t *testing.T) {
		t.Parallel()

		for _, res := range report.Runs {
			if res.Implementation != bench.ImplementationGate && res.Implementation != bench.ImplementationDB {
				continue
			}
			require.Zero(t, res.Violations.Total(), "%s with %d clients: %+v", res.Implementation, res.Clients, res.Violations)
			require.Zero(t, res.Errors.Other, "%s with %d clients", res.Implementation, res.Clients)
			require.Positive(t, res.Claims, "%s with %d clients checked no success", res.Implementation, res.Clients)
		}
		require.Zero(t, report.GuardedViolations())
	})

	t.Run("JSONParses", func(t *testing.T) {
		t.Parallel()

		var buf bytes.Buffer
		require.NoError(t, report.WriteJSON(&buf))
		var back bench.Report
		require.NoError(t, json.Unmarshal(buf.Bytes(), &back))
		require.Equal(t, report, &back)

		var generic struct {
			Runs []struct {
				Violations struct {
					Total *int `json:"total"`
				} `json:"violations"`
			} `json:"runs"`
			SchemaVersion int `json:"schema_version"`
		}
		require.NoError(t, json.Unmarshal(buf.Bytes(), &generic))
		require.Equal(t, bench.SchemaVersion, generic.SchemaVersion)
		require.Len(t, generic.Runs, len(report.Runs))
		for i, r := range generic.Runs {
			require.NotNil(t, r.Violations.Total, "run %d has no violations.total", i)
			require.Equal(t, report.Runs[i].Violations.Total(), *r.Violations.Total)
		}
	})

	t.Run("RunsEveryImplementationAtEveryClientCount", func(t *testing.T) {
		t.Parallel()

		require.Len(t, report.Runs, 8)
		i := 0
		for _, clients := range []int{1, 4} {
			for _, impl := range bench.Implementations() {
				res := report.Runs[i]
				require.Equal(t, impl, res.Implementation)
				require.Equal(t, clients, res.Clients)
				require.Positive(t, res.Ops, "%s with %d clients", impl, clients)
				require.LessOrEqual(t, res.Transitions, res.Ops)
				require.LessOrEqual(t, res.P50Ms, res.P99Ms)
				i++
			}
		}
		require.Len(t, report.Ratios, 2)
		require.EqualValues(t, 1, report.Settings.Seed)
	})

	t.Run("WritesTable", func(t *testing.T) {
		t.Parallel()

		var buf bytes.Buffer
		require.NoError(t, report.WriteTable(&buf))
		for _, want := range []string{"implementation", "gate/naive", "gate/raw", "gate/db", "violations by kind"} {
			require.Contains(t, buf.String(), want)
		}
		require.NotContains(t, buf.String(), "DEFECT")
	})
}

func TestRunRefusesBadOptions(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	for name, opts := range map[string]*bench.RunOpts{
		"NoArticles":       {Articles: -1},
		"NegativeDuration": {Duration: -time.Second},
		"ZeroClients":      {Clients: []int{1, 0}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()

			// No server is needed: the options are refused first.
			_, err := bench.Run(ctx, "postgres://nobody@127.0.0.1:1/none", opts)
			require.ErrorIs(t, err, bench.ErrInvalidOptions)
		})
	}
}
