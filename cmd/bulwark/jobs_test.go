package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/internal/pgtest"
	"github.com/bulwarkdb/bulwark/internal/seed"
	"github.com/bulwarkdb/bulwark/jobs"
)

// buildBinary builds the bulwark command into a test's temp dir.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bulwark")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build:\n%s", out)
	return bin
}

// scheduleDue makes n approved articles through the SQL API and schedules
// each, as a publisher, for delay after they all exist.
func scheduleDue(t *testing.T, pool *pgxpool.Pool, n int, delay time.Duration) []uuid.UUID {
	t.Helper()
	ctx := context.Background()
	q := db.New()
	mk := func(name string, roles ...string) uuid.UUID {
		id, err := seed.Principal(ctx, pool, name, roles...)
		require.NoError(t, err)
		return id
	}
	author, editor, publisher := mk("author", "author"), mk("editor", "editor"), mk("publisher", "publisher")
	enqueuer, err := jobs.NewEnqueuer(pool)
	require.NoError(t, err)
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	var approved []uuid.UUID
	for i := range n {
		a, err := q.ArticleCreate(ctx, pool, db.ArticleCreateParams{Actor: author, Title: "T", Body: "B"})
		require.NoError(t, err)
		slug, summary := fmt.Sprintf("a-%d", i), "S"
		a, err = q.ArticleEdit(ctx, pool, db.ArticleEditParams{Actor: author, ID: a.ID, ExpectedVersion: a.Version, Slug: &slug, Summary: &summary})
		require.NoError(t, err)
		a, err = q.ArticleSubmit(ctx, pool, db.ArticleSubmitParams{Actor: author, ID: a.ID, ExpectedVersion: a.Version})
		require.NoError(t, err)
		a, err = q.ArticleApprove(ctx, pool, db.ArticleApproveParams{Actor: editor, ID: a.ID, ExpectedVersion: a.Version})
		require.NoError(t, err)
		approved = append(approved, a.ID)
	}
	due := time.Now().Add(delay)
	var schedules []uuid.UUID
	for _, id := range approved {
		s, err := q.ArticleSchedulePublish(ctx, tx, db.ArticleSchedulePublishParams{Actor: publisher, ArticleID: id, PublishAt: due})
		require.NoError(t, err)
		require.NoError(t, enqueuer.EnqueueScheduledPublishTx(ctx, tx, s))
		schedules = append(schedules, s.ID)
	}
	require.NoError(t, tx.Commit(ctx))
	return schedules
}

// TestJobsCommand runs two `bulwark jobs` processes against one database:
// they share the work, no job runs twice, and SIGTERM stops each
// gracefully with exit status 0.
func TestJobsCommand(t *testing.T) {
	t.Parallel()

	bin := buildBinary(t)
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	admin, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(admin.Close)
	jobsURL := pgtest.LoginAs(t, url, "bulwark_jobs")

	const n = 30
	// Due once both processes are surely up, so that one of them cannot
	// finish everything before the other has started.
	scheduleDue(t, admin, n, 4*time.Second)

	type proc struct {
		cmd    *exec.Cmd
		stdout bytes.Buffer
		stderr bytes.Buffer
	}
	procs := make([]*proc, 2)
	for i := range procs {
		p := &proc{cmd: exec.Command(bin, "jobs", "--database-url", jobsURL, "--id", fmt.Sprintf("proc-%d", i), "--max-workers", "2")}
		p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
		require.NoError(t, p.cmd.Start())
		t.Cleanup(func() { _ = p.cmd.Process.Kill() })
		procs[i] = p
	}

	require.Eventually(t, func() bool {
		var pending int
		require.NoError(t, admin.QueryRow(ctx, `SELECT count(*) FROM app.article_schedules WHERE state = 'pending'`).Scan(&pending))
		return pending == 0
	}, 60*time.Second, 50*time.Millisecond)

	for _, p := range procs {
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	}
	for i, p := range procs {
		err := p.cmd.Wait()
		require.NoError(t, err, "process %d: stderr:\n%s", i, p.stderr.String())
		require.Contains(t, p.stdout.String(), "bulwark jobs: stopped")
	}

	var done, publishes, attempts int
	require.NoError(t, admin.QueryRow(ctx, `SELECT count(*) FROM app.article_schedules WHERE state = 'done'`).Scan(&done))
	require.Equal(t, n, done)
	require.NoError(t, admin.QueryRow(ctx, `SELECT count(*) FROM bulwark.transition_log WHERE machine = 'article' AND transition = 'publish'`).Scan(&publishes))
	require.Equal(t, n, publishes, "no job ran twice")
	require.NoError(t, admin.QueryRow(ctx, `SELECT coalesce(sum(attempt), 0) FROM river.river_job WHERE kind = 'bulwark.scheduled_publish'`).Scan(&attempts))
	require.Equal(t, n, attempts)
	var workers int
	require.NoError(t, admin.QueryRow(ctx, `SELECT count(DISTINCT attempted_by[1]) FROM river.river_job WHERE kind = 'bulwark.scheduled_publish'`).Scan(&workers))
	require.Equal(t, 2, workers, "both processes took part")
}

func TestJobsCommandUsage(t *testing.T) {
	t.Parallel()

	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"jobs", "--database-url", ""}, &stdout, &stderr)
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr.String(), "no database")
}
