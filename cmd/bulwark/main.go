// Command bulwark migrates, verifies and demonstrates a database whose
// guarded data changes only through transition functions.
//
// Usage:
//
//	bulwark migrate up|down|status|redo [--migrations DIR] [--with-river] [--with-examples] [--database-url URL] [--no-verify] [--timeout D]
//	bulwark verify [--migrations DIR] [--database-url URL] [--format text|json] [--migration-role ROLE]... [--timeout D]
//	bulwark demo [--database-url URL]
//	bulwark bench [--database-url URL] [--duration D] [--clients 1,8,32] [--articles N] [--seed N] [--json]
//	bulwark jobs [--database-url URL] [--retention-age D] [--max-workers N] (see bulwark jobs --help)
//	bulwark log [--database-url URL] [--entity ID] [--actor NAME|ID] [--machine M] [--transition T] [--correlation-id ID] [--since T] [--until T] [--after ID] [--limit N] [--format table|json] [--follow]
//	bulwark log --check [--database-url URL] [--machine M] [--entity ID] [--format text|json]
//	bulwark new [--out DIR] [--force] [--version N] DECLARATION.json
//
// Every command prints its synopsis and flags for -h or --help (exit 0).
//
// Exit status: 0 success, 1 a failure the command reports (drift, a
// migration that failed, a demo step or a bench check that broke), 2 the
// command could not run (bad flags, a migration file goose cannot parse,
// no connection, a deadline passed, permission denied, a read-only
// database). migrate and verify take a
// team's own migration directory with --migrations (or $BULWARK_MIGRATIONS),
// recorded in its own version table (--version-table, default goose's
// public.goose_db_version); demo and bench migrate bulwark with its
// examples (River and the article domain). Connecting gives up after
// db.DefaultConnectTimeout unless the URL sets connect_timeout; migrate
// and verify also give up after --timeout.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{name: "bench", summary: "measure the gate against the db function, naive check-then-act and a raw UPDATE", run: runBench},
		{name: "demo", summary: "walk the story against a throwaway PostgreSQL; exit 0 when every layer behaves", run: runDemo},
		{name: "jobs", summary: "run the background job worker (River) until SIGINT/SIGTERM", run: runJobs},
		{name: "log", summary: "read, follow or check the audit trail (bulwark.transition_log), read-only", run: runLog},
		{name: "migrate", summary: "apply or roll back bulwark's migration lines and your own (--migrations)", run: runMigrate},
		{name: "new", summary: "generate a domain's migration, queries and Go constants from a machine declaration", run: runNew},
		{name: "verify", summary: "check that the enforcement boundary still holds in a live database", run: runVerify},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || isHelp(args[0]) || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		if err == nil || errors.Is(err, flag.ErrHelp) {
			// -h or --help: the command's flag set printed its usage.
			return 0
		}
		code := exitCode(err)
		if reason, ok := cannotRun(err); ok && code == exitUsage {
			fmt.Fprintf(stderr, "bulwark %s: could not run (%s): %v\n", c.name, reason, err)
		} else {
			fmt.Fprintf(stderr, "bulwark %s: %v\n", c.name, err)
		}
		return code
	}
	fmt.Fprintf(stderr, "bulwark: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

// isHelp reports whether arg asks for help as Go's flag package reads it
// (-h, --h, -help, --help): where a command takes a word before its flags
// (migrate's subcommand, bulwark's command), the same spellings work.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "--h", "-help", "--help":
		return true
	}
	return false
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: bulwark <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Every command takes --database-url (default: $DATABASE_URL).")
}
