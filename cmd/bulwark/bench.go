package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bulwarkdb/bulwark/cmd/bulwark/internal/bench"
	"github.com/bulwarkdb/bulwark/internal/pgcluster"
)

// runBench runs a workload (the contended hot set, or each client on rows
// of its own) against the gate, the db function, naive check-then-act and
// a raw UPDATE, and prints what each achieved and broke, and what the
// server's functions cost. It fails, after printing, if the gate or the
// db function broke the state machine: that is a defect in bulwark.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	databaseURL := fs.String("database-url", os.Getenv("DATABASE_URL"),
		"PostgreSQL URL of a role that may create databases and roles; the bench creates its own database there and drops it "+
			"(default $DATABASE_URL; if empty, a throwaway cluster)")
	articles := fs.Int("articles", 16, "articles: the hot set the clients contend on (--workload hot), or each client's own (--workload low)")
	clients := fs.String("clients", "1,8,32", "comma-separated client counts; every implementation runs at each")
	duration := fs.Duration("duration", 5*time.Second, "how long each round of each run sends requests")
	rounds := fs.Int("rounds", 1, "how many rounds each implementation runs at each client count, taking turns with the others; its result adds them up")
	durable := fs.Bool("durable", false,
		"require a durable server: start the throwaway PostgreSQL with fsync, synchronous_commit and full_page_writes on, "+
			"or refuse a --database-url server with fsync or full_page_writes off (the bench's sessions set synchronous_commit on)")
	workload := fs.String("workload", string(bench.WorkloadHot),
		"hot: every client on one hot set, anywhere in the workflow, with stale pages and retries; "+
			"low: each client on articles, an author and a reviewer of its own, one keyed submit or request_changes per request")
	sources := fs.String("sources", "primary",
		"comma-separated snapshot sources of the gate to run side by side: primary, held (the row the client was given), "+
			"cache (the gate's per-process cache), replica (a streaming replica); all: every one")
	replicaURL := fs.String("replica-url", "",
		"PostgreSQL URL of a streaming replica of --database-url's server, as the same role, for --sources replica "+
			"(with a throwaway cluster the bench starts a replica of it)")
	asJSON := fs.Bool("json", false, "print the report as JSON instead of a table")
	seed := fs.Uint64("seed", 0, "seed of the clients' random choices (0: pick one and report it)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: bulwark bench [--database-url URL] [--workload hot|low] [--durable] [--duration D] [--rounds N] [--clients N,N,...] [--articles N] [--sources primary,held,cache,replica|all] [--replica-url URL] [--json] [--seed N]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return &exitError{code: exitUsage, err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	counts, err := parseClients(*clients)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if *duration <= 0 {
		return &exitError{code: exitUsage, err: errors.New("--duration must be positive")}
	}
	if *articles < 1 {
		return &exitError{code: exitUsage, err: errors.New("--articles must be 1 or more")}
	}
	if *rounds < 1 {
		return &exitError{code: exitUsage, err: errors.New("--rounds must be 1 or more")}
	}

	impls, wantReplica, err := parseSources(*sources)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if *replicaURL != "" && !wantReplica {
		return &exitError{code: exitUsage, err: errors.New("--replica-url is for --sources replica (or all)")}
	}
	if !slices.Contains(bench.Workloads(), bench.Workload(*workload)) {
		return &exitError{code: exitUsage, err: fmt.Errorf("--workload: %q is not one of %v", *workload, bench.Workloads())}
	}

	url := *databaseURL
	if url == "" {
		startOpts := &pgcluster.StartOpts{}
		if *durable {
			fmt.Fprintln(stderr, "bench: no --database-url or DATABASE_URL: starting a throwaway PostgreSQL with fsync, synchronous_commit and full_page_writes on")
			startOpts.Settings = map[string]string{"fsync": "on", "full_page_writes": "on", "synchronous_commit": "on"}
		} else {
			fmt.Fprintln(stderr, "bench: no --database-url or DATABASE_URL: starting a throwaway PostgreSQL")
		}
		cluster, err := pgcluster.Start(ctx, startOpts)
		if err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("start a throwaway PostgreSQL: %w "+
				"(install the server binaries, e.g. apt-get install postgresql, or pass --database-url)", err)}
		}
		defer func() {
			fmt.Fprintln(stderr, "bench: removing the throwaway PostgreSQL")
			if stopErr := cluster.Stop(); stopErr != nil {
				err = errors.Join(err, fmt.Errorf("remove the throwaway PostgreSQL: %w", stopErr))
			}
		}()
		url = cluster.URL("postgres")
		if wantReplica && *replicaURL == "" {
			fmt.Fprintln(stderr, "bench: starting a streaming replica of the throwaway PostgreSQL (pg_basebackup)")
			replica, err := cluster.StartReplica(ctx)
			if err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("start a streaming replica: %w", err)}
			}
			defer func() {
				if stopErr := replica.Stop(); stopErr != nil {
					err = errors.Join(err, fmt.Errorf("remove the replica: %w", stopErr))
				}
			}()
			*replicaURL = replica.URL("postgres")
		}
	} else if err := checkServer(ctx, url); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if wantReplica && *replicaURL == "" {
		return &exitError{code: exitUsage, err: errors.New("--sources replica needs --replica-url with --database-url")}
	}
	if *replicaURL != "" {
		if err := checkServer(ctx, *replicaURL); err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("replica: %w", err)}
		}
	}

	report, err := bench.Run(ctx, url, &bench.RunOpts{
		Articles:        *articles,
		Clients:         counts,
		Duration:        *duration,
		Durable:         *durable,
		Implementations: impls,
		Progress:        stderr,
		ReplicaURL:      *replicaURL,
		Rounds:          *rounds,
		Seed:            *seed,
		Workload:        bench.Workload(*workload),
	})
	if errors.Is(err, bench.ErrInvalidOptions) || errors.Is(err, bench.ErrNotDurable) {
		return &exitError{code: exitUsage, err: err}
	}
	if err != nil {
		return err
	}
	if *asJSON {
		err = report.WriteJSON(stdout)
	} else {
		err = report.WriteTable(stdout)
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if n := report.GuardedViolations(); n > 0 {
		return fmt.Errorf("the gate and db implementations produced %d violations of the article machine: a defect in bulwark", n)
	}
	return nil
}

// checkServer connects to url once, so that a server the bench cannot
// reach is a usage error, reported before anything runs.
func checkServer(ctx context.Context, url string) error {
	cfg, err := pgxConfig(url)
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	return conn.Close(ctx)
}

// parseClients parses a comma-separated list of client counts.
func parseClients(s string) ([]int, error) {
	var counts []int
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--clients: %q is not a client count (1 or more)", part)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

// parseSources turns --sources into the implementations to run: the gate
// with each source named, then the db function, naive and raw. It reports
// whether a replica is needed.
func parseSources(s string) ([]bench.Implementation, bool, error) {
	names := map[string]bench.Implementation{
		"primary": bench.ImplementationGate,
		"held":    bench.ImplementationGateHeld,
		"cache":   bench.ImplementationGateCache,
		"replica": bench.ImplementationGateReplica,
	}
	var gates []bench.Implementation
	if strings.TrimSpace(s) == "all" {
		s = "primary,held,cache,replica"
	}
	for _, part := range strings.Split(s, ",") {
		impl, ok := names[strings.TrimSpace(part)]
		if !ok {
			return nil, false, fmt.Errorf("--sources: %q is not one of primary, held, cache, replica, all", part)
		}
		if !slices.Contains(gates, impl) {
			gates = append(gates, impl)
		}
	}
	var impls []bench.Implementation
	for _, impl := range bench.AllImplementations() {
		if slices.Contains(gates, impl) || !slices.Contains(slices.Collect(maps.Values(names)), impl) {
			impls = append(impls, impl)
		}
	}
	return impls, slices.Contains(gates, bench.ImplementationGateReplica), nil
}
