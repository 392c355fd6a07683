package pgcluster

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// serverCredential returns the OS user to run initdb and the server as: nil
// (the current user) unless running as root, which both refuse.
func serverCredential(name string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	if name == "" {
		name = "postgres"
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("look up OS user %q to run PostgreSQL as, since initdb refuses root (create the user or run as non-root): %w", name, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parse uid of OS user %q: %w", name, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parse gid of OS user %q: %w", name, err)
	}
	if uid == 0 {
		return nil, fmt.Errorf("OS user %q is root, which initdb refuses", name)
	}
	// No supplementary groups: checkTraversable assumes only Gid.
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// checkTraversable reports an error unless cred may search every directory
// above dir, which the server needs to reach its data directory.
func checkTraversable(dir string, cred *syscall.Credential) error {
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		info, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("check cluster parent directory: %w", err)
		}
		mode := info.Mode().Perm()
		ok := mode&0o001 != 0
		if st, isStat := info.Sys().(*syscall.Stat_t); isStat {
			ok = ok || (st.Uid == cred.Uid && mode&0o100 != 0) || (st.Gid == cred.Gid && mode&0o010 != 0)
		}
		if !ok {
			return fmt.Errorf("directory %s (mode %v) is not traversable by OS user %d, who runs the server: use a parent directory with mode 0755, e.g. via TMPDIR or StartOpts.Dir", p, mode, cred.Uid)
		}
		if parent := filepath.Dir(p); parent == p {
			return nil
		}
	}
}
