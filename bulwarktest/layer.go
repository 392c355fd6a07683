package bulwarktest

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/fault"
)

// RequireLayer asserts that err is, or wraps, a *fault.Error of layer with
// code, that it matches its layer's sentinel (errors.Is(err,
// layer.Sentinel())) and no other layer's, and returns it for further
// checks. Layered errors are what the gate and the domain services return;
// a raw database error gets its layer from db.InterpretError first. It
// fails t otherwise, naming what err is.
func RequireLayer(t testing.TB, err error, layer fault.Layer, code string) *fault.Error {
	t.Helper()
	require.Error(t, err, "want a %s error (%s)", layer, code)
	var e *fault.Error
	require.True(t, errors.As(err, &e), "not a layered error (*fault.Error): %v", err)
	require.Equal(t, layer, e.Layer, "layer of %v", err)
	require.Equal(t, code, e.Code, "code of %v", err)
	require.ErrorIs(t, err, layer.Sentinel(), "%v does not match its layer's sentinel", err)
	for _, other := range fault.Layers() {
		if other != layer {
			require.NotErrorIs(t, err, other.Sentinel(), "%v matches the sentinel of %s", err, other)
		}
	}
	return e
}

// RequireSQLState asserts that err is, or wraps, the server's error
// (*pgconn.PgError) with the SQLSTATE sqlState, and returns it, so that a
// test can check the constraint or the table it names. Decide by the
// SQLSTATE and such names, never by the message: servers translate it. It
// fails t otherwise, naming what err is.
func RequireSQLState(t testing.TB, err error, sqlState string) *pgconn.PgError {
	t.Helper()
	require.Error(t, err, "want SQLSTATE %s", sqlState)
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "not the server's error (*pgconn.PgError): %v", err)
	require.Equal(t, sqlState, pgErr.Code, "SQLSTATE of %v", err)
	return pgErr
}
