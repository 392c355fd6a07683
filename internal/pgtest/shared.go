package pgtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bulwarkdb/bulwark/internal/pgcluster"
)

const (
	// stateDirEnv overrides the directory holding the lock and state files.
	stateDirEnv = "BULWARK_PGTEST_STATE_DIR"

	setupLockFile = "setup.lock"
	stateFile     = "state.json"
	usersLockFile = "users.lock"
)

// sharedCluster is this process's share of the throwaway cluster.
type sharedCluster struct {
	dir   string   // the state directory
	url   string   // superuser URL of the postgres database
	users *os.File // users.lock, held shared until release
}

// clusterState is the content of state.json.
type clusterState struct {
	Dir string `json:"dir"`
	PID int    `json:"pid"`
	URL string `json:"url"`
}

// stateDir returns the directory of the lock and state files. It is per
// user because the files lock a cluster only its creator can stop.
func stateDir() string {
	if dir := os.Getenv(stateDirEnv); dir != "" {
		return dir
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("bulwark-pgtest-%d", os.Geteuid()))
}

// acquireSharedCluster joins the shared cluster whose server speaks lang
// (empty: untranslated), starting it if no live one is recorded. Each
// language has a cluster of its own, recorded in a subdirectory of the
// state directory. The caller must call release.
func acquireSharedCluster(ctx context.Context, lang string) (*sharedCluster, error) {
	dir := stateDir()
	if lang != "" {
		// The name becomes part of a path.
		if err := pgcluster.CheckLanguage(lang); err != nil {
			return nil, err
		}
		if err := makeStateDir(dir); err != nil {
			return nil, err
		}
		dir = filepath.Join(dir, "language-"+lang)
	}
	return acquireSharedClusterIn(ctx, dir, lang)
}

// acquireSharedClusterIn is acquireSharedCluster with the files in dir.
func acquireSharedClusterIn(ctx context.Context, dir, lang string) (_ *sharedCluster, err error) {
	if err := makeStateDir(dir); err != nil {
		return nil, err
	}

	setup, err := lockFile(filepath.Join(dir, setupLockFile), syscall.LOCK_EX)
	if err != nil {
		return nil, err
	}
	defer setup.Close() // closing drops the lock

	users, err := openLockFile(filepath.Join(dir, usersLockFile))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			users.Close()
		}
	}()

	// Only holders of setup.lock take users.lock, so, holding it, the probe
	// cannot race and the later conversion to shared cannot block. Alone
	// means a recorded cluster is nobody's, and can be judged quickly.
	alone := true
	if err := flock(users, syscall.LOCK_EX|syscall.LOCK_NB); errors.Is(err, syscall.EWOULDBLOCK) {
		alone = false
	} else if err != nil {
		return nil, fmt.Errorf("lock %s: %w", users.Name(), err)
	}
	if err := flock(users, syscall.LOCK_SH); err != nil {
		return nil, fmt.Errorf("lock %s: %w", users.Name(), err)
	}

	st, err := readState(dir)
	switch {
	case err == nil:
		patience := 5 * time.Second
		if !alone {
			// Others depend on this server: be slow to call it dead.
			patience = 30 * time.Second
		}
		if answers(ctx, st, patience) {
			return &sharedCluster{dir: dir, url: st.URL, users: users}, nil
		}
		// Stale: the server died, or its machine rebooted. Clear what is
		// left of it, best effort, and start anew.
		if c, err := pgcluster.Attach(st.Dir); err == nil {
			_ = c.Stop()
		}
		if err := os.Remove(filepath.Join(dir, stateFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("remove stale %s: %w", stateFile, err)
		}
	case errors.Is(err, errNoState):
	default:
		return nil, err
	}

	c, err := pgcluster.Start(ctx, &pgcluster.StartOpts{Language: lang})
	if err != nil {
		return nil, err
	}
	st = clusterState{Dir: c.Dir(), PID: c.PID(), URL: c.URL("postgres")}
	if err := writeState(dir, st); err != nil {
		return nil, errors.Join(err, c.Stop())
	}
	return &sharedCluster{dir: dir, url: st.URL, users: users}, nil
}

// release gives up this process's share of the cluster and, if no other
// process holds one, stops the cluster and removes the state.
func (s *sharedCluster) release() error {
	defer s.users.Close()

	// Drop the share first, or the exclusive probe below could never
	// succeed.
	if err := flock(s.users, syscall.LOCK_UN); err != nil {
		return fmt.Errorf("unlock %s: %w", s.users.Name(), err)
	}

	setup, err := lockFile(filepath.Join(s.dir, setupLockFile), syscall.LOCK_EX)
	if err != nil {
		return err
	}
	defer setup.Close()

	if err := flock(s.users, syscall.LOCK_EX|syscall.LOCK_NB); errors.Is(err, syscall.EWOULDBLOCK) {
		return nil // someone else still uses the cluster
	} else if err != nil {
		return fmt.Errorf("lock %s: %w", s.users.Name(), err)
	}

	st, err := readState(s.dir)
	if errors.Is(err, errNoState) {
		return nil
	}
	if err != nil {
		return err
	}
	c, err := pgcluster.Attach(st.Dir)
	if err == nil {
		err = c.Stop()
	} else if errors.Is(err, fs.ErrNotExist) {
		err = nil // the directory is gone already
	}
	if err != nil {
		// Keep the state, so that the next run finds the cluster stale
		// and tries again.
		return err
	}
	if err := os.Remove(filepath.Join(s.dir, stateFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", stateFile, err)
	}
	return nil
}

// answers reports whether the server recorded in st accepts connections
// within patience and is the cluster in st.Dir, not a stranger that took
// over its port.
func answers(ctx context.Context, st clusterState, patience time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, patience)
	defer cancel()

	conn, err := pgx.Connect(ctx, st.URL)
	if err != nil {
		return false
	}
	defer conn.Close(context.Background())

	var dataDir string
	if err := conn.QueryRow(ctx, "SHOW data_directory").Scan(&dataDir); err != nil {
		return false
	}
	return dataDir == filepath.Join(st.Dir, "data")
}

// makeStateDir creates dir for this user only and refuses one that another
// user could have planted in the shared temporary directory.
func makeStateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	info, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("check state directory: %w", err)
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !info.IsDir() || (ok && int(st.Uid) != os.Geteuid()) {
		return fmt.Errorf("state directory %s is not a directory owned by uid %d", dir, os.Geteuid())
	}
	return nil
}

// errNoState reports that state.json records no cluster.
var errNoState = errors.New("no cluster recorded")

// readState reads state.json; the error wraps errNoState if it records no
// cluster.
func readState(dir string) (clusterState, error) {
	var st clusterState
	raw, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return st, errNoState
	}
	if err != nil {
		return st, fmt.Errorf("read %s: %w", stateFile, err)
	}
	if err := json.Unmarshal(raw, &st); err != nil || st.Dir == "" || st.URL == "" {
		// A foreign or damaged file counts as no cluster at all; the
		// next start overwrites it.
		return st, errNoState
	}
	return st, nil
}

// writeState replaces state.json atomically.
func writeState(dir string, st clusterState) error {
	raw, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", stateFile, err)
	}
	tmp := filepath.Join(dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, append(raw, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", stateFile, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, stateFile)); err != nil {
		return fmt.Errorf("write %s: %w", stateFile, err)
	}
	return nil
}

// openLockFile opens (creating) a lock file.
func openLockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	return f, nil
}

// lockFile opens the lock file at path and locks it as how says, waiting if
// need be. Closing the file drops the lock.
func lockFile(path string, how int) (*os.File, error) {
	f, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	if err := flock(f, how); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// flock is flock(2), retried when a signal interrupts the wait.
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
