package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEnsureLogin(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("SurvivesConcurrentCreation", func(t *testing.T) {
		t.Parallel()

		e := get(t)

		var b [4]byte
		_, _ = rand.Read(b[:])
		group := "bulwark_pgtest_" + hex.EncodeToString(b[:])
		login := group + loginSuffix
		require.NoError(t, e.exec(ctx, "CREATE ROLE "+ident(group)+" NOLOGIN"))
		t.Cleanup(func() {
			require.NoError(t, e.exec(ctx, "DROP ROLE IF EXISTS "+ident(login)))
			require.NoError(t, e.exec(ctx, "DROP ROLE IF EXISTS "+ident(group)))
		})

		// Separate environments, as separate processes have, so that the
		// calls race in the server rather than queue on loginMu.
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				racer := &environment{admin: e.admin, logins: make(map[string]bool)}
				errs[i] = racer.ensureLogin(login, group)
			})
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}

		var member bool
		require.NoError(t, e.admin.QueryRow(ctx,
			"SELECT pg_catalog.pg_has_role($1, $2, 'USAGE')", login, group).Scan(&member))
		require.True(t, member)
	})

	t.Run("FailsForMissingGroup", func(t *testing.T) {
		t.Parallel()

		e := get(t)
		err := e.ensureLogin("bulwark_pgtest_missing"+loginSuffix, "bulwark_pgtest_missing")
		require.ErrorContains(t, err, "does not exist")
	})
}
