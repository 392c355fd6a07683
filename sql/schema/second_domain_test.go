package schema_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/internal/drift"
	"github.com/bulwarkdb/bulwark/internal/pgtest"
	"github.com/bulwarkdb/bulwark/verify"
)

// secondDomain is what a team writes in its own migration to put a domain
// behind the boundary: declarations, a table, bulwark.guard, and one
// transition function built from the core's helpers. No core SQL copied.
// secondDomainSQL returns the migration of the README's section "Putting
// your own domain behind the boundary": the test runs the documented
// snippet itself, so the README cannot drift from what works.
func secondDomainSQL(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(readme), "<!-- second-domain:begin -->\n```sql\n")
	require.True(t, ok, "README.md lost its second-domain snippet")
	snippet, _, ok := strings.Cut(rest, "```\n<!-- second-domain:end -->")
	require.True(t, ok, "README.md's second-domain snippet is not closed")
	return snippet
}

// TestSecondDomainSnippetSize holds the README's promise: a state-only
// transition costs at most five lines beyond its declaration.
func TestSecondDomainSnippetSize(t *testing.T) {
	t.Parallel()
	snippet := secondDomainSQL(t)
	perTransition := 0
	inWrapper := false
	for _, line := range strings.Split(snippet, "\n") {
		switch {
		case strings.HasPrefix(line, "CREATE FUNCTION billing.invoice_pay("):
			inWrapper = true
			perTransition++
		case inWrapper:
			perTransition++
			if strings.HasPrefix(line, "SELECT bulwark.declare_api(") {
				inWrapper = false
			}
		}
	}
	require.LessOrEqual(t, perTransition, 5)
	require.Positive(t, perTransition)
}

// TestSecondDomain puts a second domain behind the boundary with only the
// core's declarations and helpers, and checks that it gets the same
// guarantees: the state machine, the write guard, the audit log,
// idempotency, the capability re-check, and a clean verify.
func TestSecondDomain(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)

	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, secondDomainSQL(t))
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))

	// The owner cannot insert an invoice directly: the write guard.
	_, err = conn.Exec(ctx, `INSERT INTO billing.invoices (total) VALUES (10)`)
	require.Equal(t, "BWI04", sqlState(err))
	// Under the maintenance switch it can (seed data), logged; and the
	// state machine still refuses a paid invoice at creation.
	_, err = conn.Exec(ctx, `BEGIN; SELECT bulwark.maintenance_begin('seed an invoice');
		INSERT INTO billing.invoices (id, total) VALUES ('00000000-0000-0000-0000-000000000001', 10); COMMIT`)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `BEGIN; SELECT bulwark.maintenance_begin('seed a paid invoice');
		INSERT INTO billing.invoices (total, state) VALUES (10, 'paid'); COMMIT`)
	require.Equal(t, "BWI01", sqlState(err))
	_, err = conn.Exec(ctx, `ROLLBACK`)
	require.NoError(t, err)

	// A principal with the capability pays through the function, as the
	// application role; without it, BWP01.
	app, err := pgx.Connect(ctx, pgtest.LoginAs(t, url, "bulwark_app"))
	require.NoError(t, err)
	defer app.Close(ctx)
	// Principals are made by bootstrap, which acts only from the migration
	// role's session.
	var accountant, nobody string
	require.NoError(t, conn.QueryRow(ctx, `SELECT bulwark.principal_create(bulwark.principal_id('bootstrap'), 'human', 'acc')`).Scan(&accountant))
	require.NoError(t, conn.QueryRow(ctx, `SELECT bulwark.principal_create(bulwark.principal_id('bootstrap'), 'human', 'nobody')`).Scan(&nobody))
	_, err = conn.Exec(ctx, `SELECT bulwark.role_grant(bulwark.principal_id('bootstrap'), $1, 'accountant')`, accountant)
	require.NoError(t, err)
	_, err = app.Exec(ctx, `SELECT bulwark.role_grant(bulwark.principal_id('bootstrap'), $1, 'admin')`, nobody)
	require.Equal(t, "BWP01", sqlState(err), "an application credential cannot act as bootstrap")

	const id = "00000000-0000-0000-0000-000000000001"
	_, err = app.Exec(ctx, `SELECT * FROM billing.invoice_pay($1, $2, 1, NULL)`, nobody, id)
	require.Equal(t, "BWP01", sqlState(err))
	_, err = app.Exec(ctx, `UPDATE billing.invoices SET state = 'paid' WHERE id = $1`, id)
	require.Equal(t, "42501", sqlState(err))
	// The snippet declares no version rule, and still a change without the
	// version its caller decided on is refused: the engine pins versions.
	_, err = app.Exec(ctx, `SELECT * FROM billing.invoice_pay($1, $2, NULL, NULL)`, accountant, id)
	require.Equal(t, "22023", sqlState(err))
	var state string
	var version int
	require.NoError(t, app.QueryRow(ctx, `SELECT state, version FROM billing.invoice_pay($1, $2, 1, 'pay-1')`, accountant, id).Scan(&state, &version))
	require.Equal(t, "paid", state)
	require.Equal(t, 2, version)
	// A retry with the key replays; paying again is an illegal transition.
	require.NoError(t, app.QueryRow(ctx, `SELECT version FROM billing.invoice_pay($1, $2, 1, 'pay-1')`, accountant, id).Scan(&version))
	require.Equal(t, 2, version)
	var nothing any
	err = app.QueryRow(ctx, `SELECT * FROM billing.invoice_pay($1, $2, 2, NULL)`, accountant, id).Scan(&nothing)
	require.Equal(t, "BWI01", sqlState(err))

	var logged int
	require.NoError(t, app.QueryRow(ctx, `
		SELECT count(*) FROM bulwark.transition_log
		WHERE machine = 'invoice' AND entity_id = $1 AND transition IN ('maintenance_insert', 'pay')`, id).Scan(&logged))
	require.Equal(t, 2, logged)
	var actor string
	require.NoError(t, app.QueryRow(ctx, `
		SELECT actor_id::text FROM bulwark.transition_log
		WHERE machine = 'invoice' AND entity_id = $1 AND transition = 'pay'`, id).Scan(&actor))
	require.Equal(t, accountant, actor)

	// And verify holds the second domain to the same contract.
	report, err := verify.Run(ctx, conn, &verify.Opts{MigrationRoles: drift.MigrationRoles(t, url, nil, "")})
	require.NoError(t, err)
	require.True(t, report.OK, "%v", report.Failures())
	_, err = conn.Exec(ctx, `ALTER TABLE billing.invoices DROP CONSTRAINT invoice_total_positive`)
	require.NoError(t, err)
	report, err = verify.Run(ctx, conn, &verify.Opts{MigrationRoles: drift.MigrationRoles(t, url, nil, "")})
	require.NoError(t, err)
	require.Equal(t, []string{"constraints billing.invoices.invoice_total_positive"}, report.Failures())
}
