package scaffold

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteOpts are options for [Write]. A nil *WriteOpts means defaults.
type WriteOpts struct {
	// Force overwrites files that exist.
	Force bool
}

// Write writes files under dir, creating directories as needed, and
// returns the paths it wrote. Unless opts.Force, it first checks every
// path and returns an *ExistsError naming those that exist, having written
// nothing.
func Write(dir string, files []File, opts *WriteOpts) ([]string, error) {
	if opts == nil {
		opts = &WriteOpts{}
	}
	paths := make([]string, len(files))
	var exist []string
	for i, f := range files {
		paths[i] = filepath.Join(dir, filepath.FromSlash(f.Path))
		_, err := os.Lstat(paths[i])
		switch {
		case err == nil:
			exist = append(exist, paths[i])
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("check %s: %w", paths[i], err)
		}
	}
	if len(exist) > 0 && !opts.Force {
		return nil, &ExistsError{Paths: exist}
	}
	for i, f := range files {
		if err := os.MkdirAll(filepath.Dir(paths[i]), 0o755); err != nil {
			return paths[:i], fmt.Errorf("create directory for %s: %w", paths[i], err)
		}
		if err := os.WriteFile(paths[i], f.Data, 0o644); err != nil {
			return paths[:i], fmt.Errorf("write %s: %w", paths[i], err)
		}
	}
	return paths, nil
}
