package verify

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// historyBranch is one guarded table's rows in the history check's
// query: %[1]s is the table as SQL, %[2]s its name, %[3]s its machine and
// %[4]s its machine's initial state (literals), %[5]s its state column,
// %[6]s the sampling clause and %[7]s the limit.
const historyBranch = `(SELECT %[2]s::text AS tbl, %[3]s::text AS machine, %[4]s::text AS initial,
        t.id, t.version, t.%[5]s::text AS state, t.xmin::text AS xmin
    FROM %[1]s AS t %[6]s
    %[7]s)`

// historySQL is the history check's query, over the rows of every guarded
// table (or a sample of each, see [Opts].HistoryRows), one UNION ALL
// branch per table: for each row, its log rows (bulwark.transition_log,
// by the index on entity_id), walked in order. %[1]s is the branches. One
// row per entity whose history does not hold, then one row with the
// number of rows checked.
const historySQL = `
WITH e AS (
    %[1]s
),
walked AS (
    SELECT e.tbl, e.id, e.version, e.state, e.xmin, a.log_id AS ack_log, a.version AS ack_version, a.state AS ack_state, h.*
    FROM e
    LEFT JOIN bulwark.history_acknowledgements AS a ON a.machine = e.machine AND a.entity_id = e.id
    CROSS JOIN LATERAL (
        SELECT pg_catalog.count(*) FILTER (WHERE s.id > coalesce(a.log_id, 0))::integer AS logged,
               pg_catalog.min(s.id) FILTER (WHERE s.id > coalesce(a.log_id, 0) AND NOT s.chained) AS broken,
               (pg_catalog.array_agg(pg_catalog.format('log row %%s (%%s: %%s -> %%s)', s.id, s.transition, coalesce(s.from_state, 'nothing'), coalesce(s.to_state, 'nothing')) ORDER BY s.id)
                   FILTER (WHERE s.id > coalesce(a.log_id, 0) AND NOT s.step))[1] AS stray,
               (pg_catalog.array_agg(s.to_state ORDER BY s.id DESC) FILTER (WHERE s.id > coalesce(a.log_id, 0)))[1] AS last_to,
               (pg_catalog.array_agg(s.lxmin ORDER BY s.id DESC) FILTER (WHERE s.id > coalesce(a.log_id, 0)))[1] AS last_xmin
        FROM (
            SELECT w.id, w.transition, w.from_state, w.to_state, w.lxmin,
                   -- The hash chain: each row hashes its content after its
                   -- predecessor's hash; rows older than the chain have
                   -- none, and come first.
                   CASE
                       WHEN w.hash IS NULL THEN w.lag_hash IS NULL
                       ELSE w.prev_hash IS NOT DISTINCT FROM w.lag_hash AND w.hash = bulwark.log_row_hash(w.prev_hash, w.r)
                   END AS chained,
                   CASE
                       WHEN w.first AND NOT w.acked THEN
                           w.from_state IS NULL AND w.to_state = e.initial AND (w.kind = 'create' OR w.transition = 'maintenance_insert')
                       ELSE w.from_state IS NOT DISTINCT FROM w.expected_from AND (
                           (w.kind = 'transition' AND EXISTS (
                               SELECT FROM bulwark.transitions AS t
                               WHERE t.machine = e.machine AND t.from_state = w.from_state AND t.to_state = w.to_state AND t.name = w.transition))
                           OR (w.kind = 'update' AND w.from_state = w.to_state)
                           OR (w.transition = 'maintenance_update' AND (w.from_state = w.to_state OR EXISTS (
                               SELECT FROM bulwark.transitions AS t
                               WHERE t.machine = e.machine AND t.from_state = w.from_state AND t.to_state = w.to_state))))
                   END AS step
            FROM (
                SELECT l.id, l.transition, l.from_state, l.to_state, l.prev_hash, l.hash, l AS r, x.kind, l.xmin::text AS lxmin,
                       pg_catalog.lag(l.hash) OVER o AS lag_hash,
                       pg_catalog.lag(l.id) OVER o IS NULL AS first,
                       -- The first row after an acknowledgement starts
                       -- from the state it acknowledged.
                       a.log_id IS NOT NULL AND coalesce(pg_catalog.lag(l.id) OVER o, 0) <= a.log_id AS acked,
                       CASE
                           WHEN a.log_id IS NOT NULL AND coalesce(pg_catalog.lag(l.id) OVER o, 0) <= a.log_id THEN a.state
                           ELSE pg_catalog.lag(l.to_state) OVER o
                       END AS expected_from
                FROM bulwark.transition_log AS l
                LEFT JOIN bulwark.actions AS x ON x.machine = e.machine AND x.name = l.transition
                WHERE l.entity_id = e.id AND l.machine = e.machine
                WINDOW o AS (ORDER BY l.id)
            ) AS w
        ) AS s
    ) AS h
)
SELECT w.tbl, w.id::text, w.version, w.state, w.logged, w.version - coalesce(w.ack_version, 0), w.broken, w.stray,
       coalesce(w.last_to, w.ack_state), w.xmin, w.last_xmin, 0::bigint
FROM walked AS w
WHERE NOT (
    w.logged = w.version - coalesce(w.ack_version, 0)
    AND w.broken IS NULL
    AND w.stray IS NULL
    AND coalesce(w.last_to, w.ack_state) IS NOT DISTINCT FROM w.state
    -- The transaction (or subtransaction) that last wrote the row wrote
    -- its last log row too: both carry its id as xmin. A row written by an
    -- older transaction than its log row is not a quiet write (a logical
    -- restore loads the tables in their own transactions, the entities
    -- before the log): only a row newer than its last log row is.
    AND (w.last_xmin IS NULL OR w.last_xmin = w.xmin
         OR pg_catalog.age(w.xmin::xid) > pg_catalog.age(w.last_xmin::xid))
)
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, pg_catalog.count(*) FROM e
ORDER BY 1, 2`

// historyGap is one entity whose history does not hold.
type historyGap struct {
	Table    *string
	ID       *string
	Version  *int32
	State    *string
	Logged   *int32
	Expected *int32
	Broken   *int64
	Stray    *string
	LastTo   *string
	Xmin     *string
	LastXmin *string
	Checked  int64
}

// checkHistory requires every guarded row's history to be complete: its
// version equals the number of its log rows (machine, entity), the log
// replays from creation (an action of kind create, or a maintenance
// insert, in the initial state) along declared transitions (an update
// keeps the state; a maintenance update keeps it or follows an edge) to
// the row's state, and the log's hash chain holds (an edited row, or one
// erased before others, breaks it). A write made with the audit trigger
// disabled, a log row deleted or edited, a state set around the machine:
// each leaves a gap that names the entity. An explained gap is
// acknowledged with bulwark.history_acknowledge, after which only the
// history that follows is checked.
//
// One query for every table, a branch per table, so that hundreds of
// tables cost one plan; each row's log is read through the index on
// entity_id. A table larger than [Opts].HistoryRows (by its planner
// statistics) is checked on a fresh Bernoulli sample of about that many
// rows per run, and never more than that many rows: a gap in k rows of an
// n-row table is missed by one run with probability at most
// (1 - HistoryRows/n)^k. A content-only change made with both the
// boundary and the audit trigger disabled leaves version, log and state as
// they were, but not the row's xmin: the transaction (or subtransaction)
// that last wrote a row must be the one that wrote its last log row.
// (xmin is kept when a row is frozen, and a lock does not change it.)
func (s *session) checkHistory(ctx context.Context, c *Check) error {
	var branches []string
	for _, g := range s.guarded {
		if g.Name == "" || g.Initial == "" {
			continue
		}
		sample, limit := "", ""
		if n := s.opts.HistoryRows; n >= 0 {
			limit = fmt.Sprintf("LIMIT %d", n)
			if g.Rows > float64(n) {
				sample = fmt.Sprintf("TABLESAMPLE BERNOULLI (%g)", 100*float64(n)/g.Rows)
			}
		}
		branches = append(branches, fmt.Sprintf(historyBranch, g.Name, quoteLiteral(g.Name), quoteLiteral(g.Machine),
			quoteLiteral(g.Initial), pgx.Identifier{g.StateColumn}.Sanitize(), sample, limit))
	}
	if len(branches) == 0 {
		return nil
	}
	rows, err := s.tx.Query(ctx, fmt.Sprintf(historySQL, strings.Join(branches, "\n    UNION ALL\n    ")))
	if err != nil {
		return err
	}
	gaps, err := pgx.CollectRows(rows, pgx.RowToStructByPos[historyGap])
	if err != nil {
		return err
	}
	for _, gap := range gaps {
		if gap.ID == nil {
			c.Checked += int(gap.Checked)
			continue
		}
		var problems []string
		if *gap.Logged != *gap.Expected {
			problems = append(problems, fmt.Sprintf("version %d, but %d log rows where %d were due: a write went unlogged, or a log row was deleted",
				*gap.Version, *gap.Logged, *gap.Expected))
		}
		if gap.Stray != nil {
			problems = append(problems, *gap.Stray+" does not follow the machine's declared transitions from the state before it")
		}
		if gap.Broken != nil {
			problems = append(problems, fmt.Sprintf("log row %d breaks the hash chain: it was edited, or a row before it erased", *gap.Broken))
		}
		if gap.LastXmin != nil && deref(gap.Xmin) != *gap.LastXmin {
			problems = append(problems, fmt.Sprintf("the row was last written by transaction %s, which logged nothing for it (its last log row is from %s): a write with the guard and audit triggers off",
				deref(gap.Xmin), *gap.LastXmin))
		}
		if last, state := deref(gap.LastTo), deref(gap.State); last != state {
			problems = append(problems, fmt.Sprintf("the log ends in state %s, but the row is in %s", orNothing(last), orNothing(state)))
		}
		c.fail(*gap.Table+"/"+*gap.ID, strings.Join(problems, "; "),
			fmt.Sprintf("-- the row changed outside the engine: find who (the log's db_user, the server log), repair it under bulwark.maintenance_begin(reason), then: SELECT bulwark.history_acknowledge(%s, %s, 'what happened')",
				quoteLiteral(*gap.Table), quoteLiteral(*gap.ID)))
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func orNothing(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
