package bench

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
)

// RunOpts are options for [Run]. A nil *RunOpts means defaults.
type RunOpts struct {
	// Articles is, for [WorkloadHot], the size of the hot set the
	// clients contend on; for [WorkloadLow], how many articles each
	// client has of its own. Default 16.
	Articles int
	// Clients lists the client counts; every implementation runs once at
	// each. Default 1, 8 and 32.
	Clients []int
	// Duration is how long each round of each run sends requests.
	// Default 5s.
	Duration time.Duration
	// Durable requires a durable server: Run fails with [ErrNotDurable]
	// before it creates anything if the server has fsync or
	// full_page_writes off, and its own sessions set synchronous_commit
	// on. False takes the server as it is; the report shows its settings
	// either way.
	Durable bool
	// Implementations are the implementations each client count runs, in
	// this order. Default [Implementations]: the gate on the primary, the
	// db function, naive and raw. [ImplementationGateReplica] needs
	// ReplicaURL.
	Implementations []Implementation
	// Progress receives a line per step. Nil: none.
	Progress io.Writer
	// ReplicaURL connects, as the role of the server URL [Run] is given,
	// to a streaming replica of that server: the gate-replica
	// implementation reads its snapshots there. Empty: no replica.
	ReplicaURL string
	// Rounds is how many times each implementation runs for Duration at
	// each client count. The implementations take turns, round by round,
	// on the same articles, and each [Result] adds up its rounds: a
	// change in the machine's load then falls on all of them alike.
	// Default 1.
	Rounds int
	// Seed seeds every client's random choices. Zero picks one, reported
	// in [Settings].Seed. The same seed gives each client the same
	// choices, though not the same interleaving.
	Seed uint64
	// Workload is what the clients do. Default [WorkloadHot].
	Workload Workload
}

// Run creates a database of its own on the server at serverURL, runs the
// workload against every implementation at every client count, checks
// each run's history, drops the database and returns the report.
// serverURL connects as a role that may create databases and roles, such
// as the migration role; Run touches nothing else on the server. It fails
// with [ErrInvalidOptions] before connecting if opts cannot be used, and
// with ctx's error if ctx is done. Violations are results, not errors:
// see [Report.GuardedViolations].
func Run(ctx context.Context, serverURL string, opts *RunOpts) (_ *Report, err error) {
	o, err := withDefaults(opts)
	if err != nil {
		return nil, err
	}
	e, err := newEnvironment(ctx, serverURL, o)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, e.close()) }()

	stale, replay := o.Workload.rates()
	report := &Report{
		SchemaVersion: SchemaVersion,
		Database:      e.database,
		Host: Host{
			CPUs:       runtime.NumCPU(),
			GoMaxProcs: runtime.GOMAXPROCS(0),
			GoVersion:  runtime.Version(),
			OS:         runtime.GOOS + "/" + runtime.GOARCH,
		},
		Server: e.server,
		Settings: Settings{
			Articles:        o.Articles,
			Clients:         o.Clients,
			DurationSeconds: o.Duration.Seconds(),
			Durable:         o.Durable,
			WarmupSeconds:   warmupFor(o.Duration).Seconds(),
			ReplayRate:      replay,
			Rounds:          o.Rounds,
			Seed:            o.Seed,
			StaleRate:       stale,
			Workload:        o.Workload,
		},
	}
	index, slice := 0, 0
	for _, clients := range o.Clients {
		runs := make([]*run, 0, len(o.Implementations))
		for _, impl := range o.Implementations {
			index++
			r, err := e.newRun(ctx, runSpec{
				articles: o.Articles,
				clients:  clients,
				duration: o.Duration,
				impl:     impl,
				index:    index,
				workload: o.Workload,
			})
			if err != nil {
				return nil, fmt.Errorf("run %s with %d clients: %w", impl, clients, err)
			}
			runs = append(runs, r)
		}
		// The implementations take turns, round by round, so that a
		// change in the machine's load falls on all of them alike.
		for n := range o.Rounds {
			label := ""
			if o.Rounds > 1 {
				label = fmt.Sprintf(", round %d of %d", n+1, o.Rounds)
			}
			for _, r := range runs {
				slice++
				if err := e.round(ctx, r, slice, o.Seed, label); err != nil {
					return nil, fmt.Errorf("run %s with %d clients: %w", r.spec.impl, clients, err)
				}
			}
		}
		for _, r := range runs {
			res, err := e.finish(ctx, r)
			if err != nil {
				return nil, fmt.Errorf("run %s with %d clients: %w", r.spec.impl, clients, err)
			}
			report.Runs = append(report.Runs, res)
		}
	}
	report.Ratios = ratios(report.Runs)
	return report, nil
}

// withDefaults returns a copy of opts with defaults filled in, or an
// error wrapping ErrInvalidOptions.
func withDefaults(opts *RunOpts) (RunOpts, error) {
	var o RunOpts
	if opts != nil {
		o = *opts
	}
	if o.Articles == 0 {
		o.Articles = 16
	}
	if len(o.Clients) == 0 {
		o.Clients = []int{1, 8, 32}
	}
	o.Clients = slices.Clone(o.Clients)
	if o.Duration == 0 {
		o.Duration = 5 * time.Second
	}
	if o.Seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])                        // never fails
		o.Seed = binary.LittleEndian.Uint64(b[:]) | 1 // never zero, which means "pick one"
	}
	if o.Workload == "" {
		o.Workload = WorkloadHot
	}
	if o.Rounds == 0 {
		o.Rounds = 1
	}
	if len(o.Implementations) == 0 {
		o.Implementations = Implementations()
	}
	o.Implementations = slices.Clone(o.Implementations)
	for i, impl := range o.Implementations {
		if !slices.Contains(AllImplementations(), impl) {
			return o, fmt.Errorf("%w: implementation must be one of %v, not %q", ErrInvalidOptions, AllImplementations(), impl)
		}
		if slices.Contains(o.Implementations[:i], impl) {
			return o, fmt.Errorf("%w: implementation %q named twice", ErrInvalidOptions, impl)
		}
		if impl == ImplementationGateReplica && o.ReplicaURL == "" {
			return o, fmt.Errorf("%w: %s needs a replica URL", ErrInvalidOptions, impl)
		}
	}
	if o.Rounds < 1 || o.Rounds > 100 {
		return o, fmt.Errorf("%w: rounds must be 1 to 100, not %d", ErrInvalidOptions, o.Rounds)
	}
	if o.Articles < 1 || o.Articles > 10000 {
		return o, fmt.Errorf("%w: articles must be 1 to 10000, not %d", ErrInvalidOptions, o.Articles)
	}
	for _, n := range o.Clients {
		if n < 1 || n > 1000 {
			return o, fmt.Errorf("%w: a client count must be 1 to 1000, not %d", ErrInvalidOptions, n)
		}
	}
	if o.Duration < 0 {
		return o, fmt.Errorf("%w: duration must be positive, not %s", ErrInvalidOptions, o.Duration)
	}
	if !slices.Contains(Workloads(), o.Workload) {
		return o, fmt.Errorf("%w: workload must be one of %v, not %q", ErrInvalidOptions, Workloads(), o.Workload)
	}
	if o.Workload == WorkloadLow && o.Articles*slices.Max(o.Clients) > 100000 {
		return o, fmt.Errorf("%w: %d articles for each of %d clients is more than 100000", ErrInvalidOptions, o.Articles, slices.Max(o.Clients))
	}
	return o, nil
}

// runSpec says what one run does.
type runSpec struct {
	articles int
	clients  int
	duration time.Duration // of each round
	impl     Implementation
	index    int // 1 for the first run; keeps slugs apart
	workload Workload
}

// run is one implementation at one client count: its articles, and what
// its rounds gathered.
type run struct {
	impl implementation
	spec runSpec
	w    *workload

	claims     []Claim
	elapsed    time.Duration
	firstOther error
	// functions sums each round's function statistics, by function OID.
	functions map[uint32]functionCounts
	latencies []time.Duration
	res       Result
}

// newRun makes the run's fresh articles.
func (e *environment) newRun(ctx context.Context, spec runSpec) (*run, error) {
	impl := e.implementation(spec.impl)
	_, replayRate := spec.workload.rates()
	w := &workload{
		editors:    e.editors,
		impl:       impl,
		initials:   make(map[uuid.UUID]Snapshot),
		publishers: e.publishers,
		replayRate: replayRate,
		run:        spec.index,
	}
	if err := w.fill(ctx, spec, e.authors); err != nil {
		return nil, err
	}
	return &run{
		impl:      impl,
		spec:      spec,
		w:         w,
		functions: make(map[uint32]functionCounts),
		res:       Result{Implementation: spec.impl, Clients: spec.clients},
	}, nil
}

// round lets the run's clients loose on its articles for the duration,
// after a warm-up, and adds what they saw to the run. With function
// statistics on, it also adds what the server's functions cost in the
// round. slice numbers the round among all of Run's rounds, from 1: it
// keeps idempotency keys and random streams apart.
func (e *environment) round(ctx context.Context, r *run, slice int, seed uint64, label string) error {
	// Every round starts from a vacuumed database and on fresh sessions,
	// so that each pays the same for dead rows and for planning, and the
	// sessions that made articles report their function calls before the
	// round's are counted.
	if err := e.vacuum(ctx); err != nil {
		return err
	}
	if err := e.endSessions(ctx, e.app); err != nil {
		return err
	}
	var before map[uint32]functionCounts
	if e.trackFunctions {
		var err error
		if before, err = e.readFunctionCounts(ctx); err != nil {
			return err
		}
	}
	if err := e.warm(ctx, r.spec.clients); err != nil {
		return err
	}

	warmup := warmupFor(r.spec.duration)
	e.logf("bench: %-12s %s%s: running for %s after %s of warm-up", r.spec.impl, clientsLabel(r.spec.clients), label, r.spec.duration, warmup)
	results := make([]clientResult, r.spec.clients)
	errs := make([]error, r.spec.clients)
	start := time.Now().Add(warmup)
	deadline := start.Add(r.spec.duration)
	var wg sync.WaitGroup
	for c := range r.spec.clients {
		wg.Go(func() {
			rng := mathrand.New(mathrand.NewPCG(seed, uint64(slice)<<32|uint64(c)))
			results[c], errs[c] = r.w.client(ctx, slice, c, rng, start, deadline)
		})
	}
	wg.Wait()
	r.elapsed += time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return err
	}

	res := &r.res
	for _, cr := range results {
		r.claims = append(r.claims, cr.claims...)
		r.latencies = append(r.latencies, cr.latencies...)
		res.ArticlesReplaced += cr.replaced
		res.Errors = res.Errors.plus(cr.errors)
		res.Ops += cr.ops
		res.Replays = res.Replays.plus(cr.replays)
		res.Requests += cr.requests
		res.StaleRequests += cr.stale
		res.Transitions += cr.transitions
		if r.firstOther == nil {
			r.firstOther = cr.firstOther
		}
	}

	if e.trackFunctions {
		if err := e.endSessions(ctx, e.app); err != nil {
			return err
		}
		after, err := e.readFunctionCounts(ctx)
		if err != nil {
			return err
		}
		addFunctionCounts(r.functions, before, after)
	}
	return nil
}

// finish checks what the run's clients were told against what was
// committed, and returns the run's result.
func (e *environment) finish(ctx context.Context, r *run) (Result, error) {
	res := r.res
	res.ElapsedSeconds = r.elapsed.Seconds()
	res.Claims = len(r.claims)
	res.OpsPerSecond = float64(res.Ops) / r.elapsed.Seconds()
	res.TransitionsPerSecond = float64(res.Transitions) / r.elapsed.Seconds()
	res.P50Ms, res.P99Ms = latencies(r.latencies)
	if e.trackFunctions {
		res.Functions = functionStats(nil, r.functions, res.Requests)
		res.FunctionMicrosPerRequest = functionMicrosPerRequest(res.Functions)
	}

	v, err := e.check(ctx, r.impl, r.w.initials, r.claims)
	if err != nil {
		return Result{}, err
	}
	res.Violations = v
	e.logf("bench: %-12s %s: %d requests, %d transitions, %d violations",
		r.spec.impl, clientsLabel(r.spec.clients), res.Ops, res.Transitions, v.Total())
	if r.firstOther != nil {
		e.logf("bench: %-12s %s: %d errors named no layer, so the check may be wrong; the first: %v",
			r.spec.impl, clientsLabel(r.spec.clients), res.Errors.Other, r.firstOther)
	}
	return res, nil
}

// warmupFor returns how long a run of d warms up before it measures: a
// fifth of d, at most a second. The first requests on a connection plan
// the functions' statements, which would show in the p99.
func warmupFor(d time.Duration) time.Duration {
	return min(d/5, time.Second)
}

// check places the claims in commit order, reads every article's final
// row, and replays each article's history against the machine.
func (e *environment) check(ctx context.Context, impl implementation, initials map[uuid.UUID]Snapshot, claims []Claim) (Violations, error) {
	if err := impl.order(ctx, claims); err != nil {
		return Violations{}, err
	}
	histories := make(map[uuid.UUID]*History, len(initials))
	ids := make([]uuid.UUID, 0, len(initials))
	for id, s := range initials {
		histories[id] = &History{Initial: s}
		ids = append(ids, id)
	}
	for _, c := range claims {
		h, ok := histories[c.Article]
		if !ok {
			return Violations{}, fmt.Errorf("check: a claim on article %s, which the run never made", c.Article)
		}
		h.Claims = append(h.Claims, c)
	}
	finals, err := impl.finals(ctx, ids)
	if err != nil {
		return Violations{}, err
	}
	var v Violations
	for id, h := range histories {
		final, ok := finals[id]
		if !ok {
			return Violations{}, fmt.Errorf("check: article %s is gone", id)
		}
		h.Final = final
		v = v.Add(e.machine.Check(*h))
	}
	return v, nil
}
