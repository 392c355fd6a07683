// Command team is what a team outside bulwark writes: it migrates
// bulwark's core and its own migrations, creates a principal with a role,
// and issues and pays an invoice through the gate.
//
// DATABASE_URL names the migration role; APP_DATABASE_URL a login that is
// a member of bulwark_app.
package main

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for the migrations

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/fault"
	"github.com/bulwarkdb/bulwark/sql/schema"
)

//go:embed migrations/*.sql
var migrations embed.FS

// invoice is a row of billing.invoices, the gate's snapshot.
type invoice struct {
	ID      uuid.UUID
	State   string
	Total   string
	Version int32
}

func (i invoice) EntityID() uuid.UUID  { return i.ID }
func (i invoice) EntityVersion() int32 { return i.Version }

// issueRequest asks for a new invoice.
type issueRequest struct {
	Key   string
	Total string
}

func (r issueRequest) IdempotencyKey() string { return r.Key }

const columns = `id, state, total::text, version`

func scanInvoice(row pgx.Row) (invoice, error) {
	var i invoice
	err := row.Scan(&i.ID, &i.State, &i.Total, &i.Version)
	return i, err
}

var (
	issue = authz.Create("invoice.issue", "invoice.issue",
		func(ctx context.Context, conn db.DBTX, call authz.Call[struct{}, issueRequest]) (invoice, error) {
			return scanInvoice(conn.QueryRow(ctx, `SELECT `+columns+` FROM billing.invoice_issue($1, $2, $3)`,
				call.Actor(), call.Request.Total, call.IdemKey()))
		})
	pay = authz.Transition("invoice.pay", "invoice.pay",
		func(ctx context.Context, conn db.DBTX, id uuid.UUID) (invoice, error) {
			return scanInvoice(conn.QueryRow(ctx, `SELECT `+columns+` FROM billing.invoices WHERE id = $1`, id))
		},
		nil, // no policy: the capability is the whole decision
		func(ctx context.Context, conn db.DBTX, call authz.Call[invoice, authz.ByID]) (invoice, error) {
			return scanInvoice(conn.QueryRow(ctx, `SELECT `+columns+` FROM billing.invoice_pay($1, $2, $3, $4)`,
				call.Actor(), call.Snapshot.ID, call.Snapshot.Version, call.IdemKey()))
		})
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "team:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	// bulwark's core, then the team's line, in goose's own version table.
	migrator, err := sql.Open("pgx", os.Getenv("DATABASE_URL"))
	if err != nil {
		return err
	}
	defer migrator.Close()
	files, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	own, err := schema.Own(files, nil)
	if err != nil {
		return err
	}
	results, err := schema.Up(ctx, migrator, schema.Core(), own)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range results {
		if r.Line == own.Name() {
			fmt.Printf("migrated %s %s\n", r.Line, r.Source.Path)
		}
	}

	// Principals are made by bootstrap, which acts only from the
	// migration role's session.
	admin, err := pgx.Connect(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	q := db.New()
	bootstrap, err := q.PrincipalGetByName(ctx, admin, "bootstrap")
	if err != nil {
		return err
	}
	ada, err := q.PrincipalCreate(ctx, admin, db.PrincipalCreateParams{Actor: bootstrap.ID, Kind: "human", Name: "ada"})
	if err != nil {
		return err
	}
	if err := q.RoleGrant(ctx, admin, db.RoleGrantParams{Actor: bootstrap.ID, PrincipalID: ada, Role: "accountant"}); err != nil {
		return err
	}
	bob, err := q.PrincipalCreate(ctx, admin, db.PrincipalCreateParams{Actor: bootstrap.ID, Kind: "human", Name: "bob"})
	if err != nil {
		return err
	}

	// The service: the application's login, the gate.
	pool, err := db.Open(ctx, os.Getenv("APP_DATABASE_URL"), nil)
	if err != nil {
		return err
	}
	defer pool.Close()
	gate := authz.NewGate(pool, authz.NewGrants(pool, nil), nil)

	issued, err := authz.Do(ctx, gate, ada, issue, issueRequest{Key: "issue-1", Total: "42.50"}, nil)
	if err != nil {
		return fmt.Errorf("issue: %w", err)
	}
	paid, err := authz.Do(ctx, gate, ada, pay, authz.ByID(issued.ID), nil)
	if err != nil {
		return fmt.Errorf("pay: %w", err)
	}
	fmt.Printf("invoice %s: %s, version %d\n", paid.Total, paid.State, paid.Version)

	// Bob holds no role: the gate refuses at the permission layer.
	_, err = authz.Do(ctx, gate, bob, issue, issueRequest{Total: "1"}, nil)
	if err == nil {
		return errors.New("bob issued an invoice")
	}
	fmt.Printf("bob: refused by the %s layer, HTTP %d\n", fault.LayerOf(err), fault.HTTPStatus(err))
	return nil
}
