package bulwarktest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgerrcode"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/fault"
)

func TestRequireLayer(t *testing.T) {
	t.Parallel()

	policy := fmt.Errorf("publish note: %w", &fault.Error{Layer: fault.LayerPolicy, Code: "not_author", Reason: "only the author publishes"})

	t.Run("ReturnsTheLayeredError", func(t *testing.T) {
		t.Parallel()

		e := bulwarktest.RequireLayer(t, policy, fault.LayerPolicy, "not_author")
		require.Equal(t, "only the author publishes", e.Reason)
	})

	t.Run("InterpretedDatabaseRefusal", func(t *testing.T) {
		t.Parallel()

		ctx := context.Background()
		tx := bulwarktest.Tx(t)
		reader := bulwarktest.Principal(t, tx, bulwarktest.UniqueName("reader"))
		_, err := tx.Exec(ctx, "SELECT notes.note_create($1, 'Hello', NULL)", reader)
		bulwarktest.RequireLayer(t, db.InterpretError(err), fault.LayerPermission, fault.CodeMissingCapability)
	})

	for _, tt := range []struct {
		name  string
		err   error
		layer fault.Layer
		code  string
		want  string
	}{
		{"Nil", nil, fault.LayerPolicy, "not_author", "want a policy error"},
		{"NotLayered", errors.New("connection reset"), fault.LayerPolicy, "not_author", "not a layered error"},
		{"OtherLayer", policy, fault.LayerInvariant, "not_author", "layer of"},
		{"OtherCode", policy, fault.LayerPolicy, "not_draft", "code of"},
		{"UndeclaredLayer", &fault.Error{Layer: "mystery", Code: "x"}, "mystery", "x", "does not match its layer's sentinel"},
	} {
		t.Run("FailsFor"+tt.name, func(t *testing.T) {
			t.Parallel()

			requireFails(t, tt.want, func(tb testing.TB) {
				bulwarktest.RequireLayer(tb, tt.err, tt.layer, tt.code)
			})
		})
	}
}

func TestRequireSQLState(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("ReturnsTheServersError", func(t *testing.T) {
		t.Parallel()

		_, err := bulwarktest.DB(t).Exec(ctx, "SELECT 1/0")
		pgErr := bulwarktest.RequireSQLState(t, fmt.Errorf("divide: %w", err), pgerrcode.DivisionByZero)
		require.Equal(t, "ERROR", pgErr.SeverityUnlocalized)
	})

	t.Run("FailsForAnotherSQLState", func(t *testing.T) {
		t.Parallel()

		_, err := bulwarktest.DB(t).Exec(ctx, "SELECT 1/0")
		requireFails(t, "SQLSTATE of", func(tb testing.TB) {
			bulwarktest.RequireSQLState(tb, err, pgerrcode.InsufficientPrivilege)
		})
	})

	t.Run("FailsForNoError", func(t *testing.T) {
		t.Parallel()

		requireFails(t, "want SQLSTATE 42501", func(tb testing.TB) {
			bulwarktest.RequireSQLState(tb, nil, pgerrcode.InsufficientPrivilege)
		})
	})

	t.Run("FailsForAnotherError", func(t *testing.T) {
		t.Parallel()

		requireFails(t, "not the server's error", func(tb testing.TB) {
			bulwarktest.RequireSQLState(tb, errors.New("connection reset"), pgerrcode.InsufficientPrivilege)
		})
	})
}
