package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/metric"

	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/jobs"
)

// runJobs works jobs until ctx is cancelled (main cancels it on SIGINT or
// SIGTERM), then stops gracefully: no new jobs, running ones get
// --shutdown-timeout to finish before they are cancelled. Several
// processes can run against one database; River gives each job to one.
// Which jobs depends on the database's lines (see jobs.NewRunner): the
// idempotency-key purge everywhere, the article jobs where the article
// line is applied; --retention-age on a database without it is a usage
// error. It does not start (exit status 2, before River logs anything) on
// a database without River's line, or with a login that is not a member
// of bulwark_jobs; see [newRunnerError].
func runJobs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("jobs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	databaseURL := fs.String("database-url", os.Getenv("DATABASE_URL"), "PostgreSQL URL of a login role that is a member of bulwark_jobs (default $DATABASE_URL)")
	id := fs.String("id", "", "this worker's name among River clients (default: River's)")
	jobTimeout := fs.Duration("job-timeout", jobs.DefaultJobTimeout, "how long one attempt of a job may run before it is cancelled and retried")
	maxWorkers := fs.Int("max-workers", jobs.DefaultMaxWorkers, "jobs worked at once by this process")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics, e.g. :9464 (default: not served)")
	pollInterval := fs.Duration("poll-interval", 0, "how often to look for due jobs (default: River's, 1s)")
	reconcileInterval := fs.Duration("reconcile-interval", jobs.DefaultReconcileInterval, "how often the leader gives a new job to a pending schedule whose job was lost")
	rescueAfter := fs.Duration("rescue-after", jobs.DefaultRescueStuckJobsAfter, "how long a job may stay running before its runner is taken for dead and the job is retried (at least --job-timeout)")
	retentionAge := fs.Duration("retention-age", 0, "archive published articles older than this (e.g. 2160h); needs the article line (migrate up --with-examples); leave it out to disable retention")
	retentionInterval := fs.Duration("retention-interval", jobs.DefaultRetentionInterval, "how often the retention job runs")
	shutdownTimeout := fs.Duration("shutdown-timeout", 30*time.Second, "how long running jobs may take to finish on shutdown")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: bulwark jobs [--database-url URL] [--id NAME] [--max-workers N] [--job-timeout D] [--poll-interval D]")
		fmt.Fprintln(stderr, "                    [--reconcile-interval D] [--rescue-after D] [--retention-age D [--retention-interval D]]")
		fmt.Fprintln(stderr, "                    [--metrics-addr ADDR] [--shutdown-timeout D]")
		fmt.Fprintln(stderr, "Runs bulwark's River workers as a member of bulwark_jobs until interrupted: the idempotency-key purge, and with")
		fmt.Fprintln(stderr, "the article line its scheduled publications, their reconciler and (with --retention-age) retention.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if fs.NArg() > 0 {
		return &exitError{code: exitUsage, err: fmt.Errorf("unexpected arguments: %v", fs.Args())}
	}
	if *databaseURL == "" {
		return &exitError{code: exitUsage, err: errors.New("no database: pass --database-url or set DATABASE_URL")}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	// A zero or negative age would mean "everything published before now":
	// retention is enabled only by a positive age.
	if set["retention-age"] && *retentionAge <= 0 {
		return &exitError{code: exitUsage, err: fmt.Errorf("--retention-age must be positive (it is %s); leave it out to disable retention", *retentionAge)}
	}
	for _, d := range []struct {
		name  string
		value time.Duration
	}{
		{"job-timeout", *jobTimeout},
		{"reconcile-interval", *reconcileInterval},
		{"rescue-after", *rescueAfter},
		{"retention-interval", *retentionInterval},
		{"shutdown-timeout", *shutdownTimeout},
	} {
		if d.value <= 0 {
			return &exitError{code: exitUsage, err: fmt.Errorf("--%s must be positive (it is %s)", d.name, d.value)}
		}
	}
	if *pollInterval < 0 {
		return &exitError{code: exitUsage, err: fmt.Errorf("--poll-interval must not be negative (it is %s)", *pollInterval)}
	}
	if *rescueAfter < *jobTimeout {
		return &exitError{code: exitUsage, err: fmt.Errorf("--rescue-after (%s) must be at least --job-timeout (%s): a job still working would be run twice", *rescueAfter, *jobTimeout)}
	}

	logger := slog.New(slog.NewTextHandler(stderr, nil))
	pool, err := db.Open(ctx, *databaseURL, &db.OpenOpts{ApplicationName: "bulwark-jobs", MaxConns: int32(*maxWorkers + 4)})
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	defer pool.Close()

	var meterProvider metric.MeterProvider // nil: OpenTelemetry's global, a no-op
	if *metricsAddr != "" {
		metrics, err := startMetrics(*metricsAddr, logger)
		if err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		defer func() {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := metrics.stop(stopCtx); err != nil {
				logger.Warn("bulwark jobs: stop serving metrics", slog.String("error", err.Error()))
			}
		}()
		meterProvider = metrics.provider
		fmt.Fprintf(stdout, "bulwark jobs: metrics at http://%s/metrics\n", metrics.addr)
	}

	runner, err := jobs.NewRunner(ctx, pool, &jobs.RunnerOpts{
		FetchPollInterval:    *pollInterval,
		ID:                   *id,
		JobTimeout:           *jobTimeout,
		Logger:               logger,
		MaxWorkers:           *maxWorkers,
		MeterProvider:        meterProvider,
		ReconcileInterval:    *reconcileInterval,
		RescueStuckJobsAfter: *rescueAfter,
		RetentionAge:         *retentionAge,
		RetentionInterval:    *retentionInterval,
	})
	if err != nil {
		return &exitError{code: exitUsage, err: newRunnerError(err, pool.Config().ConnConfig.User)}
	}
	if err := runner.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "bulwark jobs: job kinds: %s\n", strings.Join(runner.Kinds(), ", "))
	fmt.Fprintln(stdout, "bulwark jobs: working; SIGINT or SIGTERM stops gracefully")
	<-ctx.Done()

	fmt.Fprintln(stdout, "bulwark jobs: stopping: finishing running jobs")
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), *shutdownTimeout)
	defer cancel()
	if err := runner.Stop(stopCtx); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	fmt.Fprintln(stdout, "bulwark jobs: stopped")
	return nil
}

// newRunnerError words the refusals of jobs.NewRunner that an operator
// fixes with a flag, a migration or a grant in those terms, rather than
// the Go names of package jobs; login is the login of the pool. It keeps
// err in the chain and returns other errors as they are.
func newRunnerError(err error, login string) error {
	var msg string
	switch {
	case errors.Is(err, jobs.ErrNotJobsMember):
		msg = fmt.Sprintf("could not run (permission denied): login %s is not a member of bulwark_jobs; connect as a login role that is (GRANT bulwark_jobs TO %s)",
			login, pgx.Identifier{login}.Sanitize())
	case errors.Is(err, jobs.ErrRiverLineMissing):
		msg = "could not run (River's line is not applied): this database has no River tables; run bulwark migrate up --with-river, then bulwark jobs again"
	case errors.Is(err, jobs.ErrArticleLineMissing):
		// The one option the flags' own checks cannot catch: it depends
		// on the database.
		msg = "--retention-age needs the article line (bulwark migrate up --with-examples); leave it out on this database"
	default:
		return err
	}
	return &worded{msg: msg, err: err}
}

// worded is err with an operator's message of its own.
type worded struct {
	msg string
	err error
}

func (e *worded) Error() string { return e.msg }
func (e *worded) Unwrap() error { return e.err }
