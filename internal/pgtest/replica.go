package pgtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/internal/pgcluster"
)

// replicaEnv is this process's primary and streaming replica: two
// throwaway clusters of its own, whatever DATABASE_URL says (a client
// cannot make a server it does not run stream to a copy).
type replicaEnv struct {
	err      error
	primary  *pgcluster.Cluster
	replica  *pgcluster.Cluster
	template string
}

var (
	replicaOnce sync.Once
	replicaSet  *replicaEnv
	// replicaTurn lets one test at a time hold the pair: a test pauses the
	// replica's replay, which every database on it shares.
	replicaTurn sync.Mutex
)

// ReplicaPair is a migrated database on a throwaway primary and the same
// database on a streaming replica of it (pg_basebackup, then streaming
// replication), for tests of what a stale read does. Both URLs connect as
// the clusters' superuser with search_path set to the empty string.
type ReplicaPair struct {
	// PrimaryURL is the database on the primary.
	PrimaryURL string
	// ReplicaURL is the same database on the replica: read-only, and as
	// stale as its replay.
	ReplicaURL string
	// PrimaryServerURL and ReplicaServerURL connect to the clusters'
	// maintenance databases as the superuser with the default search_path:
	// for code that makes databases of its own, such as the bench.
	PrimaryServerURL string
	ReplicaServerURL string
}

// NewReplicaPair returns a fresh database on this process's primary and
// its replica, started on first use (which needs the local server
// binaries, pg_basebackup included, even where DATABASE_URL is set) and
// stopped when [Main] returns. Tests that use it take turns: t holds the
// pair until its Cleanup, which resumes replay and drops the database. It
// fails t if the clusters cannot be started; it never skips.
func NewReplicaPair(t testing.TB) *ReplicaPair {
	t.Helper()
	require.True(t, mainCalled.Load(), wireMessage)

	replicaOnce.Do(func() {
		replicaSet = &replicaEnv{}
		replicaSet.err = replicaSet.start()
	})
	env := replicaSet
	require.NoError(t, env.err, "pgtest: start a primary and a streaming replica "+
		"(install the PostgreSQL server binaries, pg_basebackup included, e.g. apt-get install postgresql)")

	replicaTurn.Lock()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	p := &ReplicaPair{PrimaryServerURL: env.primary.URL("postgres"), ReplicaServerURL: env.replica.URL("postgres")}
	admin, err := pgx.Connect(ctx, p.PrimaryServerURL)
	if err != nil {
		replicaTurn.Unlock()
		require.NoError(t, err, "pgtest: connect to the primary")
	}
	name := "bulwark_replica_test_" + fmt.Sprint(time.Now().UnixNano())
	_, err = admin.Exec(ctx, "CREATE DATABASE "+ident(name)+" TEMPLATE "+ident(env.template))
	_ = admin.Close(ctx)
	if err != nil {
		replicaTurn.Unlock()
		require.NoError(t, err, "pgtest: create database on the primary")
	}
	t.Cleanup(func() {
		defer replicaTurn.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		require.NoError(t, p.exec(ctx, p.ReplicaServerURL, "SELECT pg_catalog.pg_wal_replay_resume()"), "pgtest: resume replay")
		require.NoError(t, p.exec(ctx, p.PrimaryServerURL, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"), "pgtest: drop database")
	})
	p.PrimaryURL = withEmptySearchPath(env.primary.URL(name))
	p.ReplicaURL = withEmptySearchPath(env.replica.URL(name))
	// The database exists on the replica once replay passes its creation.
	p.WaitReplayed(t)
	return p
}

// PauseReplay stops the replica from applying what it receives: its reads
// stay where they are, however the primary moves on.
func (p *ReplicaPair) PauseReplay(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	require.NoError(t, p.exec(ctx, p.ReplicaServerURL, "SELECT pg_catalog.pg_wal_replay_pause()"), "pgtest: pause replay")
}

// ResumeReplay lets the replica apply what it received.
func (p *ReplicaPair) ResumeReplay(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	require.NoError(t, p.exec(ctx, p.ReplicaServerURL, "SELECT pg_catalog.pg_wal_replay_resume()"), "pgtest: resume replay")
}

// WaitReplayed waits until the replica has applied everything the primary
// had written when it was called (replay must not be paused), failing t
// after a minute.
func (p *ReplicaPair) WaitReplayed(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	primary, err := pgx.Connect(ctx, p.PrimaryServerURL)
	require.NoError(t, err, "pgtest: connect to the primary")
	defer primary.Close(ctx)
	// The insert position, not the write position: with synchronous_commit
	// off (the throwaway clusters'), a commit can return before its record
	// is written.
	var lsn string
	require.NoError(t, primary.QueryRow(ctx, "SELECT pg_catalog.pg_current_wal_insert_lsn()::text").Scan(&lsn))
	replica, err := pgx.Connect(ctx, p.ReplicaServerURL)
	require.NoError(t, err, "pgtest: connect to the replica")
	defer replica.Close(ctx)
	for {
		var done bool
		require.NoError(t, replica.QueryRow(ctx, "SELECT pg_catalog.pg_last_wal_replay_lsn() >= $1::pg_lsn", lsn).Scan(&done))
		if done {
			return
		}
		select {
		case <-ctx.Done():
			require.NoError(t, ctx.Err(), "pgtest: the replica did not replay %s", lsn)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (p *ReplicaPair) exec(ctx context.Context, url, sql string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// withEmptySearchPath returns a cluster's URL (which has a query already)
// with search_path set to the empty string, as the harness's other
// connections have it.
func withEmptySearchPath(url string) string {
	return url + "&options=-c%20search_path%3D"
}

// start starts the primary, builds the template on it, and starts the
// replica from it.
func (e *replicaEnv) start() error {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	migration, err := config.migration()
	if err != nil {
		return err
	}
	if e.primary, err = pgcluster.Start(ctx, nil); err != nil {
		return fmt.Errorf("start the primary: %w", err)
	}
	if e.template, err = ensureTemplate(ctx, e.primary.URL("postgres"), migration); err != nil {
		return err
	}
	if e.replica, err = e.primary.StartReplica(ctx); err != nil {
		return fmt.Errorf("start the replica: %w", err)
	}
	return nil
}

// stop stops the replica and the primary, if they were started.
func (e *replicaEnv) stop() error {
	var errs []error
	if e.replica != nil {
		errs = append(errs, e.replica.Stop())
	}
	if e.primary != nil {
		errs = append(errs, e.primary.Stop())
	}
	return errors.Join(errs...)
}
