package verify_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/internal/drift"
	"github.com/bulwarkdb/bulwark/verify"
)

func TestRiverPrivileges(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	setup := func(t *testing.T) (*pgx.Conn, string) {
		t.Helper()
		url := bulwarktest.NewDatabase(t)
		conn, err := pgx.Connect(ctx, url)
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close(context.Background()) })
		return conn, url
	}
	river := func(t *testing.T, conn *pgx.Conn, url string) verify.Check {
		t.Helper()
		report, err := verify.Run(ctx, conn, &verify.Opts{MigrationRoles: drift.MigrationRoles(t, url, nil, tag)})
		require.NoError(t, err)
		for _, c := range report.Checks {
			if c.Name == verify.CheckRiverPrivileges {
				return c
			}
		}
		t.Fatalf("no %s check in the report", verify.CheckRiverPrivileges)
		return verify.Check{}
	}

	t.Run("EveryDoorIsFoundAndTheHintsCloseThem", func(t *testing.T) {
		t.Parallel()

		conn, url := setup(t)
		clean := river(t, conn, url)
		require.True(t, clean.OK)
		// The schema, its tables, sequences and River's function.
		require.GreaterOrEqual(t, clean.Checked, 5)

		_, err := conn.Exec(ctx, `
			GRANT USAGE ON SCHEMA river TO PUBLIC;
			GRANT DELETE ON river.river_job TO bulwark_app;
			GRANT SELECT ON river.river_leader TO PUBLIC;
			GRANT USAGE ON SEQUENCE river.river_job_id_seq TO bulwark_app;
			GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA river TO PUBLIC;
			GRANT CREATE ON SCHEMA river TO bulwark_jobs;
			GRANT TRIGGER ON river.river_queue TO bulwark_jobs`)
		require.NoError(t, err)
		c := river(t, conn, url)
		require.False(t, c.OK)
		var objects []string
		for _, f := range c.Findings {
			objects = append(objects, f.Object)
		}
		require.ElementsMatch(t, []string{
			"river",           // PUBLIC: USAGE
			"river",           // bulwark_jobs: CREATE
			"river.river_job", // bulwark_app: DELETE
			"river.river_leader",
			"river.river_queue",
			"river.river_job_id_seq",
			"river.river_job_state_in_bitmask(bit,river.river_job_state)",
		}, objects)
		for _, f := range c.Findings {
			_, err := conn.Exec(ctx, f.Fix)
			require.NoError(t, err, f.Fix)
		}
		require.True(t, river(t, conn, url).OK)
	})

	t.Run("WithoutRiverNothingToCheck", func(t *testing.T) {
		t.Parallel()

		conn, url := setup(t)
		_, err := conn.Exec(ctx, `DROP SCHEMA river CASCADE`)
		require.NoError(t, err)
		c := river(t, conn, url)
		require.True(t, c.OK)
		require.Zero(t, c.Checked)
	})
}
