package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bulwarkdb/bulwark/sql/schema"
	"github.com/bulwarkdb/bulwark/verify"
)

// exitDrift is the exit code of a verify that found the boundary weakened.
const exitDrift = exitFailure

// defaultVerifyTimeout bounds a whole verify run. A healthy run takes
// seconds; the deadline is there for a server that stopped answering.
const defaultVerifyTimeout = 5 * time.Minute

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	databaseURL := fs.String("database-url", os.Getenv("DATABASE_URL"), "PostgreSQL URL (default $DATABASE_URL); the migration role, or a member of bulwark_app that may read the lines' version tables")
	format := fs.String("format", "text", "output format: text or json")
	var roles roleList
	fs.Var(&roles, "migration-role", "a login role allowed in bulwark_owner because it runs migrations (repeatable; default: the connecting role)")
	historyRows := fs.Int("history-rows", verify.DefaultHistoryRows, "the most rows of one guarded table whose history is checked; a larger table is checked on a random sample of that many (-1: every row)")
	own := addOwnLineFlags(fs)
	timeout := timeoutFlag(fs, defaultVerifyTimeout)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: bulwark verify [--migrations DIR [--version-table T] [--line-name N]] [--database-url URL] [--format text|json] [--migration-role ROLE]... [--history-rows N] [--timeout D]")
		fmt.Fprintln(stderr, "Checks that the enforcement boundary still holds. Exit 0: it holds; 1: drift; 2: could not check.")
		fmt.Fprintln(stderr, "The migrations checked: bulwark's core always, River's and the article domain's when migrated, yours with --migrations.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return &exitError{code: exitUsage, err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if *format != "text" && *format != "json" {
		return &exitError{code: exitUsage, err: fmt.Errorf("unknown format %q: use text or json", *format)}
	}
	if err := checkTimeout(*timeout); err != nil {
		return err
	}
	if *historyRows == 0 || *historyRows < -1 {
		return &exitError{code: exitUsage, err: fmt.Errorf("--history-rows must be positive, or -1 for every row (got %d)", *historyRows)}
	}
	ownLine, err := own.line()
	if err != nil {
		return err
	}
	if *databaseURL == "" {
		return &exitError{code: exitUsage, err: errors.New("no database: pass --database-url or set DATABASE_URL")}
	}
	opts := &verify.Opts{HistoryRows: *historyRows, MigrationRoles: roles}
	if ownLine != nil {
		opts.Lines = []*schema.Line{ownLine}
	}
	return withDeadline(ctx, *timeout, func(ctx context.Context) error {
		return verifyWith(ctx, *databaseURL, *format, opts, stdout)
	})
}

// verifyWith runs verify with opts against url, and writes the report to
// stdout. It returns an exitError with exitDrift on drift and exitUsage
// when the check could not run.
func verifyWith(ctx context.Context, url, format string, opts *verify.Opts, stdout io.Writer) error {
	cfg, err := pgxConfig(url)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("connect: %w", err)}
	}
	defer func() {
		// Past a deadline too, but bounded: the server may not answer.
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()

	report, err := verify.Run(ctx, conn, opts)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if format == "json" {
		err = report.WriteJSON(stdout)
	} else {
		err = report.WriteText(stdout)
	}
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("write report: %w", err)}
	}
	if !report.OK {
		n := len(report.Failures())
		noun := "problems"
		if n == 1 {
			noun = "problem"
		}
		return &exitError{code: exitDrift, err: fmt.Errorf("the enforcement boundary has drifted: %d %s (see the report)", n, noun)}
	}
	return nil
}

// roleList is a repeatable flag that also takes comma-separated names.
type roleList []string

func (r *roleList) String() string { return strings.Join(*r, ",") }

func (r *roleList) Set(value string) error {
	for _, name := range strings.Split(value, ",") {
		if name = strings.TrimSpace(name); name != "" {
			*r = append(*r, name)
		}
	}
	return nil
}
