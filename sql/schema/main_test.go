package schema_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// sqlState returns the SQLSTATE of err's server error, "" if it has none.
func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// connect opens one session, as the migration role, on a new database
// (pgtest.NewDatabase), closed in t's Cleanup: for tests whose session
// matters (SET ROLE, plans the session keeps) or that read the whole
// catalog of a database of their own.
func connect(t *testing.T) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.NewDatabase(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(ctx) })
	return conn
}
