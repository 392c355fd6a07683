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
	// Duration is how long each run sends requests. Default 5s.
	Duration time.Duration
	// Durable requires a durable server: Run fails with [ErrNotDurable]
	// before it creates anything if the server has fsync or
	// full_page_writes off, and its own sessions set synchronous_commit
	// on. False takes the server as it is; the report shows its settings
	// either way.
	Durable bool
	// Progress receives a line per step. Nil: none.
	Progress io.Writer
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
			Seed:            o.Seed,
			StaleRate:       stale,
			Workload:        o.Workload,
		},
	}
	index := 0
	for _, clients := range o.Clients {
		for _, impl := range Implementations() {
			index++
			res, err := e.run(ctx, runSpec{
				articles: o.Articles,
				clients:  clients,
				duration: o.Duration,
				impl:     impl,
				index:    index,
				seed:     o.Seed,
				workload: o.Workload,
			})
			if err != nil {
				return nil, fmt.Errorf("run %s with %d clients: %w", impl, clients, err)
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
	duration time.Duration
	impl     Implementation
	index    int // 1 for the first run; keeps slugs and idempotency keys apart
	seed     uint64
	workload Workload
}

// run makes fresh articles, lets the clients loose on them for the
// duration, and checks what they were told against what was committed.
// With function statistics on, it also reads what the server's functions
// cost during the run.
func (e *environment) run(ctx context.Context, spec runSpec) (Result, error) {
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
		return Result{}, err
	}
	// Every run starts on fresh sessions, so that each pays the same for
	// planning, and the sessions that made the articles report their
	// function calls before the run's are counted.
	if err := e.endSessions(ctx, e.app); err != nil {
		return Result{}, err
	}
	var before map[uint32]functionCounts
	if e.trackFunctions {
		var err error
		if before, err = e.readFunctionCounts(ctx); err != nil {
			return Result{}, err
		}
	}
	if err := e.warm(ctx, spec.clients); err != nil {
		return Result{}, err
	}

	warmup := warmupFor(spec.duration)
	e.logf("bench: %-5s %s: running for %s after %s of warm-up", spec.impl, clientsLabel(spec.clients), spec.duration, warmup)
	results := make([]clientResult, spec.clients)
	errs := make([]error, spec.clients)
	start := time.Now().Add(warmup)
	deadline := start.Add(spec.duration)
	var wg sync.WaitGroup
	for c := range spec.clients {
		wg.Go(func() {
			rng := mathrand.New(mathrand.NewPCG(spec.seed, uint64(spec.index)<<32|uint64(c)))
			results[c], errs[c] = w.client(ctx, c, rng, start, deadline)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return Result{}, err
	}

	res := Result{Implementation: spec.impl, Clients: spec.clients, ElapsedSeconds: elapsed.Seconds()}
	var claims []Claim
	var all []time.Duration
	var firstOther error
	for _, r := range results {
		claims = append(claims, r.claims...)
		all = append(all, r.latencies...)
		res.ArticlesReplaced += r.replaced
		res.Errors = res.Errors.plus(r.errors)
		res.Ops += r.ops
		res.Replays = res.Replays.plus(r.replays)
		res.Requests += r.requests
		res.StaleRequests += r.stale
		res.Transitions += r.transitions
		if firstOther == nil {
			firstOther = r.firstOther
		}
	}
	res.Claims = len(claims)
	res.OpsPerSecond = float64(res.Ops) / elapsed.Seconds()
	res.TransitionsPerSecond = float64(res.Transitions) / elapsed.Seconds()
	res.P50Ms, res.P99Ms = latencies(all)

	if e.trackFunctions {
		if err := e.endSessions(ctx, e.app); err != nil {
			return Result{}, err
		}
		after, err := e.readFunctionCounts(ctx)
		if err != nil {
			return Result{}, err
		}
		res.Functions = functionStats(before, after, res.Requests)
		res.FunctionMicrosPerRequest = functionMicrosPerRequest(res.Functions)
	}

	v, err := e.check(ctx, impl, w.initials, claims)
	if err != nil {
		return Result{}, err
	}
	res.Violations = v
	e.logf("bench: %-5s %s: %d requests, %d transitions, %d violations",
		spec.impl, clientsLabel(spec.clients), res.Ops, res.Transitions, v.Total())
	if firstOther != nil {
		e.logf("bench: %-5s %s: %d errors named no layer, so the check may be wrong; the first: %v",
			spec.impl, clientsLabel(spec.clients), res.Errors.Other, firstOther)
	}
	if err := e.vacuum(ctx); err != nil {
		return Result{}, err
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
