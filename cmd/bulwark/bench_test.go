package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/bulwarktest"
)

// benchReport is the part of `bulwark bench --json` these tests read,
// decoded as any consumer of the stable schema would.
type benchReport struct {
	Runs []struct {
		Clients        int    `json:"clients"`
		Implementation string `json:"implementation"`
		Ops            int    `json:"ops"`
		Violations     struct {
			Total int `json:"total"`
		} `json:"violations"`
	} `json:"runs"`
	SchemaVersion int `json:"schema_version"`
	Server        struct {
		Fsync             string `json:"fsync"`
		FullPageWrites    string `json:"full_page_writes"`
		SynchronousCommit string `json:"synchronous_commit"`
	} `json:"server"`
	Settings struct {
		Durable  bool   `json:"durable"`
		Workload string `json:"workload"`
	} `json:"settings"`
}

func TestBenchCommand(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	// runBenchJSON runs the command with args and --json, and decodes its
	// report.
	runBenchJSON := func(t *testing.T, args ...string) (benchReport, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := run(ctx, append([]string{"bench", "--json", "--seed", "7"}, args...), &stdout, &stderr)
		require.Equal(t, 0, code, "stderr:\n%s", stderr.String())
		var report benchReport
		require.NoError(t, json.Unmarshal(stdout.Bytes(), &report), "stdout:\n%s", stdout.String())
		require.Equal(t, 1, report.SchemaVersion)
		for _, r := range report.Runs {
			require.Positive(t, r.Ops, "%s with %d clients", r.Implementation, r.Clients)
			if r.Implementation == "gate" || r.Implementation == "db" {
				require.Zero(t, r.Violations.Total, "%s with %d clients", r.Implementation, r.Clients)
			}
		}
		return report, stderr.String()
	}

	t.Run("DatabaseURL", func(t *testing.T) {
		t.Parallel()

		report, progress := runBenchJSON(t, "--database-url", bulwarktest.NewDatabase(t), "--duration", "300ms", "--clients", "1,4")
		require.Len(t, report.Runs, 8)
		require.Contains(t, progress, "dropping database")
	})

	t.Run("RefusesBadFlags", func(t *testing.T) {
		t.Parallel()

		for _, args := range [][]string{
			{"--clients", "0"},
			{"--clients", "1,x"},
			{"--duration", "0s"},
			{"--articles", "0"},
			{"--workload", "cold"},
			{"--rounds", "0"},
			{"--database-url", "postgres://nobody@127.0.0.1:1/none"},
			{"extra"},
		} {
			var stdout, stderr bytes.Buffer
			code := run(ctx, append([]string{"bench"}, args...), &stdout, &stderr)
			require.Equal(t, exitUsage, code, "%v: stderr:\n%s", args, stderr.String())
			require.Empty(t, stdout.String(), "%v", args)
		}
	})

	t.Run("DurableThrowawayClusterLowWorkload", func(t *testing.T) {
		t.Parallel()

		report, progress := runBenchJSON(t, "--database-url", "", "--durable", "--workload", "low",
			"--duration", "100ms", "--clients", "2", "--articles", "2")
		require.Len(t, report.Runs, 4)
		for _, r := range report.Runs {
			// No contention, nothing stale, nothing retried: nothing to
			// break, for naive and raw too.
			require.Zero(t, r.Violations.Total, "%s with %d clients", r.Implementation, r.Clients)
		}
		require.Contains(t, progress, "fsync, synchronous_commit and full_page_writes on")
		require.Equal(t, "on", report.Server.Fsync)
		require.Equal(t, "on", report.Server.FullPageWrites)
		require.Equal(t, "on", report.Server.SynchronousCommit)
		require.True(t, report.Settings.Durable)
		require.Equal(t, "low", report.Settings.Workload)
	})

	t.Run("ThrowawayCluster", func(t *testing.T) {
		t.Parallel()

		// An empty URL, as with no DATABASE_URL: the command starts a
		// cluster of its own and removes it.
		report, progress := runBenchJSON(t, "--database-url", "", "--duration", "100ms", "--clients", "2")
		require.Len(t, report.Runs, 4)
		require.Contains(t, progress, "starting a throwaway PostgreSQL")
		require.Contains(t, progress, "removing the throwaway PostgreSQL")
	})
}
