package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/bulwarkdb/bulwark/cmd/bulwark/internal/demo"
)

// runDemo walks the story of the kit and exits non-zero when a step did
// not behave as promised, so it doubles as a smoke test.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	databaseURL := fs.String("database-url", os.Getenv("DATABASE_URL"),
		"a server to use (a fresh database is created there and dropped); default $DATABASE_URL, else a throwaway PostgreSQL")
	keep := fs.Bool("keep", false, "keep the demo's database on the --database-url server, to read its history with bulwark log")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: bulwark demo [--database-url URL [--keep]]")
		fmt.Fprintln(stderr, "Walks the article story through every layer (permission, policy, conflict, invariant) in a fresh database;")
		fmt.Fprintln(stderr, "exit 0 when every layer behaved, 1 when a step did not.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	err := demo.Run(ctx, demo.Opts{
		Color:       isTerminal(stdout),
		DatabaseURL: *databaseURL,
		Keep:        *keep,
		Stderr:      stderr,
		Stdout:      stdout,
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, demo.ErrStepFailed):
		return &exitError{code: exitFailure, err: err}
	}
	return &exitError{code: exitUsage, err: err}
}

// isTerminal reports whether w is a character device (a terminal), so
// colours are only written where someone reads them.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
