package auditlog

import (
	"context"
	"fmt"
	"strings"
	"time"

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
	// history, its last row; for an acknowledged history with no log row
	// since, the acknowledgement's LogID), or 0 for an entity with no log
	// rows.
	LogID int64 `json:"log_id"`
	// Machine is the entity's machine.
	Machine string `json:"machine"`
}

// Acknowledgement is an explained gap in one entity's history, written by
// bulwark.history_acknowledge into bulwark.history_acknowledgements.
// [Check] replays that entity's history only after LogID, from State and
// Version, as bulwark verify does: what came before is not checked, what
// came after is.
type Acknowledgement struct {
	// AcknowledgedAt is when it was acknowledged.
	AcknowledgedAt time.Time `json:"acknowledged_at"`
	// DBUser is the login that acknowledged it.
	DBUser string `json:"db_user"`
	// Entity is the entity's id.
	Entity uuid.UUID `json:"entity"`
	// LogID is the entity's last log row when it was acknowledged (0 when
	// it had none): the replay starts with the row after it.
	LogID int64 `json:"log_id"`
	// Machine is the entity's machine.
	Machine string `json:"machine"`
	// Reason says what happened, in the acknowledger's words.
	Reason string `json:"reason"`
	// State is the row's state when it was acknowledged: the replay starts
	// from it.
	State string `json:"state"`
	// Version is the row's version when it was acknowledged: each log row
	// after LogID adds one to it.
	Version int32 `json:"version"`
}

// MachineSummary is what [Check] read of one machine.
type MachineSummary struct {
	// Acknowledged counts the entities whose history is checked from an
	// [Acknowledgement] rather than from their creation.
	Acknowledged int64 `json:"acknowledged"`
	// Entities counts the entities with a row, a log row or an
	// acknowledgement.
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
	// Acknowledgements lists the entities whose history is checked from an
	// acknowledgement, by machine and entity; [], never null. At most
	// [CheckOpts].MaxAcknowledgements.
	Acknowledgements []Acknowledgement `json:"acknowledgements"`
	// AcknowledgementCount counts them, listed or not.
	AcknowledgementCount int `json:"acknowledgement_count"`
}

// CheckOpts are options for [Check]. A nil *CheckOpts means defaults.
type CheckOpts struct {
	// Entity checks only this entity. Default: all.
	Entity uuid.UUID
	// Machine checks only this machine. Default: every guarded machine.
	Machine string
	// MaxAcknowledgements bounds the acknowledgements listed (all are
	// counted and honoured). Default 1000.
	MaxAcknowledgements int
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
// transaction, so rows and log are seen at one instant. An acknowledged
// entity's history is replayed from its [Acknowledgement] and listed in
// the report. Gaps are not errors: they are in the report, whose OK is
// then false. It returns an error only when it could not read:
// [ErrNotInstalled] or a [*ReadError].
func Check(ctx context.Context, conn Conn, opts *CheckOpts) (*CheckReport, error) {
	if opts == nil {
		opts = &CheckOpts{}
	}
	maxProblems := opts.MaxProblems
	if maxProblems <= 0 {
		maxProblems = 1000
	}
	maxAcks := opts.MaxAcknowledgements
	if maxAcks <= 0 {
		maxAcks = 1000
	}
	report := &CheckReport{
		SchemaVersion:    CheckSchemaVersion,
		Acknowledgements: []Acknowledgement{},
		Machines:         []MachineSummary{},
		Problems:         []Problem{},
	}
	add := func(p Problem) {
		report.ProblemCount++
		if len(report.Problems) < maxProblems {
			report.Problems = append(report.Problems, p)
		}
	}
	acknowledged := func(a Acknowledgement) {
		report.AcknowledgementCount++
		if len(report.Acknowledgements) < maxAcks {
			report.Acknowledgements = append(report.Acknowledgements, a)
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
			summary, err := checkMachine(ctx, tx, m, opts.Entity, add, acknowledged)
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

// logRow is one log row of an entity.
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

// ackStart is where an acknowledged history starts: the replay reads the
// log rows after logID, from state and version.
type ackStart struct {
	logID   int64
	state   string
	version int32
}

// entityHistory is what one entity's replay reads.
type entityHistory struct {
	// ack is its acknowledgement, or nil: replayed from creation.
	ack    *ackStart
	entity uuid.UUID
	now    current
	// rows are its log rows in id order, after ack.logID when acknowledged.
	rows []logRow
}

func checkMachine(ctx context.Context, tx pgx.Tx, m *machineInfo, only uuid.UUID, add func(Problem), acknowledged func(Acknowledgement)) (MachineSummary, error) {
	table := pgx.Identifier{m.schema, m.table}.Sanitize()
	col := pgx.Identifier{m.stateColumn}.Sanitize()
	summary := MachineSummary{Machine: m.name, Table: m.schema + "." + m.table}
	args, entityCond := byMachine(m.name, only, "l.entity_id")
	// One pass over the machine's log in entity order (the log's
	// (entity_id, id) index), with each entity's row and acknowledgement
	// beside it.
	rows, err := tx.Query(ctx, `
		SELECT l.id, l.entity_id, l.transition, l.from_state, l.to_state,
		       t.id IS NOT NULL, t.`+col+`::text, t.version,
		       a.log_id, a.state, a.version
		FROM bulwark.transition_log AS l
		LEFT JOIN `+table+` AS t ON t.id = l.entity_id
		LEFT JOIN bulwark.history_acknowledgements AS a ON a.machine = l.machine AND a.entity_id = l.entity_id
		WHERE l.machine = $1 AND l.entity_id IS NOT NULL`+entityCond+`
		ORDER BY l.entity_id, l.id`, args...)
	if err != nil {
		return summary, err
	}
	var (
		h       entityHistory
		started bool // h holds an entity
		r       logRow
		cur     current
		ack     struct {
			logID   *int64
			state   *string
			version *int32
		}
	)
	flush := func() {
		if started {
			summary.Entities++
			replay(m, h, add)
		}
		h = entityHistory{rows: h.rows[:0]}
		started = false
	}
	_, err = pgx.ForEachRow(rows, []any{&r.id, &r.entity, &r.transition, &r.from, &r.to, &cur.exists, &cur.state, &cur.version,
		&ack.logID, &ack.state, &ack.version}, func() error {
		summary.LogRows++
		if started && h.entity != r.entity {
			flush()
		}
		if !started {
			started, h.entity = true, r.entity
			if ack.logID != nil {
				h.ack = &ackStart{logID: *ack.logID, state: *ack.state, version: *ack.version}
			}
		}
		// Copies: the scan targets are reused for the next row.
		h.now = current{exists: cur.exists, state: clone(cur.state), version: clone(cur.version)}
		if h.ack != nil && r.id <= h.ack.logID {
			// Before the acknowledgement: explained, not replayed.
			return nil
		}
		h.rows = append(h.rows, logRow{entity: r.entity, from: clone(r.from), id: r.id, to: clone(r.to), transition: r.transition})
		return nil
	})
	if err != nil {
		return summary, err
	}
	flush()

	args, entityCond = byMachine(m.name, only, "t.id")
	rows, err = tx.Query(ctx, `
		SELECT t.id, t.`+col+`::text, t.version, a.log_id, a.state, a.version
		FROM `+table+` AS t
		LEFT JOIN bulwark.history_acknowledgements AS a ON a.machine = $1 AND a.entity_id = t.id
		WHERE NOT EXISTS (
		    SELECT FROM bulwark.transition_log AS l WHERE l.entity_id = t.id AND l.machine = $1
		)`+entityCond+`
		ORDER BY t.id`, args...)
	if err != nil {
		return summary, err
	}
	var id uuid.UUID
	_, err = pgx.ForEachRow(rows, []any{&id, &cur.state, &cur.version, &ack.logID, &ack.state, &ack.version}, func() error {
		summary.Entities++
		if ack.logID != nil {
			// Acknowledged with no log row (a row written with the audit
			// trigger off, then explained): its history starts there.
			replay(m, entityHistory{
				ack:    &ackStart{logID: *ack.logID, state: *ack.state, version: *ack.version},
				entity: id,
				now:    current{exists: true, state: cur.state, version: cur.version},
			}, add)
			return nil
		}
		add(Problem{
			Code: ProblemNoHistory, Entity: id, Machine: m.name,
			Detail: fmt.Sprintf("the row (state %s, version %s) has no log row at all: it was written with the audit trigger off", show(cur.state), showVersion(cur.version)),
		})
		return nil
	})
	if err != nil {
		return summary, err
	}

	// The acknowledgements, for the report, and the entities they leave
	// with neither a row nor a log row: gone since, with no logged delete.
	args, entityCond = byMachine(m.name, only, "a.entity_id")
	rows, err = tx.Query(ctx, `
		SELECT a.acknowledged_at, a.db_user, a.entity_id, a.log_id, a.reason, a.state, a.version,
		       NOT EXISTS (SELECT FROM `+table+` AS t WHERE t.id = a.entity_id)
		       AND NOT EXISTS (SELECT FROM bulwark.transition_log AS l WHERE l.entity_id = a.entity_id AND l.machine = $1)
		FROM bulwark.history_acknowledgements AS a
		WHERE a.machine = $1`+entityCond+`
		ORDER BY a.entity_id`, args...)
	if err != nil {
		return summary, err
	}
	a := Acknowledgement{Machine: m.name}
	var vanished bool
	_, err = pgx.ForEachRow(rows, []any{&a.AcknowledgedAt, &a.DBUser, &a.Entity, &a.LogID, &a.Reason, &a.State, &a.Version, &vanished}, func() error {
		summary.Acknowledged++
		acknowledged(a)
		if vanished {
			summary.Entities++
			replay(m, entityHistory{ack: &ackStart{logID: a.LogID, state: a.State, version: a.Version}, entity: a.Entity}, add)
		}
		return nil
	})
	return summary, err
}

// replay walks one entity's history and reports its gaps. Without an
// acknowledgement the history has at least one row and must start with a
// creation; with one (as bulwark verify reads it) the rows are those
// after it, and the entity starts in the acknowledged state and version.
func replay(m *machineInfo, h entityHistory, add func(Problem)) {
	problem := func(code string, logID int64, format string, args ...any) {
		add(Problem{Code: code, Detail: fmt.Sprintf(format, args...), Entity: h.entity, LogID: logID, Machine: m.name})
	}
	var (
		exists     bool    // the log says the entity exists
		state      *string // the state the last row left it in
		count      int     // rows since its logged creation
		countKnown bool    // a creation was logged
		deleted    bool    // the last row deleted it
		stateAck   bool    // state is the acknowledgement's
		countAck   bool    // count started at the acknowledged version
		lastID     int64   // the last row read, or the acknowledged one
	)
	if h.ack != nil {
		ackState := h.ack.state
		exists, state, count, countKnown, lastID = true, &ackState, int(h.ack.version), true, h.ack.logID
		stateAck, countAck = true, true
	}
	// previous names what left the entity in state, for the details.
	previous := func() string {
		if stateAck {
			return "the acknowledgement (bulwark.history_acknowledge)"
		}
		return "the previous log row"
	}
	for i, r := range h.rows {
		lastID = r.id
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
			stateAck, countAck = false, false
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
			problem(ProblemUnloggedChange, r.id, "%s starts from %s, but %s left it in %s: %s",
				r.transition, *r.from, previous(), show(state), describeEdge(m, show(state), *r.from))
		}
		count++
		if r.transition == maintenanceDelete {
			exists, deleted, state, countKnown, stateAck = false, true, nil, false, false
			continue
		}
		checkStep(m, r, problem)
		state, stateAck = r.to, false
	}
	last := "the last log row"
	if len(h.rows) == 0 {
		last = "the acknowledgement (bulwark.history_acknowledge)"
	}
	switch {
	case h.now.exists && deleted:
		problem(ProblemNoCreation, lastID, "the row exists (state %s), but the last log row deleted it: it came back with no log row", show(h.now.state))
	case h.now.exists:
		if show(h.now.state) != show(state) {
			problem(ProblemUnloggedChange, lastID, "the row is in %s, but %s left it in %s: %s",
				show(h.now.state), last, show(state), describeEdge(m, show(state), show(h.now.state)))
		}
		switch {
		case !countKnown || (h.now.version != nil && int(*h.now.version) == count):
		case countAck:
			problem(ProblemVersionSkipped, lastID, "the row is at version %s, but it was acknowledged at version %d and %d log rows record its writes since",
				showVersion(h.now.version), h.ack.version, count-int(h.ack.version))
		default:
			problem(ProblemVersionSkipped, lastID, "the row is at version %s, but %d log rows record its writes since its creation",
				showVersion(h.now.version), count)
		}
	case exists:
		problem(ProblemMissingRow, lastID, "%s left it in %s, but the row is gone with no logged delete", last, show(state))
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
	case from == to && kind != "update" && edge != r.transition:
		// A self-loop is its transition's, as any edge is (verify's
		// reading too).
		problem(ProblemWrongAction, r.id, "%s left it in %s, which is transition %s", r.transition, from, edge)
	}
}

// byMachine returns the arguments of a query of machine's rows ($1) and,
// when only is set, the condition that narrows it to that entity ($2, in
// column).
func byMachine(machine string, only uuid.UUID, column string) ([]any, string) {
	if only == uuid.Nil {
		return []any{machine}, ""
	}
	return []any{machine, only}, " AND " + column + " = $2"
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
