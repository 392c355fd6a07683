package auditlog

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Problem codes: what kind of gap [Check] found. Stable; see the package
// documentation for each.
const (
	ProblemIllegalEdge    = "illegal_edge"
	ProblemMissingRow     = "missing_row"
	ProblemNoCreation     = "no_creation"
	ProblemNoHistory      = "no_history"
	ProblemUnloggedChange = "unlogged_change"
	ProblemVersionSkipped = "version_skipped"
	ProblemWrongAction    = "wrong_action"
)

// Transitions the audit triggers log for writes under the maintenance
// switch.
const (
	maintenanceDelete = "maintenance_delete"
	maintenanceInsert = "maintenance_insert"
	maintenanceUpdate = "maintenance_update"
)

// CheckSchemaVersion is the schema_version of [CheckReport]'s JSON.
const CheckSchemaVersion = 1

// Problem is one gap in one entity's history.
type Problem struct {
	// Code is one of the Problem* constants.
	Code string `json:"code"`
	// Detail says what is wrong in a sentence.
	Detail string `json:"detail"`
	// Entity is the entity's id.
	Entity uuid.UUID `json:"entity"`
	// LogID is the log row where the gap shows (for a gap at the end of a
	// history, its last row), or 0 for an entity with no log rows.
	LogID int64 `json:"log_id"`
	// Machine is the entity's machine.
	Machine string `json:"machine"`
}

// MachineSummary is what [Check] read of one machine.
type MachineSummary struct {
	// Entities counts the entities with a row or a log row.
	Entities int64 `json:"entities"`
	// LogRows counts the machine's log rows that name an entity.
	LogRows int64  `json:"log_rows"`
	Machine string `json:"machine"`
	// Table is the guarded table, schema-qualified.
	Table string `json:"table"`
}

// CheckReport is the result of [Check]. Its JSON form is what
// `bulwark log --check --format json` prints.
type CheckReport struct {
	SchemaVersion int    `json:"schema_version"`
	Database      string `json:"database"`
	// OK is true when no problem was found.
	OK       bool             `json:"ok"`
	Machines []MachineSummary `json:"machines"`
	// Problems lists the gaps found, by machine, entity and log row; [],
	// never null. At most [CheckOpts].MaxProblems.
	Problems []Problem `json:"problems"`
	// ProblemCount counts every gap found, listed or not.
	ProblemCount int `json:"problem_count"`
}

// CheckOpts are options for [Check]. A nil *CheckOpts means defaults.
type CheckOpts struct {
	// Entity checks only this entity. Default: all.
	Entity uuid.UUID
	// Machine checks only this machine. Default: every guarded machine.
	Machine string
	// MaxProblems bounds the problems listed (all are counted). Default
	// 1000.
	MaxProblems int
}

// machineInfo is what a replay needs to know about a machine.
type machineInfo struct {
	actions     map[string]string // name -> kind
	edges       map[[2]string]string
	initial     string
	name        string
	schema      string
	stateColumn string
	table       string
}

// Check replays the log of every guarded entity against its current row
// and its machine's declarations, in one READ ONLY, REPEATABLE READ
// transaction, so rows and log are seen at one instant. Gaps are not
// errors: they are in the report, whose OK is then false. It returns an
// error only when it could not read: [ErrNotInstalled] or a
// [*ReadError].
func Check(ctx context.Context, conn Conn, opts *CheckOpts) (*CheckReport, error) {
	if opts == nil {
		opts = &CheckOpts{}
	}
	maxProblems := opts.MaxProblems
	if maxProblems <= 0 {
		maxProblems = 1000
	}
	report := &CheckReport{SchemaVersion: CheckSchemaVersion, Machines: []MachineSummary{}, Problems: []Problem{}}
	add := func(p Problem) {
		report.ProblemCount++
		if len(report.Problems) < maxProblems {
			report.Problems = append(report.Problems, p)
		}
	}
	err := readTx(ctx, conn, "the declarations", func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT pg_catalog.current_database()::text`).Scan(&report.Database); err != nil {
			return err
		}
		machines, err := loadMachines(ctx, tx, opts.Machine)
		if err != nil {
			return err
		}
		for _, m := range machines {
			summary, err := checkMachine(ctx, tx, m, opts.Entity, add)
			if err != nil {
				return fmt.Errorf("machine %s: %w", m.name, err)
			}
			report.Machines = append(report.Machines, summary)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	report.OK = report.ProblemCount == 0
	return report, nil
}

func loadMachines(ctx context.Context, tx pgx.Tx, only string) ([]*machineInfo, error) {
	rows, err := tx.Query(ctx, `
		SELECT g.machine, n.nspname::text, c.relname::text, g.state_column, m.initial_state
		FROM bulwark.guarded_tables AS g
		JOIN pg_catalog.pg_class AS c ON c.oid = g.relation
		JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
		JOIN bulwark.machines AS m ON m.name = g.machine
		WHERE $1 = '' OR g.machine = $1
		ORDER BY g.machine`, only)
	if err != nil {
		return nil, err
	}
	machines, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*machineInfo, error) {
		m := &machineInfo{actions: map[string]string{}, edges: map[[2]string]string{}}
		return m, row.Scan(&m.name, &m.schema, &m.table, &m.stateColumn, &m.initial)
	})
	if err != nil {
		return nil, err
	}
	if only != "" && len(machines) == 0 {
		return nil, fmt.Errorf("no guarded table uses machine %q", only)
	}
	byName := map[string]*machineInfo{}
	for _, m := range machines {
		byName[m.name] = m
	}
	rows, err = tx.Query(ctx, `SELECT a.machine, a.name, a.kind FROM bulwark.actions AS a`)
	if err != nil {
		return nil, err
	}
	var machine, name, kind string
	if _, err := pgx.ForEachRow(rows, []any{&machine, &name, &kind}, func() error {
		if m := byName[machine]; m != nil {
			m.actions[name] = kind
		}
		return nil
	}); err != nil {
		return nil, err
	}
	rows, err = tx.Query(ctx, `SELECT t.machine, t.from_state, t.to_state, t.name FROM bulwark.transitions AS t`)
	if err != nil {
		return nil, err
	}
	var from, to string
	if _, err := pgx.ForEachRow(rows, []any{&machine, &from, &to, &name}, func() error {
		if m := byName[machine]; m != nil {
			m.edges[[2]string{from, to}] = name
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return machines, nil
}

// logRow is one log row of an entity with the entity's current row.
type logRow struct {
	entity     uuid.UUID
	from, to   *string
	id         int64
	transition string
}

// current is an entity's row as it is now.
type current struct {
	exists  bool
	state   *string
	version *int32
}

func checkMachine(ctx context.Context, tx pgx.Tx, m *machineInfo, only uuid.UUID, add func(Problem)) (MachineSummary, error) {
	table := pgx.Identifier{m.schema, m.table}.Sanitize()
	col := pgx.Identifier{m.stateColumn}.Sanitize()
	summary := MachineSummary{Machine: m.name, Table: m.schema + "." + m.table}
	args := []any{m.name}
	entityCond := ""
	if only != uuid.Nil {
		args = append(args, only)
		entityCond = " AND l.entity_id = $2"
	}
	// One pass over the machine's log in entity order (the log's
	// (entity_id, id) index), with each entity's row beside it.
	rows, err := tx.Query(ctx, `
		SELECT l.id, l.entity_id, l.transition, l.from_state, l.to_state,
		       t.id IS NOT NULL, t.`+col+`::text, t.version
		FROM bulwark.transition_log AS l
		LEFT JOIN `+table+` AS t ON t.id = l.entity_id
		WHERE l.machine = $1 AND l.entity_id IS NOT NULL`+entityCond+`
		ORDER BY l.entity_id, l.id`, args...)
	if err != nil {
		return summary, err
	}
	var (
		history []logRow
		now     current
		r       logRow
		cur     current
	)
	flush := func() {
		if len(history) > 0 {
			summary.Entities++
			replay(m, history, now, add)
		}
		history = history[:0]
	}
	_, err = pgx.ForEachRow(rows, []any{&r.id, &r.entity, &r.transition, &r.from, &r.to, &cur.exists, &cur.state, &cur.version}, func() error {
		summary.LogRows++
		if len(history) > 0 && history[0].entity != r.entity {
			flush()
		}
		// Copies: the scan targets are reused for the next row.
		history = append(history, logRow{entity: r.entity, from: clone(r.from), id: r.id, to: clone(r.to), transition: r.transition})
		now = current{exists: cur.exists, state: clone(cur.state), version: clone(cur.version)}
		return nil
	})
	if err != nil {
		return summary, err
	}
	flush()

	args = []any{m.name}
	entityCond = ""
	if only != uuid.Nil {
		args = append(args, only)
		entityCond = " AND t.id = $2"
	}
	rows, err = tx.Query(ctx, `
		SELECT t.id, t.`+col+`::text, t.version
		FROM `+table+` AS t
		WHERE NOT EXISTS (
		    SELECT FROM bulwark.transition_log AS l WHERE l.entity_id = t.id AND l.machine = $1
		)`+entityCond+`
		ORDER BY t.id`, args...)
	if err != nil {
		return summary, err
	}
	var id uuid.UUID
	var state *string
	var version *int32
	_, err = pgx.ForEachRow(rows, []any{&id, &state, &version}, func() error {
		summary.Entities++
		add(Problem{
			Code: ProblemNoHistory, Entity: id, Machine: m.name,
			Detail: fmt.Sprintf("the row (state %s, version %s) has no log row at all: it was written with the audit trigger off", show(state), showVersion(version)),
		})
		return nil
	})
	return summary, err
}

// replay walks one entity's history (at least one row) and reports its
// gaps.
func replay(m *machineInfo, history []logRow, now current, add func(Problem)) {
	entity := history[0].entity
	problem := func(code string, logID int64, format string, args ...any) {
		add(Problem{Code: code, Detail: fmt.Sprintf(format, args...), Entity: entity, LogID: logID, Machine: m.name})
	}
	var (
		exists     bool    // the log says the entity exists
		state      *string // the state the last row left it in
		count      int     // rows since its logged creation
		countKnown bool    // a creation was logged
		deleted    bool    // the last row deleted it
	)
	for i, r := range history {
		if r.from == nil {
			// A creation (from_state is NULL only on insert).
			if exists {
				problem(ProblemWrongAction, r.id, "%s creates an entity that exists (in state %s) without a logged delete", r.transition, show(state))
			}
			if kind := m.actions[r.transition]; kind != "create" && r.transition != maintenanceInsert {
				problem(ProblemWrongAction, r.id, "%s is logged as the creation, but it is %s", r.transition, describeAction(m, r.transition))
			}
			if show(r.to) != m.initial {
				problem(ProblemIllegalEdge, r.id, "created in state %s, not in the initial state %s", show(r.to), m.initial)
			}
			exists, deleted, state, count, countKnown = true, false, r.to, 1, true
			continue
		}
		switch {
		case !exists && i == 0:
			problem(ProblemNoCreation, r.id, "the history starts with %s from %s: its creation has no log row", r.transition, show(r.from))
			exists, countKnown = true, false
		case !exists:
			problem(ProblemNoCreation, r.id, "%s from %s after a logged delete: the entity came back with no log row", r.transition, show(r.from))
			exists, deleted, countKnown = true, false, false
		case *r.from != show(state):
			problem(ProblemUnloggedChange, r.id, "%s starts from %s, but the previous log row left it in %s: %s",
				r.transition, *r.from, show(state), describeEdge(m, show(state), *r.from))
		}
		count++
		if r.transition == maintenanceDelete {
			exists, deleted, state, countKnown = false, true, nil, false
			continue
		}
		checkStep(m, r, problem)
		state = r.to
	}
	last := history[len(history)-1]
	switch {
	case now.exists && deleted:
		problem(ProblemNoCreation, last.id, "the row exists (state %s), but the last log row deleted it: it came back with no log row", show(now.state))
	case now.exists:
		if show(now.state) != show(state) {
			problem(ProblemUnloggedChange, last.id, "the row is in %s, but the last log row left it in %s: %s",
				show(now.state), show(state), describeEdge(m, show(state), show(now.state)))
		}
		if countKnown && (now.version == nil || int(*now.version) != count) {
			problem(ProblemVersionSkipped, last.id, "the row is at version %s, but %d log rows record its writes since its creation",
				showVersion(now.version), count)
		}
	case exists:
		problem(ProblemMissingRow, last.id, "the last log row left it in %s, but the row is gone with no logged delete", show(state))
	}
}

// checkStep checks one logged update of an existing entity: its edge and
// its action.
func checkStep(m *machineInfo, r logRow, problem func(code string, logID int64, format string, args ...any)) {
	from, to := *r.from, show(r.to)
	edge, legal := m.edges[[2]string{from, to}]
	kind, declared := m.actions[r.transition]
	switch {
	case from != to && !legal:
		problem(ProblemIllegalEdge, r.id, "%s moved it from %s to %s, which no transition of %s leads to", r.transition, from, to, m.name)
	case r.transition == maintenanceUpdate:
	case !declared:
		problem(ProblemWrongAction, r.id, "%s is not an action of machine %s", r.transition, m.name)
	case from != to && edge != r.transition:
		problem(ProblemWrongAction, r.id, "%s moved it from %s to %s, which is transition %s", r.transition, from, to, edge)
	case from == to && kind != "update" && !legal:
		problem(ProblemWrongAction, r.id, "%s left it in %s, but it is %s", r.transition, from, describeAction(m, r.transition))
	}
}

func describeAction(m *machineInfo, action string) string {
	switch kind, ok := m.actions[action]; {
	case strings.HasPrefix(action, "maintenance_"):
		return "a maintenance write"
	case !ok:
		return "no action of machine " + m.name
	default:
		return "an action of kind " + kind
	}
}

// describeEdge says whether a change that has no log row was at least a
// legal one.
func describeEdge(m *machineInfo, from, to string) string {
	if name, ok := m.edges[[2]string{from, to}]; ok {
		return fmt.Sprintf("the change %s -> %s (transition %s) has no log row", from, to, name)
	}
	return fmt.Sprintf("%s -> %s has no log row, and no transition of %s leads there", from, to, m.name)
}

func clone[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func show(s *string) string {
	if s == nil {
		return "(none)"
	}
	return *s
}

func showVersion(v *int32) string {
	if v == nil {
		return "(none)"
	}
	return fmt.Sprint(*v)
}
