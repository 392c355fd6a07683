package authz_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/fault"
)

// couponSQL is a second domain's migration: a guarded table with unique
// constraints of its own, two of them declared conflicts (one retryable,
// one not) and one left undeclared.
const couponSQL = `
CREATE SCHEMA shop AUTHORIZATION bulwark_owner;
SET LOCAL ROLE bulwark_owner;
SELECT bulwark.declare_capability('coupon.issue', 'Issue a coupon.');
SELECT bulwark.declare_role('coupon_clerk', ARRAY['coupon.issue']);
SELECT bulwark.declare_machine('coupon', 'open', ARRAY['open', 'redeemed']);
SELECT bulwark.declare_action('coupon', 'create', 'create', 'coupon.issue');
CREATE TABLE shop.coupons (
    id      uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    code    text NOT NULL,
    serial  integer NOT NULL,
    slot    text NOT NULL,
    state   text NOT NULL DEFAULT 'open',
    version integer NOT NULL DEFAULT 1,
    CONSTRAINT coupon_code_unique UNIQUE (code),
    CONSTRAINT coupon_serial_unique UNIQUE (serial)
);
CREATE UNIQUE INDEX coupon_one_open_per_slot ON shop.coupons (slot) WHERE state = 'open';
SELECT bulwark.guard('shop.coupons', 'coupon', 'state');
SELECT bulwark.declare_set('coupon', 'create', 'code', $$p_args ->> 'code'$$);
SELECT bulwark.declare_set('coupon', 'create', 'serial', $$(p_args ->> 'serial')::integer$$);
SELECT bulwark.declare_set('coupon', 'create', 'slot', $$p_args ->> 'slot'$$);
CREATE FUNCTION shop.coupon_issue(p_actor uuid, p_code text, p_serial integer, p_slot text, p_idem_key text)
RETURNS shop.coupons LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN shop.coupon_apply('create', p_actor, NULL, NULL, p_idem_key,
    pg_catalog.jsonb_build_object('code', p_code, 'serial', p_serial, 'slot', p_slot)); END $$;
SELECT bulwark.declare_api('shop.coupon_issue(uuid, text, integer, text, text)', 'coupon', 'create');
SELECT bulwark.declare_conflict('shop.coupons', 'coupon_code_unique', 'code_taken', false,
    'another coupon has that code');
SELECT bulwark.declare_conflict('shop.coupons', 'coupon_one_open_per_slot', 'slot_busy', true,
    'the slot already has an open coupon');
RESET ROLE;
`

type issueRequest struct {
	Code   string
	Serial int32
	Slot   string
}

// issueAction issues a coupon through the domain's SQL API.
var issueAction = authz.Create("coupon.issue", "coupon.issue",
	func(ctx context.Context, conn db.DBTX, c authz.Call[struct{}, issueRequest]) (uuid.UUID, error) {
		var id uuid.UUID
		err := conn.QueryRow(ctx, `SELECT c.id FROM shop.coupon_issue($1, $2, $3, $4, NULL) AS c`,
			c.Principal.ID, c.Request.Code, c.Request.Serial, c.Request.Slot).Scan(&id)
		return id, err
	})

// TestDeclaredConflicts runs a second domain's lost races through the gate:
// a declared constraint is a conflict with the declared code, reason and
// retryability; an undeclared one stays an invariant failure.
func TestDeclaredConflicts(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	w := newWorld(t)
	_, err := w.pool.Exec(ctx, "BEGIN;"+couponSQL+"COMMIT;")
	require.NoError(t, err)
	clerk := w.newPrincipal(t, "coupon_clerk")

	type testBundle struct {
		gate     *authz.Gate
		recorder *recorder
	}

	setup := func(t *testing.T) *testBundle {
		t.Helper()
		// A gate of its own: it reads the declarations when it first
		// needs them.
		rec := &recorder{}
		return &testBundle{gate: authz.NewGate(w.pool, nil, &authz.GateOpts{Observer: rec}), recorder: rec}
	}

	issue := func(bundle *testBundle, req issueRequest, opts *authz.DoOpts) error {
		_, err := authz.Do(ctx, bundle.gate, clerk, issueAction, req, opts)
		return err
	}

	t.Run("DeclaredFinal", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		require.NoError(t, issue(bundle, issueRequest{Code: "FINAL-1", Serial: 101, Slot: "final-a"}, nil))
		// Retries allowed: a final conflict is not retried.
		err := issue(bundle, issueRequest{Code: "FINAL-1", Serial: 102, Slot: "final-b"}, &authz.DoOpts{Retry: &authz.RetryOpts{Attempts: 3}})
		e := bulwarktest.RequireLayer(t, err, fault.LayerConflict, "code_taken")
		require.Equal(t, "another coupon has that code", e.Reason)
		require.Equal(t, "coupon_code_unique", e.Constraint)
		require.Equal(t, "23505", e.SQLState)
		require.True(t, e.Final)
		require.False(t, fault.IsRetryable(err))
		require.Equal(t, http.StatusConflict, fault.HTTPStatus(err))
		require.NotErrorIs(t, err, fault.ErrInvariant)
		require.Len(t, bundle.recorder.all(), 2, "one attempt each: a final conflict is not retried")
	})

	t.Run("DeclaredRetryable", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		require.NoError(t, issue(bundle, issueRequest{Code: "RETRY-1", Serial: 201, Slot: "retry-a"}, nil))
		// A retry re-runs the gate; the slot is still busy.
		err := issue(bundle, issueRequest{Code: "RETRY-2", Serial: 202, Slot: "retry-a"}, &authz.DoOpts{Retry: &authz.RetryOpts{Attempts: 2}})
		e := bulwarktest.RequireLayer(t, err, fault.LayerConflict, "slot_busy")
		require.Equal(t, "the slot already has an open coupon", e.Reason)
		require.Equal(t, "coupon_one_open_per_slot", e.Constraint, "a unique index, named as the server reports it")
		require.False(t, e.Final)
		require.True(t, fault.IsRetryable(err))
		require.Len(t, bundle.recorder.all(), 3, "a retryable conflict is retried")
	})

	t.Run("UndeclaredIsInvariant", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		require.NoError(t, issue(bundle, issueRequest{Code: "UNDECLARED-1", Serial: 301, Slot: "undeclared-a"}, nil))
		err := issue(bundle, issueRequest{Code: "UNDECLARED-2", Serial: 301, Slot: "undeclared-b"}, nil)
		e := bulwarktest.RequireLayer(t, err, fault.LayerInvariant, fault.CodeIntegrity)
		require.Equal(t, "coupon_serial_unique", e.Constraint)
		require.False(t, fault.IsRetryable(err))
		require.Equal(t, http.StatusInternalServerError, fault.HTTPStatus(err))
	})

	t.Run("InTheCallersTransaction", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		require.NoError(t, issue(bundle, issueRequest{Code: "TX-1", Serial: 401, Slot: "tx-a"}, nil))
		// The gate's first violation, inside a transaction: the
		// declarations are read in it once the savepoint rolled back.
		err := pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
			err := issue(bundle, issueRequest{Code: "TX-1", Serial: 402, Slot: "tx-b"}, &authz.DoOpts{Tx: tx})
			bulwarktest.RequireLayer(t, err, fault.LayerConflict, "code_taken")
			err = issue(bundle, issueRequest{Code: "TX-2", Serial: 403, Slot: "tx-a"}, &authz.DoOpts{Tx: tx})
			bulwarktest.RequireLayer(t, err, fault.LayerConflict, "slot_busy")
			// The transaction is still usable.
			return issue(bundle, issueRequest{Code: "TX-3", Serial: 404, Slot: "tx-c"}, &authz.DoOpts{Tx: tx})
		})
		require.NoError(t, err)
	})

	t.Run("NewDeclarationSeenWithoutRestart", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		_, err := w.pool.Exec(ctx, `
			CREATE TABLE shop.vouchers (id uuid PRIMARY KEY, serial integer NOT NULL,
				CONSTRAINT voucher_serial_unique UNIQUE (serial));
			INSERT INTO shop.vouchers VALUES (gen_random_uuid(), 7)`)
		require.NoError(t, err)
		insert := authz.Create("voucher.insert", "coupon.issue",
			func(ctx context.Context, conn db.DBTX, c authz.Call[struct{}, int]) (struct{}, error) {
				_, err := conn.Exec(ctx, `INSERT INTO shop.vouchers VALUES (pg_catalog.gen_random_uuid(), $1)`, c.Request)
				return struct{}{}, err
			})
		_, err = authz.Do(ctx, bundle.gate, clerk, insert, 7, nil)
		bulwarktest.RequireLayer(t, err, fault.LayerInvariant, fault.CodeIntegrity)

		// A later migration declares it; the running gate sees it.
		_, err = w.pool.Exec(ctx, `BEGIN; SET LOCAL ROLE bulwark_owner;
			SELECT bulwark.declare_conflict('shop.vouchers', 'voucher_serial_unique', 'serial_taken', false, 'that serial is taken');
			COMMIT`)
		require.NoError(t, err)
		var last error
		require.Eventually(t, func() bool {
			_, last = authz.Do(ctx, bundle.gate, clerk, insert, 7, nil)
			return fault.LayerOf(last) == fault.LayerConflict
		}, 10*time.Second, 100*time.Millisecond, "last: %v", last)
		bulwarktest.RequireLayer(t, last, fault.LayerConflict, "serial_taken")
	})
}
