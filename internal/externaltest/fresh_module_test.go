package externaltest_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/internal/drift"
	"github.com/bulwarkdb/bulwark/internal/pgtest"
)

// modulePath is bulwark's module path, as a team requires it.
const modulePath = "github.com/bulwarkdb/bulwark"

// TestFreshModule builds a team's program in a module of its own outside
// this repository, runs it against an empty database, and checks the
// result with the bulwark CLI, built from this checkout.
func TestFreshModule(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	root := checkout(t)
	work := t.TempDir()
	team := filepath.Join(work, "team")
	copyDir(t, filepath.Join("testdata", "team"), team)

	// The team's go.mod, as `go mod init` and a replace make it; go.sum
	// starts from bulwark's, so that no checksum is fetched.
	goCmd(t, team, "mod", "init", "example.com/team")
	goCmd(t, team, "mod", "edit",
		"-replace", modulePath+"="+root,
		"-require", modulePath+"@v0.0.0-00010101000000-000000000000")
	sums, err := os.ReadFile(filepath.Join(root, "go.sum"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(team, "go.sum"), sums, 0o600))
	goCmd(t, team, "mod", "tidy")
	build := []string{"build"}
	if raceEnabled {
		build = append(build, "-race")
	}
	teamBin := filepath.Join(work, "team-bin")
	goCmd(t, team, append(build, "-o", teamBin, ".")...)
	bulwarkBin := filepath.Join(work, "bulwark")
	goCmd(t, root, append(build, "-o", bulwarkBin, "./cmd/bulwark")...)

	url := pgtest.EmptyDatabase(t)
	appURL := pgtest.LoginAs(t, url, "bulwark_app")

	stdout, stderr, code := runBin(t, teamBin, []string{"DATABASE_URL=" + url, "APP_DATABASE_URL=" + appURL})
	require.Zero(t, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.Equal(t, strings.Join([]string{
		"migrated own 00001_invoices.sql",
		"invoice 42.50: paid, version 2",
		"bob: refused by the permission layer, HTTP 403",
	}, "\n")+"\n", stdout)

	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	var lines []string
	rows, err := conn.Query(ctx, `
		SELECT n.nspname FROM pg_catalog.pg_namespace AS n
		WHERE n.nspname IN ('bulwark', 'billing', 'app', 'river') ORDER BY 1`)
	require.NoError(t, err)
	lines, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"billing", "bulwark"}, lines, "the core and the team's domain, no examples")

	verify := func(args ...string) (string, int) {
		t.Helper()
		args = append([]string{"verify", "--database-url", url}, args...)
		for _, r := range drift.MigrationRoles(t, url, nil, "") {
			args = append(args, "--migration-role", r)
		}
		stdout, stderr, code := runBin(t, bulwarkBin, nil, args...)
		return stdout + stderr, code
	}
	migrationsDir := filepath.Join(team, "migrations")
	out, code := verify("--migrations", migrationsDir)
	require.Zero(t, code, out)
	require.Contains(t, out, "ok: all ")
	// Without the directory, verify says the team's line went unchecked.
	out, code = verify()
	require.Equal(t, 1, code, out)
	require.Regexp(t, `(?m)^migrations +FAIL +line own `, out)

	// One of the team table's bulwark triggers, disabled by a superuser.
	_, err = conn.Exec(ctx, `ALTER TABLE billing.invoices DISABLE TRIGGER bulwark_10_boundary`)
	require.NoError(t, err)
	out, code = verify("--migrations", migrationsDir)
	require.Equal(t, 1, code, out)
	require.Regexp(t, `(?m)^guard_triggers +FAIL +billing\.invoices\.bulwark_10_boundary `, out)
}

// checkout returns the directory of this module's go.mod.
func checkout(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	require.NoError(t, err)
	gomod := strings.TrimSpace(string(out))
	require.NotEmpty(t, gomod)
	return filepath.Dir(gomod)
}

// goCmd runs the go command in dir, for a module of its own: no
// workspace, go.mod updated as needed, the module proxy and cache of the
// environment.
func goCmd(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go %s:\n%s", strings.Join(args, " "), out)
}

// runBin runs bin with args and the extra environment env, and returns
// what it wrote and its exit code.
func runBin(t *testing.T, bin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return out.String(), errOut.String(), exitErr.ExitCode()
	}
	require.NoError(t, err)
	return out.String(), errOut.String(), 0
}

// copyDir copies the files under src to dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	require.NoError(t, os.CopyFS(dst, os.DirFS(src)))
}
