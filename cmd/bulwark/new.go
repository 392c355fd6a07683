package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/bulwarkdb/bulwark/scaffold"
)

func runNew(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("new", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "the domain's directory (default: the declaration's directory)")
	force := fs.Bool("force", false, "overwrite files that exist")
	version := fs.Int("version", 1, "the goose version of the generated migration, in the domain's own migration line")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: bulwark new [--out DIR] [--force] [--version N] DECLARATION.json")
		fmt.Fprintln(stderr, "Generates a domain's migration, sqlc queries and configuration, and Go constants from a machine declaration.")
		fmt.Fprintln(stderr, "Exit 0: written; 1: the declaration has problems, or a file exists (without --force); 2: bad flags.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return &exitError{code: exitUsage, err: errors.New("name one declaration file")}
	}
	if *version < 1 || *version > 99999 {
		return &exitError{code: exitUsage, err: fmt.Errorf("--version %d: a migration version is 1 to 99999", *version)}
	}
	path := fs.Arg(0)
	f, err := os.Open(path)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	decl, err := scaffold.Parse(f)
	f.Close()
	if err != nil {
		return &exitError{code: exitFailure, err: fmt.Errorf("%s: %w", path, err)}
	}
	files, err := scaffold.Generate(decl, &scaffold.Opts{Source: filepath.Base(path), Version: *version})
	if err != nil {
		return &exitError{code: exitFailure, err: fmt.Errorf("%s: %w", path, err)}
	}
	dir := *out
	if dir == "" {
		dir = filepath.Dir(path)
	}
	written, err := scaffold.Write(dir, files, &scaffold.WriteOpts{Force: *force})
	for _, p := range written {
		fmt.Fprintf(stdout, "wrote %s\n", p)
	}
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	fmt.Fprintf(stdout, "next: extend the migration by hand, then run sqlc generate in %s\n", dir)
	return nil
}
