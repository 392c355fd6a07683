package scaffold

import (
	"fmt"
	"slices"
	"strings"
)

// sqlWriter builds SQL text line by line.
type sqlWriter struct{ b strings.Builder }

func (w *sqlWriter) line(format string, args ...any) {
	fmt.Fprintf(&w.b, format, args...)
	w.b.WriteByte('\n')
}

func (w *sqlWriter) blank() { w.b.WriteByte('\n') }

// comment writes text as -- comment lines of at most 78 characters.
func (w *sqlWriter) comment(text string) {
	line := "--"
	for _, word := range strings.Fields(text) {
		if len(line)+1+len(word) > 78 && line != "--" {
			w.line("%s", line)
			line = "--"
		}
		line += " " + word
	}
	w.line("%s", line)
}

func (w *sqlWriter) section(title string) {
	rule := strings.Repeat("-", 78)
	w.blank()
	w.line("%s", rule)
	w.line("-- %s", title)
	w.line("%s", rule)
	w.blank()
}

// extract returns the SQL expression that reads argument c from p_args,
// typed as its column.
func extract(c Column) string {
	switch c.Type {
	case "text":
		return fmt.Sprintf("p_args ->> %s", literal(c.Name))
	case "jsonb":
		// A NULL argument is a JSON null inside p_args: take it as NULL.
		return fmt.Sprintf("NULLIF(p_args -> %s, 'null'::jsonb)", literal(c.Name))
	}
	return fmt.Sprintf("(p_args ->> %s)::%s", literal(c.Name), c.Type)
}

// migration returns the domain's goose migration.
func (g *generator) migration() []byte {
	d := g.d
	w := &sqlWriter{}
	machine := literal(d.Machine)

	w.comment(fmt.Sprintf("%s The %s machine in schema %s, put behind the boundary with the core's declarations and bulwark.guard().", d.Description, d.Machine, d.Schema))
	w.comment(fmt.Sprintf("Scaffolded by `bulwark new` from %s. Extend it by hand (preconditions with bulwark.declare_check, more set rules, constraints, indexes) before it is merged: a merged migration is never edited.", g.source))
	w.blank()
	w.line("-- +goose Up")
	w.line("-- Fail fast rather than queue behind a long transaction and block every")
	w.line("-- session that then queues behind this migration's locks.")
	w.line("SET LOCAL lock_timeout = '10s';")
	w.line("SET LOCAL statement_timeout = '5min';")
	w.line("CREATE SCHEMA %s AUTHORIZATION bulwark_owner;", d.Schema)
	w.blank()
	w.line("SET LOCAL ROLE bulwark_owner;")
	w.blank()
	w.line("-- bulwark.guard grants USAGE on the schema to the application and job roles.")
	w.line("REVOKE ALL ON SCHEMA %s FROM PUBLIC;", d.Schema)
	w.line("COMMENT ON SCHEMA %s IS %s;", d.Schema, literal(d.Description))
	w.blank()
	for _, c := range d.Capabilities {
		w.line("SELECT bulwark.declare_capability(%s, %s);", literal(c.Name), literal(c.Description))
	}
	if len(d.Roles) > 0 {
		w.blank()
	}
	for _, r := range d.Roles {
		w.line("SELECT bulwark.declare_role(%s, %s);", literal(r.Name), array(r.Capabilities))
	}
	w.blank()
	w.line("SELECT bulwark.declare_machine(%s, %s, %s);", machine, literal(d.Initial), array(d.States))
	for _, t := range d.Transitions {
		for i, from := range t.From {
			// The first edge of an action names its capability; the
			// others inherit it.
			if i == 0 {
				w.line("SELECT bulwark.declare_transition(%s, %s, %s, %s, %s);", machine, literal(t.Name), literal(from), literal(t.To), literal(t.Capability))
			} else {
				w.line("SELECT bulwark.declare_transition(%s, %s, %s, %s);", machine, literal(t.Name), literal(from), literal(t.To))
			}
		}
	}
	for _, a := range d.Actions {
		w.line("SELECT bulwark.declare_action(%s, %s, %s, %s);", machine, literal(a.Name), literal(a.Kind), literal(a.Capability))
	}

	g.createTable(w)

	g.rules(w)

	w.section("The SQL API: one typed wrapper of the engine per action (what sqlc calls)")
	for i, a := range g.actions() {
		if i > 0 {
			w.blank()
		}
		g.wrapperSQL(w, a)
	}
	w.blank()
	w.line("RESET ROLE;")
	w.blank()
	g.down(w)
	return []byte(w.b.String())
}

// createTable writes the table, its comments and indexes, and guards it.
func (g *generator) createTable(w *sqlWriter) {
	d := g.d
	type col struct{ name, def string }
	cols := []col{{"id", "uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid()"}}
	rest := []col{
		{"created_at", "timestamptz NOT NULL DEFAULT pg_catalog.now()"},
		{"state", "text NOT NULL DEFAULT " + literal(d.Initial)},
		{"version", "integer NOT NULL DEFAULT 1"},
	}
	var constraints []string
	for _, c := range d.Columns {
		def := c.Type
		if !c.Null {
			def += " NOT NULL"
		}
		if c.References != "" {
			def += " REFERENCES " + c.References
		}
		rest = append(rest, col{c.Name, def})
		if c.MaxLength > 0 {
			constraints = append(constraints, fmt.Sprintf("CONSTRAINT %s_%s_length CHECK (pg_catalog.char_length(%s) <= %d)", d.Machine, c.Name, c.Name, c.MaxLength))
		}
	}
	constraints = append(constraints, fmt.Sprintf("CONSTRAINT %s_version_positive CHECK (version > 0)", d.Machine))
	slices.SortFunc(rest, func(a, b col) int { return strings.Compare(a.name, b.name) })
	cols = append(cols, rest...)
	width := 0
	for _, c := range cols {
		width = max(width, len(c.name))
	}
	w.blank()
	w.line("CREATE TABLE %s (", g.table())
	for _, c := range cols {
		w.line("    %-*s %s,", width, c.name, c.def)
	}
	slices.Sort(constraints)
	for i, c := range constraints {
		sep := ","
		if i == len(constraints)-1 {
			sep = ""
		}
		w.line("    %s%s", c, sep)
	}
	w.line(");")
	w.blank()
	w.line("COMMENT ON TABLE %s IS %s;", g.table(), literal(fmt.Sprintf(
		"%s Guarded by the %s state machine: change rows only through the %s functions.",
		d.Description, d.Machine, g.wrapper("*"))))
	w.line("COMMENT ON COLUMN %s.state IS %s;", g.table(), literal(sentenceList(d.States, "or")+"."))
	w.line("COMMENT ON COLUMN %s.version IS 'Optimistic-concurrency token: the engine bumps it on every write.';", g.table())
	for _, c := range d.Columns {
		if c.Comment != "" {
			w.line("COMMENT ON COLUMN %s.%s IS %s;", g.table(), c.Name, literal(c.Comment))
		}
	}
	w.blank()
	w.line("-- What %sListByState pages through.", goName(d.Machine))
	w.line("CREATE INDEX %s_state_created ON %s (state, created_at, id);", d.Machine, g.table())
	for _, c := range d.Columns {
		if c.References != "" && len(d.Machine+"_"+c.Name) <= maxIdentifier {
			w.line("CREATE INDEX %s_%s ON %s (%s);", d.Machine, c.Name, g.table(), c.Name)
		}
	}
	w.blank()
	w.comment(fmt.Sprintf("Generates the engine (%s) and the table's boundary and audit triggers; grants SELECT to the application and job roles, DML to the engine alone; records the constraints for bulwark verify.", g.wrapper("apply")))
	w.line("SELECT bulwark.guard(%s, %s, 'state');", literal(g.table()), literal(d.Machine))
}

// rules writes the argument checks and set rules that carry each
// action's typed arguments into the engine.
func (g *generator) rules(w *sqlWriter) {
	d := g.d
	machine := literal(d.Machine)
	w.section("The rules of each action, in the documented order of the engine's checks")
	// Every change pins the version its caller decided on: the engine
	// checks that itself (bulwark.machines.pins_versions).
	for _, a := range g.actions() {
		if len(a.args) == 0 && a.actor == "" {
			continue
		}
		w.blank()
		if len(a.args) > 0 {
			w.line("-- %s: its arguments, then what it writes.", a.name)
		} else {
			w.line("-- %s: what it writes.", a.name)
		}
		for _, c := range a.args {
			if a.kind == KindCreate && !c.Null {
				w.line("SELECT bulwark.declare_arg_check(%s, %s, $$p_args ->> %s IS NOT NULL$$, '22004', $$'%s is required'$$);",
					machine, literal(a.name), literal(c.Name), c.Name)
			}
			if c.MaxLength > 0 {
				w.line("SELECT bulwark.declare_arg_check(%s, %s, $$pg_catalog.char_length(p_args ->> %s) <= %d$$, '22001', $$'%s is longer than %d characters'$$);",
					machine, literal(a.name), literal(c.Name), c.MaxLength, c.Name, c.MaxLength)
			}
		}
		if a.actor != "" {
			w.line("SELECT bulwark.declare_set(%s, %s, %s, 'p_actor');", machine, literal(a.name), literal(a.actor))
		}
		for _, c := range a.args {
			value := extract(c)
			if a.kind == KindUpdate {
				// NULL keeps the current value.
				value = fmt.Sprintf("coalesce(%s, r.%s)", value, c.Name)
			}
			w.line("SELECT bulwark.declare_set(%s, %s, %s, $$%s$$);", machine, literal(a.name), literal(c.Name), value)
		}
	}
}

// param is one parameter of a typed wrapper.
type param struct{ name, typ string }

// params returns a wrapper's parameters in the house order: actor, target
// and version, arguments, note, idempotency key.
func (a action) params() []param {
	ps := []param{{"p_actor", "uuid"}}
	if a.kind != KindCreate {
		ps = append(ps, param{"p_id", "uuid"}, param{"p_expected_version", "integer"})
	}
	for _, c := range a.args {
		ps = append(ps, param{"p_" + c.Name, c.Type})
	}
	if a.note {
		ps = append(ps, param{"p_note", "text"})
	}
	return append(ps, param{"p_idem_key", "text"})
}

// wrapperSQL writes an action's typed wrapper and its declare_api.
func (g *generator) wrapperSQL(w *sqlWriter, a action) {
	d := g.d
	ps := a.params()
	decl := make([]string, len(ps))
	types := make([]string, len(ps))
	for i, p := range ps {
		decl[i] = p.name + " " + p.typ
		types[i] = p.typ
	}
	target := "p_id, p_expected_version"
	if a.kind == KindCreate {
		target = "NULL, NULL"
	}
	call := fmt.Sprintf("%s.%s_apply(%s, p_actor, %s, p_idem_key", d.Schema, d.Machine, literal(a.name), target)
	switch {
	case len(a.args) > 0:
		pairs := make([]string, len(a.args))
		for i, c := range a.args {
			pairs[i] = fmt.Sprintf("%s, p_%s", literal(c.Name), c.Name)
		}
		call += ", pg_catalog.jsonb_build_object(" + strings.Join(pairs, ", ") + ")"
		if a.note {
			call += ", p_note"
		}
	case a.note:
		call += ", NULL, p_note"
	}
	call += ")"
	w.line("-- +goose StatementBegin")
	w.line("CREATE FUNCTION %s(%s)", g.wrapper(a.name), strings.Join(decl, ", "))
	w.line("RETURNS %s LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp", g.table())
	w.line("AS $$ BEGIN RETURN %s; END $$;", call)
	w.line("-- +goose StatementEnd")
	w.line("SELECT bulwark.declare_api(%s, %s, %s);",
		literal(fmt.Sprintf("%s(%s)", g.wrapper(a.name), strings.Join(types, ", "))), literal(d.Machine), literal(a.name))
}

// down writes the Down migration: the table, its engine and wrappers, the
// machine, and the capabilities and roles no other machine uses.
func (g *generator) down(w *sqlWriter) {
	d := g.d
	caps := make([]string, len(d.Capabilities))
	for i, c := range d.Capabilities {
		caps[i] = c.Name
	}
	roles := make([]string, len(d.Roles))
	for i, r := range d.Roles {
		roles[i] = r.Name
	}
	w.line("-- +goose Down")
	w.line("SET LOCAL lock_timeout = '10s';")
	w.line("SET LOCAL statement_timeout = '5min';")
	w.line("SET LOCAL ROLE bulwark_owner;")
	w.blank()
	w.line("SELECT bulwark.unguard(%s);", literal(g.table()))
	w.line("-- The schema's owner drops what it holds: the table and the wrappers.")
	w.line("DROP SCHEMA %s CASCADE;", d.Schema)
	w.line("SELECT bulwark.undeclare_machine(%s);", literal(d.Machine))
	if len(caps) == 0 && len(roles) == 0 {
		w.blank()
		w.line("RESET ROLE;")
		return
	}
	w.blank()
	w.line("-- Capabilities and roles are cluster-wide names another domain may")
	w.line("-- share: only those no remaining machine or role uses go.")
	w.line("-- +goose StatementBegin")
	w.line("DO $down$")
	w.line("BEGIN")
	w.line("    PERFORM bulwark.maintenance_begin(%s);", literal(fmt.Sprintf("migration %s down: remove the %s domain", g.migrationName(), d.Machine)))
	if len(caps) > 0 {
		w.line("    DELETE FROM bulwark.role_capabilities AS rc")
		w.line("    WHERE rc.capability IN (%s)", inList(caps))
		w.line("      AND NOT EXISTS (SELECT FROM bulwark.actions AS a WHERE a.capability = rc.capability);")
	}
	if len(roles) > 0 {
		w.line("    DELETE FROM bulwark.principal_roles AS pr")
		w.line("    WHERE pr.role IN (%s)", inList(roles))
		w.line("      AND NOT EXISTS (SELECT FROM bulwark.role_capabilities AS rc WHERE rc.role = pr.role);")
		w.line("    DELETE FROM bulwark.roles AS r")
		w.line("    WHERE r.name IN (%s)", inList(roles))
		w.line("      AND NOT EXISTS (SELECT FROM bulwark.role_capabilities AS rc WHERE rc.role = r.name);")
	}
	if len(caps) > 0 {
		w.line("    DELETE FROM bulwark.capabilities AS c")
		w.line("    WHERE c.name IN (%s)", inList(caps))
		w.line("      AND NOT EXISTS (SELECT FROM bulwark.actions AS a WHERE a.capability = c.name)")
		w.line("      AND NOT EXISTS (SELECT FROM bulwark.role_capabilities AS rc WHERE rc.capability = c.name);")
	}
	w.line("    PERFORM bulwark.maintenance_end();")
	w.line("END")
	w.line("$down$;")
	w.line("-- +goose StatementEnd")
	w.blank()
	w.line("RESET ROLE;")
}
