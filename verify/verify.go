package verify

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/bulwarkdb/bulwark/sql/schema"
)

// SchemaVersion is the version of the report's JSON schema (see the
// package documentation). It changes only when a field is removed or
// changes meaning; new fields and new checks keep it.
const SchemaVersion = 1

// The checks, in the order a [Report] lists them. The names are stable:
// CI pipelines match on them.
const (
	CheckGuardTriggers        = "guard_triggers"
	CheckAppendOnly           = "append_only"
	CheckTriggersEnabled      = "triggers_enabled"
	CheckTriggerSettings      = "trigger_settings"
	CheckTriggerDefinitions   = "trigger_definitions"
	CheckGuardedTables        = "guarded_tables"
	CheckColumns              = "columns"
	CheckConstraints          = "constraints"
	CheckConflicts            = "conflicts"
	CheckRowSecurity          = "row_security"
	CheckRules                = "rules"
	CheckTablePrivileges      = "table_privileges"
	CheckSchemaCreate         = "schema_create"
	CheckRiverPrivileges      = "river_privileges"
	CheckDefaultPrivileges    = "default_privileges"
	CheckFunctionDefiner      = "function_definer"
	CheckFunctionOwner        = "function_owner"
	CheckFunctionSearchPath   = "function_search_path"
	CheckFunctionExecute      = "function_execute"
	CheckFunctionFingerprints = "function_fingerprints"
	CheckCallableFunctions    = "callable_functions"
	CheckOwners               = "owners"
	CheckOwnerMembers         = "owner_members"
	CheckEngineMembers        = "engine_members"
	CheckCreateRole           = "createrole"
	CheckCapabilityNames      = "capability_names"
	CheckRoleCapabilities     = "role_capabilities"
	CheckStateMachines        = "state_machines"
	CheckActionRules          = "action_rules"
	CheckHistory              = "history"
	CheckMigrations           = "migrations"
)

// roleOwner owns everything behind the boundary.
const roleOwner = "bulwark_owner"

// roleEngine owns the code that writes guarded tables; it has no members.
const roleEngine = "bulwark_engine"

// Beginner is what [Run] needs of a database: *pgx.Conn and *pgxpool.Pool
// both are.
type Beginner interface {
	BeginTx(ctx context.Context, txOptions pgx.TxOptions) (pgx.Tx, error)
}

// Opts configures [Run]. A nil *Opts means the defaults.
type Opts struct {
	// MigrationRoles are the login roles allowed to be members of
	// bulwark_owner: the roles that run migrations. Empty means the
	// session's user, which is right when verify runs as the migration
	// role (as `bulwark migrate up` does).
	MigrationRoles []string

	// Lines are the migration lines to check besides bulwark's own,
	// typically a team's ([schema.Own]): each must have its version table,
	// and every migration it applied must be one of the line's, with the
	// checksum recorded when it was applied. The core's line is always
	// checked, River's and the articles' when their version tables exist.
	// A line here with a built-in line's name replaces it.
	Lines []*schema.Line

	// HistoryRows bounds the rows of one guarded table whose history the
	// history check reads: a table with more (by its planner statistics)
	// is checked on a Bernoulli sample of about HistoryRows rows, each row
	// with probability HistoryRows/rows, drawn afresh on every run. Zero
	// means [DefaultHistoryRows]; negative means every row of every
	// table.
	HistoryRows int
}

// DefaultHistoryRows is the default of [Opts].HistoryRows.
const DefaultHistoryRows = 10000

// Report is the outcome of [Run]: one [Check] per rule, in a fixed order.
type Report struct {
	// SchemaVersion is [SchemaVersion].
	SchemaVersion int `json:"schema_version"`
	// Database is the name of the verified database.
	Database string `json:"database"`
	// OK is true when every check passed.
	OK bool `json:"ok"`
	// Checks lists every check, passed or not.
	Checks []Check `json:"checks"`
}

// Check is one rule and what broke it.
type Check struct {
	// Name is one of the Check* constants.
	Name string `json:"name"`
	// OK is true when Findings is empty.
	OK bool `json:"ok"`
	// Checked counts the objects the check examined, in Objects.
	Checked int `json:"checked"`
	// Objects says what Checked counts ("triggers", "functions").
	Objects string `json:"objects"`
	// Findings lists each object that breaks the rule; empty, never nil.
	Findings []Finding `json:"findings"`
}

// Finding is one object that breaks a rule.
type Finding struct {
	// Object names the object: a table, trigger, constraint, function,
	// schema, role, capability, state or migration.
	Object string `json:"object"`
	// Problem says what is wrong, in one line.
	Problem string `json:"problem"`
	// Fix says how to restore the rule, in one line.
	Fix string `json:"fix"`
}

// Failures returns every finding of every check, as "check object".
func (r *Report) Failures() []string {
	var out []string
	for _, c := range r.Checks {
		for _, f := range c.Findings {
			out = append(out, c.Name+" "+f.Object)
		}
	}
	return out
}

func (c *Check) fail(object, problem, fix string) {
	c.Findings = append(c.Findings, Finding{Object: object, Problem: problem, Fix: fix})
}

// checks lists every check in report order.
var checks = []struct {
	name    string
	objects string
	run     func(s *session, ctx context.Context, c *Check) error
}{
	{CheckGuardTriggers, "triggers", (*session).checkGuardTriggers},
	{CheckAppendOnly, "triggers", (*session).checkAppendOnly},
	{CheckTriggersEnabled, "triggers", (*session).checkTriggersEnabled},
	{CheckTriggerSettings, "settings", (*session).checkTriggerSettings},
	{CheckTriggerDefinitions, "triggers", (*session).checkTriggerDefinitions},
	{CheckGuardedTables, "tables", (*session).checkGuardedTables},
	{CheckColumns, "columns", (*session).checkColumns},
	{CheckConstraints, "constraints", (*session).checkConstraints},
	{CheckConflicts, "declared conflicts", (*session).checkConflicts},
	{CheckRowSecurity, "tables and policies", (*session).checkRowSecurity},
	{CheckRules, "tables", (*session).checkRules},
	{CheckTablePrivileges, "tables", (*session).checkTablePrivileges},
	{CheckSchemaCreate, "schemas", (*session).checkSchemaCreate},
	{CheckRiverPrivileges, "river objects", (*session).checkRiverPrivileges},
	{CheckDefaultPrivileges, "default privileges", (*session).checkDefaultPrivileges},
	{CheckFunctionDefiner, "transition functions", (*session).checkFunctionDefiner},
	{CheckFunctionOwner, "functions", (*session).checkFunctionOwner},
	{CheckFunctionSearchPath, "transition functions", (*session).checkFunctionSearchPath},
	{CheckFunctionExecute, "functions", (*session).checkFunctionExecute},
	{CheckFunctionFingerprints, "functions", (*session).checkFunctionFingerprints},
	{CheckCallableFunctions, "functions", (*session).checkCallableFunctions},
	{CheckOwners, "tables and schemas", (*session).checkOwners},
	{CheckOwnerMembers, "login roles", (*session).checkOwnerMembers},
	{CheckEngineMembers, "roles", (*session).checkEngineMembers},
	{CheckCreateRole, "roles", (*session).checkCreateRole},
	{CheckCapabilityNames, "capabilities", (*session).checkCapabilityNames},
	{CheckRoleCapabilities, "grants", (*session).checkRoleCapabilities},
	{CheckStateMachines, "state machines", (*session).checkStateMachines},
	{CheckActionRules, "rules of guarded machines", (*session).checkActionRules},
	{CheckHistory, "rows", (*session).checkHistory},
	{CheckMigrations, "migrations", (*session).checkMigrations},
}

// session is one run: its read-only transaction and what several checks
// share.
type session struct {
	tx   pgx.Tx
	opts Opts
	// lines are the migration lines the migrations check compares.
	lines []migrationLine

	// boundary lists the schemas behind the boundary: bulwark and those of
	// the guarded tables.
	boundary  []string
	functions []function
	guarded   []guardedTable
	// logOID is bulwark.transition_log's OID, zero if it is gone.
	logOID uint32
	// contract is every object behind the boundary whose definition
	// differs from its record, by kind; contractCounts counts the live
	// objects of each kind.
	contract       map[string][]contractDiff
	contractCounts map[string]int
	// guardHistory is every table that is or was guarded; leftBoundary
	// names those unguarded that still exist (guarded_tables reports them,
	// and the other checks leave their objects alone).
	guardHistory []guardRecord
	leftBoundary map[string]bool
}

// guardedTable is a row of bulwark.guarded_tables.
type guardedTable struct {
	OID         uint32
	Name        string // empty when the table is gone
	Machine     string
	StateColumn string
	Schema      string
	// Rows is the planner's estimate of the table's rows; negative when
	// the table was never analyzed.
	Rows float64
	// Initial is the machine's initial state.
	Initial string
}

// Run checks that the enforcement boundary still holds in db: the guard
// and audit triggers, the contract's constraints, the functions, columns,
// triggers and policies against their record, the roles' privileges and
// what they may call, the transition functions, ownership, capability
// names, state machines, every guarded row's history and the applied
// migrations. It reads only catalogs, bulwark's tables and the guarded
// tables, in one READ ONLY transaction, so it is safe on a production
// database.
//
// A Report with OK false is drift, not an error. Run returns an error only
// when it could not check: no connection, bulwark not installed or too old
// ([ErrNotInstalled], [ErrNoContract], [ErrNoRecord]), or a permission the
// role lacks (a [*CheckError] naming the check).
func Run(ctx context.Context, db Beginner, opts *Opts) (*Report, error) {
	var o Opts
	if opts != nil {
		o = *opts
	}
	if o.HistoryRows == 0 {
		o.HistoryRows = DefaultHistoryRows
	}
	lines, err := migrationLines(o.Lines)
	if err != nil {
		return nil, err
	}

	// Repeatable read: every check sees the same moment.
	tx, err := db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("begin read-only transaction: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	s := &session{tx: tx, opts: o, lines: lines}
	report, err := s.run(ctx)
	if err != nil {
		return nil, err
	}
	return report, nil
}

func (s *session) run(ctx context.Context) (*Report, error) {
	// Qualified names in every message and definition, whatever the
	// caller's search_path; never wait long behind a migration's lock; and
	// no JIT: with hundreds of guarded tables the planner's estimates
	// (unanalyzed tables count as a thousand rows each) cross its
	// thresholds, and compiling costs seconds where running costs
	// milliseconds.
	if _, err := s.tx.Exec(ctx, `
		SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true),
		       pg_catalog.set_config('lock_timeout', '10s', true),
		       pg_catalog.set_config('jit', 'off', true)`); err != nil {
		return nil, fmt.Errorf("configure session: %w", err)
	}

	report := &Report{SchemaVersion: SchemaVersion, OK: true}
	var installed, contract, record bool
	var sessionUser string
	if err := s.tx.QueryRow(ctx, `
		SELECT pg_catalog.current_database()::text,
		       session_user::text,
		       pg_catalog.to_regnamespace('bulwark') IS NOT NULL,
		       pg_catalog.to_regclass('bulwark.contract_constraints') IS NOT NULL,
		       pg_catalog.to_regclass('bulwark.contract_objects') IS NOT NULL`,
	).Scan(&report.Database, &sessionUser, &installed, &contract, &record); err != nil {
		return nil, fmt.Errorf("inspect database: %w", err)
	}
	if !installed {
		return nil, ErrNotInstalled
	}
	if !contract {
		return nil, ErrNoContract
	}
	if !record {
		return nil, ErrNoRecord
	}
	if len(s.opts.MigrationRoles) == 0 {
		s.opts.MigrationRoles = []string{sessionUser}
	}

	if err := s.load(ctx); err != nil {
		return nil, err
	}
	for _, def := range checks {
		c := Check{Name: def.name, Objects: def.objects, Findings: []Finding{}}
		if err := def.run(s, ctx, &c); err != nil {
			return nil, &CheckError{Check: def.name, Err: err}
		}
		c.OK = len(c.Findings) == 0
		report.OK = report.OK && c.OK
		report.Checks = append(report.Checks, c)
	}
	return report, nil
}

// load reads what several checks share: the guarded tables, the boundary
// schemas and their functions.
func (s *session) load(ctx context.Context) error {
	rows, err := s.tx.Query(ctx, `
		SELECT g.relation::oid,
		       coalesce(c.oid::regclass::text, ''),
		       g.machine,
		       g.state_column,
		       coalesce(n.nspname::text, ''),
		       coalesce(c.reltuples, -1)::float8,
		       coalesce(m.initial_state, '')
		FROM bulwark.guarded_tables AS g
		LEFT JOIN pg_catalog.pg_class AS c ON c.oid = g.relation
		LEFT JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
		LEFT JOIN bulwark.machines AS m ON m.name = g.machine
		ORDER BY 2, 1`)
	if err != nil {
		return &CheckError{Check: "loading guarded tables", Err: err}
	}
	s.guarded, err = pgx.CollectRows(rows, pgx.RowToStructByPos[guardedTable])
	if err != nil {
		return &CheckError{Check: "loading guarded tables", Err: err}
	}

	s.boundary = []string{"bulwark"}
	for _, g := range s.guarded {
		if g.Schema != "" && !slices.Contains(s.boundary, g.Schema) {
			s.boundary = append(s.boundary, g.Schema)
		}
	}

	if err := s.tx.QueryRow(ctx,
		`SELECT coalesce(pg_catalog.to_regclass('bulwark.transition_log')::oid, 0)`,
	).Scan(&s.logOID); err != nil {
		return &CheckError{Check: "loading the audit log", Err: err}
	}

	if err := s.loadFunctions(ctx); err != nil {
		return &CheckError{Check: "loading functions", Err: err}
	}
	if err := s.loadGuardHistory(ctx); err != nil {
		return &CheckError{Check: "loading the guard history", Err: err}
	}
	if err := s.loadContract(ctx); err != nil {
		return &CheckError{Check: "loading the boundary's record", Err: err}
	}
	return nil
}

// existingGuarded returns the OIDs of the guarded tables that still exist.
func (s *session) existingGuarded() []uint32 {
	var oids []uint32
	for _, g := range s.guarded {
		if g.Name != "" {
			oids = append(oids, g.OID)
		}
	}
	return oids
}

// appRoles is the SQL of the application roles that exist, so that
// has_*_privilege never meets a dropped role.
const appRoles = `SELECT r.rolname::text AS name, r.oid FROM pg_catalog.pg_roles AS r WHERE r.rolname IN ('bulwark_app', 'bulwark_jobs')`

// grantees is the SQL of PUBLIC and the application roles that exist.
const grantees = `SELECT 'public'::text AS name, 0::oid AS oid UNION ALL ` + appRoles

// quoteLiteral quotes s as an SQL string literal, for fix hints.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// displayRole writes PUBLIC the way GRANT does.
func displayRole(name string) string {
	if name == "public" {
		return "PUBLIC"
	}
	return name
}
