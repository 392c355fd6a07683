package schema_test

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBoundaryCatalogRunsWithoutJIT pins bulwark.boundary_catalog's
// jit = off (core 00005). The planner estimates the whole catalog's query
// at millions (it cannot tell that a boundary has a few hundred objects),
// far above jit_above_cost, and a server built with LLVM then compiled the
// query on every call: 2.3 s a call against 68 ms without, twice in every
// `bulwark migrate up` (schema.Up reads the catalog before the run and
// records it after).
func TestBoundaryCatalogRunsWithoutJIT(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	conn := connect(t)

	var config []string
	require.NoError(t, conn.QueryRow(ctx, `
		SELECT coalesce(p.proconfig, '{}')
		FROM pg_catalog.pg_proc AS p
		WHERE p.oid = 'bulwark.boundary_catalog(text)'::regprocedure`).Scan(&config))
	require.True(t, slices.Contains(config, "jit=off"), "boundary_catalog settings: %v", config)
}
