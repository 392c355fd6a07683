package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// setupTimeout bounds starting a cluster and building the template.
const setupTimeout = 5 * time.Minute

// wireMessage is what a test that asks for a database hears when nothing
// wired the harness.
const wireMessage = "bulwarktest: wire the harness from TestMain: func TestMain(m *testing.M) { bulwarktest.Main(m, nil) }"

var (
	// mainCalled records that Main wraps the tests, so that what setup
	// acquires is released.
	mainCalled atomic.Bool

	// config is what MainWith was given, set before any test runs.
	config Config

	envMu  sync.Mutex
	env    *environment // what setup acquired, even if it then failed
	envErr error
	envSet bool
)

// environment is what one test process shares: the server, the template and
// the per-process database behind Tx.
type environment struct {
	admin *pgxpool.Pool // superuser pool on adminURL, for DDL on databases and roles
	// adminURL is the superuser URL of the maintenance database: DATABASE_URL
	// or the shared cluster's postgres database.
	adminURL string
	cluster  *sharedCluster // nil when DATABASE_URL names the server
	template string

	loginMu sync.Mutex
	logins  map[string]bool // login roles known to exist with their membership

	txOnce sync.Once
	txDB   string
	txErr  error
	txPool *pgxpool.Pool
}

// Main runs the tests of m, releases the server (stopping the shared
// cluster if this process was its last user), and exits with the tests'
// status, or 1 if releasing failed. Its databases hold bulwark's own
// migrations. Call it from TestMain.
func Main(m *testing.M) {
	MainWith(m, Config{})
}

// MainLanguage is [Main] for a package whose tests need a server that
// speaks lang, a message catalog name such as "de": its messages, context
// lines and severities reach clients translated, as on a production server
// set up in that language. The server is a throwaway cluster started with
// LANGUAGE=lang in its environment and lc_messages = 'C.UTF-8', and shared
// by the test processes that ask for the same language; DATABASE_URL is
// ignored, because a client cannot choose a server's language. It needs
// the local server binaries and their message catalog for lang. Call it
// from TestMain.
func MainLanguage(m *testing.M, lang string) {
	MainWith(m, Config{Language: lang})
}

// MainWith is [Main] with the server and the template that cfg names.
// Call it from TestMain, once.
func MainWith(m *testing.M, cfg Config) {
	config = cfg
	mainCalled.Store(true)
	run(m)
}

// Wired reports whether [Main], [MainLanguage] or [MainWith] runs the
// tests of this process.
func Wired() bool { return mainCalled.Load() }

// run runs the tests, releases the server and exits.
func run(m *testing.M) {
	code := m.Run()
	if err := teardown(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// get returns the process's environment, setting it up on first use, and
// fails t if there is none.
func get(t testing.TB) *environment {
	t.Helper()

	require.True(t, mainCalled.Load(), wireMessage)

	envMu.Lock()
	defer envMu.Unlock()

	if !envSet {
		envSet = true
		env = &environment{logins: make(map[string]bool)}
		envErr = env.setup()
	}
	require.NoError(t, envErr, "pgtest: no database to test against")
	return env
}

// setup finds or starts the server and makes sure the template exists.
func (e *environment) setup() error {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()

	migration, err := config.migration()
	if err != nil {
		return err
	}

	if lang := config.Language; lang != "" {
		c, err := acquireSharedCluster(ctx, lang)
		if err != nil {
			return fmt.Errorf("start a throwaway cluster that speaks %s (DATABASE_URL cannot choose a server's language): %w\n"+
				"Install the PostgreSQL server binaries and their message catalogs (e.g. apt-get install postgresql)", lang, err)
		}
		e.cluster = c
		e.adminURL = c.url
	} else if u := os.Getenv("DATABASE_URL"); u != "" {
		if err := checkURL(u); err != nil {
			return fmt.Errorf("use DATABASE_URL: %w", err)
		}
		e.adminURL = u
	} else {
		c, err := acquireSharedCluster(ctx, "")
		if err != nil {
			return fmt.Errorf("start a throwaway cluster, since DATABASE_URL is not set: %w\n"+
				"Set DATABASE_URL to a server where this role may create databases and roles "+
				"(e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable), "+
				"or install the PostgreSQL server binaries (e.g. apt-get install postgresql)", err)
		}
		e.cluster = c
		e.adminURL = c.url
	}

	cfg, err := pgxpool.ParseConfig(e.adminURL)
	if err != nil {
		return fmt.Errorf("parse server URL: %w", err)
	}
	// DDL on databases serializes in the server anyway.
	cfg.MaxConns = 4
	if e.admin, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return fmt.Errorf("create admin pool: %w", err)
	}
	if err := e.admin.Ping(ctx); err != nil {
		if e.cluster == nil {
			return fmt.Errorf("connect to DATABASE_URL %s (unset it to use a throwaway cluster): %w", redact(e.adminURL), err)
		}
		return fmt.Errorf("connect to shared cluster %s: %w", e.adminURL, err)
	}

	if e.template, err = ensureTemplate(ctx, e.adminURL, migration); err != nil {
		return err
	}
	return nil
}

// teardown releases what setup and Tx acquired.
func teardown() error {
	envMu.Lock()
	defer envMu.Unlock()

	var errs []error
	if replicaSet != nil {
		if err := replicaSet.stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop the replica pair: %w", err))
		}
	}
	e := env
	if e == nil {
		return errors.Join(errs...)
	}
	env, envErr = nil, errors.New("pgtest: used after Main returned")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if e.txPool != nil {
		e.txPool.Close()
	}
	if e.txDB != "" && e.admin != nil {
		if err := dropDatabase(ctx, e.admin, e.txDB); err != nil {
			errs = append(errs, err)
		}
	}
	if e.admin != nil {
		e.admin.Close()
	}
	if e.cluster != nil {
		if err := e.cluster.release(); err != nil {
			errs = append(errs, fmt.Errorf("release shared cluster: %w", err))
		}
	}
	return errors.Join(errs...)
}
