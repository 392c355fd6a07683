package pgcluster_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/internal/pgcluster"
)

func TestAttach(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("RejectsForeignDirectory", func(t *testing.T) {
		t.Parallel()

		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "data"), 0o700))

		_, err := pgcluster.Attach(dir)
		require.Error(t, err)
		require.DirExists(t, dir)
	})

	t.Run("StopsClusterStartedElsewhere", func(t *testing.T) {
		t.Parallel()

		c := startCluster(ctx, t)

		attached, err := pgcluster.Attach(c.Dir())
		require.NoError(t, err)
		require.Equal(t, c.PID(), attached.PID())
		require.Equal(t, c.Port(), attached.Port())
		require.Equal(t, c.URL("postgres"), attached.URL("postgres"))

		require.NoError(t, attached.Stop())
		require.NoDirExists(t, c.Dir())
		require.NoError(t, c.Stop()) // the server and directory are gone already
	})
}

func TestFindBinDir(t *testing.T) {
	t.Parallel()

	dir, err := pgcluster.FindBinDir()
	require.NoError(t, err)
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		require.FileExists(t, filepath.Join(dir, name))
	}
}

func TestStart(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("FailsWithoutBinaries", func(t *testing.T) {
		t.Parallel()

		_, err := pgcluster.Start(ctx, &pgcluster.StartOpts{BinDir: t.TempDir()})
		require.ErrorIs(t, err, pgcluster.ErrNoBinaries)
		require.ErrorContains(t, err, "initdb")
		require.ErrorContains(t, err, "apt-get install postgresql")
	})

	t.Run("FailsOnTakenPort", func(t *testing.T) {
		t.Parallel()

		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { l.Close() })

		_, err = pgcluster.Start(ctx, &pgcluster.StartOpts{Port: l.Addr().(*net.TCPAddr).Port})
		require.ErrorContains(t, err, "pg_ctl")
		require.ErrorContains(t, err, "Address already in use", "the error carries the server log")
	})

	t.Run("FailsWhenCancelled", func(t *testing.T) {
		t.Parallel()

		parent := traversableTempDir(t)
		// Long enough to be inside initdb or pg_ctl, too short to finish.
		ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()

		_, err := pgcluster.Start(ctx, &pgcluster.StartOpts{Dir: parent})
		require.Error(t, err)

		entries, err := os.ReadDir(parent)
		require.NoError(t, err)
		require.Empty(t, entries, "a failed Start must leave nothing behind")
	})

	t.Run("RefusesUntraversableParent", func(t *testing.T) {
		t.Parallel()

		if os.Geteuid() != 0 {
			t.Skip("only root hands the cluster to another OS user")
		}
		parent := filepath.Join(t.TempDir(), "private") // t.TempDir is mode 0700

		_, err := pgcluster.Start(ctx, &pgcluster.StartOpts{Dir: parent})
		require.ErrorContains(t, err, "not traversable")

		entries, err := os.ReadDir(parent)
		require.NoError(t, err)
		require.Empty(t, entries, "a failed Start must leave nothing behind")
	})

	t.Run("RunsAndStops", func(t *testing.T) {
		t.Parallel()

		c := startCluster(ctx, t)
		require.NotZero(t, c.PID())
		require.NotZero(t, c.Port())
		require.FileExists(t, filepath.Join(c.Dir(), ".s.PGSQL."+strconv.Itoa(c.Port())))
		require.FileExists(t, c.LogPath())

		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		require.NoError(t, err)

		var one int
		require.NoError(t, conn.QueryRow(ctx, "SELECT 1").Scan(&one))
		require.Equal(t, 1, one)

		for name, want := range map[string]string{
			"fsync":              "off",
			"full_page_writes":   "off",
			"max_connections":    "300",
			"server_encoding":    "UTF8",
			"shared_buffers":     "128MB",
			"synchronous_commit": "off",
		} {
			var got string
			require.NoError(t, conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&got))
			require.Equal(t, want, got, name)
		}
		require.NoError(t, conn.Close(ctx))

		require.NoError(t, c.Stop())
		require.NoDirExists(t, c.Dir())
		require.NoError(t, c.Stop(), "a second Stop does nothing")

		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err = pgx.Connect(ctx, c.URL("postgres"))
		require.Error(t, err)
	})

	t.Run("RejectsBadLanguage", func(t *testing.T) {
		t.Parallel()

		_, err := pgcluster.Start(ctx, &pgcluster.StartOpts{Language: "de\nfsync=off"})
		require.ErrorContains(t, err, "invalid language")
	})

	t.Run("SpeaksLanguage", func(t *testing.T) {
		t.Parallel()

		english := startCluster(ctx, t)
		german, err := pgcluster.Start(ctx, &pgcluster.StartOpts{Language: "de"})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, german.Stop()) })

		divide := func(c *pgcluster.Cluster) (lcMessages string, pgErr *pgconn.PgError) {
			t.Helper()
			conn, err := pgx.Connect(ctx, c.URL("postgres"))
			require.NoError(t, err)
			defer conn.Close(context.Background())
			require.NoError(t, conn.QueryRow(ctx, "SHOW lc_messages").Scan(&lcMessages))
			_, err = conn.Exec(ctx, "SELECT 1/0")
			require.ErrorAs(t, err, &pgErr)
			return lcMessages, pgErr
		}
		lcC, errC := divide(english)
		lcDE, errDE := divide(german)

		require.Equal(t, "C", lcC)
		require.Equal(t, "C.UTF-8", lcDE)
		require.Equal(t, errC.Code, errDE.Code, "translation changes no SQLSTATE")
		require.Equal(t, "ERROR", errDE.SeverityUnlocalized)
		require.Equal(t, "ERROR", errC.Severity)
		// Text is compared only to prove the translation happened; the
		// catalog is /usr/share/locale/de/LC_MESSAGES/postgres-<major>.mo.
		require.Equal(t, "FEHLER", errDE.Severity, "the server does not speak German: is its message catalog installed?")
		require.Equal(t, "division by zero", errC.Message)
		require.Equal(t, "Division durch Null", errDE.Message)
	})

	t.Run("TakesSettings", func(t *testing.T) {
		t.Parallel()

		c, err := pgcluster.Start(ctx, &pgcluster.StartOpts{
			Settings: map[string]string{"application_name": "it's pgcluster"},
		})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, c.Stop()) })

		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close(context.Background()) })

		var got string
		require.NoError(t, conn.QueryRow(ctx, "SHOW application_name").Scan(&got))
		require.Equal(t, "it's pgcluster", got)
	})

	t.Run("RejectsBadSettingName", func(t *testing.T) {
		t.Parallel()

		_, err := pgcluster.Start(ctx, &pgcluster.StartOpts{
			Settings: map[string]string{"fsync = on\nwork_mem": "1MB"},
		})
		require.ErrorContains(t, err, "invalid setting name")
	})
}

// traversableTempDir returns a temporary directory that the OS user
// "postgres" can reach when the test runs as root.
func traversableTempDir(t *testing.T) string {
	t.Helper()

	dir := t.TempDir()
	if os.Geteuid() == 0 {
		require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
		require.NoError(t, os.Chmod(dir, 0o755))
	}
	return dir
}

// startCluster starts a cluster that is stopped, if the test did not stop it,
// in Cleanup.
func startCluster(ctx context.Context, t *testing.T) *pgcluster.Cluster {
	t.Helper()

	c, err := pgcluster.Start(ctx, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Stop()) })
	return c
}
