package pgcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// StartReplica makes a streaming replica of c: a second throwaway cluster
// copied from c with pg_basebackup (streaming the WAL it needs, and
// writing standby.signal and primary_conninfo), started on a port of its
// own, read-only, replaying c's WAL as it arrives. Its settings are c's,
// with its own socket directory. The caller must call [Cluster.Stop] on it
// (before or after c's). On failure nothing is left behind; the error
// carries pg_basebackup's or pg_ctl's output, and wraps [ErrNoBinaries]
// when pg_basebackup is missing.
func (c *Cluster) StartReplica(ctx context.Context) (*Cluster, error) {
	if c.port == 0 {
		return nil, errors.New("start replica: the primary is not running")
	}
	if err := checkBinary(c.binDir, "pg_basebackup"); err != nil {
		return nil, fmt.Errorf("%w (%w): install them, e.g. apt-get install postgresql", ErrNoBinaries, err)
	}
	dir, err := os.MkdirTemp(filepath.Dir(c.dir), "bulwark-pgcluster-")
	if err != nil {
		return nil, fmt.Errorf("create replica directory: %w", err)
	}
	r := &Cluster{binDir: c.binDir, cred: c.cred, dir: dir, language: c.language}
	if err := r.startReplica(ctx, c); err != nil {
		if stopErr := r.Stop(); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		return nil, err
	}
	return r, nil
}

// startReplica does StartReplica's work in r.dir.
func (r *Cluster) startReplica(ctx context.Context, primary *Cluster) error {
	if r.cred != nil {
		if err := os.Chown(r.dir, int(r.cred.Uid), int(r.cred.Gid)); err != nil {
			return fmt.Errorf("hand replica directory to OS user %d: %w", r.cred.Uid, err)
		}
	}
	raw, err := json.Marshal(marker{BinDir: r.binDir})
	if err != nil {
		return fmt.Errorf("encode %s: %w", markerFile, err)
	}
	if err := os.WriteFile(filepath.Join(r.dir, markerFile), raw, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", markerFile, err)
	}

	// initdb's pg_hba.conf trusts replication connections from 127.0.0.1,
	// and wal_level replica and max_wal_senders are the defaults.
	out, err := r.run(ctx, "pg_basebackup",
		"--host", "127.0.0.1",
		"--port", strconv.Itoa(primary.port),
		"--username", superuser,
		"--pgdata", r.dataDir(),
		"--wal-method", "stream",
		"--write-recovery-conf",
		"--checkpoint", "fast",
		"--no-sync",
	)
	if err != nil {
		return fmt.Errorf("run pg_basebackup: %w\n%s", err, out)
	}
	// The copy carries the primary's postgresql.conf; later lines win.
	if err := r.appendConfig([][2]string{{"hot_standby", "on"}, {"unix_socket_directories", r.dir}}); err != nil {
		return err
	}

	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		logStart := fileSize(r.LogPath())
		out, err := r.run(ctx, "pg_ctl", "start",
			"--pgdata", r.dataDir(),
			"--log", r.LogPath(),
			"--options", "-p "+strconv.Itoa(port),
			"--wait",
			"--timeout", "120",
		)
		if err == nil {
			break
		}
		tail := logTail(r.LogPath(), logStart)
		if attempt < startAttempts && ctx.Err() == nil && portTaken(port) {
			continue
		}
		return fmt.Errorf("start replica on port %d: %w\n%s\nserver log %s:\n%s", port, err, out, r.LogPath(), tail)
	}
	if r.pid, r.port, err = readPIDFile(r.dataDir()); err != nil {
		return err
	}
	return nil
}

// appendConfig appends settings to the cluster's postgresql.conf.
func (r *Cluster) appendConfig(settings [][2]string) error {
	var b strings.Builder
	b.WriteString("\n# Added by pgcluster for a streaming replica.\n")
	for _, s := range settings {
		fmt.Fprintf(&b, "%s = '%s'\n", s[0], strings.ReplaceAll(s[1], "'", "''"))
	}
	f, err := os.OpenFile(filepath.Join(r.dataDir(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open postgresql.conf: %w", err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return fmt.Errorf("write postgresql.conf: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write postgresql.conf: %w", err)
	}
	return nil
}

// checkBinary reports an error unless dir holds the executable name.
func checkBinary(dir, name string) error {
	path := filepath.Join(dir, name)
	info, err := os.Stat(path)
	if err != nil || info.IsDir() || info.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s missing", path)
	}
	if _, err := exec.LookPath(path); err != nil {
		return fmt.Errorf("%s not executable: %w", path, err)
	}
	return nil
}
