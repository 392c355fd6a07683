package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bulwarkdb/bulwark/fault"
)

// Exit codes. Scripts may rely on them.
const (
	// exitFailure is the failure a command is about: drift found, a demo
	// step or a bench check that broke, a migration that failed.
	exitFailure = 1

	// exitUsage is the exit code for bad invocations and for commands that
	// could not run at all: no connection, a deadline passed, no
	// permission, a read-only database.
	exitUsage = 2
)

// exitError carries a specific exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode returns the exit status for a command's error: an *exitError's
// code, [exitUsage] for an error that meant the command could not run (see
// [cannotRun]), and [exitFailure] for the rest.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var exitErr *exitError
	if errors.As(err, &exitErr) {
		return exitErr.code
	}
	if _, ok := cannotRun(err); ok {
		return exitUsage
	}
	return exitFailure
}

// cannotRun reports whether err means the command could not do its work
// at all, and names why in a few words for the operator. It decides by
// error type and SQLSTATE, never by message text (which the server
// translates):
//
//   - a --timeout that passed (see [withDeadline]), a connection that could
//     not be made, was lost or timed out, and a cancelled or expired
//     context;
//   - work that gave up because the database or a dependency did not
//     answer (layer unavailable, [fault.ErrUnavailable]);
//   - permission: insufficient privilege (42501) and the whole class 28
//     (invalid authorization: a bad password, a role that may not log in);
//   - a read-only transaction or server (25006);
//   - the server refusing for its own reasons: no such database (3D),
//     connection exceptions (08), insufficient resources (53), operator
//     intervention (57: shutdown, statement_timeout), system errors (58),
//     a lock_timeout (55P03).
func cannotRun(err error) (string, bool) {
	var deadline *deadlineError
	if errors.As(err, &deadline) {
		return "timed out", true
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		// Whatever refused the login (a password, a missing database,
		// a timeout), the command never started.
		if reason, ok := refusedByServer(err); ok {
			return reason, true
		}
		return "no connection", true
	}
	if errors.Is(err, fault.ErrUnavailable) {
		// The work gave up on an outage (fault.LayerUnavailable), whatever
		// its cause says.
		if reason, ok := refusedByServer(err); ok {
			return reason, true
		}
		return "unavailable", true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Any other server error is an answer about the work itself.
		return refusedByServer(err)
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		return "timed out", true
	case errors.Is(err, context.Canceled):
		return "interrupted", true
	}
	var netErr net.Error
	var parseErr *pgconn.ParseConfigError
	switch {
	case errors.As(err, &netErr):
		return "no connection", true
	case errors.As(err, &parseErr):
		return "bad database url", true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone):
		return "the connection was lost", true
	}
	return "", false
}

// refusedByServer classifies the server error in err's chain, if any, by
// its SQLSTATE (see [cannotRun]).
func refusedByServer(err error) (string, bool) {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return "", false
	}
	code := pgErr.Code
	switch {
	case code == pgerrcode.InsufficientPrivilege, pgerrcode.IsInvalidAuthorizationSpecification(code):
		return "permission denied", true
	case code == pgerrcode.ReadOnlySQLTransaction:
		return "the database is read-only", true
	case code == pgerrcode.LockNotAvailable:
		return "a lock was not available in time", true
	case pgerrcode.IsInvalidCatalogName(code):
		return "no such database", true
	case pgerrcode.IsConnectionException(code),
		pgerrcode.IsInsufficientResources(code),
		pgerrcode.IsOperatorIntervention(code),
		pgerrcode.IsSystemError(code):
		return "the server refused", true
	}
	return "", false
}
