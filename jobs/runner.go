package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/riverqueue/rivercontrib/otelriver"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/otelbulwark"
	"github.com/bulwarkdb/bulwark/sql/schema"
)

// Names of the service principals that the article line's migration 00002
// (article_schedules) creates.
const (
	PrincipalRetention = "retention"
	PrincipalScheduler = "scheduler"
)

// Defaults of [RunnerOpts].
const (
	DefaultJobTimeout           = time.Minute
	DefaultMaxWorkers           = 10
	DefaultReconcileInterval    = time.Minute
	DefaultRescueStuckJobsAfter = 5 * time.Minute
	DefaultRetentionInterval    = time.Hour
)

// Bounds River keeps that are not options: its leader looks for stuck jobs
// every RescuerInterval, makes scheduled and retryable jobs available every
// SchedulerInterval, and a runner takes over the leadership of a dead one
// within LeaderFailover. They enter the recovery bounds of [RunnerOpts].
const (
	LeaderFailover    = 21 * time.Second
	RescuerInterval   = 30 * time.Second
	SchedulerInterval = 5 * time.Second
)

// RunnerOpts are options for [NewRunner]. A nil *RunnerOpts means
// defaults.
//
// # Recovery bounds
//
// A runner that dies mid-job (SIGKILL, OOM, power loss) leaves its job
// running; once the job has run for RescueStuckJobsAfter, the leader of the
// runners still alive takes it for stuck and it is worked again. So while
// another runner lives, a publication whose runner died is done within
// [RunnerOpts.RecoveryBound] of its start: about six minutes with the
// defaults. It is done exactly once: a publication the dead runner
// committed makes the retry find its schedule done, and one it did not
// commit was rolled back with its session.
//
// A pending schedule whose job vanished (deleted), was cancelled or
// discarded by anyone but the kit, or was altered (kind, arguments or
// queue rewritten, pushed far past its time) gets a new job within
// [RunnerOpts.LostJobBound] of the loss: about 1.5 minutes with the
// defaults. A job is requeued at most three times for one schedule time:
// when the fourth is lost too, the schedule fails as unavailable
// (articles.CodeJobLost), with what happened to its last job as the reason.
type RunnerOpts struct {
	// FetchPollInterval is how often each runner looks for jobs. Runners
	// never LISTEN (see [NewRunner]), so this is also the longest a due
	// job waits to be noticed. Default River's (1s).
	FetchPollInterval time.Duration
	// ID names this process among River clients. Default River's.
	ID string
	// JobTimeout is how long one attempt of a job may run before its
	// context is cancelled and it is retried. Default 1 minute; publishing
	// takes milliseconds.
	JobTimeout time.Duration
	// Logger receives job and River logs. Default slog.Default().
	Logger *slog.Logger
	// MaxWorkers is the number of jobs run at once. Default 10.
	MaxWorkers int
	// MeterProvider receives the gate's and the grants cache's metrics
	// (package otelbulwark), River's (rivercontrib/otelriver) and
	// [MetricQueueDepth]. Default otel.GetMeterProvider(), a no-op until
	// the application sets one.
	MeterProvider metric.MeterProvider
	// ReconcileInterval is how often the leader checks that every pending
	// schedule has a live job of the kit, and requeues or fails those
	// that do not. Default 1 minute.
	ReconcileInterval time.Duration
	// RescueStuckJobsAfter is how long a job may stay running before the
	// leader takes its runner for dead and retries it. At least
	// JobTimeout. Default 5 minutes.
	RescueStuckJobsAfter time.Duration
	// RetentionAge enables the periodic retention job: published articles
	// older than this are archived. Zero disables it, and then neither the
	// retention worker nor its periodic job is registered: a retention job
	// found in River's table is not worked. Negative is refused, and so is
	// a positive age on a database without the article line (see
	// [NewRunner]).
	RetentionAge time.Duration
	// RetentionInterval is how often retention runs. Default 1h.
	RetentionInterval time.Duration
	// TracerProvider receives a span per job worked (River's
	// river.work/<kind>, from otelriver) with the gate's spans inside it:
	// the job's trace id is the correlation id of what it writes to
	// bulwark.transition_log. Default otel.GetTracerProvider(), a no-op
	// until the application sets one.
	TracerProvider trace.TracerProvider
}

// withDefaults returns o with defaults filled in, or an error wrapping
// ErrInvalidOpts.
func (o RunnerOpts) withDefaults() (RunnerOpts, error) {
	for _, d := range []struct {
		name  string
		value *time.Duration
		def   time.Duration
	}{
		{"FetchPollInterval", &o.FetchPollInterval, 0},
		{"JobTimeout", &o.JobTimeout, DefaultJobTimeout},
		{"ReconcileInterval", &o.ReconcileInterval, DefaultReconcileInterval},
		{"RescueStuckJobsAfter", &o.RescueStuckJobsAfter, DefaultRescueStuckJobsAfter},
		{"RetentionAge", &o.RetentionAge, 0},
		{"RetentionInterval", &o.RetentionInterval, DefaultRetentionInterval},
	} {
		if *d.value < 0 {
			return o, fmt.Errorf("%w: %s is negative (%s)", ErrInvalidOpts, d.name, *d.value)
		}
		if *d.value == 0 {
			*d.value = d.def
		}
	}
	if o.RescueStuckJobsAfter < o.JobTimeout {
		// River would rescue jobs that are still working.
		return o, fmt.Errorf("%w: RescueStuckJobsAfter (%s) is shorter than JobTimeout (%s)", ErrInvalidOpts, o.RescueStuckJobsAfter, o.JobTimeout)
	}
	if o.MaxWorkers <= 0 {
		o.MaxWorkers = DefaultMaxWorkers
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MeterProvider == nil {
		o.MeterProvider = otel.GetMeterProvider()
	}
	if o.TracerProvider == nil {
		o.TracerProvider = otel.GetTracerProvider()
	}
	return o, nil
}

// RecoveryBound returns the longest a job whose runner died mid-job waits,
// from its start, until another runner starts it again, for o with its
// defaults: RescueStuckJobsAfter + [RescuerInterval] + [LeaderFailover] +
// [SchedulerInterval] + FetchPollInterval + the worker's first retry delay.
// The second attempt of a publication only publishes what the first did
// not. It returns zero for options [NewRunner] refuses.
func (o RunnerOpts) RecoveryBound() time.Duration {
	o, err := o.withDefaults()
	if err != nil {
		return 0
	}
	return o.RescueStuckJobsAfter + RescuerInterval + LeaderFailover + SchedulerInterval +
		cmp.Or(o.FetchPollInterval, river.FetchPollIntervalDefault) + maxBackoff(1)
}

// LostJobBound returns the longest a pending schedule whose job was lost
// waits, from the loss, until a new job is due to run, for o with its
// defaults: ReconcileInterval + [LeaderFailover] (should the leader die
// too) + [SchedulerInterval] + FetchPollInterval.
func (o RunnerOpts) LostJobBound() time.Duration {
	o, err := o.withDefaults()
	if err != nil {
		return 0
	}
	return o.ReconcileInterval + LeaderFailover + SchedulerInterval +
		cmp.Or(o.FetchPollInterval, river.FetchPollIntervalDefault)
}

// Runner is a River client working bulwark's jobs. Several runners (in one
// process or many) can share one database; River hands each job to one.
type Runner struct {
	client *river.Client[pgx.Tx]
	// grants is the article service's grant cache; nil on a database
	// without the article line, where no job goes through the gate.
	grants      *authz.Grants
	articleLine bool
	kinds       []string
	logger      *slog.Logger
	queueDepth  metric.Registration
}

// NewRunner returns a runner over pool. The pool must connect as a login
// role that is a member of bulwark_jobs (a superuser is a member of
// every role): for any other, NewRunner returns an error wrapping
// [ErrNotJobsMember]. It returns an error wrapping [ErrInvalidOpts] for
// options that cannot work.
//
// What it works depends on the database's migration lines (package
// sql/schema), as bulwark.migration_checksums records them:
//
//   - River's line ([schema.LineRiver]) must be applied: without it there
//     are no River tables, and NewRunner returns an error wrapping
//     [ErrRiverLineMissing] (run bulwark migrate up --with-river);
//   - every database with it (the core and River's lines): the purge of
//     expired idempotency keys ([PurgeArgs]), on the leader, every
//     [DefaultPurgeInterval];
//   - with the article line ([schema.LineArticles]) applied, also its
//     jobs: scheduled publication ([ScheduledPublishArgs]), the reconciler
//     of lost schedule jobs ([ReconcileArgs]) and, with a positive
//     RetentionAge, retention ([RetentionArgs]). Without it, a positive
//     RetentionAge is refused with [ErrInvalidOpts] and
//     [ErrArticleLineMissing]: retention archives articles.
//
// These checks come before River starts, in that order: membership,
// River's line, the article line. [Runner.Kinds] says which kinds a
// runner works, and [Runner.Start] logs them. A database migrated by goose
// alone, whose lines schema.Up never recorded, counts as one without
// River's line (bulwark verify fails on it too); run bulwark migrate up
// --with-river to record them.
//
// The runner polls and never LISTENs: River's control channel
// (river.river_control) would take a "cancel job N" from any session that
// can NOTIFY, which is every login of the database.
func NewRunner(ctx context.Context, pool *pgxpool.Pool, opts *RunnerOpts) (*Runner, error) {
	if opts == nil {
		opts = &RunnerOpts{}
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := checkJobsMember(ctx, pool); err != nil {
		return nil, err
	}
	riverLine, err := lineApplied(ctx, pool, schema.LineRiver)
	if err != nil {
		return nil, err
	}
	if !riverLine {
		// River would start, log errors about its missing tables, and fail.
		return nil, fmt.Errorf("%w: bulwark.migration_checksums has no line %s; apply it with bulwark migrate up --with-river (schema.Up with schema.River())",
			ErrRiverLineMissing, schema.LineRiver)
	}
	articleLine, err := lineApplied(ctx, pool, schema.LineArticles)
	if err != nil {
		return nil, err
	}
	if !articleLine && o.RetentionAge > 0 {
		return nil, &alsoIs{
			err: fmt.Errorf("%w: RetentionAge is %s, but retention archives articles and the article line (%s) is not applied to this database; leave RetentionAge zero",
				ErrInvalidOpts, o.RetentionAge, schema.LineArticles),
			sentinel: ErrArticleLineMissing,
		}
	}

	workers := river.NewWorkers()
	// Periodic jobs are queued by the leader only.
	var article articleJobs
	if articleLine {
		if article, err = addArticleJobs(ctx, pool, o, workers); err != nil {
			return nil, err
		}
	}
	grants := article.grants
	river.AddWorker(workers, &purgeWorker{logger: o.Logger, pool: pool})
	periodic := append(article.periodic, purgePeriodic(DefaultPurgeInterval))
	kinds := append(article.kinds, PurgeArgs{}.Kind())
	if article.retention != nil {
		periodic = append(periodic, article.retention)
		kinds = append(kinds, RetentionArgs{}.Kind())
	}

	// A span per job worked, the parent of the gate's spans. Trace
	// propagation through job metadata stays off: the kit's jobs are
	// queued by SQL functions, and workers believe nothing else a job row
	// says.
	telemetry := otelriver.NewMiddleware(&otelriver.MiddlewareConfig{
		EnableWorkSpanJobKindSuffix: true,
		MeterProvider:               o.MeterProvider,
		TracerProvider:              o.TracerProvider,
	})
	cfg := &river.Config{
		FetchPollInterval:    o.FetchPollInterval,
		ID:                   o.ID,
		JobTimeout:           o.JobTimeout,
		Logger:               o.Logger,
		PeriodicJobs:         periodic,
		Plugins:              []rivertype.Plugin{telemetry},
		PollOnly:             true,
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: o.MaxWorkers}},
		RescueStuckJobsAfter: o.RescueStuckJobsAfter,
		Schema:               schema.RiverSchema,
		Workers:              workers,
	}
	if o.FetchPollInterval > 0 && o.FetchPollInterval < river.FetchCooldownDefault {
		// River refuses a poll interval shorter than the fetch cooldown.
		cfg.FetchCooldown = o.FetchPollInterval
	}
	client, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		return nil, fmt.Errorf("create river client: %w", err)
	}
	queueDepth, err := registerQueueDepth(o.MeterProvider, client, []string{river.QueueDefault})
	if err != nil {
		return nil, err
	}
	return &Runner{
		client:      client,
		grants:      grants,
		articleLine: articleLine,
		kinds:       kinds,
		logger:      o.Logger,
		queueDepth:  queueDepth,
	}, nil
}

// addArticleJobs registers the article line's workers, scheduled
// publication and its reconciler, and retention's if o enables it, and
// returns what the runner needs of them.
func addArticleJobs(ctx context.Context, pool *pgxpool.Pool, o RunnerOpts, workers *river.Workers) (articleJobs, error) {
	q := db.New()
	scheduler, err := q.PrincipalGetByName(ctx, pool, PrincipalScheduler)
	if err != nil {
		return articleJobs{}, fmt.Errorf("find principal %s: %w", PrincipalScheduler, db.InterpretError(err))
	}

	observer, err := otelbulwark.NewObserver(&otelbulwark.ObserverOpts{
		MeterProvider:  o.MeterProvider,
		Next:           &authz.SlogObserver{Logger: o.Logger},
		TracerProvider: o.TracerProvider,
	})
	if err != nil {
		return articleJobs{}, err
	}
	a := articleJobs{grants: authz.NewGrants(pool, &authz.GrantsOpts{Logger: o.Logger, Observer: observer})}
	gate := authz.NewGate(pool, a.grants, &authz.GateOpts{Observer: observer})
	svc, err := articles.NewService(ctx, gate, nil)
	if err != nil {
		return articleJobs{}, err
	}

	river.AddWorker(workers, &scheduledPublishWorker{logger: o.Logger, pool: pool, scheduler: scheduler.ID, svc: svc})
	river.AddWorker(workers, &reconcileWorker{logger: o.Logger, pool: pool, scheduler: scheduler.ID, svc: svc})
	a.periodic = append(a.periodic, river.NewPeriodicJob(
		river.PeriodicInterval(o.ReconcileInterval),
		func() (river.JobArgs, *river.InsertOpts) { return ReconcileArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true},
	))
	a.kinds = append(a.kinds, ScheduledPublishArgs{}.Kind(), ReconcileArgs{}.Kind())
	if o.RetentionAge <= 0 {
		return a, nil
	}
	retention, err := q.PrincipalGetByName(ctx, pool, PrincipalRetention)
	if err != nil {
		return articleJobs{}, fmt.Errorf("find principal %s: %w", PrincipalRetention, db.InterpretError(err))
	}
	river.AddWorker(workers, &retentionWorker{age: o.RetentionAge, logger: o.Logger, pool: pool, retention: retention.ID, svc: svc})
	a.retention = river.NewPeriodicJob(
		river.PeriodicInterval(o.RetentionInterval),
		func() (river.JobArgs, *river.InsertOpts) { return RetentionArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true},
	)
	return a, nil
}

// articleJobs is what the article line adds to a runner: the grants cache
// its gate reads (started and stopped with the runner), the reconciler's
// periodic job and the kinds it works, and retention's periodic job (nil
// when disabled; its kind is the runner's to list).
type articleJobs struct {
	grants    *authz.Grants
	periodic  []*river.PeriodicJob
	kinds     []string
	retention *river.PeriodicJob
}

// jobsRole is the group role of job runners' logins.
const jobsRole = "bulwark_jobs"

// checkJobsMember returns an error wrapping [ErrNotJobsMember] when the
// login of pool's sessions is not a member of bulwark_jobs: River's
// tables and the service principals would refuse it, but only once River
// has started and logged errors.
func checkJobsMember(ctx context.Context, pool *pgxpool.Pool) error {
	var login string
	var member bool
	if err := pool.QueryRow(ctx,
		`SELECT current_user, pg_catalog.pg_has_role(current_user, $1, 'MEMBER')`, jobsRole,
	).Scan(&login, &member); err != nil {
		return fmt.Errorf("look up membership of %s: %w", jobsRole, db.InterpretError(err))
	}
	if !member {
		return fmt.Errorf("%w: login %s", ErrNotJobsMember, login)
	}
	return nil
}

// lineApplied reports whether the built-in line named line has a
// migration applied to the database of pool, as
// bulwark.migration_checksums (which schema.Up and schema.Down keep, and
// bulwark_jobs may read) records it. The record is keyed by the line's
// name, which only the built-in line may have, so a team's own machines,
// principals or schemas named like the article domain's or River's do not
// count; and it goes when the line is rolled back, unlike the line's
// version table.
func lineApplied(ctx context.Context, pool *pgxpool.Pool, line string) (bool, error) {
	var applied bool
	if err := pool.QueryRow(ctx,
		`SELECT EXISTS (SELECT FROM bulwark.migration_checksums AS m WHERE m.line = $1)`, line,
	).Scan(&applied); err != nil {
		return false, fmt.Errorf("look up migration line %s: %w", line, db.InterpretError(err))
	}
	return applied, nil
}

// Start starts working jobs. It returns once the grant listener is in
// place and River has started.
// It logs the job kinds the runner works (see [Runner.Kinds]).
func (r *Runner) Start(ctx context.Context) error {
	if r.grants != nil {
		if err := r.grants.Start(ctx); err != nil {
			return err
		}
	}
	if err := r.client.Start(ctx); err != nil {
		if r.grants != nil {
			r.grants.Stop()
		}
		return fmt.Errorf("start river: %w", err)
	}
	msg := "bulwark jobs: working job kinds"
	if !r.articleLine {
		msg = "bulwark jobs: working job kinds; the article line is not applied, so no article jobs (scheduled publication, reconcile, retention)"
	}
	r.logger.InfoContext(ctx, msg, slog.Any("kinds", r.kinds), slog.Bool("article_line", r.articleLine))
	return nil
}

// Stop stops fetching jobs and waits for running ones to finish, until ctx
// is done; then it cancels them.
func (r *Runner) Stop(ctx context.Context) error {
	if r.grants != nil {
		defer r.grants.Stop()
	}
	// Collections after this one would read a pool about to close.
	defer func() { _ = r.queueDepth.Unregister() }()
	err := r.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return r.client.StopAndCancel(context.WithoutCancel(ctx))
	}
	return err
}

// Client returns the River client, for subscriptions and inspection.
func (r *Runner) Client() *river.Client[pgx.Tx] { return r.client }

// Kinds returns the River job kinds the runner works, in the order it
// registered them (see [NewRunner]).
func (r *Runner) Kinds() []string { return slices.Clone(r.kinds) }
