package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/internal/seed"
	"github.com/bulwarkdb/bulwark/sql/schema"
)

// cleanupTimeout bounds dropping the bench's database and role, which runs
// even after ctx is cancelled.
const cleanupTimeout = time.Minute

// environment is what every run shares: the bench's own database, its
// pools, the cast of principals and the services.
type environment struct {
	// admin connects as the server URL's role to the bench database: DDL
	// and VACUUM only.
	admin *pgxpool.Pool
	// app connects as login, a member of bulwark_app: every request of
	// every implementation, and the setup that goes through the SQL API.
	app      *pgxpool.Pool
	authors  []uuid.UUID
	database string
	editors  []uuid.UUID
	grants   *authz.Grants
	login    string
	machine  *Machine
	// maintenance connects as the server URL's role to the URL's own
	// database: it creates and drops the bench database and role.
	maintenance *pgx.ConnConfig
	progress    io.Writer
	publishers  []uuid.UUID
	// replica connects as login to the bench database on the streaming
	// replica, when there is one.
	replica *pgxpool.Pool
	server  Server
	// svc is the articles service on a gate that reads the primary (and
	// takes a held row per call); svcCache and svcReplica on gates that
	// read their cache and the replica.
	svc        *articles.Service
	svcCache   *articles.Service
	svcReplica *articles.Service
	// trackFunctions says the bench database counts function calls
	// (track_functions), so each run reports what they cost.
	trackFunctions bool
}

// newEnvironment creates the bench database on the server at serverURL,
// migrates it, turns on function statistics in it if the server lets it,
// adds the unguarded copy, a login role and the principals, and starts
// the articles service. With o.Durable it first checks that the server is
// durable, and its sessions set synchronous_commit on. On failure it
// removes what it made.
func newEnvironment(ctx context.Context, serverURL string, o RunOpts) (_ *environment, err error) {
	maxClients := slices.Max(o.Clients)
	cfg, err := pgx.ParseConfig(serverURL)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if o.Durable {
		// A session may turn synchronous_commit off, and on again; fsync
		// and full_page_writes are the server's.
		cfg.RuntimeParams["synchronous_commit"] = "on"
	}
	e := &environment{maintenance: cfg, progress: o.Progress}
	defer func() {
		if err != nil {
			err = errors.Join(err, e.close())
		}
	}()
	if o.Durable {
		if err := e.checkDurable(ctx); err != nil {
			return nil, err
		}
	}

	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails
	suffix := hex.EncodeToString(b[:])
	e.database = "bulwark_bench_" + suffix
	e.logf("bench: creating database %s and migrating it", e.database)
	if err := e.maintenanceExec(ctx,
		"CREATE DATABASE "+ident(e.database)+" TEMPLATE template0 ENCODING 'UTF8'",
	); err != nil {
		e.database = "" // nothing to drop
		return nil, fmt.Errorf("create database: %w", err)
	}

	if err := e.enableTrackFunctions(ctx); err != nil {
		return nil, err
	}

	benchCfg := cfg.Copy()
	benchCfg.Database = e.database
	if err := migrate(ctx, benchCfg); err != nil {
		return nil, err
	}

	if e.admin, err = newPool(ctx, benchCfg, 2); err != nil {
		return nil, err
	}
	_, _ = rand.Read(b[:])
	password := hex.EncodeToString(b[:])
	login := e.database + "_app"
	// Roles are cluster-wide: a name of its own, dropped at the end.
	if _, err := e.admin.Exec(ctx, "CREATE ROLE "+ident(login)+" LOGIN PASSWORD '"+password+"' IN ROLE bulwark_app"); err != nil {
		return nil, fmt.Errorf("create login role: %w", err)
	}
	e.login = login
	if _, err := e.admin.Exec(ctx, `
		CREATE SCHEMA bench;
		CREATE TABLE bench.articles (LIKE app.articles INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
		COMMENT ON TABLE bench.articles IS 'An unguarded copy of app.articles for bulwark bench: same columns, checks and indexes, no bulwark triggers.';
		GRANT USAGE ON SCHEMA bench TO `+ident(login)+`;
		GRANT SELECT, INSERT, UPDATE ON bench.articles TO `+ident(login)); err != nil {
		return nil, fmt.Errorf("create the unguarded copy: %w", err)
	}

	appCfg := benchCfg.Copy()
	appCfg.User, appCfg.Password = login, password
	// Every client holds a connection; the grants listener has its own.
	if e.app, err = newPool(ctx, appCfg, int32(maxClients+2)); err != nil {
		return nil, err
	}
	if err := e.app.QueryRow(ctx, `SELECT pg_catalog.current_setting('server_version'),
		pg_catalog.current_setting('fsync'), pg_catalog.current_setting('synchronous_commit'),
		pg_catalog.current_setting('full_page_writes'), pg_catalog.current_setting('track_functions')`,
	).Scan(&e.server.Version, &e.server.Fsync, &e.server.SynchronousCommit,
		&e.server.FullPageWrites, &e.server.TrackFunctions); err != nil {
		return nil, fmt.Errorf("read server settings: %w", err)
	}
	e.trackFunctions = e.server.TrackFunctions != "none"
	if e.machine, err = readMachine(ctx, e.app); err != nil {
		return nil, err
	}
	if err := e.cast(ctx, o.Workload, maxClients); err != nil {
		return nil, err
	}
	// The cast's function calls are counted now, not in the first run.
	if err := e.endSessions(ctx, e.admin); err != nil {
		return nil, err
	}

	e.grants = authz.NewGrants(e.app, nil)
	if err := e.grants.Start(ctx); err != nil {
		return nil, err
	}
	// Decisions are not logged: a log line per request would measure the
	// logger. A service would observe them, as cheaply as it can.
	quiet := authz.ObserverFunc(func(context.Context, authz.Record) {})
	service := func(opts *authz.GateOpts) (*articles.Service, error) {
		opts.Observer = quiet
		svc, err := articles.NewService(ctx, authz.NewGate(e.app, e.grants, opts), nil)
		if err != nil {
			return nil, fmt.Errorf("start the articles service: %w", err)
		}
		return svc, nil
	}
	if e.svc, err = service(&authz.GateOpts{}); err != nil {
		return nil, err
	}
	if e.svcCache, err = service(&authz.GateOpts{Snapshots: authz.FromCache}); err != nil {
		return nil, err
	}
	if o.ReplicaURL != "" {
		if e.replica, err = connectReplica(ctx, o.ReplicaURL, appCfg, maxClients); err != nil {
			return nil, err
		}
		if e.svcReplica, err = service(&authz.GateOpts{Snapshots: authz.FromReplica, Replica: e.replica}); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// connectReplica opens a pool as the app login on the bench database on
// the replica at replicaURL, once the replica has replayed the database
// and the login (it waits up to a minute for them).
func connectReplica(ctx context.Context, replicaURL string, appCfg *pgx.ConnConfig, maxClients int) (*pgxpool.Pool, error) {
	server, err := pgx.ParseConfig(replicaURL)
	if err != nil {
		return nil, fmt.Errorf("parse replica url: %w", err)
	}
	cfg := appCfg.Copy()
	cfg.Host, cfg.Port, cfg.Fallbacks = server.Host, server.Port, nil
	deadline := time.Now().Add(time.Minute)
	for {
		pool, err := newPool(ctx, cfg, int32(maxClients+2))
		if err == nil {
			return pool, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("connect to the replica: %w", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// cast creates the principals through the grant functions, as the
// bootstrap principal, which acts only from the migration role's session
// (admin). The hot workload's clients share four authors, four editors
// and two publishers; the low-contention workload gives each client an
// author and an editor of its own, so that no two clients touch one row,
// a principal's included (the transition log's reference to its actor
// locks the principal's row for key share).
func (e *environment) cast(ctx context.Context, workload Workload, maxClients int) error {
	people := 4
	if workload == WorkloadLow {
		people = max(people, maxClients)
	}
	create := func(role string, n int) ([]uuid.UUID, error) {
		ids := make([]uuid.UUID, n)
		for i := range ids {
			id, err := seed.Principal(ctx, e.admin, fmt.Sprintf("bench-%s-%d", role, i+1), role)
			if err != nil {
				return nil, err
			}
			ids[i] = id
		}
		return ids, nil
	}
	var err error
	if e.authors, err = create("author", people); err != nil {
		return err
	}
	if e.editors, err = create("editor", people); err != nil {
		return err
	}
	e.publishers, err = create("publisher", 2)
	return err
}

// implementation returns the implementation named impl.
func (e *environment) implementation(impl Implementation) implementation {
	guarded := guardedTable{pool: e.app, q: db.New()}
	switch impl {
	case ImplementationGateHeld:
		return &gateImpl{guardedTable: guarded, svc: e.svc, held: true}
	case ImplementationGateCache:
		return &gateImpl{guardedTable: guarded, svc: e.svcCache}
	case ImplementationGateReplica:
		return &gateImpl{guardedTable: guarded, svc: e.svcReplica}
	case ImplementationDB:
		return &dbImpl{guardedTable: guarded}
	case ImplementationNaive:
		return &naiveImpl{copyTable: copyTable{pool: e.app, source: &guarded}}
	case ImplementationRaw:
		return &rawImpl{copyTable: copyTable{pool: e.app, source: &guarded}}
	}
	return &gateImpl{guardedTable: guarded, svc: e.svc}
}

// warm opens n of the app pool's connections (and of the replica's), so
// that no run pays for connecting.
func (e *environment) warm(ctx context.Context, n int) error {
	var conns []*pgxpool.Conn
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for _, pool := range []*pgxpool.Pool{e.app, e.replica} {
		if pool == nil {
			continue
		}
		for range n {
			c, err := pool.Acquire(ctx)
			if err != nil {
				return fmt.Errorf("open connection: %w", err)
			}
			conns = append(conns, c)
		}
	}
	return nil
}

// vacuum clears the dead rows a run left in the tables the next run uses,
// so that each run starts alike.
func (e *environment) vacuum(ctx context.Context) error {
	if _, err := e.admin.Exec(ctx,
		`VACUUM (ANALYZE) app.articles, bench.articles, bulwark.transition_log, bulwark.idempotency_keys`,
	); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	return nil
}

// close stops the service, closes the pools, and drops the database and
// the login role, even if ctx was cancelled.
func (e *environment) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if e.grants != nil {
		e.grants.Stop()
	}
	if e.app != nil {
		e.app.Close()
	}
	if e.replica != nil {
		e.replica.Close()
	}
	if e.admin != nil {
		e.admin.Close()
	}
	var errs []error
	if e.database != "" {
		e.logf("bench: dropping database %s", e.database)
		if err := e.maintenanceExec(ctx, "DROP DATABASE IF EXISTS "+ident(e.database)+" WITH (FORCE)"); err != nil {
			errs = append(errs, fmt.Errorf("drop database %s: %w", e.database, err))
		}
	}
	if e.login != "" {
		if err := e.maintenanceExec(ctx, "DROP ROLE IF EXISTS "+ident(e.login)); err != nil {
			errs = append(errs, fmt.Errorf("drop role %s: %w", e.login, err))
		}
	}
	return errors.Join(errs...)
}

// maintenanceExec runs sql on a connection of its own to the server
// URL's database: CREATE and DROP DATABASE cannot run in the database
// they name, nor in a transaction.
func (e *environment) maintenanceExec(ctx context.Context, sql string) error {
	conn, err := e.connectMaintenance(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// connectMaintenance opens a connection to the server URL's database as
// its role. The caller closes it.
func (e *environment) connectMaintenance(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, e.maintenance)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return conn, nil
}

func (e *environment) logf(format string, args ...any) {
	if e.progress != nil {
		fmt.Fprintf(e.progress, format+"\n", args...)
	}
}

// migrate runs the migrations up in the database of cfg, recording their
// checksums as `bulwark migrate up` does.
func migrate(ctx context.Context, cfg *pgx.ConnConfig) error {
	sqlDB := stdlib.OpenDB(*cfg)
	defer sqlDB.Close()
	if _, err := schema.Up(ctx, sqlDB, schema.Examples()...); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// newPool opens a pool of at most maxConns connections with cfg.
func newPool(ctx context.Context, cfg *pgx.ConnConfig, maxConns int32) (*pgxpool.Pool, error) {
	poolCfg, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, fmt.Errorf("create pool: %w", err)
	}
	poolCfg.ConnConfig = cfg.Copy()
	poolCfg.ConnConfig.RuntimeParams["application_name"] = "bulwark-bench"
	poolCfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, fmt.Errorf("create pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect as %s: %w", cfg.User, err)
	}
	return pool, nil
}

// readMachine reads the article machine's transitions from
// bulwark.transitions, and adds the edit of a draft.
func readMachine(ctx context.Context, pool *pgxpool.Pool) (*Machine, error) {
	rows, err := pool.Query(ctx, `
		SELECT t.name, t.from_state, t.to_state
		FROM bulwark.transitions AS t
		WHERE t.machine = 'article'`)
	if err != nil {
		return nil, fmt.Errorf("read the article machine: %w", err)
	}
	steps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Step, error) {
		var s Step
		err := row.Scan(&s.Name, &s.From, &s.To)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the article machine: %w", err)
	}
	if len(steps) == 0 {
		return nil, errors.New("read the article machine: bulwark.transitions has no article transitions")
	}
	return NewMachine(append(steps, stepEdit)...), nil
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }
