package verify

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// pg_trigger.tgtype bits.
const (
	tgRow      = 1 << 0
	tgBefore   = 1 << 1
	tgInsert   = 1 << 2
	tgDelete   = 1 << 3
	tgUpdate   = 1 << 4
	tgTruncate = 1 << 5
)

// triggerSpec is a trigger that bulwark.guard() or the core migration
// creates, as pg_trigger records it.
type triggerSpec struct {
	name string
	// events is the CREATE TRIGGER text between the name and ON.
	events string
	fn     func(g guardedTable) string // without the argument list
	tgtype int16
	// when returns the WHEN condition on a guarded table as
	// pg_get_triggerdef prints it inside the parentheses that follow WHEN;
	// nil (or empty) for none.
	when func(g guardedTable) string
	// args returns the trigger's arguments for a guarded table.
	args func(g guardedTable) []string
}

func noArgs(guardedTable) []string { return nil }

// fixed is a trigger function that is the same for every table.
func fixed(name string) func(guardedTable) string {
	return func(guardedTable) string { return name }
}

// generated is the trigger function the engine generates for a guarded
// table's machine (bulwark.engine_build).
func generated(suffix string) func(guardedTable) string {
	return func(g guardedTable) string { return "bulwark.trg_" + g.Machine + "_" + suffix }
}

// guardTriggers are the triggers bulwark.guard() attaches to every guarded
// table.
var guardTriggers = []triggerSpec{
	{
		// Skipped only for the apply function's own write: by the engine,
		// of the row, table and version it named in bulwark.engine_write,
		// to the next version, with the same id.
		name:   "bulwark_10_boundary",
		events: "BEFORE UPDATE",
		fn:     generated("boundary"),
		tgtype: tgRow | tgBefore | tgUpdate,
		when: func(g guardedTable) string {
			return fmt.Sprintf("((CURRENT_USER <> 'bulwark_engine'::name) OR (new.id IS DISTINCT FROM old.id) OR "+
				"(new.version IS DISTINCT FROM (old.version + 1)) OR (current_setting('bulwark.engine_write'::text, true) IS DISTINCT FROM "+
				"((('%d:'::text || (old.id)::text) || ':'::text) || (old.version)::text)))", g.OID)
		},
		args: noArgs,
	},
	{
		name:   "bulwark_10_boundary_insert",
		events: "BEFORE INSERT",
		fn:     generated("boundary"),
		tgtype: tgRow | tgBefore | tgInsert,
		when: func(g guardedTable) string {
			return fmt.Sprintf("((CURRENT_USER <> 'bulwark_engine'::name) OR (new.version IS DISTINCT FROM 1) OR "+
				"(current_setting('bulwark.engine_write'::text, true) IS DISTINCT FROM (('%d:'::text || (new.id)::text) || ':0'::text)))", g.OID)
		},
		args: noArgs,
	},
	{
		name:   "bulwark_10_boundary_delete",
		events: "BEFORE DELETE",
		fn:     generated("boundary"),
		tgtype: tgRow | tgBefore | tgDelete,
		args:   noArgs,
	},
	{
		// The engine logs its own writes.
		name:   "bulwark_90_audit",
		events: "AFTER INSERT OR UPDATE OR DELETE",
		fn:     generated("audit"),
		tgtype: tgRow | tgInsert | tgUpdate | tgDelete,
		when:   func(guardedTable) string { return "(CURRENT_USER <> 'bulwark_engine'::name)" },
		args:   noArgs,
	},
	{
		name:   "bulwark_truncate",
		events: "BEFORE TRUNCATE",
		fn:     fixed("bulwark.trg_refuse_truncate"),
		tgtype: tgBefore | tgTruncate,
		args:   noArgs,
	},
}

// appendOnlyTriggers are the triggers that keep bulwark.transition_log
// append-only.
var appendOnlyTriggers = []triggerSpec{
	{
		name:   "bulwark_append_only",
		events: "BEFORE UPDATE OR DELETE",
		fn:     fixed("bulwark.trg_append_only"),
		tgtype: tgRow | tgBefore | tgUpdate | tgDelete,
		args:   noArgs,
	},
	{
		name:   "bulwark_append_only_truncate",
		events: "BEFORE TRUNCATE",
		fn:     fixed("bulwark.trg_append_only"),
		tgtype: tgBefore | tgTruncate,
		args:   noArgs,
	},
}

// whenOn is t's WHEN condition on g, empty for none.
func (t triggerSpec) whenOn(g guardedTable) string {
	if t.when == nil {
		return ""
	}
	return t.when(g)
}

// createSQL is the statement that creates t's trigger on g.
func (t triggerSpec) createSQL(g guardedTable) string {
	level := "FOR EACH STATEMENT"
	if t.tgtype&tgRow != 0 {
		level = "FOR EACH ROW"
	}
	var args []string
	for _, a := range t.args(g) {
		args = append(args, quoteLiteral(a))
	}
	when := ""
	if w := t.whenOn(g); w != "" {
		when = " WHEN (" + w + ")"
	}
	return fmt.Sprintf("CREATE TRIGGER %s %s ON %s %s%s EXECUTE FUNCTION %s(%s)",
		t.name, t.events, g.Name, level, when, t.fn(g), strings.Join(args, ", "))
}

// liveTrigger is a pg_trigger row.
type liveTrigger struct {
	Rel     uint32
	Name    string
	Enabled string
	Fn      string
	Type    int16
	Args    []byte
	When    string
	HasCols bool
}

// checkGuardTriggers requires the guard's three triggers on every guarded
// table, enabled and as guard() made them.
func (s *session) checkGuardTriggers(ctx context.Context, c *Check) error {
	// A registered table that is gone is guarded_tables' finding.
	var targets []guardedTable
	for _, g := range s.guarded {
		if g.Name != "" {
			targets = append(targets, g)
		}
	}
	return s.checkTriggerSet(ctx, c, targets, guardTriggers)
}

// checkAppendOnly requires the audit log's append-only triggers.
func (s *session) checkAppendOnly(ctx context.Context, c *Check) error {
	if s.logOID == 0 {
		c.Checked = len(appendOnlyTriggers)
		c.fail("bulwark.transition_log", "the audit log is gone", "restore it from migration 00001 (and the backups)")
		return nil
	}
	log := guardedTable{OID: s.logOID, Name: "bulwark.transition_log"}
	return s.checkTriggerSet(ctx, c, []guardedTable{log}, appendOnlyTriggers)
}

func (s *session) checkTriggerSet(ctx context.Context, c *Check, tables []guardedTable, specs []triggerSpec) error {
	c.Checked += len(tables) * len(specs)
	if len(tables) == 0 {
		return nil
	}
	oids := make([]uint32, 0, len(tables))
	for _, g := range tables {
		oids = append(oids, g.OID)
	}
	names := make([]string, 0, len(specs))
	for _, t := range specs {
		names = append(names, t.name)
	}
	rows, err := s.tx.Query(ctx, `
		SELECT t.tgrelid::oid,
		       t.tgname::text,
		       t.tgenabled::text,
		       t.tgfoid::regproc::text,
		       t.tgtype,
		       t.tgargs,
		       coalesce(pg_catalog.substring(pg_catalog.pg_get_triggerdef(t.oid), ' WHEN \((.*)\) EXECUTE FUNCTION '), ''),
		       t.tgattr::text <> ''
		FROM pg_catalog.pg_trigger AS t
		WHERE t.tgrelid = ANY ($1::oid[])
		  AND t.tgname = ANY ($2::text[])`, oids, names)
	if err != nil {
		return err
	}
	live, err := pgx.CollectRows(rows, pgx.RowToStructByPos[liveTrigger])
	if err != nil {
		return err
	}
	type key struct {
		rel  uint32
		name string
	}
	byKey := make(map[key]liveTrigger, len(live))
	for _, t := range live {
		byKey[key{t.Rel, t.Name}] = t
	}

	for _, g := range tables {
		for _, spec := range specs {
			object := g.Name + "." + spec.name
			t, ok := byKey[key{g.OID, spec.name}]
			if !ok {
				c.fail(object, "missing (dropped)", spec.createSQL(g))
				continue
			}
			if changed := triggerChanges(t, spec, g); len(changed) > 0 {
				c.fail(object, "changed: "+strings.Join(changed, "; "),
					fmt.Sprintf("DROP TRIGGER %s ON %s; %s", spec.name, g.Name, spec.createSQL(g)))
				continue
			}
			if problem := enabledProblem(t.Enabled); problem != "" {
				c.fail(object, problem, fmt.Sprintf("ALTER TABLE %s ENABLE TRIGGER %s", g.Name, spec.name))
			}
		}
	}
	return nil
}

// triggerChanges lists how t differs from what spec makes on g.
func triggerChanges(t liveTrigger, spec triggerSpec, g guardedTable) []string {
	var changed []string
	if want := spec.fn(g); t.Fn != want {
		changed = append(changed, fmt.Sprintf("calls %s, not %s", t.Fn, want))
	}
	if t.Type != spec.tgtype {
		changed = append(changed, "fires on other events than "+spec.events)
	}
	if want := spec.args(g); !slices.Equal(splitArgs(t.Args), want) {
		changed = append(changed, fmt.Sprintf("arguments (%s), not (%s)",
			strings.Join(splitArgs(t.Args), ", "), strings.Join(want, ", ")))
	}
	if want := spec.whenOn(g); t.When != want {
		if want == "" {
			changed = append(changed, "has a WHEN condition")
		} else {
			changed = append(changed, fmt.Sprintf("fires WHEN (%s), not WHEN (%s)", t.When, want))
		}
	}
	if t.HasCols {
		changed = append(changed, "fires only for some columns (UPDATE OF)")
	}
	return changed
}

// splitArgs splits pg_trigger.tgargs: each argument ends with a NUL byte.
func splitArgs(raw []byte) []string {
	var args []string
	for len(raw) > 0 {
		i := bytes.IndexByte(raw, 0)
		if i < 0 {
			args = append(args, string(raw))
			break
		}
		args = append(args, string(raw[:i]))
		raw = raw[i+1:]
	}
	return args
}

// enabledProblem describes a pg_trigger.tgenabled that means the trigger
// does not fire in ordinary sessions; empty when it does.
func enabledProblem(enabled string) string {
	switch enabled {
	case "O", "A":
		return ""
	case "D":
		return "disabled: it does not fire"
	case "R":
		return "enabled for replica sessions only (ENABLE REPLICA): it does not fire in ordinary sessions"
	}
	return fmt.Sprintf("in unknown state %q", enabled)
}

// checkTriggersEnabled requires every other trigger on the tables of the
// boundary's schemas (frozen-record rules, capability rules, write guards
// of the tables the core protects, foreign keys' internal triggers) to
// fire.
func (s *session) checkTriggersEnabled(ctx context.Context, c *Check) error {
	rows, err := s.tx.Query(ctx, `
		SELECT c.oid,
		       c.oid::regclass::text,
		       pg_catalog.quote_ident(t.tgname),
		       t.tgenabled::text,
		       t.tgisinternal,
		       coalesce(k.conrelid::regclass::text || '.' || k.conname::text, '')
		FROM pg_catalog.pg_trigger AS t
		JOIN pg_catalog.pg_class AS c ON c.oid = t.tgrelid
		JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
		LEFT JOIN pg_catalog.pg_constraint AS k ON k.oid = t.tgconstraint
		WHERE n.nspname = ANY ($2::text[])
		   OR c.oid = ANY ($1::oid[])
		ORDER BY 2, 3`, s.existingGuarded(), s.boundary)
	if err != nil {
		return err
	}
	guarded := make(map[uint32]bool)
	for _, oid := range s.existingGuarded() {
		guarded[oid] = true
	}
	specNames := func(specs []triggerSpec) []string {
		var names []string
		for _, t := range specs {
			names = append(names, t.name)
		}
		return names
	}
	guardNames, logNames := specNames(guardTriggers), specNames(appendOnlyTriggers)
	reported := make(map[string]bool)

	var (
		oid                         uint32
		table, name, enabled, owner string
		internal                    bool
	)
	_, err = pgx.ForEachRow(rows, []any{&oid, &table, &name, &enabled, &internal, &owner}, func() error {
		// The guard's and the log's own triggers have checks of their own.
		if (guarded[oid] && slices.Contains(guardNames, name)) || (oid == s.logOID && slices.Contains(logNames, name)) {
			return nil
		}
		c.Checked++
		problem := enabledProblem(enabled)
		if problem == "" {
			return nil
		}
		if internal && owner != "" {
			// A constraint's internal triggers, disabled together by
			// DISABLE TRIGGER ALL: report the constraint once.
			if reported[owner] {
				return nil
			}
			reported[owner] = true
			c.fail(owner, "its internal triggers are "+problem+": the constraint is not enforced",
				fmt.Sprintf("ALTER TABLE %s ENABLE TRIGGER ALL", table))
			return nil
		}
		c.fail(table+"."+name, problem, fmt.Sprintf("ALTER TABLE %s ENABLE TRIGGER %s", table, name))
		return nil
	})
	return err
}

// checkTriggerSettings refuses a role or database setting that makes
// sessions skip ordinary triggers (session_replication_role = replica):
// the guards would not fire for them, as if disabled.
func (s *session) checkTriggerSettings(ctx context.Context, c *Check) error {
	rows, err := s.tx.Query(ctx, `
		SELECT coalesce(r.rolname::text, ''),
		       coalesce(pg_catalog.quote_ident(r.rolname), ''),
		       coalesce(d.datname::text, ''),
		       coalesce(pg_catalog.quote_ident(d.datname), ''),
		       coalesce(s.setconfig, '{}')
		FROM pg_catalog.pg_db_role_setting AS s
		LEFT JOIN pg_catalog.pg_roles AS r ON r.oid = s.setrole
		LEFT JOIN pg_catalog.pg_database AS d ON d.oid = s.setdatabase
		WHERE s.setdatabase = 0 OR d.datname = pg_catalog.current_database()
		ORDER BY 1, 2`)
	if err != nil {
		return err
	}
	var (
		role, quotedRole, database, quotedDatabase string
		config                                     []string
	)
	_, err = pgx.ForEachRow(rows, []any{&role, &quotedRole, &database, &quotedDatabase, &config}, func() error {
		c.Checked++
		for _, setting := range config {
			if !strings.EqualFold(setting, "session_replication_role=replica") {
				continue
			}
			var object, fix string
			switch {
			case role == "":
				object = "database " + database
				fix = fmt.Sprintf("ALTER DATABASE %s RESET session_replication_role", quotedDatabase)
			case database == "":
				object = "role " + role
				fix = fmt.Sprintf("ALTER ROLE %s RESET session_replication_role", quotedRole)
			default:
				object = "role " + role + " in database " + database
				fix = fmt.Sprintf("ALTER ROLE %s IN DATABASE %s RESET session_replication_role",
					quotedRole, quotedDatabase)
			}
			c.fail(object, "sets session_replication_role = replica: the guards do not fire in its sessions", fix)
		}
		return nil
	})
	if err != nil {
		return err
	}

	// The server's own configuration (postgresql.conf, ALTER SYSTEM).
	var resetVal, source string
	if err := s.tx.QueryRow(ctx, `
		SELECT reset_val, source FROM pg_catalog.pg_settings WHERE name = 'session_replication_role'`,
	).Scan(&resetVal, &source); err != nil {
		return err
	}
	c.Checked++
	switch source {
	case "database", "user", "database user", "client", "session":
		// Role and database settings are checked above; a client's own
		// option affects only verify's session.
	default:
		if resetVal == "replica" {
			c.fail("server configuration", "session_replication_role = replica (source: "+source+"): the guards do not fire",
				"ALTER SYSTEM RESET session_replication_role (or remove it from postgresql.conf), then reload")
		}
	}
	return nil
}
