package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/sql/schema"
)

// Names of the service principals that migration 00004 creates.
const (
	PrincipalRetention = "retention"
	PrincipalScheduler = "scheduler"
)

// RunnerOpts are options for [NewRunner]. A nil *RunnerOpts means
// defaults.
type RunnerOpts struct {
	// FetchPollInterval is how often River polls for jobs when no
	// notification arrives. Default River's (1s).
	FetchPollInterval time.Duration
	// ID names this process among River clients. Default River's.
	ID string
	// Logger receives job and River logs. Default slog.Default().
	Logger *slog.Logger
	// MaxWorkers is the number of jobs run at once. Default 10.
	MaxWorkers int
	// RetentionAge enables the periodic retention job: published articles
	// older than this are archived. Zero disables it.
	RetentionAge time.Duration
	// RetentionInterval is how often retention runs. Default 1h.
	RetentionInterval time.Duration
}

// Runner is a River client working bulwark's jobs. Several runners (in one
// process or many) can share one database; River hands each job to one.
type Runner struct {
	client *river.Client[pgx.Tx]
	grants *authz.Grants
}

// NewRunner returns a runner over pool. The pool should connect as a login
// role that is a member of bulwark_jobs.
func NewRunner(ctx context.Context, pool *pgxpool.Pool, opts *RunnerOpts) (*Runner, error) {
	if opts == nil {
		opts = &RunnerOpts{}
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	maxWorkers := opts.MaxWorkers
	if maxWorkers <= 0 {
		maxWorkers = 10
	}
	interval := opts.RetentionInterval
	if interval <= 0 {
		interval = time.Hour
	}

	q := db.New()
	scheduler, err := q.PrincipalGetByName(ctx, pool, PrincipalScheduler)
	if err != nil {
		return nil, fmt.Errorf("find principal %s: %w", PrincipalScheduler, db.InterpretError(err))
	}
	retention, err := q.PrincipalGetByName(ctx, pool, PrincipalRetention)
	if err != nil {
		return nil, fmt.Errorf("find principal %s: %w", PrincipalRetention, db.InterpretError(err))
	}

	grants := authz.NewGrants(pool, &authz.GrantsOpts{Logger: logger})
	gate := authz.NewGate(pool, grants, &authz.GateOpts{Observer: &authz.SlogObserver{Logger: logger}})
	svc, err := articles.NewService(ctx, gate, nil)
	if err != nil {
		return nil, err
	}

	workers := river.NewWorkers()
	river.AddWorker(workers, &scheduledPublishWorker{grants: grants, logger: logger, pool: pool, scheduler: scheduler.ID, svc: svc})
	river.AddWorker(workers, &retentionWorker{age: opts.RetentionAge, logger: logger, pool: pool, retention: retention.ID, svc: svc})

	cfg := &river.Config{
		FetchPollInterval: opts.FetchPollInterval,
		ID:                opts.ID,
		Logger:            logger,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: maxWorkers}},
		Schema:            schema.RiverSchema,
		Workers:           workers,
	}
	if opts.RetentionAge > 0 {
		cfg.PeriodicJobs = []*river.PeriodicJob{river.NewPeriodicJob(
			river.PeriodicInterval(interval),
			func() (river.JobArgs, *river.InsertOpts) { return RetentionArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true},
		)}
	}
	if opts.FetchPollInterval > 0 && opts.FetchPollInterval < river.FetchCooldownDefault {
		// River refuses a poll interval shorter than the fetch cooldown.
		cfg.FetchCooldown = opts.FetchPollInterval
	}
	client, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		return nil, fmt.Errorf("create river client: %w", err)
	}
	return &Runner{client: client, grants: grants}, nil
}

// Start starts working jobs. It returns once the grant listener is in
// place and River has started.
func (r *Runner) Start(ctx context.Context) error {
	if err := r.grants.Start(ctx); err != nil {
		return err
	}
	if err := r.client.Start(ctx); err != nil {
		r.grants.Stop()
		return fmt.Errorf("start river: %w", err)
	}
	return nil
}

// Stop stops fetching jobs and waits for running ones to finish, until ctx
// is done; then it cancels them.
func (r *Runner) Stop(ctx context.Context) error {
	defer r.grants.Stop()
	err := r.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return r.client.StopAndCancel(context.WithoutCancel(ctx))
	}
	return err
}

// Client returns the River client, for subscriptions and inspection.
func (r *Runner) Client() *river.Client[pgx.Tx] { return r.client }

// Enqueuer queues scheduled publications in the caller's transaction. It
// satisfies articles.Enqueuer; give it to articles.NewService.
type Enqueuer struct {
	client *river.Client[pgx.Tx]
}

// NewEnqueuer returns an insert-only River client over pool (an
// application pool: bulwark_app may insert River jobs).
func NewEnqueuer(pool *pgxpool.Pool) (*Enqueuer, error) {
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Schema: schema.RiverSchema})
	if err != nil {
		return nil, fmt.Errorf("create river insert client: %w", err)
	}
	return &Enqueuer{client: client}, nil
}

// EnqueueScheduledPublishTx queues the job for s at s.PublishAt in tx.
func (e *Enqueuer) EnqueueScheduledPublishTx(ctx context.Context, tx pgx.Tx, s articles.Schedule) error {
	_, err := e.client.InsertTx(ctx, tx, ScheduledPublishArgs{ScheduleID: s.ID, Token: s.Token}, &river.InsertOpts{
		// With the short conflict backoff this spans about eight minutes;
		// the last attempt records the failure on the schedule.
		MaxAttempts: 25,
		ScheduledAt: s.PublishAt,
		// A second job for the same schedule and token would only find
		// itself stale; River's uniqueness saves the insert. The database
		// is what guarantees one pending schedule per article.
		UniqueOpts: river.UniqueOpts{ByArgs: true},
	})
	return err
}
