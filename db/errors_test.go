package db_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/fault"
)

// TestInterpretError raises each SQLSTATE for real and checks its layer,
// code, sentinel, retryability and that the cause survives wrapping.
func TestInterpretError(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	pool := bulwarktest.DB(t)

	for _, tc := range []struct {
		sqlstate  string
		layer     fault.Layer
		code      string
		retryable bool
	}{
		{"BWP01", fault.LayerPermission, fault.CodeMissingCapability, false},
		{"BWI01", fault.LayerInvariant, fault.CodeIllegalTransition, false},
		{"BWI02", fault.LayerInvariant, fault.CodeFrozen, false},
		{"BWI03", fault.LayerInvariant, fault.CodePreconditionFailed, false},
		{"BWI04", fault.LayerInvariant, fault.CodeDirectWrite, false},
		{"BWI05", fault.LayerInvariant, fault.CodeSeparationOfDuties, false},
		{"BWC01", fault.LayerConflict, fault.CodeStaleVersion, true},
		{"BWC02", fault.LayerConflict, fault.CodeIdempotencyKeyReused, false},
		{"BWN01", fault.LayerNotFound, fault.CodeNotFound, false},
		{"40001", fault.LayerConflict, fault.CodeSerializationFailure, true},
		{"40P01", fault.LayerConflict, fault.CodeDeadlock, true},
		{"42501", fault.LayerInvariant, fault.CodeBoundaryViolation, false},
		{"23514", fault.LayerInvariant, fault.CodeIntegrity, false},
		{"23505", fault.LayerInvariant, fault.CodeIntegrity, false},
		{"23503", fault.LayerInvariant, fault.CodeIntegrity, false},
		{"22023", fault.LayerInvalid, fault.CodeInvalidInput, false},
		{"22001", fault.LayerInvalid, fault.CodeTooLong, false},
		{"22021", fault.LayerInvalid, fault.CodeInvalidText, false},
	} {
		t.Run(tc.sqlstate, func(t *testing.T) {
			t.Parallel()
			_, raw := pool.Exec(ctx, fmt.Sprintf(
				`DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '%s', MESSAGE = 'server text'; END $$`, tc.sqlstate))
			require.Error(t, raw)
			err := fmt.Errorf("publish article: %w", db.InterpretError(raw))

			var e *fault.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tc.layer, e.Layer)
			require.Equal(t, tc.code, e.Code)
			require.Equal(t, tc.sqlstate, e.SQLState)
			require.Equal(t, tc.retryable, e.Retryable())
			require.ErrorIs(t, err, tc.layer.Sentinel())
			for _, other := range fault.Layers() {
				if other != tc.layer {
					require.NotErrorIs(t, err, other.Sentinel())
				}
			}
			var pgErr *pgconn.PgError
			require.ErrorAs(t, err, &pgErr, "the cause keeps the SQLSTATE")
			require.Equal(t, tc.sqlstate, pgErr.Code)
			require.Equal(t, tc.layer, fault.LayerOf(err))
		})
	}

	t.Run("AuthoredClass22MessageShown", func(t *testing.T) {
		t.Parallel()

		// bulwark.raise and a domain's own RAISE alike: an author wrote
		// the sentence, so the caller sees it.
		_, raw := pool.Exec(ctx, `DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'a sentence its author wrote'; END $$`)
		e := requireInvalid(t, raw, "22023", fault.CodeInvalidInput)
		require.Equal(t, "a sentence its author wrote", e.Reason)

		q := db.New()
		author := bulwarktest.Principal(t, pool, "class22-author", "author")
		_, raw = q.ArticleCreate(ctx, pool, db.ArticleCreateParams{Actor: author, Title: strings.Repeat("x", 301), Body: "Body."})
		e = requireInvalid(t, raw, "22001", fault.CodeTooLong)
		require.Equal(t, "title is longer than 300 characters", e.Reason)
	})

	t.Run("ServerTextNotShownForForeignErrors", func(t *testing.T) {
		t.Parallel()

		// The server raises the class-22 SQLSTATEs bulwark uses too, in
		// its own words (and language), some inside PL/pgSQL: none of
		// its text may reach the caller.
		for _, tc := range []struct {
			sql      string
			sqlstate string
			code     string
		}{
			{`SELECT 'x'::uuid`, "22P02", fault.CodeInvalidInput},
			{`SELECT pg_catalog.format('%z', 1)`, "22023", fault.CodeInvalidInput},
			{`DO $$ BEGIN PERFORM pg_catalog.format('%z', 1); END $$`, "22023", fault.CodeInvalidInput},
			{`DO $$ DECLARE v varchar(2) := 'abc'; BEGIN END $$`, "22001", fault.CodeTooLong},
			{`DO $$ DECLARE v integer NOT NULL := NULL; BEGIN END $$`, "22004", fault.CodeInvalidInput},
		} {
			_, raw := pool.Exec(ctx, tc.sql)
			e := requireInvalid(t, raw, tc.sqlstate, tc.code)
			require.Equal(t, "the database refused a malformed value", e.Reason, tc.sql)
			var pgErr *pgconn.PgError
			require.ErrorAs(t, raw, &pgErr)
			require.NotContains(t, e.Error(), pgErr.Message, tc.sql)
		}
	})

	t.Run("PrincipalNameTakenIsAConflict", func(t *testing.T) {
		t.Parallel()
		q := db.New()
		boot, err := q.PrincipalGetByName(ctx, pool, "bootstrap")
		require.NoError(t, err)
		_, err = q.PrincipalCreate(ctx, pool, db.PrincipalCreateParams{Actor: boot.ID, Kind: "service", Name: "bootstrap"})
		// The core declares the race (bulwark.declare_conflict); without
		// the declarations it is what any unique violation is.
		requireLayer(t, err, fault.LayerInvariant, fault.CodeIntegrity)
		conflicts, loadErr := db.LoadConflicts(ctx, pool)
		require.NoError(t, loadErr)
		e := requireConflict(t, conflicts.Interpret(err), fault.CodeNameTaken, "principal_name_unique")
		require.False(t, e.Retryable())
		require.Equal(t, "a principal with that name exists", e.Reason)
	})

	t.Run("NoRowsIsNotFound", func(t *testing.T) {
		t.Parallel()
		err := db.InterpretError(fmt.Errorf("get: %w", pgx.ErrNoRows))
		require.ErrorIs(t, err, fault.ErrNotFound)
		require.ErrorIs(t, err, pgx.ErrNoRows)
	})

	t.Run("PassThrough", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, db.InterpretError(nil))
		require.ErrorIs(t, db.InterpretError(context.Canceled), context.Canceled)
		require.Empty(t, fault.LayerOf(db.InterpretError(context.Canceled)))
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

// requireInvalid asserts that raw is a database error with sqlstate that
// db.InterpretError puts in the invalid layer with code, and returns it.
func requireInvalid(t *testing.T, raw error, sqlstate, code string) *fault.Error {
	t.Helper()
	var pgErr *pgconn.PgError
	require.ErrorAs(t, raw, &pgErr)
	require.Equal(t, sqlstate, pgErr.Code, "SQLSTATE of %v", raw)
	var e *fault.Error
	require.ErrorAs(t, db.InterpretError(raw), &e)
	require.Equal(t, fault.LayerInvalid, e.Layer)
	require.Equal(t, code, e.Code)
	return e
}
