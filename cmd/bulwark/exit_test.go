package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/fault"
)

// silentServer listens on 127.0.0.1, accepts every connection and never
// answers, as a wedged server or a blackholing proxy does. It returns a URL
// for it that sets no connect_timeout.
func silentServer(t *testing.T) string {
	t.Helper()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return fmt.Sprintf("postgres://nobody@%s/nothing", ln.Addr())
}

// TestSilentServer points every command that connects at a server that
// never answers: each gives up and exits 2, saying why. The assertions are
// on exit codes and messages, not on how long giving up took.
func TestSilentServer(t *testing.T) {
	t.Parallel()

	t.Run("JobsGivesUpAtTheDefaultConnectTimeout", func(t *testing.T) {
		t.Parallel()

		// No connect_timeout in the URL and no flag: only the default
		// (db.DefaultConnectTimeout) ends this.
		res := runCLI(t, "jobs", "--database-url", silentServer(t))
		require.Equal(t, exitUsage, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
		require.Contains(t, res.stderr, "bulwark jobs: could not run (no connection): ")
		require.Empty(t, res.stdout)
	})

	t.Run("MigrateGivesUpAtTimeout", func(t *testing.T) {
		t.Parallel()

		url := silentServer(t)
		for _, sub := range migrateSubcommands {
			t.Run(sub, func(t *testing.T) {
				t.Parallel()

				res := runCLI(t, "migrate", sub, "--database-url", url, "--timeout", "1s")
				require.Equal(t, exitUsage, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
				require.Contains(t, res.stderr, "bulwark migrate: could not run (timed out): gave up after --timeout 1s: connect: ")
				require.Empty(t, res.stdout)
			})
		}
	})

	t.Run("VerifyGivesUpAtConnectTimeout", func(t *testing.T) {
		t.Parallel()

		// The URL's connect_timeout wins over the default, and ends the
		// attempt long before the deadline.
		res := runCLI(t, "verify", "--database-url", silentServer(t)+"?connect_timeout=1", "--timeout", "10m")
		require.Equal(t, exitUsage, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
		require.Contains(t, res.stderr, "bulwark verify: could not run (no connection): connect: ")
		require.NotContains(t, res.stderr, "gave up after --timeout")
		require.Empty(t, res.stdout)
	})

	t.Run("VerifyGivesUpAtTimeout", func(t *testing.T) {
		t.Parallel()

		res := runCLI(t, "verify", "--database-url", silentServer(t), "--timeout", "1s")
		require.Equal(t, exitUsage, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
		require.Contains(t, res.stderr, "bulwark verify: could not run (timed out): gave up after --timeout 1s: connect: ")
		require.Empty(t, res.stdout)
	})
}

// TestJobsAsAppLoginExitsTwo runs `bulwark jobs` with an application login,
// which may not work River's tables: it must not start, and says it lacks
// permission.
func TestJobsAsAppLoginExitsTwo(t *testing.T) {
	t.Parallel()

	url := bulwarktest.NewDatabase(t)
	app := bulwarktest.LoginAs(t, url, bulwarktest.RoleApp)
	// Were the runner to start, it would work until this cancels it, and
	// then exit 0.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"jobs", "--database-url", app}, &stdout, &stderr)
	require.Equal(t, exitUsage, code, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	require.Contains(t, stderr.String(), "bulwark jobs: could not run (permission denied): ")
}

func TestExitCode(t *testing.T) {
	t.Parallel()

	pgErr := func(code string) error {
		return fmt.Errorf("migrate up: %w", &pgconn.PgError{Code: code})
	}
	for _, tc := range []struct {
		err  error
		name string
		want int
	}{
		{name: "Nil", err: nil, want: 0},
		{name: "Drift", err: &exitError{code: exitDrift, err: errors.New("drifted")}, want: exitFailure},
		{name: "MigrationFailed", err: pgErr(pgerrcode.SyntaxError), want: exitFailure},
		{name: "Constraint", err: pgErr(pgerrcode.UniqueViolation), want: exitFailure},
		{name: "Unclassified", err: errors.New("something else"), want: exitFailure},
		{name: "InsufficientPrivilege", err: pgErr(pgerrcode.InsufficientPrivilege), want: exitUsage},
		{name: "InvalidPassword", err: pgErr(pgerrcode.InvalidPassword), want: exitUsage},
		{name: "InvalidAuthorization", err: pgErr(pgerrcode.InvalidAuthorizationSpecification), want: exitUsage},
		{name: "ReadOnly", err: pgErr(pgerrcode.ReadOnlySQLTransaction), want: exitUsage},
		{name: "AdminShutdown", err: pgErr(pgerrcode.AdminShutdown), want: exitUsage},
		{name: "StatementTimeout", err: pgErr(pgerrcode.QueryCanceled), want: exitUsage},
		{name: "LockTimeout", err: pgErr(pgerrcode.LockNotAvailable), want: exitUsage},
		{name: "NoSuchDatabase", err: pgErr(pgerrcode.InvalidCatalogName), want: exitUsage},
		{name: "TooManyConnections", err: pgErr(pgerrcode.TooManyConnections), want: exitUsage},
		{name: "DeadlineExceeded", err: fmt.Errorf("migrate up: %w", context.DeadlineExceeded), want: exitUsage},
		{name: "Canceled", err: fmt.Errorf("migrate up: %w", context.Canceled), want: exitUsage},
		{name: "Deadline", err: &deadlineError{timeout: time.Second}, want: exitUsage},
		{name: "NetError", err: fmt.Errorf("connect: %w", &net.OpError{Op: "dial", Err: errors.New("refused")}), want: exitUsage},
		{name: "Joined", err: errors.Join(errors.New("record checksums"), pgErr(pgerrcode.InsufficientPrivilege)), want: exitUsage},
		{name: "Unavailable", err: fmt.Errorf("run job: %w", &fault.Error{Layer: fault.LayerUnavailable, Code: fault.CodeRetriesExhausted, Cause: errors.New("mail server down")}), want: exitUsage},
		{name: "UnavailableServer", err: &fault.Error{Layer: fault.LayerUnavailable, Code: fault.CodeRetriesExhausted, Cause: pgErr(pgerrcode.AdminShutdown)}, want: exitUsage},
		{name: "Conflict", err: &fault.Error{Layer: fault.LayerConflict, Code: fault.CodeStaleVersion}, want: exitFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			require.Equal(t, tc.want, exitCode(tc.err))
		})
	}
}

// TestWithDeadline checks what a passed --timeout makes of a command's
// error.
func TestWithDeadline(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	expire := func(ctx context.Context) { <-ctx.Done() }

	t.Run("ExpiredFailureExitsTwo", func(t *testing.T) {
		t.Parallel()

		// Whatever the command made of the cancellation.
		err := withDeadline(ctx, time.Millisecond, func(ctx context.Context) error {
			expire(ctx)
			return errors.New("lost the connection")
		})
		require.Equal(t, exitUsage, exitCode(err))
		require.EqualError(t, err, "gave up after --timeout 1ms: lost the connection")
	})

	t.Run("ExpiredDriftStaysDrift", func(t *testing.T) {
		t.Parallel()

		err := withDeadline(ctx, time.Millisecond, func(ctx context.Context) error {
			expire(ctx)
			return &exitError{code: exitDrift, err: errors.New("drifted")}
		})
		require.Equal(t, exitDrift, exitCode(err))
		require.EqualError(t, err, "drifted")
	})

	t.Run("InterruptIsNoDeadline", func(t *testing.T) {
		t.Parallel()

		parent, cancel := context.WithCancel(ctx)
		cancel()
		err := withDeadline(parent, time.Hour, func(ctx context.Context) error { return ctx.Err() })
		require.ErrorIs(t, err, context.Canceled)
		var deadline *deadlineError
		require.False(t, errors.As(err, &deadline))
	})

	t.Run("SuccessStaysSuccess", func(t *testing.T) {
		t.Parallel()

		err := withDeadline(ctx, time.Millisecond, func(ctx context.Context) error {
			expire(ctx)
			return nil
		})
		require.NoError(t, err)
	})
}
