package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/jobs"
)

// runJobs works jobs until ctx is cancelled (main cancels it on SIGINT or
// SIGTERM), then stops gracefully: no new jobs, running ones get
// --shutdown-timeout to finish before they are cancelled. Several
// processes can run against one database; River gives each job to one.
func runJobs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("jobs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	databaseURL := fs.String("database-url", os.Getenv("DATABASE_URL"), "PostgreSQL URL of a login role that is a member of bulwark_jobs (default $DATABASE_URL)")
	maxWorkers := fs.Int("max-workers", 10, "jobs worked at once by this process")
	retentionAge := fs.Duration("retention-age", 0, "archive published articles older than this (e.g. 2160h); 0 disables retention")
	retentionInterval := fs.Duration("retention-interval", time.Hour, "how often the retention job runs")
	shutdownTimeout := fs.Duration("shutdown-timeout", 30*time.Second, "how long running jobs may take to finish on shutdown")
	id := fs.String("id", "", "this worker's name among River clients (default: River's)")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if *databaseURL == "" {
		return &exitError{code: exitUsage, err: errors.New("no database: pass --database-url or set DATABASE_URL")}
	}

	logger := slog.New(slog.NewTextHandler(stderr, nil))
	pool, err := db.Open(ctx, *databaseURL, &db.OpenOpts{ApplicationName: "bulwark-jobs", MaxConns: int32(*maxWorkers + 4)})
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	defer pool.Close()

	runner, err := jobs.NewRunner(ctx, pool, &jobs.RunnerOpts{
		ID:                *id,
		Logger:            logger,
		MaxWorkers:        *maxWorkers,
		RetentionAge:      *retentionAge,
		RetentionInterval: *retentionInterval,
	})
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if err := runner.Start(ctx); err != nil {
		return err
	}
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
