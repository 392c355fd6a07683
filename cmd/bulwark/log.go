package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/bulwarkdb/bulwark/auditlog"
)

// defaultLogTimeout bounds a listing or a check (never --follow).
const defaultLogTimeout = 5 * time.Minute

// logFlags is what `bulwark log` was asked.
type logFlags struct {
	actor         string
	after         int64
	check         bool
	correlationID string
	databaseURL   string
	entity        string
	follow        bool
	format        string
	limit         int
	machine       string
	pollInterval  time.Duration
	since         string
	timeout       time.Duration
	transition    string
	until         string
}

// runLog lists, follows or checks bulwark.transition_log, read-only.
func runLog(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("log", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f logFlags
	fs.StringVar(&f.databaseURL, "database-url", os.Getenv("DATABASE_URL"), "PostgreSQL URL (default $DATABASE_URL); any login that may read the log, such as a member of bulwark_app")
	fs.StringVar(&f.actor, "actor", "", "only what this principal did (a name or an id)")
	fs.Int64Var(&f.after, "after", 0, "only entries after this log id (the next page: the id printed after a full page)")
	fs.BoolVar(&f.check, "check", false, "replay every entity's history against its row and its machine (after its acknowledgement, as verify does, if bulwark.history_acknowledge explained a gap); exit 1 on a gap")
	fs.StringVar(&f.correlationID, "correlation-id", "", "only the entries of this request")
	fs.StringVar(&f.entity, "entity", "", "only this entity's history (its id)")
	fs.BoolVar(&f.follow, "follow", false, "keep printing entries as they commit, until interrupted (from --after, else --since, else the end of the log)")
	fs.StringVar(&f.format, "format", "", "table or json (JSON lines); with --check: text or json (default table, text)")
	fs.IntVar(&f.limit, "limit", auditlog.DefaultLimit, fmt.Sprintf("entries per page, 1 to %d", auditlog.MaxLimit))
	fs.StringVar(&f.machine, "machine", "", "only this machine, e.g. article, or a core log name, e.g. bulwark.maintenance")
	fs.DurationVar(&f.pollInterval, "poll-interval", time.Second, "with --follow: how often to look for new entries")
	fs.StringVar(&f.since, "since", "", "only entries at or after this time: RFC 3339 (2025-06-01T12:00:00Z) or a duration ago (90m)")
	f.timeout = defaultLogTimeout
	fs.DurationVar(&f.timeout, "timeout", defaultLogTimeout, "give up (exit 2) when a listing or check has not finished after this long")
	fs.StringVar(&f.transition, "transition", "", "only this action or transition, e.g. publish or maintenance_update")
	fs.StringVar(&f.until, "until", "", "only entries before this time (same forms as --since)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: bulwark log [--entity ID] [--actor NAME|ID] [--machine M] [--transition T] [--correlation-id ID]")
		fmt.Fprintln(stderr, "                   [--since T] [--until T] [--after ID] [--limit N] [--format table|json] [--follow]")
		fmt.Fprintln(stderr, "       bulwark log --check [--machine M] [--entity ID] [--format text|json]")
		fmt.Fprintln(stderr, "Reads the audit trail (bulwark.transition_log), read-only. --check exits 1 when the log does not account for every write")
		fmt.Fprintln(stderr, "since each entity's creation or its acknowledgement (bulwark.history_acknowledge), and lists the acknowledged entities.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return &exitError{code: exitUsage, err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	filter, err := f.validate(time.Now())
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	cfg, err := pgxConfig(f.databaseURL)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if f.follow {
		// Runs until interrupted: no deadline.
		return withLogConn(ctx, cfg, func(ctx context.Context, conn *pgx.Conn) error {
			return f.runFollow(ctx, conn, filter, stdout)
		})
	}
	return withDeadline(ctx, f.timeout, func(ctx context.Context) error {
		return withLogConn(ctx, cfg, func(ctx context.Context, conn *pgx.Conn) error {
			if f.check {
				return f.runCheck(ctx, conn, filter, stdout)
			}
			return f.runList(ctx, conn, filter, stdout, stderr)
		})
	})
}

// validate checks the flags' combinations and values and returns the
// filter, without the actor (resolved once connected).
func (f *logFlags) validate(now time.Time) (auditlog.Filter, error) {
	var filter auditlog.Filter
	if f.databaseURL == "" {
		return filter, errors.New("no database: pass --database-url or set DATABASE_URL")
	}
	if f.check {
		if f.follow || f.actor != "" || f.correlationID != "" || f.transition != "" || f.since != "" || f.until != "" || f.after != 0 {
			return filter, errors.New("--check takes only --machine, --entity and --format: it replays whole histories")
		}
		if f.format == "" {
			f.format = "text"
		}
		if f.format != "text" && f.format != "json" {
			return filter, fmt.Errorf("unknown format %q for --check: use text or json", f.format)
		}
	} else {
		if f.format == "" {
			f.format = "table"
		}
		if f.format != "table" && f.format != "json" {
			return filter, fmt.Errorf("unknown format %q: use table or json", f.format)
		}
	}
	if f.limit < 1 || f.limit > auditlog.MaxLimit {
		return filter, fmt.Errorf("--limit must be 1 to %d, got %d", auditlog.MaxLimit, f.limit)
	}
	if f.after < 0 {
		return filter, fmt.Errorf("--after must be a log id (0 or more), got %d", f.after)
	}
	if f.pollInterval <= 0 {
		return filter, fmt.Errorf("--poll-interval must be positive, got %s", f.pollInterval)
	}
	if err := checkTimeout(f.timeout); err != nil {
		return filter, err
	}
	if f.entity != "" {
		id, err := uuid.Parse(f.entity)
		if err != nil {
			return filter, fmt.Errorf("--entity must be an id (a UUID), got %q", f.entity)
		}
		filter.Entity = id
	}
	var err error
	if filter.Since, err = parseWhen("since", f.since, now); err != nil {
		return filter, err
	}
	if filter.Until, err = parseWhen("until", f.until, now); err != nil {
		return filter, err
	}
	if !filter.Since.IsZero() && !filter.Until.IsZero() && !filter.Since.Before(filter.Until) {
		return filter, fmt.Errorf("--since (%s) must be before --until (%s)", filter.Since.Format(time.RFC3339), filter.Until.Format(time.RFC3339))
	}
	filter.CorrelationID, filter.Machine, filter.Transition = f.correlationID, f.machine, f.transition
	return filter, nil
}

// parseWhen reads an RFC 3339 time or a positive duration ago; "" is no
// bound.
func parseWhen(name, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--%s must be an RFC 3339 time (2025-06-01T12:00:00Z) or a positive duration ago (90m), got %q", name, s)
}

// withLogConn connects, runs fn and closes the connection.
func withLogConn(ctx context.Context, cfg *pgx.ConnConfig, fn func(ctx context.Context, conn *pgx.Conn) error) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("connect: %w", err)}
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	return fn(ctx, conn)
}

// resolveActor completes filter with --actor.
func (f *logFlags) resolveActor(ctx context.Context, conn *pgx.Conn, filter *auditlog.Filter) error {
	if f.actor == "" {
		return nil
	}
	id, err := auditlog.ResolveActor(ctx, conn, f.actor)
	if err != nil {
		return logError(err)
	}
	filter.Actor = id
	return nil
}

func (f *logFlags) runList(ctx context.Context, conn *pgx.Conn, filter auditlog.Filter, stdout, stderr io.Writer) error {
	if err := f.resolveActor(ctx, conn, &filter); err != nil {
		return err
	}
	page, err := auditlog.List(ctx, conn, filter, &auditlog.ListOpts{After: f.after, Limit: f.limit})
	if err != nil {
		return logError(err)
	}
	if f.format == "json" {
		for _, e := range page.Entries {
			if err := auditlog.WriteJSONLine(stdout, e); err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("write: %w", err)}
			}
		}
	} else if err := auditlog.WriteTable(stdout, page.Entries); err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("write: %w", err)}
	}
	if page.Next != 0 {
		// On stderr, so stdout stays the entries alone.
		fmt.Fprintf(stderr, "more: run again with --after %d\n", page.Next)
	}
	return nil
}

func (f *logFlags) runFollow(ctx context.Context, conn *pgx.Conn, filter auditlog.Filter, stdout io.Writer) error {
	if err := f.resolveActor(ctx, conn, &filter); err != nil {
		return err
	}
	opts := &auditlog.FollowOpts{After: f.after, BatchSize: f.limit, PollInterval: f.pollInterval}
	opts.FromEnd = f.after == 0 && f.since == ""
	write := func(e auditlog.Entry) error { return auditlog.WriteJSONLine(stdout, e) }
	if f.format == "table" {
		if _, err := fmt.Fprintln(stdout, auditlog.TableHeader()); err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("write: %w", err)}
		}
		write = func(e auditlog.Entry) error { return auditlog.WriteTableRow(stdout, e) }
	}
	err := auditlog.Follow(ctx, conn, filter, opts, write)
	if ctx.Err() != nil {
		// Interrupted: the way a follow ends.
		return nil
	}
	return logError(err)
}

func (f *logFlags) runCheck(ctx context.Context, conn *pgx.Conn, filter auditlog.Filter, stdout io.Writer) error {
	report, err := auditlog.Check(ctx, conn, &auditlog.CheckOpts{Entity: filter.Entity, Machine: filter.Machine})
	if err != nil {
		return logError(err)
	}
	if f.format == "json" {
		err = report.WriteJSON(stdout)
	} else {
		err = report.WriteText(stdout)
	}
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("write report: %w", err)}
	}
	if !report.OK {
		noun := "gaps"
		if report.ProblemCount == 1 {
			noun = "gap"
		}
		return &exitError{code: exitFailure, err: fmt.Errorf("the log does not account for every write: %d %s (see the report)", report.ProblemCount, noun)}
	}
	return nil
}

// logError maps the reader's errors to exit codes: everything it returns
// means the command could not do its work (2).
func logError(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: exitUsage, err: err}
}
