package schema_test

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

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
