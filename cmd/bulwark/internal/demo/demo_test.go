package demo_test

import (
	"bytes"
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/auditlog"
	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/cmd/bulwark/internal/demo"
	"github.com/bulwarkdb/bulwark/internal/pgcluster"
)

// server returns a server URL for a demo: a cluster of its own when the
// server binaries are at hand, as `make demo` has (the demo's verify checks
// cluster-wide roles, which other test packages create on a shared server
// while it runs), else the test server.
func server(t *testing.T) string {
	t.Helper()
	if _, err := pgcluster.FindBinDir(); err != nil {
		return bulwarktest.NewDatabase(t)
	}
	cluster, err := pgcluster.Start(context.Background(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cluster.Stop() })
	return cluster.URL("postgres")
}

// requireReadsWhole asserts the story's output fits 80 columns and cuts
// nothing.
func requireReadsWhole(t *testing.T, out string) {
	t.Helper()
	for line := range strings.Lines(out) {
		line = strings.TrimRight(line, "\n")
		if strings.HasPrefix(line, "  export DATABASE_URL=") {
			continue // a URL is as long as it is
		}
		require.LessOrEqual(t, utf8.RuneCountInString(line), 80, "too wide for 80 columns: %q", line)
	}
	require.NotContains(t, out, "…", "nothing is cut")
	for _, want := range []string{
		"→ invalid · capability_refused", "→ permission · missing_capability", "→ policy · own_article",
		"→ invariant · separation_of_duties", "→ 1 ok, 15 conflict · stale_version", "→ invariant · boundary_violation",
		"guard_triggers app.articles.bulwark_10_boundary", "bulwark log --check",
	} {
		require.Contains(t, out, want)
	}
}

// TestDemo runs the whole story against a throwaway server: every step
// must end in the promised layer, and the demo's database must be gone
// after.
func TestDemo(t *testing.T) {
	t.Parallel()

	var stdout, stderr bytes.Buffer
	srv := ""
	if _, err := pgcluster.FindBinDir(); err != nil {
		srv = bulwarktest.NewDatabase(t)
	}
	err := demo.Run(context.Background(), demo.Opts{DatabaseURL: srv, Stdout: &stdout, Stderr: &stderr})
	require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	out := stdout.String()
	require.Contains(t, out, "every step (15) ended in the layer the kit promises")
	require.NotContains(t, out, "\x1b[", "no colours when not on a terminal")
	requireReadsWhole(t, out)
	require.Contains(t, out, "the demo dropped its database: to keep it, run\nbulwark demo --keep --database-url URL")
	require.Regexp(t, `\n  bulwark log --entity [0-9a-f-]{36}\n`, out)
	require.Contains(t, out, "\n  bulwark log --check\n")
	require.Contains(t, out, "\n  bulwark verify --format json\n")
	if srv != "" {
		conn, err := pgx.Connect(context.Background(), srv)
		require.NoError(t, err)
		defer conn.Close(context.Background())
		var left int
		require.NoError(t, conn.QueryRow(context.Background(),
			`SELECT count(*) FROM pg_catalog.pg_database WHERE datname LIKE 'bulwark\_demo\_%'`).Scan(&left))
		require.Zero(t, left, "the demo drops its database")
	} else {
		require.Contains(t, stderr.String(), "removing the throwaway PostgreSQL")
	}
}

// TestDemoKeep keeps the demo's database and reads its history the way
// the story's last lines suggest.
func TestDemoKeep(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	require.ErrorIs(t, demo.Run(ctx, demo.Opts{Keep: true, Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}), demo.ErrKeepNeedsServer)

	srv := server(t)
	var stdout, stderr bytes.Buffer
	require.NoError(t, demo.Run(ctx, demo.Opts{DatabaseURL: srv, Keep: true, Stdout: &stdout, Stderr: &stderr}),
		"stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	out := stdout.String()
	requireReadsWhole(t, out)

	m := regexp.MustCompile(`Try next, on the kept database (bulwark_demo_[0-9a-f]+) \(drop it when done\):\n  export DATABASE_URL='([^']+)'`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	name, kept := m[1], m[2]
	require.Contains(t, kept, "/"+name, "the server's URL with the demo's database")
	admin, err := pgx.Connect(ctx, srv)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		_ = admin.Close(context.Background())
	})

	// The URL printed is the server's with the demo's database: read it as
	// the server's user (the printed one hides any password).
	u, err := url.Parse(srv)
	require.NoError(t, err)
	u.Path = "/" + name
	conn, err := pgx.Connect(ctx, u.String())
	require.NoError(t, err)
	defer conn.Close(ctx)
	raced := uuid.MustParse(regexp.MustCompile(`--entity ([0-9a-f-]{36})`).FindStringSubmatch(out)[1])
	page, err := auditlog.List(ctx, conn, auditlog.Filter{Entity: raced, Transition: "publish"}, nil)
	require.NoError(t, err)
	require.Len(t, page.Entries, 1, "16 publishers raced; the log has one publish")
	report, err := auditlog.Check(ctx, conn, nil)
	require.NoError(t, err)
	require.True(t, report.OK, "%+v", report.Problems)
}
