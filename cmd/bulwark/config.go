package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bulwarkdb/bulwark/db"
)

// closeTimeout bounds saying goodbye to a server, which may have stopped
// answering.
const closeTimeout = 5 * time.Second

// pgxConfig parses a database URL as db.Open does, so every command
// connects alike: application_name "bulwark" unless the URL names one, and
// db.DefaultConnectTimeout unless the URL sets connect_timeout. It keeps
// the parser's message but never echoes the URL itself (it may hold a
// password).
func pgxConfig(url string) (*pgx.ConnConfig, error) {
	cfg, err := db.ParseConfig(url, nil)
	if err != nil {
		return nil, err
	}
	return cfg.ConnConfig, nil
}

// timeoutFlag registers --timeout, the deadline of a whole run, on fs.
func timeoutFlag(fs *flag.FlagSet, def time.Duration) *time.Duration {
	return fs.Duration("timeout", def, "give up (exit 2) when the command has not finished after this long")
}

// checkTimeout refuses a deadline that is no deadline.
func checkTimeout(timeout time.Duration) error {
	if timeout <= 0 {
		return &exitError{code: exitUsage, err: fmt.Errorf("--timeout must be positive, got %s", timeout)}
	}
	return nil
}

// deadlineError is the cause of a context whose --timeout passed.
type deadlineError struct {
	timeout time.Duration
}

func (e *deadlineError) Error() string {
	return fmt.Sprintf("gave up after --timeout %s", e.timeout)
}

// withDeadline runs fn with ctx bounded by timeout. When the deadline
// passed before fn returned an error, the error says so and exits 2,
// whatever fn made of the cancellation (a lost connection, a rolled-back
// migration); only a failure fn reported as the command's own (exit 1,
// such as drift found before the deadline) keeps its code.
func withDeadline(ctx context.Context, timeout time.Duration, fn func(ctx context.Context) error) error {
	cause := &deadlineError{timeout: timeout}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, cause)
	defer cancel()
	err := fn(ctx)
	if err == nil || !errors.Is(context.Cause(ctx), cause) {
		return err
	}
	var exitErr *exitError
	if errors.As(err, &exitErr) && exitErr.code == exitFailure {
		return err
	}
	return &exitError{code: exitUsage, err: fmt.Errorf("%w: %w", cause, err)}
}
