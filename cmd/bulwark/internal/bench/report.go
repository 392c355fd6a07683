package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// SchemaVersion is the version of the report's JSON form. It changes only
// when a field changes meaning or goes away; new fields may appear without
// it changing.
const SchemaVersion = 1

// Report is the outcome of [Run]: one [Result] per implementation and
// client count, and the gate's throughput relative to the others. Its
// JSON form is stable (see [SchemaVersion]).
type Report struct {
	SchemaVersion int `json:"schema_version"`
	// Database is the database the bench created on the server and
	// dropped before Run returned.
	Database string   `json:"database"`
	Host     Host     `json:"host"`
	Ratios   []Ratio  `json:"ratios"`
	Runs     []Result `json:"runs"`
	Server   Server   `json:"server"`
	Settings Settings `json:"settings"`
}

// Host describes the machine the clients ran on.
type Host struct {
	CPUs       int    `json:"cpus"`
	GoMaxProcs int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
}

// Server describes the PostgreSQL server, with the settings that move
// write throughput most, as the bench's sessions saw them.
type Server struct {
	Fsync             string `json:"fsync"`
	FullPageWrites    string `json:"full_page_writes"`
	SynchronousCommit string `json:"synchronous_commit"`
	// TrackFunctions is the bench database's track_functions: "all" when
	// the bench could set it (as a superuser), else the server's. Runs
	// report function statistics unless it is "none".
	TrackFunctions string `json:"track_functions"`
	Version        string `json:"version"`
}

// Settings are the run's parameters.
type Settings struct {
	Articles        int     `json:"articles"`
	Clients         []int   `json:"clients"`
	DurationSeconds float64 `json:"duration_seconds"`
	// Durable says the run required a durable server (RunOpts.Durable).
	Durable    bool    `json:"durable"`
	ReplayRate float64 `json:"replay_rate"`
	// Rounds is how many times each implementation ran at each client
	// count, taking turns; a [Result] adds up its rounds.
	Rounds    int     `json:"rounds"`
	Seed      uint64  `json:"seed"`
	StaleRate float64 `json:"stale_rate"`
	// WarmupSeconds is how long each run sent requests before it started
	// measuring. The check covers the warm-up's requests too.
	WarmupSeconds float64 `json:"warmup_seconds"`
	// Workload is what the clients did; Articles is per client for
	// [WorkloadLow].
	Workload Workload `json:"workload"`
}

// Result is one run: one implementation at one client count.
type Result struct {
	Implementation Implementation `json:"implementation"`
	Clients        int            `json:"clients"`

	// ArticlesReplaced counts archived articles whose slot got a fresh
	// draft in the measured window.
	ArticlesReplaced int `json:"articles_replaced"`
	// Claims counts the successes the check replayed.
	Claims         int     `json:"claims"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	Errors         Errors  `json:"errors"`
	// FunctionMicrosPerRequest is the time the server spent in functions
	// per request (the sum of Functions' self time over Requests), in
	// microseconds. Zero without function statistics.
	FunctionMicrosPerRequest float64 `json:"function_us_per_request"`
	// Functions is what each server function cost in the run, most total
	// self time first; empty if the run called none or the server does
	// not track functions (see [Server].TrackFunctions).
	Functions []FunctionStat `json:"functions"`
	// Ops counts requests answered, successes and failures alike.
	Ops          int     `json:"ops"`
	OpsPerSecond float64 `json:"ops_per_second"`
	// P50Ms and P99Ms are latency percentiles of every request, in
	// milliseconds.
	P50Ms   float64 `json:"p50_ms"`
	P99Ms   float64 `json:"p99_ms"`
	Replays Replays `json:"replays"`
	// Requests counts every request answered, the warm-up's included:
	// the requests Functions covers.
	Requests      int `json:"requests"`
	StaleRequests int `json:"stale_requests"`
	// Transitions counts successful requests that changed the article: a
	// retry answered with the original result is not one.
	Transitions          int        `json:"transitions"`
	TransitionsPerSecond float64    `json:"transitions_per_second"`
	Violations           Violations `json:"violations"`
}

// Ratio is the throughput of the guarded implementations (the gate and the
// db function) divided by each other implementation's, at one client
// count. Ratios hold better than absolute numbers on a noisy machine. A
// ratio whose divisor is zero is zero.
type Ratio struct {
	Clients int `json:"clients"`
	// Gates holds the same ratios for every gate implementation that ran
	// (each snapshot source); Ops and Transitions hold the primary's.
	Gates       []GateRatio `json:"gates"`
	Ops         RatioSet    `json:"ops_per_second"`
	Transitions RatioSet    `json:"transitions_per_second"`
}

// GateRatio is one gate implementation's throughput over the db, naive
// and raw implementations', in transitions and in ops per second.
type GateRatio struct {
	Implementation Implementation `json:"implementation"`
	OpsDB          float64        `json:"ops_db"`
	OpsNaive       float64        `json:"ops_naive"`
	OpsRaw         float64        `json:"ops_raw"`
	DB             float64        `json:"transitions_db"`
	Naive          float64        `json:"transitions_naive"`
	Raw            float64        `json:"transitions_raw"`
}

// RatioSet holds the gate's throughput over the db, naive and raw
// implementations', and the db function's over naive and raw.
type RatioSet struct {
	DBNaive   float64 `json:"db_naive"`
	DBRaw     float64 `json:"db_raw"`
	GateDB    float64 `json:"gate_db"`
	GateNaive float64 `json:"gate_naive"`
	GateRaw   float64 `json:"gate_raw"`
}

// MarshalJSON adds the total to the counts by kind.
func (v Violations) MarshalJSON() ([]byte, error) {
	type counts Violations
	return json.Marshal(struct {
		counts
		Total int `json:"total"`
	}{counts(v), v.Total()})
}

// GuardedViolations returns the violations found in the runs of the gate
// and db implementations. Anything but zero is a defect in bulwark.
func (r *Report) GuardedViolations() int {
	n := 0
	for _, res := range r.Runs {
		if res.Implementation.Guarded() {
			n += res.Violations.Total()
		}
	}
	return n
}

// ratios computes the ratios for every client count that ran the gate.
func ratios(runs []Result) []Ratio {
	by := make(map[int]map[Implementation]Result)
	var order []int
	for _, r := range runs {
		if by[r.Clients] == nil {
			by[r.Clients] = make(map[Implementation]Result)
			order = append(order, r.Clients)
		}
		by[r.Clients][r.Implementation] = r
	}
	div := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	var out []Ratio
	for _, n := range order {
		m := by[n]
		var gates []GateRatio
		for _, impl := range AllImplementations() {
			g, ok := m[impl]
			if !ok || !impl.gate() {
				continue
			}
			gates = append(gates, GateRatio{
				Implementation: impl,
				OpsDB:          div(g.OpsPerSecond, m[ImplementationDB].OpsPerSecond),
				OpsNaive:       div(g.OpsPerSecond, m[ImplementationNaive].OpsPerSecond),
				OpsRaw:         div(g.OpsPerSecond, m[ImplementationRaw].OpsPerSecond),
				DB:             div(g.TransitionsPerSecond, m[ImplementationDB].TransitionsPerSecond),
				Naive:          div(g.TransitionsPerSecond, m[ImplementationNaive].TransitionsPerSecond),
				Raw:            div(g.TransitionsPerSecond, m[ImplementationRaw].TransitionsPerSecond),
			})
		}
		gate, ok := m[ImplementationGate]
		if !ok {
			continue
		}
		out = append(out, Ratio{
			Gates:   gates,
			Clients: n,
			Ops: RatioSet{
				DBNaive:   div(m[ImplementationDB].OpsPerSecond, m[ImplementationNaive].OpsPerSecond),
				DBRaw:     div(m[ImplementationDB].OpsPerSecond, m[ImplementationRaw].OpsPerSecond),
				GateDB:    div(gate.OpsPerSecond, m[ImplementationDB].OpsPerSecond),
				GateNaive: div(gate.OpsPerSecond, m[ImplementationNaive].OpsPerSecond),
				GateRaw:   div(gate.OpsPerSecond, m[ImplementationRaw].OpsPerSecond),
			},
			Transitions: RatioSet{
				DBNaive:   div(m[ImplementationDB].TransitionsPerSecond, m[ImplementationNaive].TransitionsPerSecond),
				DBRaw:     div(m[ImplementationDB].TransitionsPerSecond, m[ImplementationRaw].TransitionsPerSecond),
				GateDB:    div(gate.TransitionsPerSecond, m[ImplementationDB].TransitionsPerSecond),
				GateNaive: div(gate.TransitionsPerSecond, m[ImplementationNaive].TransitionsPerSecond),
				GateRaw:   div(gate.TransitionsPerSecond, m[ImplementationRaw].TransitionsPerSecond),
			},
		})
	}
	return out
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the report for people: the settings, one row per run,
// the ratios, and what the check and the retries found.
func (r *Report) WriteTable(w io.Writer) error {
	s := r.Settings
	articles := fmt.Sprintf("a hot set of %d articles", s.Articles)
	if s.Workload == WorkloadLow {
		articles = fmt.Sprintf("%d articles of its own per client", s.Articles)
	}
	rounds := "1 round"
	if s.Rounds > 1 {
		rounds = fmt.Sprintf("%d rounds taking turns", s.Rounds)
	}
	fmt.Fprintf(w, "bulwark bench: workload %s, %s, %s of %s after %s of warm-up, clients %s, seed %d, %.0f%% stale, %.0f%% retried\n",
		s.Workload, articles, rounds, seconds(s.DurationSeconds), seconds(s.WarmupSeconds), joinInts(s.Clients, ","), s.Seed,
		100*s.StaleRate, 100*s.ReplayRate)
	fmt.Fprintf(w, "server: PostgreSQL %s (fsync %s, synchronous_commit %s, full_page_writes %s, track_functions %s); host: %d CPUs, %s, %s\n\n",
		r.Server.Version, r.Server.Fsync, r.Server.SynchronousCommit, r.Server.FullPageWrites, r.Server.TrackFunctions,
		r.Host.CPUs, r.Host.OS, r.Host.GoVersion)

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "implementation\tclients\tops/s\ttransitions/s\tp50 ms\tp99 ms\tconflict\tpolicy\tinvariant\tother\tviolations\t")
	for _, res := range r.Runs {
		e := res.Errors
		// Padded by hand: the tabwriter right-aligns every column, and
		// names read better left-aligned.
		fmt.Fprintf(tw, "%-14s\t%d\t%.0f\t%.0f\t%.2f\t%.2f\t%d\t%d\t%d\t%d\t%d\t\n",
			res.Implementation, res.Clients, res.OpsPerSecond, res.TransitionsPerSecond, res.P50Ms, res.P99Ms,
			e.Conflict, e.Policy, e.Invariant, e.Invalid+e.NotFound+e.Other+e.Permission, res.Violations.Total())
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nthroughput of the guarded paths relative to the others (transitions/s; ops/s in parentheses):")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "clients\tgate/naive\tgate/raw\tgate/db\tdb/naive\tdb/raw\t")
	for _, ra := range r.Ratios {
		fmt.Fprintf(tw, "%d\t%.2f (%.2f)\t%.2f (%.2f)\t%.2f (%.2f)\t%.2f (%.2f)\t%.2f (%.2f)\t\n", ra.Clients,
			ra.Transitions.GateNaive, ra.Ops.GateNaive, ra.Transitions.GateRaw, ra.Ops.GateRaw,
			ra.Transitions.GateDB, ra.Ops.GateDB, ra.Transitions.DBNaive, ra.Ops.DBNaive,
			ra.Transitions.DBRaw, ra.Ops.DBRaw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.gateSources() > 1 {
		fmt.Fprintln(w, "\neach snapshot source of the gate (transitions/s; ops/s in parentheses):")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "clients\tgate\t/naive\t/raw\t/db\t")
		for _, ra := range r.Ratios {
			for _, g := range ra.Gates {
				fmt.Fprintf(tw, "%d\t%-12s\t%.2f (%.2f)\t%.2f (%.2f)\t%.2f (%.2f)\t\n", ra.Clients, g.Implementation,
					g.Naive, g.OpsNaive, g.Raw, g.OpsRaw, g.DB, g.OpsDB)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	fmt.Fprintln(w, "\nviolations by kind (successes replayed per article in commit order against the state machine):")
	found := false
	for _, res := range r.Runs {
		if res.Violations.Total() == 0 {
			continue
		}
		found = true
		fmt.Fprintf(w, "  %-12s %s: %s\n", res.Implementation, clientsLabel(res.Clients), violationKinds(res.Violations))
	}
	if !found {
		fmt.Fprintln(w, "  none")
	}

	fmt.Fprintln(w, "\nretries of a request that had succeeded, answered with the original result (all client counts):")
	var parts []string
	for _, impl := range r.implementations() {
		var rp Replays
		for _, res := range r.Runs {
			if res.Implementation == impl {
				rp = rp.plus(res.Replays)
			}
		}
		parts = append(parts, fmt.Sprintf("%s %d/%d", impl, rp.AnsweredOriginal, rp.OfSuccesses))
	}
	fmt.Fprintf(w, "  %s\n", strings.Join(parts, ", "))

	if err := r.writeFunctions(w); err != nil {
		return err
	}

	if n := r.GuardedViolations(); n > 0 {
		fmt.Fprintf(w, "\nDEFECT: the gate and db implementations produced %d violations; bulwark must produce none.\n", n)
	}
	return nil
}

// writeFunctions writes, for each run that called server functions, what
// each cost.
func (r *Report) writeFunctions(w io.Writer) error {
	if r.Server.TrackFunctions == "none" {
		fmt.Fprintln(w, "\nserver functions: not tracked (track_functions is none; only a superuser's bench can turn it on)")
		return nil
	}
	fmt.Fprintf(w, "\nserver functions (track_functions %s; every request of the run, warm-up included; self excludes the functions it called, total includes them and triggers):\n",
		r.Server.TrackFunctions)
	found := false
	for _, res := range r.Runs {
		if len(res.Functions) == 0 {
			continue
		}
		found = true
		fmt.Fprintf(w, "  %-12s %s: %d requests, %.0f µs in functions per request\n",
			res.Implementation, clientsLabel(res.Clients), res.Requests, res.FunctionMicrosPerRequest)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "    function\tcalls/request\tself µs/call\ttotal µs/call\t")
		for _, fs := range res.Functions {
			fmt.Fprintf(tw, "    %-44s\t%.2f\t%.1f\t%.1f\t\n", fs.Function, fs.CallsPerRequest, fs.SelfMicrosPerCall, fs.TotalMicrosPerCall)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if !found {
		fmt.Fprintln(w, "  no run called any")
	}
	return nil
}

// violationKinds lists v's non-zero kinds.
func violationKinds(v Violations) string {
	kinds := []struct {
		name string
		n    int
	}{
		{"lost_update", v.LostUpdate},
		{"wrong_state", v.WrongState},
		{"illegal_transition", v.IllegalTransition},
		{"applied_twice", v.AppliedTwice},
		{"shared_commit", v.SharedCommit},
		{"unrecorded", v.Unrecorded},
		{"final_state", v.FinalState},
	}
	var parts []string
	for _, k := range kinds {
		if k.n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k.name, k.n))
		}
	}
	return fmt.Sprintf("%d (%s)", v.Total(), strings.Join(parts, ", "))
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// clientsLabel returns "1 client" or "n clients", padded to line up.
func clientsLabel(n int) string {
	if n == 1 {
		return fmt.Sprintf("%3d client ", n)
	}
	return fmt.Sprintf("%3d clients", n)
}

func joinInts(ns []int, sep string) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, sep)
}

// implementations returns the implementations that ran, in the order they
// ran.
func (r *Report) implementations() []Implementation {
	var out []Implementation
	for _, res := range r.Runs {
		if !slices.Contains(out, res.Implementation) {
			out = append(out, res.Implementation)
		}
	}
	return out
}

// gateSources counts the gate implementations that ran.
func (r *Report) gateSources() int {
	n := 0
	for _, impl := range r.implementations() {
		if impl.gate() {
			n++
		}
	}
	return n
}
