package db_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/fault"
)

// TestConflicts reads the conflicts the migrations declare and maps real
// violations with them.
func TestConflicts(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	pool := bulwarktest.DB(t)
	conflicts, err := db.LoadConflicts(ctx, pool)
	require.NoError(t, err)

	t.Run("DeclaredByTheMigrations", func(t *testing.T) {
		t.Parallel()

		for _, tc := range []struct {
			key  db.ConflictKey
			want db.Conflict
		}{
			// The core's own.
			{db.ConflictKey{Schema: "bulwark", Table: "principals", Constraint: "principal_name_unique"},
				db.Conflict{Code: fault.CodeNameTaken, Reason: "a principal with that name exists"}},
			// The article domain's, declared by its migrations.
			{db.ConflictKey{Schema: "app", Table: "articles", Constraint: "article_slug_published_unique"},
				db.Conflict{Code: "slug_taken", Reason: "another published article took the slug", Retryable: true}},
			{db.ConflictKey{Schema: "app", Table: "article_schedules", Constraint: "article_schedule_one_pending"},
				db.Conflict{Code: "already_scheduled", Reason: "the article already has a pending scheduled publication", Retryable: true}},
		} {
			got, ok := conflicts.Lookup(tc.key)
			require.True(t, ok, "%s is not declared", tc.key)
			require.Equal(t, tc.want, got, tc.key.String())
		}
		require.Equal(t, 3, conflicts.Len())
		_, ok := conflicts.Lookup(db.ConflictKey{Schema: "app", Table: "articles", Constraint: "articles_pkey"})
		require.False(t, ok)
	})

	t.Run("NilDeclaresNothing", func(t *testing.T) {
		t.Parallel()

		var none *db.Conflicts
		require.Zero(t, none.Len())
		_, ok := none.Lookup(db.ConflictKey{Schema: "bulwark", Table: "principals", Constraint: "principal_name_unique"})
		require.False(t, ok)
		require.NoError(t, none.Interpret(nil))
	})

	t.Run("InterpretedAlreadyIsReadAgain", func(t *testing.T) {
		t.Parallel()

		// A violation at commit reaches the caller through WithTx, which
		// interprets it without declarations.
		q := db.New()
		boot, err := q.PrincipalGetByName(ctx, pool, "bootstrap")
		require.NoError(t, err)
		_, raw := q.PrincipalCreate(ctx, pool, db.PrincipalCreateParams{Actor: boot.ID, Kind: "service", Name: "bootstrap"})
		once := fmt.Errorf("commit: %w", db.InterpretError(raw))
		require.ErrorIs(t, once, fault.ErrInvariant)
		key, ok := db.ConflictKeyOf(once)
		require.True(t, ok)
		require.Equal(t, db.ConflictKey{Schema: "bulwark", Table: "principals", Constraint: "principal_name_unique"}, key)

		e := requireConflict(t, conflicts.Interpret(once), fault.CodeNameTaken, "principal_name_unique")
		require.ErrorIs(t, e, raw, "the cause survives")
		require.NotErrorIs(t, e, fault.ErrInvariant)
		// And a conflict stays what it is.
		again := conflicts.Interpret(e)
		require.Same(t, e, again)
	})

	t.Run("OnlyUniqueAndExclusionViolationsHaveAKey", func(t *testing.T) {
		t.Parallel()

		for _, code := range []string{pgerrcode.CheckViolation, pgerrcode.ForeignKeyViolation, pgerrcode.NotNullViolation, "BWC01"} {
			_, ok := db.ConflictKeyOf(&pgconn.PgError{Code: code, SchemaName: "bulwark", TableName: "principals", ConstraintName: "principal_name_unique"})
			require.False(t, ok, code)
		}
		_, ok := db.ConflictKeyOf(errors.New("network down"))
		require.False(t, ok)
		_, ok = db.ConflictKeyOf(&pgconn.PgError{Code: pgerrcode.ExclusionViolation, SchemaName: "s", TableName: "t", ConstraintName: "c"})
		require.True(t, ok)
	})
}

// requireConflict asserts that err is a conflict with code on constraint,
// and returns it.
func requireConflict(t *testing.T, err error, code, constraint string) *fault.Error {
	t.Helper()
	var e *fault.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, fault.LayerConflict, e.Layer, "layer of %v", err)
	require.Equal(t, code, e.Code, "code of %v", err)
	require.Equal(t, constraint, e.Constraint)
	require.Equal(t, pgerrcode.UniqueViolation, e.SQLState)
	require.ErrorIs(t, err, fault.ErrConflict)
	require.NotErrorIs(t, err, fault.ErrInvariant)
	return e
}

// seatsSQL is a domain's table with a unique constraint, an exclusion
// constraint and a check, made by the migration role as bulwark_owner. It
// is not guarded: any table's constraint can be declared a conflict.
const seatsSQL = `
CREATE SCHEMA shop AUTHORIZATION bulwark_owner;
SET LOCAL ROLE bulwark_owner;
CREATE TABLE shop.seats (
    id     uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    during tstzrange NOT NULL,
    row_no integer NOT NULL,
    seat   text NOT NULL,
    CONSTRAINT seat_unique UNIQUE (row_no, seat),
    CONSTRAINT seat_row_positive CHECK (row_no > 0),
    CONSTRAINT seat_no_overlap EXCLUDE USING gist (during WITH &&)
);
RESET ROLE;
`

// TestDeclareConflict declares conflicts as a migration does, refuses bad
// declarations with typed errors, and keeps the declarations behind the
// boundary.
func TestDeclareConflict(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	url := bulwarktest.NewDatabase(t)
	owner, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { owner.Close(context.Background()) })
	_, err = owner.Exec(ctx, "BEGIN;"+seatsSQL+"COMMIT;")
	require.NoError(t, err)

	declare := func(table, constraint, code string, retryable *bool, reason string) error {
		_, err := owner.Exec(ctx, `SELECT bulwark.declare_conflict($1::text::regclass, $2, $3, $4, $5)`, table, constraint, code, retryable, reason)
		return err
	}
	yes, no := true, false
	seatKey := db.ConflictKey{Schema: "shop", Table: "seats", Constraint: "seat_unique"}

	t.Run("RefusesBadInput", func(t *testing.T) {
		long := func(n int) string { return strings.Repeat("x", n) }
		for _, tc := range []struct {
			name       string
			table      string
			constraint string
			code       string
			retryable  *bool
			reason     string
			layer      fault.Layer
			errCode    string
		}{
			{"UnknownConstraint", "shop.seats", "seat_nope", "seat_taken", &no, "taken", fault.LayerNotFound, fault.CodeNotFound},
			{"ConstraintOfAnotherTable", "shop.seats", "principal_name_unique", "seat_taken", &no, "taken", fault.LayerNotFound, fault.CodeNotFound},
			{"CheckConstraint", "shop.seats", "seat_row_positive", "seat_taken", &no, "taken", fault.LayerInvalid, fault.CodeInvalidInput},
			{"CodeUpperCase", "shop.seats", "seat_unique", "Seat_Taken", &no, "taken", fault.LayerInvalid, fault.CodeInvalidInput},
			{"CodeLeadingDigit", "shop.seats", "seat_unique", "1_taken", &no, "taken", fault.LayerInvalid, fault.CodeInvalidInput},
			{"CodeHyphen", "shop.seats", "seat_unique", "seat-taken", &no, "taken", fault.LayerInvalid, fault.CodeInvalidInput},
			{"CodeEmpty", "shop.seats", "seat_unique", "", &no, "taken", fault.LayerInvalid, fault.CodeInvalidInput},
			{"CodeNewline", "shop.seats", "seat_unique", "seat\ntaken", &no, "taken", fault.LayerInvalid, fault.CodeInvalidInput},
			{"CodeOversize", "shop.seats", "seat_unique", long(64), &no, "taken", fault.LayerInvalid, fault.CodeTooLong},
			{"CodeNUL", "shop.seats", "seat_unique", "seat\x00taken", &no, "taken", fault.LayerInvalid, fault.CodeInvalidText},
			{"ConstraintOversize", "shop.seats", long(64), "seat_taken", &no, "taken", fault.LayerInvalid, fault.CodeTooLong},
			{"ReasonOversize", "shop.seats", "seat_unique", "seat_taken", &no, long(301), fault.LayerInvalid, fault.CodeTooLong},
			{"ReasonBlank", "shop.seats", "seat_unique", "seat_taken", &no, "   ", fault.LayerInvalid, fault.CodeInvalidInput},
			{"ReasonTwoLines", "shop.seats", "seat_unique", "seat_taken", &no, "taken\nreally", fault.LayerInvalid, fault.CodeInvalidInput},
			{"ReasonNUL", "shop.seats", "seat_unique", "seat_taken", &no, "ta\x00ken", fault.LayerInvalid, fault.CodeInvalidText},
			{"RetryableMissing", "shop.seats", "seat_unique", "seat_taken", nil, "taken", fault.LayerInvalid, fault.CodeInvalidInput},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := declare(tc.table, tc.constraint, tc.code, tc.retryable, tc.reason)
				requireLayer(t, err, tc.layer, tc.errCode)
			})
		}

		// The core's tables' conflicts are the core's: a domain migration
		// cannot turn a defect of the core into a retryable answer, nor
		// take back the core's own declaration.
		t.Run("CoreTables", func(t *testing.T) {
			for _, err := range []error{
				declare("bulwark.transition_log", "transition_log_pkey", "retry_me", &yes, "try again"),
				declare("bulwark.principals", "principal_name_unique", "name_taken", &yes, "a principal with that name exists"),
				declare("bulwark.principals", "principal_name_unique", "taken", &no, "taken"),
				func() error {
					_, err := owner.Exec(ctx, `SELECT bulwark.undeclare_conflict('bulwark.principals', 'principal_name_unique')`)
					return err
				}(),
			} {
				var pgErr *pgconn.PgError
				require.ErrorAs(t, err, &pgErr)
				require.Equal(t, pgerrcode.InsufficientPrivilege, pgErr.Code)
			}
			var code string
			var retryable bool
			require.NoError(t, owner.QueryRow(ctx, `SELECT code, retryable FROM bulwark.conflict_constraints
				WHERE relation = 'bulwark.principals'::regclass AND name = 'principal_name_unique'`).Scan(&code, &retryable))
			require.Equal(t, "name_taken", code)
			require.False(t, retryable)
			require.NoError(t, declare("bulwark.principals", "principal_name_unique", "name_taken", &no, "a principal with that name exists"),
				"the core's own declaration, again, is no change")
		})

		t.Run("UnknownTable", func(t *testing.T) {
			err := declare("shop.nope", "seat_unique", "seat_taken", &no, "taken")
			var pgErr *pgconn.PgError
			require.ErrorAs(t, err, &pgErr)
			require.Equal(t, pgerrcode.UndefinedTable, pgErr.Code)
		})

		t.Run("ReasonsAreTheAuthors", func(t *testing.T) {
			err := declare("shop.seats", "seat_row_positive", "seat_taken", &no, "taken")
			var e *fault.Error
			require.ErrorAs(t, db.InterpretError(err), &e)
			require.Contains(t, e.Reason, "only a unique or exclusion constraint")
		})

		var declared int
		require.NoError(t, owner.QueryRow(ctx, `SELECT count(*) FROM bulwark.conflict_constraints WHERE relation = 'shop.seats'::regclass`).Scan(&declared))
		require.Zero(t, declared, "every refusal declared nothing")
	})

	t.Run("DeclaresAndMaps", func(t *testing.T) {
		require.NoError(t, declare("shop.seats", "seat_unique", "seat_taken", &no, "someone else has that seat"))
		require.NoError(t, declare("shop.seats", "seat_no_overlap", "slot_booked", &yes, "the time overlaps a booking"))
		require.NoError(t, declare("shop.seats", "seats_pkey", "seat_id_taken", &no, "a seat has that id"))

		_, err := owner.Exec(ctx, `INSERT INTO shop.seats (during, row_no, seat) VALUES ('[2030-01-01 10:00Z, 2030-01-01 11:00Z)', 1, 'a')`)
		require.NoError(t, err)
		conflicts, err := db.LoadConflicts(ctx, owner)
		require.NoError(t, err)

		_, raw := owner.Exec(ctx, `INSERT INTO shop.seats (during, row_no, seat) VALUES ('[2030-01-02 10:00Z, 2030-01-02 11:00Z)', 1, 'a')`)
		requireLayer(t, raw, fault.LayerInvariant, fault.CodeIntegrity)
		e := requireConflict(t, conflicts.Interpret(raw), "seat_taken", "seat_unique")
		require.True(t, e.Final)
		require.Equal(t, "someone else has that seat", e.Reason)

		_, raw = owner.Exec(ctx, `INSERT INTO shop.seats (during, row_no, seat) VALUES ('[2030-01-01 10:30Z, 2030-01-01 12:00Z)', 2, 'b')`)
		var e2 *fault.Error
		require.ErrorAs(t, conflicts.Interpret(raw), &e2)
		require.Equal(t, fault.LayerConflict, e2.Layer)
		require.Equal(t, "slot_booked", e2.Code)
		require.Equal(t, pgerrcode.ExclusionViolation, e2.SQLState)
		require.True(t, e2.Retryable())

		// Declaring again changes the meaning, and is logged each time.
		require.NoError(t, declare("shop.seats", "seat_unique", "seat_taken", &yes, "someone else has that seat"))
		conflicts, err = db.LoadConflicts(ctx, owner)
		require.NoError(t, err)
		d, ok := conflicts.Lookup(seatKey)
		require.True(t, ok)
		require.True(t, d.Retryable)
		var logged int
		require.NoError(t, owner.QueryRow(ctx, `
			SELECT count(*) FROM bulwark.transition_log
			WHERE machine = 'bulwark.conflict_constraints' AND transition = 'declare_conflict' AND note LIKE 'shop.seats %'`).Scan(&logged))
		require.Equal(t, 4, logged, "three declarations and one change")
	})

	t.Run("KeptBehindTheBoundary", func(t *testing.T) {
		for _, role := range []string{"bulwark_app", "bulwark_jobs"} {
			conn, err := pgx.Connect(ctx, bulwarktest.LoginAs(t, url, role))
			require.NoError(t, err)
			var n int
			require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM bulwark.conflict_constraints`).Scan(&n), "%s reads the declarations", role)
			for _, attack := range []string{
				`INSERT INTO bulwark.conflict_constraints (relation, name, code, reason, retryable) VALUES ('shop.seats', 'seat_row_positive', 'x', 'x', true)`,
				`UPDATE bulwark.conflict_constraints SET retryable = NOT retryable`,
				`DELETE FROM bulwark.conflict_constraints`,
				`TRUNCATE bulwark.conflict_constraints`,
				`SELECT bulwark.declare_conflict('shop.seats', 'seat_unique', 'x', true, 'x')`,
				`SELECT bulwark.undeclare_conflict('shop.seats', 'seat_unique')`,
			} {
				_, err := conn.Exec(ctx, attack)
				var pgErr *pgconn.PgError
				require.ErrorAs(t, err, &pgErr, "%s: %s", role, attack)
				require.Equal(t, pgerrcode.InsufficientPrivilege, pgErr.Code, "%s: %s", role, attack)
			}
			require.NoError(t, conn.Close(ctx))
		}
		// The owner, too, writes only through the declarations.
		_, err := owner.Exec(ctx, `UPDATE bulwark.conflict_constraints SET retryable = NOT retryable`)
		requireLayer(t, err, fault.LayerInvariant, fault.CodeDirectWrite)
	})

	t.Run("Undeclares", func(t *testing.T) {
		_, err := owner.Exec(ctx, `SELECT bulwark.undeclare_conflict('shop.seats', 'seat_unique')`)
		require.NoError(t, err)
		conflicts, err := db.LoadConflicts(ctx, owner)
		require.NoError(t, err)
		_, ok := conflicts.Lookup(seatKey)
		require.False(t, ok)
		_, ok = conflicts.Lookup(db.ConflictKey{Schema: "shop", Table: "seats", Constraint: "seat_no_overlap"})
		require.True(t, ok)
	})
}
