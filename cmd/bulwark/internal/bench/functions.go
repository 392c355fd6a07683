package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// sessionsGoneTimeout bounds the wait for closed sessions to end on the
// server.
const sessionsGoneTimeout = 30 * time.Second

// FunctionStat is what one server function cost during a run, from
// pg_stat_user_functions: every call the run's requests made, the
// warm-up's included, directly or through other functions and triggers.
type FunctionStat struct {
	// Function is the function's schema-qualified name.
	Function string `json:"function"`
	Calls    int64  `json:"calls"`
	// CallsPerRequest is Calls over the requests the run answered.
	CallsPerRequest float64 `json:"calls_per_request"`
	// SelfMicrosPerCall is the time spent in the function itself, not in
	// the functions it called, per call, in microseconds.
	SelfMicrosPerCall float64 `json:"self_us_per_call"`
	// TotalMicrosPerCall is the time spent in the function and in what it
	// called, triggers included, per call, in microseconds. For a
	// transition function the client calls, it is the transition's cost
	// on the server short of parsing, planning the call and committing.
	TotalMicrosPerCall float64 `json:"total_us_per_call"`
}

// functionCounts is one function's row of pg_stat_user_functions.
type functionCounts struct {
	calls   int64
	name    string
	selfMs  float64
	totalMs float64
}

// checkDurable fails with ErrNotDurable if the server has fsync or
// full_page_writes off.
func (e *environment) checkDurable(ctx context.Context) error {
	conn, err := e.connectMaintenance(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var fsync, fullPageWrites string
	if err := conn.QueryRow(ctx,
		`SELECT pg_catalog.current_setting('fsync'), pg_catalog.current_setting('full_page_writes')`,
	).Scan(&fsync, &fullPageWrites); err != nil {
		return fmt.Errorf("read server settings: %w", err)
	}
	if fsync != "on" || fullPageWrites != "on" {
		return fmt.Errorf("%w: fsync is %s and full_page_writes is %s", ErrNotDurable, fsync, fullPageWrites)
	}
	return nil
}

// enableTrackFunctions sets track_functions = 'all' for the bench
// database, so that sessions opened from now on count calls of every
// function that is not inlined, SQL functions included. Only a superuser
// may: for any other role it says so on the progress writer and leaves
// the setting as the server has it.
func (e *environment) enableTrackFunctions(ctx context.Context) error {
	err := e.maintenanceExec(ctx, "ALTER DATABASE "+ident(e.database)+" SET track_functions = 'all'")
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.InsufficientPrivilege {
		e.logf("bench: only a superuser may set track_functions; the report has no function statistics unless the server tracks them")
		return nil
	}
	if err != nil {
		return fmt.Errorf("set track_functions: %w", err)
	}
	return nil
}

// endSessions closes pool's sessions and waits until the server has ended
// them. A session reports its function calls to the statistics at most
// once a second while busy, and when it ends: after this, every call so
// far is counted. The pool opens sessions anew when next used (see warm).
func (e *environment) endSessions(ctx context.Context, pool *pgxpool.Pool) error {
	idle := pool.AcquireAllIdle(ctx)
	pids := make([]uint32, 0, len(idle))
	for _, c := range idle {
		pids = append(pids, c.Conn().PgConn().PID())
		c.Release()
	}
	// Nothing holds a connection between runs, so Reset closes them all.
	pool.Reset()
	deadline := time.Now().Add(sessionsGoneTimeout)
	for {
		var left int
		if err := e.admin.QueryRow(ctx,
			`SELECT pg_catalog.count(*) FROM pg_catalog.pg_stat_activity AS a WHERE a.pid = ANY($1::int4[])`, pids,
		).Scan(&left); err != nil {
			return fmt.Errorf("wait for sessions to end: %w", err)
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("wait for sessions to end: %d of %d still running after %s", left, len(pids), sessionsGoneTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// readFunctionCounts reads the bench database's pg_stat_user_functions,
// by function OID.
func (e *environment) readFunctionCounts(ctx context.Context) (map[uint32]functionCounts, error) {
	rows, err := e.admin.Query(ctx, `
		SELECT f.funcid, f.schemaname || '.' || f.funcname, f.calls, f.self_time, f.total_time
		FROM pg_catalog.pg_stat_user_functions AS f`)
	if err != nil {
		return nil, fmt.Errorf("read function statistics: %w", err)
	}
	defer rows.Close()
	counts := make(map[uint32]functionCounts)
	for rows.Next() {
		var oid uint32
		var c functionCounts
		if err := rows.Scan(&oid, &c.name, &c.calls, &c.selfMs, &c.totalMs); err != nil {
			return nil, fmt.Errorf("read function statistics: %w", err)
		}
		counts[oid] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read function statistics: %w", err)
	}
	return counts, nil
}

// addFunctionCounts adds to sum what each function cost between before
// and after.
func addFunctionCounts(sum, before, after map[uint32]functionCounts) {
	for oid, a := range after {
		b := before[oid]
		if a.calls == b.calls {
			continue
		}
		s := sum[oid]
		s.name = a.name
		s.calls += a.calls - b.calls
		s.selfMs += a.selfMs - b.selfMs
		s.totalMs += a.totalMs - b.totalMs
		sum[oid] = s
	}
}

// functionStats returns what each function called between before and
// after cost, over requests requests, most total self time first. A nil
// before counts from zero.
func functionStats(before, after map[uint32]functionCounts, requests int) []FunctionStat {
	stats := []FunctionStat{}
	for oid, a := range after {
		b := before[oid]
		calls := a.calls - b.calls
		if calls <= 0 {
			continue
		}
		fs := FunctionStat{
			Function:           a.name,
			Calls:              calls,
			SelfMicrosPerCall:  1000 * (a.selfMs - b.selfMs) / float64(calls),
			TotalMicrosPerCall: 1000 * (a.totalMs - b.totalMs) / float64(calls),
		}
		if requests > 0 {
			fs.CallsPerRequest = float64(calls) / float64(requests)
		}
		stats = append(stats, fs)
	}
	slices.SortFunc(stats, func(x, y FunctionStat) int {
		return cmp.Or(
			cmp.Compare(y.SelfMicrosPerCall*float64(y.Calls), x.SelfMicrosPerCall*float64(x.Calls)),
			cmp.Compare(x.Function, y.Function),
		)
	})
	return stats
}

// functionMicrosPerRequest returns the time spent in functions per
// request: the sum of every function's self time over the requests.
func functionMicrosPerRequest(stats []FunctionStat) float64 {
	var us float64
	for _, fs := range stats {
		us += fs.SelfMicrosPerCall * fs.CallsPerRequest
	}
	return us
}
