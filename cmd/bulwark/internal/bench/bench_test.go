package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/cmd/bulwark/internal/bench"
	"github.com/bulwarkdb/bulwark/internal/pgtest"
)

func TestRun(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	// The bench makes a database of its own on the server; the test's
	// database only gives it a URL to connect with.
	serverURL := bulwarktest.NewDatabase(t)
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
		"NoArticles":            {Articles: -1},
		"ReplicaWithoutURL":     {Implementations: []bench.Implementation{bench.ImplementationGateReplica}},
		"UnknownImplementation": {Implementations: []bench.Implementation{"gate-psychic"}},
		"NegativeDuration":      {Duration: -time.Second},
		"NegativeRounds":        {Rounds: -1},
		"UnknownWorkload":       {Workload: "cold"},
		"ZeroClients":           {Clients: []int{1, 0}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()

			// No server is needed: the options are refused first.
			_, err := bench.Run(ctx, "postgres://nobody@127.0.0.1:1/none", opts)
			require.ErrorIs(t, err, bench.ErrInvalidOptions)
		})
	}
}

func TestRunLowWorkload(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	serverURL := bulwarktest.NewDatabase(t)
	var progress bytes.Buffer
	report, err := bench.Run(ctx, serverURL, &bench.RunOpts{
		Articles: 2,
		Clients:  []int{1, 3},
		Duration: 300 * time.Millisecond,
		Progress: &progress,
		Rounds:   2,
		Seed:     1,
		Workload: bench.WorkloadLow,
	})
	require.NoError(t, err, "progress:\n%s", progress.String())
	require.Equal(t, 2, report.Settings.Rounds)
	require.Contains(t, progress.String(), "round 2 of 2")

	t.Run("EveryImplementationBreaksNothing", func(t *testing.T) {
		t.Parallel()

		// Each client has its rows to itself and sends nothing stale and
		// nothing twice: naive and raw have nothing to break either, and
		// every request must succeed.
		require.Len(t, report.Runs, 8)
		for _, res := range report.Runs {
			require.Zero(t, res.Violations.Total(), "%s with %d clients: %+v", res.Implementation, res.Clients, res.Violations)
			require.Zero(t, res.Errors.Total(), "%s with %d clients: %+v", res.Implementation, res.Clients, res.Errors)
			require.Positive(t, res.Ops, "%s with %d clients", res.Implementation, res.Clients)
			require.Equal(t, res.Ops, res.Transitions, "%s with %d clients", res.Implementation, res.Clients)
			require.GreaterOrEqual(t, res.Claims, res.Transitions, "%s with %d clients", res.Implementation, res.Clients)
			require.Zero(t, res.StaleRequests)
			require.Zero(t, res.Replays.Sent)
		}
		require.Equal(t, bench.WorkloadLow, report.Settings.Workload)
		require.Zero(t, report.Settings.StaleRate)
		require.Zero(t, report.Settings.ReplayRate)
		require.Len(t, report.Ratios, 2)
		for _, ra := range report.Ratios {
			require.Positive(t, ra.Transitions.DBNaive)
			require.Positive(t, ra.Transitions.DBRaw)
		}
	})

	t.Run("FunctionStatistics", func(t *testing.T) {
		t.Parallel()

		conn, err := pgx.Connect(ctx, serverURL)
		require.NoError(t, err)
		defer conn.Close(ctx)
		var superuser bool
		var serverSetting string
		require.NoError(t, conn.QueryRow(ctx, `
			SELECT r.rolsuper, pg_catalog.current_setting('track_functions')
			FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user`,
		).Scan(&superuser, &serverSetting))
		if !superuser {
			// The bench cannot set track_functions: the server's stands.
			require.Equal(t, serverSetting, report.Server.TrackFunctions)
			if serverSetting == "none" {
				for _, res := range report.Runs {
					require.Empty(t, res.Functions)
				}
				return
			}
		} else {
			require.Equal(t, "all", report.Server.TrackFunctions)
		}

		for _, res := range report.Runs {
			calls := make(map[string]int64)
			for _, fs := range res.Functions {
				calls[fs.Function] = fs.Calls
				require.Positive(t, fs.Calls)
				// Both are sums divided by the same count: allow for rounding.
				require.GreaterOrEqual(t, fs.TotalMicrosPerCall*(1+1e-9), fs.SelfMicrosPerCall, fs.Function)
				require.InDelta(t, float64(fs.Calls)/float64(res.Requests), fs.CallsPerRequest, 1e-9)
			}
			switch res.Implementation {
			case bench.ImplementationDB, bench.ImplementationGate:
				// One transition function call per request, every one of
				// them counted: the sessions ended, and so reported their
				// calls, before the counts were read.
				require.Equal(t, int64(res.Requests), calls["app.article_submit"]+calls["app.article_request_changes"],
					"%s with %d clients: %+v", res.Implementation, res.Clients, res.Functions)
				require.Positive(t, res.FunctionMicrosPerRequest)
				require.NotContains(t, calls, "bulwark.principal_create", "the cast's calls leaked into a run")
			default:
				require.Empty(t, res.Functions, "%s with %d clients calls no function", res.Implementation, res.Clients)
				require.Zero(t, res.FunctionMicrosPerRequest)
			}
		}

		var buf bytes.Buffer
		require.NoError(t, report.WriteTable(&buf))
		require.Contains(t, buf.String(), "app.article_submit")
		require.Contains(t, buf.String(), "db/naive")
	})
}

func TestRunDurable(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	serverURL := bulwarktest.NewDatabase(t)
	conn, err := pgx.Connect(ctx, serverURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var durable bool
	require.NoError(t, conn.QueryRow(ctx,
		`SELECT pg_catalog.current_setting('fsync') = 'on' AND pg_catalog.current_setting('full_page_writes') = 'on'`,
	).Scan(&durable))

	var progress bytes.Buffer
	report, err := bench.Run(ctx, serverURL, &bench.RunOpts{
		Clients:  []int{1},
		Duration: 100 * time.Millisecond,
		Durable:  true,
		Progress: &progress,
		Seed:     1,
		Workload: bench.WorkloadLow,
	})
	if !durable {
		// The test cluster trades durability for speed: the bench must
		// refuse it before creating anything.
		require.ErrorIs(t, err, bench.ErrNotDurable)
		require.NotContains(t, progress.String(), "creating database")
		return
	}
	require.NoError(t, err)
	require.True(t, report.Settings.Durable)
	require.Equal(t, "on", report.Server.Fsync)
	require.Equal(t, "on", report.Server.FullPageWrites)
	require.Equal(t, "on", report.Server.SynchronousCommit)
}

// TestRunEverySnapshotSource runs the hot workload (contention, stale
// pages, retries) through the gate with each snapshot source, a streaming
// replica's included, beside the db function: none may break anything.
func TestRunEverySnapshotSource(t *testing.T) {
	ctx := context.Background()
	pair := pgtest.NewReplicaPair(t)
	var progress bytes.Buffer
	report, err := bench.Run(ctx, pair.PrimaryServerURL, &bench.RunOpts{
		Articles:        4,
		Clients:         []int{1, 4},
		Duration:        300 * time.Millisecond,
		Implementations: bench.AllImplementations(),
		Progress:        &progress,
		ReplicaURL:      pair.ReplicaServerURL,
		Seed:            1,
	})
	require.NoError(t, err, "progress:\n%s", progress.String())
	require.Len(t, report.Runs, 2*len(bench.AllImplementations()))
	for _, res := range report.Runs {
		require.Positive(t, res.Ops, "%s with %d clients", res.Implementation, res.Clients)
		if !res.Implementation.Guarded() {
			continue
		}
		require.Zero(t, res.Violations.Total(), "%s with %d clients: %+v", res.Implementation, res.Clients, res.Violations)
		require.Zero(t, res.Errors.Other, "%s with %d clients", res.Implementation, res.Clients)
		require.Positive(t, res.Claims, "%s with %d clients checked no success", res.Implementation, res.Clients)
	}
	require.Zero(t, report.GuardedViolations())
	for _, ra := range report.Ratios {
		require.Len(t, ra.Gates, 4, "every gate source has its ratios")
	}
	var buf bytes.Buffer
	require.NoError(t, report.WriteTable(&buf))
	require.Contains(t, buf.String(), "each snapshot source of the gate")
	require.Contains(t, buf.String(), "gate-replica")
}
