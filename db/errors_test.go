package db_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/internal/pgtest"
)

// TestInterpretError raises each SQLSTATE for real and checks its layer,
// code, sentinel, retryability and that the cause survives wrapping.
func TestInterpretError(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	pool := pgtest.DB(t)

	for _, tc := range []struct {
		sqlstate  string
		layer     db.Layer
		code      string
		retryable bool
	}{
		{"BWP01", db.LayerPermission, db.CodeMissingCapability, false},
		{"BWI01", db.LayerInvariant, db.CodeIllegalTransition, false},
		{"BWI02", db.LayerInvariant, db.CodeFrozen, false},
		{"BWI03", db.LayerInvariant, db.CodePreconditionFailed, false},
		{"BWI04", db.LayerInvariant, db.CodeDirectWrite, false},
		{"BWI05", db.LayerInvariant, db.CodeSeparationOfDuties, false},
		{"BWC01", db.LayerConflict, db.CodeStaleVersion, true},
		{"BWC02", db.LayerConflict, db.CodeIdempotencyKeyReused, false},
		{"BWN01", db.LayerNotFound, db.CodeNotFound, false},
		{"40001", db.LayerConflict, db.CodeSerializationFailure, true},
		{"40P01", db.LayerConflict, db.CodeDeadlock, true},
		{"42501", db.LayerInvariant, db.CodeBoundaryViolation, false},
		{"23514", db.LayerInvariant, db.CodeIntegrity, false},
		{"23505", db.LayerInvariant, db.CodeIntegrity, false},
		{"23503", db.LayerInvariant, db.CodeIntegrity, false},
		{"22023", db.LayerInvalid, db.CodeInvalidInput, false},
		{"22001", db.LayerInvalid, db.CodeTooLong, false},
		{"22021", db.LayerInvalid, db.CodeInvalidText, false},
	} {
		t.Run(tc.sqlstate, func(t *testing.T) {
			t.Parallel()
			_, raw := pool.Exec(ctx, fmt.Sprintf(
				`DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '%s', MESSAGE = 'server text'; END $$`, tc.sqlstate))
			require.Error(t, raw)
			err := fmt.Errorf("publish article: %w", db.InterpretError(raw))

			var e *db.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tc.layer, e.Layer)
			require.Equal(t, tc.code, e.Code)
			require.Equal(t, tc.sqlstate, e.SQLState)
			require.Equal(t, tc.retryable, e.Retryable())
			require.ErrorIs(t, err, db.LayerSentinel(tc.layer))
			for _, other := range []db.Layer{db.LayerConflict, db.LayerInvalid, db.LayerInvariant, db.LayerNotFound, db.LayerPermission, db.LayerPolicy} {
				if other != tc.layer {
					require.NotErrorIs(t, err, db.LayerSentinel(other))
				}
			}
			var pgErr *pgconn.PgError
			require.ErrorAs(t, err, &pgErr, "the cause keeps the SQLSTATE")
			require.Equal(t, tc.sqlstate, pgErr.Code)
			require.Equal(t, tc.layer, db.ErrorLayer(err))
		})
	}

	t.Run("ServerTextNotShownForForeignErrors", func(t *testing.T) {
		t.Parallel()
		_, raw := pool.Exec(ctx, `SELECT 'x'::uuid`)
		err := db.InterpretError(raw)
		var e *db.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, db.LayerInvalid, e.Layer)
		require.NotContains(t, e.Reason, "uuid")
	})

	t.Run("PrincipalNameTakenIsAConflict", func(t *testing.T) {
		t.Parallel()
		q := db.New()
		boot, err := q.PrincipalGetByName(ctx, pool, "bootstrap")
		require.NoError(t, err)
		_, err = q.PrincipalCreate(ctx, pool, db.PrincipalCreateParams{Actor: boot.ID, Kind: "service", Name: "bootstrap"})
		requireLayer(t, err, db.LayerConflict, db.CodeNameTaken)
		require.False(t, db.InterpretError(err).(*db.Error).Retryable())
	})

	t.Run("NoRowsIsNotFound", func(t *testing.T) {
		t.Parallel()
		err := db.InterpretError(fmt.Errorf("get: %w", pgx.ErrNoRows))
		require.ErrorIs(t, err, db.ErrNotFound)
		require.ErrorIs(t, err, pgx.ErrNoRows)
	})

	t.Run("PassThrough", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, db.InterpretError(nil))
		require.ErrorIs(t, db.InterpretError(context.Canceled), context.Canceled)
		require.Empty(t, db.ErrorLayer(db.InterpretError(context.Canceled)))
		other := errors.New("network down")
		require.Same(t, other, db.InterpretError(other))
		// An unmapped SQLSTATE names no layer.
		_, raw := pool.Exec(ctx, `DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '57014'; END $$`)
		require.Same(t, raw, db.InterpretError(raw))
		// Interpreting twice changes nothing.
		layered := db.InterpretError(&pgconn.PgError{Code: "BWC01", Message: "m"})
		require.Same(t, layered, db.InterpretError(layered))
	})
}
