package jobs_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/jobs"
)

// testBundle: a migrated database, an application pool (a login member of
// bulwark_app) with the article service for people, and a jobs pool (a
// login member of bulwark_jobs) for runners.
type testBundle struct {
	admin     *pgxpool.Pool // superuser: reads only, for assertions
	alice     uuid.UUID     // author
	app       *pgxpool.Pool
	boot      uuid.UUID
	erin      uuid.UUID // editor
	jobsPool  *pgxpool.Pool
	jobsURL   string
	pat       uuid.UUID // publisher
	q         *db.Queries
	retention uuid.UUID
	scheduler uuid.UUID
	seq       atomic.Int64
	svc       *articles.Service
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func connect(t testing.TB, url string, configure func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	return bulwarktest.Pool(t, url, &bulwarktest.PoolOpts{ConfigFunc: func(cfg *pgxpool.Config) {
		cfg.MaxConns = 20
		if configure != nil {
			configure(cfg)
		}
	}})
}

func setup(t testing.TB) *testBundle {
	t.Helper()
	url := bulwarktest.NewDatabase(t)
	return setupAt(t, url, bulwarktest.LoginAs(t, url, bulwarktest.RoleApp), bulwarktest.LoginAs(t, url, bulwarktest.RoleJobs))
}

// setupAt makes the bundle on a migrated database: url as its migration
// role, appURL and jobsURL as logins of bulwark_app and bulwark_jobs.
func setupAt(t testing.TB, url, appURL, jobsURL string) *testBundle {
	t.Helper()
	ctx := context.Background()
	b := &testBundle{
		admin:   connect(t, url, nil),
		app:     connect(t, appURL, nil),
		jobsURL: jobsURL,
		q:       db.New(),
	}
	b.jobsPool = connect(t, b.jobsURL, nil)
	b.boot = b.principalID(t, "bootstrap")
	b.scheduler = b.principalID(t, jobs.PrincipalScheduler)
	b.retention = b.principalID(t, jobs.PrincipalRetention)
	b.alice = b.newPrincipal(t, "alice", "author")
	b.erin = b.newPrincipal(t, "erin", "editor")
	b.pat = b.newPrincipal(t, "pat", "publisher")

	gate := authz.NewGate(b.app, nil, &authz.GateOpts{Observer: &authz.SlogObserver{Logger: quiet}})
	var err error
	b.svc, err = articles.NewService(ctx, gate, nil)
	require.NoError(t, err)
	return b
}

func (b *testBundle) principalID(t testing.TB, name string) uuid.UUID {
	t.Helper()
	return bulwarktest.PrincipalID(t, b.admin, name)
}

func (b *testBundle) newPrincipal(t testing.TB, name string, roles ...string) uuid.UUID {
	t.Helper()
	// bootstrap acts only from the migration role's session.
	return bulwarktest.Principal(t, b.admin, name, roles...)
}

func ptr[T any](v T) *T { return &v }

// approved returns an approved, complete article by alice.
func (b *testBundle) approved(t testing.TB) articles.Article {
	t.Helper()
	ctx := context.Background()
	a, err := b.svc.Create(ctx, b.alice, articles.CreateRequest{Title: "Title", Body: "Body"}, nil)
	require.NoError(t, err)
	a, err = b.svc.Edit(ctx, b.alice, articles.EditRequest{ID: a.ID, Slug: ptr(fmt.Sprintf("s-%d", b.seq.Add(1))), Summary: ptr("Summary")}, nil)
	require.NoError(t, err)
	a, err = b.svc.Submit(ctx, b.alice, articles.TransitionRequest{ID: a.ID}, nil)
	require.NoError(t, err)
	a, err = b.svc.Approve(ctx, b.erin, articles.TransitionRequest{ID: a.ID}, nil)
	require.NoError(t, err)
	return a
}

// runner starts a job runner on the jobs pool, stopped at cleanup.
func (b *testBundle) runner(t testing.TB, opts *jobs.RunnerOpts) *jobs.Runner {
	t.Helper()
	return b.runnerOn(t, b.jobsPool, opts)
}

func (b *testBundle) runnerOn(t testing.TB, pool *pgxpool.Pool, opts *jobs.RunnerOpts) *jobs.Runner {
	t.Helper()
	if opts == nil {
		opts = &jobs.RunnerOpts{}
	}
	if opts.FetchPollInterval == 0 {
		opts.FetchPollInterval = 50 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	ctx := context.Background()
	r, err := jobs.NewRunner(ctx, pool, opts)
	require.NoError(t, err)
	require.NoError(t, r.Start(ctx))
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, r.Stop(stopCtx))
	})
	return r
}

func (b *testBundle) schedule(t testing.TB, id uuid.UUID) articles.Schedule {
	t.Helper()
	s, err := b.q.ArticleScheduleGetByID(context.Background(), b.admin, id)
	require.NoError(t, err)
	return s
}

func (b *testBundle) article(t testing.TB, id uuid.UUID) articles.Article {
	t.Helper()
	a, err := b.q.ArticleGetByID(context.Background(), b.admin, id)
	require.NoError(t, err)
	return a
}

// waitSchedule waits until the schedule leaves pending.
func (b *testBundle) waitSchedule(t testing.TB, id uuid.UUID) articles.Schedule {
	t.Helper()
	var s articles.Schedule
	require.Eventually(t, func() bool {
		s = b.schedule(t, id)
		return s.State != articles.SchedulePending
	}, 20*time.Second, 20*time.Millisecond, "schedule %s still pending", id)
	return s
}

// jobRow is River's record of the jobs of one schedule.
type jobRow struct {
	Attempt int
	Errors  int
	State   string
}

func (b *testBundle) jobsFor(t testing.TB, scheduleID uuid.UUID) []jobRow {
	t.Helper()
	rows, err := b.admin.Query(context.Background(), `
		SELECT attempt, coalesce(pg_catalog.array_length(errors, 1), 0), state::text
		FROM river.river_job
		WHERE kind = 'bulwark.scheduled_publish' AND args ->> 'schedule_id' = $1
		ORDER BY id`, scheduleID.String())
	require.NoError(t, err)
	defer rows.Close()
	var out []jobRow
	for rows.Next() {
		var r jobRow
		require.NoError(t, rows.Scan(&r.Attempt, &r.Errors, &r.State))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

// waitJobs waits until every job of the schedule is finalized.
func (b *testBundle) waitJobs(t testing.TB, scheduleID uuid.UUID) []jobRow {
	t.Helper()
	var rows []jobRow
	require.Eventually(t, func() bool {
		rows = b.jobsFor(t, scheduleID)
		for _, r := range rows {
			if r.State != "completed" && r.State != "cancelled" && r.State != "discarded" {
				return false
			}
		}
		return len(rows) > 0
	}, 20*time.Second, 20*time.Millisecond)
	return rows
}

// jobByID is River's record of one job.
func (b *testBundle) jobByID(t testing.TB, id int64) jobRow {
	t.Helper()
	var r jobRow
	require.NoError(t, b.admin.QueryRow(context.Background(), `
		SELECT attempt, coalesce(pg_catalog.array_length(errors, 1), 0), state::text
		FROM river.river_job WHERE id = $1`, id).Scan(&r.Attempt, &r.Errors, &r.State))
	return r
}

// waitJob waits until the job is finalized.
func (b *testBundle) waitJob(t testing.TB, id int64) jobRow {
	t.Helper()
	var r jobRow
	require.Eventually(t, func() bool {
		r = b.jobByID(t, id)
		return r.State == "completed" || r.State == "cancelled" || r.State == "discarded"
	}, 20*time.Second, 20*time.Millisecond, "job %d not finalized", id)
	return r
}

// publishes counts the article's publications in the audit log.
func (b *testBundle) publishes(t testing.TB, articleID uuid.UUID) int {
	t.Helper()
	var n int
	require.NoError(t, b.admin.QueryRow(context.Background(), `
		SELECT count(*) FROM bulwark.transition_log
		WHERE machine = 'article' AND transition = 'publish' AND entity_id = $1`, articleID).Scan(&n))
	return n
}

// jobSvc returns an article service on the jobs pool, for calls as the
// service principals (bound to bulwark_jobs).
func (b *testBundle) jobSvc(t testing.TB) *articles.Service {
	t.Helper()
	gate := authz.NewGate(b.jobsPool, nil, &authz.GateOpts{Observer: &authz.SlogObserver{Logger: quiet}})
	svc, err := articles.NewService(context.Background(), gate, nil)
	require.NoError(t, err)
	return svc
}
