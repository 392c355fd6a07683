package pgcluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// serverBinaries are the programs a cluster needs; checkBinDir requires all of
// them.
var serverBinaries = []string{"initdb", "pg_ctl", "postgres"}

// FindBinDir returns the directory holding the PostgreSQL server binaries. It
// tries `pg_config --bindir`, then the newest /usr/lib/postgresql/*/bin (where
// Debian and Ubuntu install the server, often without putting it on the
// PATH), then the directory of initdb on the PATH. A candidate counts only if
// it holds initdb, pg_ctl and postgres. On failure the error wraps
// [ErrNoBinaries] and says what was searched.
func FindBinDir() (string, error) {
	var tried []string

	// pg_config may come from a client-only package (libpq-dev), so its
	// answer is checked like any other candidate.
	if dir, err := pgConfigBinDir(); err != nil {
		tried = append(tried, err.Error())
	} else {
		if err := checkBinDir(dir); err == nil {
			return dir, nil
		} else {
			tried = append(tried, err.Error())
		}
	}

	for _, dir := range debianBinDirs() {
		if err := checkBinDir(dir); err == nil {
			return dir, nil
		} else {
			tried = append(tried, err.Error())
		}
	}
	if len(debianBinDirs()) == 0 {
		tried = append(tried, "no /usr/lib/postgresql/*/bin")
	}

	if path, err := exec.LookPath("initdb"); err != nil {
		tried = append(tried, "initdb not on PATH")
	} else {
		dir := filepath.Dir(path)
		if err := checkBinDir(dir); err == nil {
			return dir, nil
		} else {
			tried = append(tried, err.Error())
		}
	}

	return "", fmt.Errorf("%w (%s): install them, e.g. apt-get install postgresql",
		ErrNoBinaries, strings.Join(tried, "; "))
}

// checkBinDir reports which server binary, if any, dir lacks.
func checkBinDir(dir string) error {
	for _, name := range serverBinaries {
		path := filepath.Join(dir, name)
		info, err := os.Stat(path)
		if err != nil || info.IsDir() || info.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("%s missing", path)
		}
	}
	return nil
}

// debianBinDirs returns /usr/lib/postgresql/*/bin, newest major version
// first.
func debianBinDirs() []string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) float64 {
		v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		if err != nil {
			return -1
		}
		return v
	}
	slices.SortStableFunc(dirs, func(a, b string) int {
		switch va, vb := version(a), version(b); {
		case va > vb:
			return -1
		case va < vb:
			return 1
		default:
			return 0
		}
	})
	return dirs
}

// pgConfigBinDir asks pg_config for its bindir.
func pgConfigBinDir() (string, error) {
	path, err := exec.LookPath("pg_config")
	if err != nil {
		return "", fmt.Errorf("pg_config not on PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--bindir").Output()
	if err != nil {
		return "", fmt.Errorf("run pg_config --bindir: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}
