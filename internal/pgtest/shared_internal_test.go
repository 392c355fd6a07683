package pgtest

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

func TestAcquireSharedCluster(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("RejectsBadLanguage", func(t *testing.T) {
		t.Parallel()

		_, err := acquireSharedCluster(ctx, "../de")
		require.ErrorContains(t, err, "invalid language")
	})

	t.Run("SharesOneClusterPerLanguage", func(t *testing.T) {
		t.Parallel()

		dir := filepath.Join(t.TempDir(), "language-de")

		// Releases what a failing test left held, so that no cluster
		// outlives it.
		held := map[*sharedCluster]bool{}
		t.Cleanup(func() {
			for s := range held {
				require.NoError(t, s.release())
			}
		})
		release := func(s *sharedCluster) error {
			delete(held, s)
			return s.release()
		}

		first, err := acquireSharedClusterIn(ctx, dir, "de")
		require.NoError(t, err)
		held[first] = true
		// A second share, as another test process would take it: flock
		// locks belong to open files, not processes.
		second, err := acquireSharedClusterIn(ctx, dir, "de")
		require.NoError(t, err)
		held[second] = true
		require.Equal(t, first.url, second.url)

		st, err := readState(dir)
		require.NoError(t, err)

		conn, err := pgx.Connect(ctx, first.url)
		require.NoError(t, err)
		var lcMessages string
		require.NoError(t, conn.QueryRow(ctx, "SHOW lc_messages").Scan(&lcMessages))
		require.Equal(t, "C.UTF-8", lcMessages)
		_, err = conn.Exec(ctx, "SELECT 1/0")
		var pgErr *pgconn.PgError
		require.True(t, errors.As(err, &pgErr), "%v", err)
		require.Equal(t, "22012", pgErr.Code)
		// Compared only to prove the server translates: the German
		// catalog names an error FEHLER.
		require.Equal(t, "FEHLER", pgErr.Severity, "the server does not speak German")
		require.NoError(t, conn.Close(ctx))

		require.NoError(t, release(second))
		require.DirExists(t, st.Dir, "the first share still holds the cluster")
		require.True(t, answers(ctx, st, opTimeout))

		require.NoError(t, release(first))
		require.NoDirExists(t, st.Dir, "the last share stops the cluster")
		_, err = readState(dir)
		require.ErrorIs(t, err, errNoState)
	})
}
