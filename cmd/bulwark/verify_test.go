package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/internal/drift"
	"github.com/bulwarkdb/bulwark/internal/pgtest"
)

// driftTag names this package's owner-drift login role (see drift.Apply).
const driftTag = "cli"

// cliResult is what one in-process run of the command left behind.
type cliResult struct {
	code   int
	stderr string
	stdout string
}

func runCLI(t *testing.T, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return cliResult{code: code, stderr: stderr.String(), stdout: stdout.String()}
}

// roleFlags names the login roles the tests' shared cluster may have in
// bulwark_owner (see drift.MigrationRoles).
func roleFlags(t *testing.T, url string, f *drift.Fixture) []string {
	t.Helper()
	var args []string
	for _, r := range drift.MigrationRoles(t, url, f, driftTag) {
		args = append(args, "--migration-role", r)
	}
	return args
}

// jsonReport is the JSON report, decoded as a CI job would.
type jsonReport struct {
	SchemaVersion int  `json:"schema_version"`
	OK            bool `json:"ok"`
	Checks        []struct {
		Name     string `json:"name"`
		OK       bool   `json:"ok"`
		Findings []struct {
			Object string `json:"object"`
			Fix    string `json:"fix"`
		} `json:"findings"`
	} `json:"checks"`
}

func (r jsonReport) failures() []string {
	var out []string
	for _, c := range r.Checks {
		for _, f := range c.Findings {
			out = append(out, c.Name+" "+f.Object)
		}
	}
	return out
}

func TestVerifyCommand(t *testing.T) {
	t.Parallel()

	t.Run("CleanDatabaseExitsZero", func(t *testing.T) {
		t.Parallel()

		url := pgtest.NewDatabase(t)
		res := runCLI(t, append([]string{"verify", "--database-url", url}, roleFlags(t, url, nil)...)...)
		require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
		require.Regexp(t, `(?m)^guard_triggers +ok +\d+ triggers`, res.stdout)
		require.Regexp(t, `(?m)^ok: all \d+ checks passed`, res.stdout)
		require.Empty(t, res.stderr)
	})

	t.Run("ConnectionFailureExitsTwo", func(t *testing.T) {
		t.Parallel()

		res := runCLI(t, "verify", "--database-url", "postgres://nobody@127.0.0.1:1/nothing?connect_timeout=5&sslmode=disable")
		require.Equal(t, exitUsage, res.code)
		require.Contains(t, res.stderr, "bulwark verify: could not run (no connection): connect:")
		require.Empty(t, res.stdout)
	})

	t.Run("Drift", func(t *testing.T) {
		t.Parallel()

		for _, f := range drift.Fixtures() {
			t.Run(f.Name, func(t *testing.T) {
				t.Parallel()

				url := pgtest.NewDatabase(t)
				want := drift.Apply(t, url, driftTag, f)
				res := runCLI(t, append([]string{"verify", "--database-url", url, "--format", "json"}, roleFlags(t, url, &f)...)...)
				require.Equal(t, exitDrift, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
				require.Contains(t, res.stderr, "the enforcement boundary has drifted")

				var report jsonReport
				require.NoError(t, json.Unmarshal([]byte(res.stdout), &report))
				require.Equal(t, 1, report.SchemaVersion)
				require.False(t, report.OK)
				require.ElementsMatch(t, want, report.failures())
			})
		}
	})

	t.Run("NotMigratedExitsTwo", func(t *testing.T) {
		t.Parallel()

		url := pgtest.NewDatabase(t)
		resetAll(t, url)

		res := runCLI(t, "verify", "--database-url", url)
		require.Equal(t, exitUsage, res.code)
		require.Contains(t, res.stderr, "this database was never migrated")
	})

	t.Run("HistoryRowsBoundsTheHistoryCheck", func(t *testing.T) {
		t.Parallel()

		url := pgtest.NewDatabase(t)
		conn, err := pgx.Connect(context.Background(), url)
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close(context.Background()) })
		// Three articles, each changed with its audit trigger off.
		_, err = conn.Exec(context.Background(), `
			DO $seed$
			BEGIN
			    FOR i IN 1..3 LOOP
			        PERFORM app.article_create(bulwark.principal_id('bootstrap'), 'Article ' || i, '', NULL);
			    END LOOP;
			END
			$seed$;
			BEGIN;
			SELECT bulwark.maintenance_begin('test: unlogged fixes');
			ALTER TABLE app.articles DISABLE TRIGGER bulwark_90_audit;
			UPDATE app.articles SET title = title || '!';
			ALTER TABLE app.articles ENABLE TRIGGER bulwark_90_audit;
			COMMIT`)
		require.NoError(t, err)

		history := func(rows string) []string {
			t.Helper()
			res := runCLI(t, append([]string{"verify", "--database-url", url, "--format", "json", "--history-rows", rows}, roleFlags(t, url, nil)...)...)
			require.Equal(t, exitDrift, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
			var report jsonReport
			require.NoError(t, json.Unmarshal([]byte(res.stdout), &report))
			return report.failures()
		}
		require.Len(t, history("-1"), 3)
		// At most one row of the table: a sample, once the table is
		// analyzed, may hold none.
		require.LessOrEqual(t, len(history("1")), 1)

		res := runCLI(t, "verify", "--database-url", url, "--history-rows", "0")
		require.Equal(t, exitUsage, res.code)
		require.Contains(t, res.stderr, "--history-rows must be positive")
	})

	t.Run("UnknownFormatExitsTwo", func(t *testing.T) {
		t.Parallel()

		res := runCLI(t, "verify", "--database-url", "postgres://localhost/x", "--format", "yaml")
		require.Equal(t, exitUsage, res.code)
		require.Contains(t, res.stderr, `unknown format "yaml"`)
	})
}

func TestMigrateVerifies(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	exec := func(t *testing.T, url, sql string) {
		t.Helper()
		conn, err := pgx.Connect(ctx, url)
		require.NoError(t, err)
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		require.NoError(t, err)
	}

	t.Run("FromScratch", func(t *testing.T) {
		t.Parallel()

		url := pgtest.NewDatabase(t)
		resetAll(t, url)

		res := runCLI(t, append([]string{"migrate", "up", "--with-examples", "--database-url", url}, roleFlags(t, url, nil)...)...)
		require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
		require.Regexp(t, `(?m)^up +core +00001 00001_bulwark_core\.sql +ok`, res.stdout)
		require.Regexp(t, `(?m)^up +river +00001 \(Go\) go:river-schema-\d+-grants-\d+ +ok`, res.stdout)
		require.Regexp(t, `(?m)^up +articles +00002 00002_article_schedules\.sql +ok`, res.stdout)
		require.Regexp(t, `(?m)^ok: all \d+ checks passed`, res.stdout)
	})

	// By default, migrate up installs the core only: no River, no
	// article domain.
	t.Run("CoreOnly", func(t *testing.T) {
		t.Parallel()

		url := emptyDatabase(t)
		res := runCLI(t, append([]string{"migrate", "up", "--database-url", url}, roleFlags(t, url, nil)...)...)
		require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
		require.Regexp(t, `(?m)^up +core +00001 00001_bulwark_core\.sql +ok`, res.stdout)
		require.NotRegexp(t, `(?m)^up +(river|articles) `, res.stdout)
		require.Regexp(t, `(?m)^ok: all \d+ checks passed`, res.stdout)
		var schemas int
		require.NoError(t, openSQLT(t, url).QueryRowContext(ctx,
			`SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname IN ('app', 'river')`).Scan(&schemas))
		require.Zero(t, schemas)

		// River comes with --with-river, the articles with --with-examples.
		res = runCLI(t, append([]string{"migrate", "up", "--with-river", "--database-url", url}, roleFlags(t, url, nil)...)...)
		require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
		require.Regexp(t, `(?m)^up +river +00001 `, res.stdout)
		require.NotRegexp(t, `(?m)^up +(core|articles) `, res.stdout)
		res = runCLI(t, append([]string{"migrate", "up", "--with-examples", "--database-url", url}, roleFlags(t, url, nil)...)...)
		require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
		require.Regexp(t, `(?m)^up +articles +00001 `, res.stdout)
	})

	t.Run("FailsWhenTheBoundaryIsWeakened", func(t *testing.T) {
		t.Parallel()

		url := pgtest.NewDatabase(t)
		exec(t, url, `ALTER TABLE app.articles DISABLE TRIGGER bulwark_10_boundary`)
		res := runCLI(t, append([]string{"migrate", "up", "--database-url", url}, roleFlags(t, url, nil)...)...)
		require.Equal(t, exitDrift, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
		require.Contains(t, res.stdout, "no pending migrations")
		require.Regexp(t, `(?m)^guard_triggers +FAIL +app\.articles\.bulwark_10_boundary `, res.stdout)
		require.Contains(t, res.stderr, "bulwark migrate: migrated, but the enforcement boundary has drifted")
	})

	t.Run("NoVerifySaysSoLoudly", func(t *testing.T) {
		t.Parallel()

		url := pgtest.NewDatabase(t)
		exec(t, url, `ALTER TABLE app.articles DISABLE TRIGGER bulwark_10_boundary`)
		res := runCLI(t, "migrate", "up", "--database-url", url, "--no-verify")
		require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
		require.Contains(t, res.stderr, "WARNING: --no-verify: the enforcement boundary was NOT verified")
		require.NotContains(t, res.stdout, "verify:")
	})

	// A rollback changes the boundary on purpose: the record follows it, so
	// verify holds the database to what the migrations left.
	t.Run("DownKeepsTheRecord", func(t *testing.T) {
		t.Parallel()

		url := pgtest.NewDatabase(t)
		res := runCLI(t, "migrate", "down", "--with-examples", "--database-url", url)
		require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
		require.Regexp(t, `(?m)^down +articles +\d{5} `, res.stdout)
		res = runCLI(t, append([]string{"verify", "--database-url", url}, roleFlags(t, url, nil)...)...)
		require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
	})

	t.Run("RedoVerifies", func(t *testing.T) {
		t.Parallel()

		url := pgtest.NewDatabase(t)
		res := runCLI(t, append([]string{"migrate", "redo", "--with-examples", "--database-url", url}, roleFlags(t, url, nil)...)...)
		require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
		require.Regexp(t, `(?m)^down +articles +\d{5} `, res.stdout)
		require.Regexp(t, `(?m)^up +articles +\d{5} `, res.stdout)
		require.Regexp(t, `(?m)^ok: all \d+ checks passed`, res.stdout)
	})
}
