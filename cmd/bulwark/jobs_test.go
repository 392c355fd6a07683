package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
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
// each, as a publisher, for delay after they all exist. The schedule
// function queues each one's job.
func scheduleDue(t *testing.T, pool *pgxpool.Pool, n int, delay time.Duration) []db.AppArticleSchedule {
	t.Helper()
	ctx := context.Background()
	q := db.New()
	mk := func(name string, roles ...string) uuid.UUID {
		return bulwarktest.Principal(t, pool, name, roles...)
	}
	author, editor, publisher := mk("author", "author"), mk("editor", "editor"), mk("publisher", "publisher")
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
	var schedules []db.AppArticleSchedule
	for _, id := range approved {
		s, err := q.ArticleSchedulePublish(ctx, tx, db.ArticleSchedulePublishParams{Actor: publisher, ArticleID: id, PublishAt: due})
		require.NoError(t, err)
		schedules = append(schedules, s)
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
	url := bulwarktest.NewDatabase(t)
	admin, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(admin.Close)
	jobsURL := bulwarktest.LoginAs(t, url, bulwarktest.RoleJobs)

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

// TestJobsCommandSurvivesKill kills with SIGKILL the `bulwark jobs`
// process that is working a publication, mid-job, while another process
// lives: the other publishes it, exactly once, within the documented bound
// (jobs.RunnerOpts.RecoveryBound, for the flags given).
func TestJobsCommandSurvivesKill(t *testing.T) {
	t.Parallel()

	bin := buildBinary(t)
	ctx := context.Background()
	url := bulwarktest.NewDatabase(t)
	admin, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(admin.Close)
	jobsURL := bulwarktest.LoginAs(t, url, bulwarktest.RoleJobs)

	s := scheduleDue(t, admin, 1, time.Second)[0]
	// The publication blocks on the article's row until the test lets go.
	hold, err := admin.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = hold.Rollback(context.Background()) })
	_, err = hold.Exec(ctx, `SELECT FROM app.articles WHERE id = $1 FOR UPDATE`, s.ArticleID)
	require.NoError(t, err)

	opts := jobs.RunnerOpts{
		FetchPollInterval:    100 * time.Millisecond,
		JobTimeout:           5 * time.Second,
		ReconcileInterval:    500 * time.Millisecond,
		RescueStuckJobsAfter: 5 * time.Second,
	}
	type proc struct {
		cmd    *exec.Cmd
		stdout bytes.Buffer
		stderr bytes.Buffer
	}
	procs := map[string]*proc{}
	for _, id := range []string{"proc-a", "proc-b"} {
		p := &proc{cmd: exec.Command(bin, "jobs", "--database-url", jobsURL, "--id", id,
			"--poll-interval", opts.FetchPollInterval.String(),
			"--job-timeout", opts.JobTimeout.String(),
			"--reconcile-interval", opts.ReconcileInterval.String(),
			"--rescue-after", opts.RescueStuckJobsAfter.String())}
		p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
		require.NoError(t, p.cmd.Start())
		t.Cleanup(func() { _ = p.cmd.Process.Kill() })
		procs[id] = p
	}

	// The job has just started (well within its timeout) on one of them.
	var jobID int64
	var victim string
	require.Eventually(t, func() bool {
		err := admin.QueryRow(ctx, `
			SELECT j.id, j.attempted_by[pg_catalog.array_upper(j.attempted_by, 1)]
			FROM river.river_job AS j
			JOIN app.article_schedule_jobs AS l ON l.job_id = j.id
			WHERE l.schedule_id = $1 AND j.state = 'running'
			  AND j.attempted_at > pg_catalog.now() - interval '2 seconds'`, s.ID).Scan(&jobID, &victim)
		return err == nil
	}, 30*time.Second, 10*time.Millisecond)
	killed := time.Now()
	require.NoError(t, procs[victim].cmd.Process.Kill())
	err = procs[victim].cmd.Wait()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr)
	require.Equal(t, syscall.SIGKILL, exitErr.Sys().(syscall.WaitStatus).Signal())
	// The dead process's session, still waiting for the row, gets it and
	// finds nobody to commit for it.
	require.NoError(t, hold.Rollback(ctx))

	require.Eventually(t, func() bool {
		var state string
		require.NoError(t, admin.QueryRow(ctx, `SELECT state FROM app.article_schedules WHERE id = $1`, s.ID).Scan(&state))
		return state == "done"
	}, opts.RecoveryBound()+10*time.Second, 50*time.Millisecond,
		"published within the bound (%s from the job's start) while another process lives", opts.RecoveryBound())
	t.Logf("published %s after the kill (bound %s)", time.Since(killed).Round(time.Millisecond), opts.RecoveryBound())

	var publishes, attempts int
	var attemptedBy []string
	require.NoError(t, admin.QueryRow(ctx, `
		SELECT count(*) FROM bulwark.transition_log WHERE machine = 'article' AND transition = 'publish' AND entity_id = $1`,
		s.ArticleID).Scan(&publishes))
	require.Equal(t, 1, publishes, "published exactly once")
	require.Eventually(t, func() bool {
		var state string
		require.NoError(t, admin.QueryRow(ctx, `SELECT state::text, attempt, attempted_by FROM river.river_job WHERE id = $1`, jobID).Scan(&state, &attempts, &attemptedBy))
		return state == "completed"
	}, 20*time.Second, 50*time.Millisecond)
	require.GreaterOrEqual(t, attempts, 2)
	require.Equal(t, victim, attemptedBy[0], "the killed process had it first")
	require.NotEqual(t, victim, attemptedBy[len(attemptedBy)-1], "the survivor finished it")

	for id, p := range procs {
		if id == victim {
			continue
		}
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
		require.NoError(t, p.cmd.Wait(), "stderr:\n%s", p.stderr.String())
	}
}

// TestJobsCommandWithoutArticleLine runs `bulwark jobs` on a database
// migrated as a team adopting the kit migrates it (`bulwark migrate up
// --with-river`: no article domain): it works the idempotency-key purge
// alone, removes an expired key, and stops gracefully on SIGTERM with exit
// status 0; --retention-age there is a usage error.
func TestJobsCommandWithoutArticleLine(t *testing.T) {
	t.Parallel()

	bin := buildBinary(t)
	ctx := context.Background()
	url := emptyDatabase(t)
	res := runCLI(t, append([]string{"migrate", "up", "--with-river", "--database-url", url}, roleFlags(t, url, nil)...)...)
	require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
	require.NotRegexp(t, `(?m)^up +articles `, res.stdout)
	execSQL(t, url, `BEGIN;
		SELECT bulwark.maintenance_begin('jobs command test: seed an expired and a fresh key');
		INSERT INTO bulwark.idempotency_keys (actor_id, key, request_hash, created_at)
		VALUES (bulwark.principal_id('bootstrap'), 'expired', '\x00', pg_catalog.now() - interval '26 hours');
		INSERT INTO bulwark.idempotency_keys (actor_id, key, request_hash)
		VALUES (bulwark.principal_id('bootstrap'), 'fresh', '\x00');
		COMMIT`)
	admin, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(admin.Close)
	jobsURL := bulwarktest.LoginAs(t, url, bulwarktest.RoleJobs)

	t.Run("RetentionAge", func(t *testing.T) {
		res := runCLI(t, "jobs", "--database-url", jobsURL, "--retention-age", "2160h")
		require.Equal(t, exitUsage, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
		// The flag, not the Go field behind it, and the command's name
		// once.
		require.Equal(t, "bulwark jobs: --retention-age needs the article line (bulwark migrate up --with-examples); leave it out on this database\n", res.stderr)
		require.NotContains(t, res.stdout, "working")
	})

	var stdout, stderr lockedBuffer
	cmd := exec.Command(bin, "jobs", "--database-url", jobsURL, "--poll-interval", "50ms")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	var early bool
	var earlyErr error
	require.Eventually(t, func() bool {
		select {
		case earlyErr = <-exited:
			// Reported below, from the test's goroutine.
			early = true
			return true
		default:
		}
		var expired int
		require.NoError(t, admin.QueryRow(ctx, `SELECT count(*) FROM bulwark.idempotency_keys WHERE key = 'expired'`).Scan(&expired))
		return expired == 0
	}, 60*time.Second, 50*time.Millisecond, "the expired key is purged; stdout:\n%s\nstderr:\n%s", &stdout, &stderr)
	require.False(t, early, "bulwark jobs exited before it purged (%v); stderr:\n%s", earlyErr, &stderr)
	var fresh int
	require.NoError(t, admin.QueryRow(ctx, `SELECT count(*) FROM bulwark.idempotency_keys WHERE key = 'fresh'`).Scan(&fresh))
	require.Equal(t, 1, fresh)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, <-exited, "stderr:\n%s", &stderr)
	require.Contains(t, stdout.String(), "bulwark jobs: job kinds: "+jobs.PurgeArgs{}.Kind()+"\n")
	require.Contains(t, stdout.String(), "bulwark jobs: stopped")
	require.Contains(t, stderr.String(), "article_line=false")
}

// TestJobsCommandWithoutRiverLine runs `bulwark jobs` on a database
// migrated with plain `bulwark migrate up` (the core line alone, no River
// tables): it does not start, exits 2 with the command that fixes it, and
// River logs nothing.
func TestJobsCommandWithoutRiverLine(t *testing.T) {
	t.Parallel()

	url := emptyDatabase(t)
	res := runCLI(t, append([]string{"migrate", "up", "--database-url", url}, roleFlags(t, url, nil)...)...)
	require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
	require.NotRegexp(t, `(?m)^up +river `, res.stdout)
	jobsURL := bulwarktest.LoginAs(t, url, bulwarktest.RoleJobs)

	for name, args := range map[string][]string{
		"Defaults":     nil,
		"RetentionAge": {"--retention-age", "2160h"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Were the runner to start, it would work until this cancels
			// it, and then exit 0.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var stdout, stderr bytes.Buffer
			code := run(ctx, append([]string{"jobs", "--database-url", jobsURL}, args...), &stdout, &stderr)
			require.Equal(t, exitUsage, code, "stdout:\n%s\nstderr:\n%s", &stdout, &stderr)
			require.Equal(t, "bulwark jobs: could not run (River's line is not applied): this database has no River tables; run bulwark migrate up --with-river, then bulwark jobs again\n", stderr.String())
			require.Empty(t, stdout.String())
		})
	}
}

// TestJobsCommandNotJobsMember runs `bulwark jobs` with a login that is
// not a member of bulwark_jobs (an application login): it is refused
// before River starts, with exit status 2, a message that names the role
// it needs, and no log line from River.
func TestJobsCommandNotJobsMember(t *testing.T) {
	t.Parallel()

	url := bulwarktest.NewDatabase(t)
	app := bulwarktest.LoginAs(t, url, bulwarktest.RoleApp)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"jobs", "--database-url", app}, &stdout, &stderr)
	require.Equal(t, exitUsage, code, "stdout:\n%s\nstderr:\n%s", &stdout, &stderr)
	cfg, err := pgxpool.ParseConfig(app)
	require.NoError(t, err)
	login := cfg.ConnConfig.User
	want := "bulwark jobs: could not run (permission denied): login " + login + " is not a member of bulwark_jobs; connect as a login role that is (GRANT bulwark_jobs TO \"" + login + "\")\n"
	require.Equal(t, want, stderr.String())
	require.Empty(t, stdout.String())
}

func TestJobsCommandUsage(t *testing.T) {
	t.Parallel()

	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"NoDatabase":                {[]string{"--database-url", ""}, "no database"},
		"RetentionAgeZero":          {[]string{"--retention-age", "0"}, "--retention-age must be positive"},
		"RetentionAgeNegative":      {[]string{"--retention-age", "-1h"}, "--retention-age must be positive"},
		"RescueBeforeJobTimeout":    {[]string{"--job-timeout", "10m", "--rescue-after", "1m"}, "--rescue-after (1m0s) must be at least --job-timeout"},
		"ReconcileIntervalZero":     {[]string{"--reconcile-interval", "0s"}, "--reconcile-interval must be positive"},
		"JobTimeoutNegative":        {[]string{"--job-timeout", "-1s"}, "--job-timeout must be positive"},
		"UnexpectedArgument":        {[]string{"now"}, "unexpected arguments"},
		"PollIntervalNegative":      {[]string{"--poll-interval", "-1s"}, "--poll-interval must not be negative"},
		"RetentionIntervalNegative": {[]string{"--retention-age", "1h", "--retention-interval", "-1h"}, "--retention-interval must be positive"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			args := append([]string{"jobs", "--database-url", "postgres://127.0.0.1:1/none"}, tc.args...)
			code := run(context.Background(), args, &stdout, &stderr)
			require.Equal(t, exitUsage, code, stderr.String())
			require.Contains(t, stderr.String(), tc.want)
		})
	}
}

// TestJobsCommandMetrics runs `bulwark jobs --metrics-addr` and scrapes
// /metrics as Prometheus would, before and after it publishes: the gate's
// decisions and latency, the grants cache's lookups, River's own metrics
// and the queue's depth are there, named the Prometheus way.
func TestJobsCommandMetrics(t *testing.T) {
	t.Parallel()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url := bulwarktest.NewDatabase(t)
	admin, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(admin.Close)
	jobsURL := bulwarktest.LoginAs(t, url, bulwarktest.RoleJobs)

	var stdout, stderr lockedBuffer
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"jobs", "--database-url", jobsURL, "--metrics-addr", "127.0.0.1:0", "--poll-interval", "50ms"}, &stdout, &stderr)
	}()
	addr := regexp.MustCompile(`metrics at (http://\S+/metrics)`)
	var metricsURL string
	require.Eventually(t, func() bool {
		m := addr.FindStringSubmatch(stdout.String())
		if m != nil {
			metricsURL = m[1]
		}
		return m != nil && bytes.Contains([]byte(stdout.String()), []byte("working"))
	}, 30*time.Second, 10*time.Millisecond, "stdout:\n%s\nstderr:\n%s", &stdout, &stderr)

	scrape := func() map[string]*dto.MetricFamily {
		t.Helper()
		resp, err := http.Get(metricsURL)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		parser := expfmt.NewTextParser(model.LegacyValidation)
		families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
		require.NoError(t, err, "the exposition parses:\n%s", body)
		return families
	}
	// value returns the value of the family's one series with labels.
	value := func(families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
		t.Helper()
		family, ok := families[name]
		require.True(t, ok, "no metric %s", name)
		for _, m := range family.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			match := true
			for k, v := range labels {
				match = match && got[k] == v
			}
			if !match {
				continue
			}
			switch family.GetType() {
			case dto.MetricType_COUNTER:
				return m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				return m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
		t.Fatalf("no series of %s with %v", name, labels)
		return 0
	}

	families := scrape()
	// The leader's reconciler job may be queued or running already.
	for _, state := range []string{"available", "running"} {
		require.GreaterOrEqual(t, value(families, "bulwark_jobs_queue_depth", map[string]string{"queue": "default", "state": state}), 0.0)
	}
	require.Contains(t, families, "go_goroutines")

	s := scheduleDue(t, admin, 1, 0)[0]
	require.Eventually(t, func() bool {
		var state string
		require.NoError(t, admin.QueryRow(ctx, `SELECT state FROM app.article_schedules WHERE id = $1`, s.ID).Scan(&state))
		return state == "done"
	}, 30*time.Second, 20*time.Millisecond)

	publish := map[string]string{"bulwark_action": "article.publish", "bulwark_outcome": "allowed"}
	// River counts the job once its worker returned.
	require.Eventually(t, func() bool {
		_, ok := scrape()["river_work_count_total"]
		return ok
	}, 10*time.Second, 20*time.Millisecond)
	families = scrape()
	require.Equal(t, 1.0, value(families, "bulwark_gate_decisions_total", publish))
	require.Equal(t, 1.0, value(families, "bulwark_gate_duration_seconds", publish))
	require.Positive(t, value(families, "bulwark_grants_lookups_total", map[string]string{"bulwark_grants_cache": "miss"}))
	require.Equal(t, 1.0, value(families, "river_work_count_total", map[string]string{"kind": "bulwark.scheduled_publish", "status": "ok"}))
	// Nothing left to work once the reconciler's first run is done too.
	require.Eventually(t, func() bool {
		families := scrape()
		return value(families, "bulwark_jobs_queue_depth", map[string]string{"queue": "default", "state": "available"}) == 0 &&
			value(families, "bulwark_jobs_queue_depth", map[string]string{"queue": "default", "state": "running"}) == 0
	}, 10*time.Second, 20*time.Millisecond)

	cancel()
	select {
	case code := <-exited:
		require.Equal(t, 0, code, "stderr:\n%s", &stderr)
	case <-time.After(30 * time.Second):
		t.Fatal("bulwark jobs did not stop")
	}
	resp, err := http.Get(metricsURL)
	if err == nil {
		resp.Body.Close()
	}
	require.Error(t, err, "no longer served")
}

func TestJobsCommandMetricsAddrTaken(t *testing.T) {
	t.Parallel()

	url := bulwarktest.NewDatabase(t)
	jobsURL := bulwarktest.LoginAs(t, url, bulwarktest.RoleJobs)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"jobs", "--database-url", jobsURL, "--metrics-addr", "127.0.0.1:-1"}, &stdout, &stderr)
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr.String(), "listen for metrics")
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader on
// different goroutines.
type lockedBuffer struct {
	buf bytes.Buffer
	mu  sync.Mutex
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
