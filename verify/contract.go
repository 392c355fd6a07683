package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Kinds of objects in the boundary's record (bulwark.contract_objects).
const (
	kindColumn   = "column"
	kindDomain   = "domain"
	kindFunction = "function"
	kindPolicy   = "policy"
	kindTable    = "table"
	kindTrigger  = "trigger"
)

// contractDiff is an object behind the boundary whose definition differs
// from its record: changed, added (no record) or removed (no live
// object).
type contractDiff struct {
	Kind    string
	Object  string
	Machine string // empty for none
	Origin  string
	// Live and Recorded are the definitions; nil when absent.
	Live     map[string]any
	Recorded map[string]any
}

// added reports whether d is live but not recorded.
func (d contractDiff) added() bool { return d.Recorded == nil }

// removed reports whether d is recorded but no longer there.
func (d contractDiff) removed() bool { return d.Live == nil }

// changedKeys lists the definition's keys whose values differ, sorted.
func (d contractDiff) changedKeys() []string {
	var keys []string
	for k, v := range d.Live {
		if !jsonEqual(v, d.Recorded[k]) {
			keys = append(keys, k)
		}
	}
	for k := range d.Recorded {
		if _, ok := d.Live[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// change describes key's change, "key: recorded -> live".
func (d contractDiff) change(key string) string {
	return fmt.Sprintf("%s %s -> %s", key, display(d.Recorded[key]), display(d.Live[key]))
}

// str returns the string value of key in def, empty when absent or null.
func str(def map[string]any, key string) string {
	s, _ := def[key].(string)
	return s
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// display renders a definition value for a message.
func display(v any) string {
	switch v := v.(type) {
	case nil:
		return "none"
	case string:
		if v == "" {
			return `""`
		}
		return v
	}
	// As written: a CHECK's "<>" stays "<>", not "\u003c\u003e".
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSuffix(b.String(), "\n")
}

// loadContract compares, in one query, the boundary's objects as the
// catalog holds them now (bulwark.boundary_catalog) with their record
// (bulwark.contract_objects). A recorded object that is gone is reported
// only when it still belongs to the boundary: a function that left the
// boundary's schemas but exists is not, and neither is an object of a
// table no longer guarded or gone (guarded_tables reports the table).
func (s *session) loadContract(ctx context.Context) error {
	rows, err := s.tx.Query(ctx, `
		WITH live AS MATERIALIZED (
		    SELECT c.kind, c.object, c.machine, c.origin, c.definition FROM bulwark.boundary_catalog() AS c
		),
		present AS (
		    SELECT g.machine
		    FROM bulwark.guarded_tables AS g
		    JOIN pg_catalog.pg_class AS c ON c.oid = g.relation
		)
		SELECT coalesce(l.kind, r.kind),
		       coalesce(l.object, r.object),
		       coalesce(l.machine, r.machine, ''),
		       coalesce(l.origin, r.origin),
		       l.definition,
		       r.definition,
		       0::bigint
		FROM live AS l
		FULL JOIN bulwark.contract_objects AS r ON r.kind = l.kind AND r.object = l.object
		WHERE l.definition IS DISTINCT FROM r.definition
		  AND (
		      l.kind IS NOT NULL
		      OR (r.kind = 'function' AND pg_catalog.to_regprocedure(r.object) IS NULL)
		      OR (r.kind <> 'function' AND (r.machine IS NULL OR r.machine IN (SELECT p.machine FROM present AS p)))
		  )
		UNION ALL
		SELECT l.kind, '', '', '', NULL, NULL, pg_catalog.count(*)
		FROM live AS l
		GROUP BY l.kind
		ORDER BY 1, 2`)
	if err != nil {
		return err
	}
	s.contract = make(map[string][]contractDiff)
	s.contractCounts = make(map[string]int)
	var (
		d     contractDiff
		count int64
	)
	_, err = pgx.ForEachRow(rows, []any{&d.Kind, &d.Object, &d.Machine, &d.Origin, &d.Live, &d.Recorded, &count}, func() error {
		switch {
		case d.Object == "":
			s.contractCounts[d.Kind] = int(count)
		case d.Kind != kindFunction && s.leftBoundary[tableOf(d)]:
			// The objects of a table that left the boundary: its leaving
			// is guarded_tables' finding.
		default:
			s.contract[d.Kind] = append(s.contract[d.Kind], d)
		}
		d = contractDiff{}
		return nil
	})
	return err
}

// tableOf returns the table a column, trigger, policy or table object
// belongs to.
func tableOf(d contractDiff) string {
	if d.Kind == kindTable {
		return d.Object
	}
	table, _ := splitObject(d.Object)
	return table
}

// acceptHint ends a fix with how a migration records a change it made on
// purpose, as an SQL comment: the fix stays one runnable line.
func acceptHint(kind, object string) string {
	return fmt.Sprintf(" -- or, if a migration made the change on purpose, record it in that migration: SELECT bulwark.boundary_accept(%s, %s)",
		quoteLiteral(kind), quoteLiteral(object))
}

// checkFunctionFingerprints compares every function behind the boundary
// (schema bulwark, the guarded tables' schemas, every trigger function of
// their tables) with its fingerprint in the record: its body (hashed),
// language, security, volatility, settings, owner and ACL as the
// migrations or declarations left them. A body replaced by hand, even
// with the same signature and settings, is drift.
func (s *session) checkFunctionFingerprints(_ context.Context, c *Check) error {
	c.Checked = s.contractCounts[kindFunction]
	for _, d := range s.contract[kindFunction] {
		keyword := functionKeyword(str(d.Live, "kind"))
		if d.removed() {
			keyword = functionKeyword(str(d.Recorded, "kind"))
		}
		// Only a superuser (or the engine) replaces the engine's code.
		as := ""
		if str(d.Recorded, "owner") == roleEngine {
			as = "as a superuser: "
		}
		restore := "-- " + as + "restore it from its migration (CREATE OR REPLACE as the migration wrote it);"
		if d.Origin == "engine" && d.Machine != "" {
			restore = fmt.Sprintf("SELECT bulwark.engine_build(%s) -- as the migration role: regenerates the machine's engine from its declarations;", quoteLiteral(d.Machine))
		}
		switch {
		case d.added():
			c.fail(d.Object, "not in the record: created outside the migrations (or by a migration run without schema.Up)",
				fmt.Sprintf("DROP %s %s%s", keyword, d.Object, acceptHint(kindFunction, d.Object)))
		case d.removed():
			c.fail(d.Object, "in the record but gone: dropped outside the migrations", restore+acceptHint(kindFunction, d.Object))
		default:
			keys := d.changedKeys()
			var changes []string
			for _, k := range keys {
				switch k {
				case "body":
					changes = append(changes, "its body was replaced")
				case "acl":
					changes = append(changes, fmt.Sprintf("EXECUTE grants %s -> %s", aclText(d.Recorded[k]), aclText(d.Live[k])))
				default:
					changes = append(changes, d.change(k))
				}
			}
			fix := restore
			switch {
			case slices.Contains(keys, "owner"):
				fix = fmt.Sprintf("ALTER %s %s OWNER TO %s -- %sthen restore its grants as recorded (%s);",
					keyword, d.Object, str(d.Recorded, "owner"), as, aclText(d.Recorded["acl"]))
			case slices.Equal(keys, []string{"acl"}):
				fix = aclFix(keyword, d.Object, d.Recorded["acl"], d.Live["acl"])
			}
			c.fail(d.Object, "changed since it was recorded: "+strings.Join(changes, "; "), fix+acceptHint(kindFunction, d.Object))
		}
	}
	return nil
}

// aclEntries turns a recorded ACL ([[grantee, privilege, grantable]...])
// into "grantee:PRIVILEGE" entries.
func aclEntries(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, e := range list {
		if t, ok := e.([]any); ok && len(t) >= 2 {
			out = append(out, fmt.Sprint(t[0])+":"+fmt.Sprint(t[1]))
		}
	}
	return out
}

// aclText renders a recorded ACL for a message.
func aclText(v any) string {
	entries := aclEntries(v)
	if len(entries) == 0 {
		return "none"
	}
	return strings.Join(entries, ", ")
}

// aclFix is the REVOKE and GRANT statements that turn the live ACL back
// into the recorded one.
func aclFix(keyword, object string, recorded, live any) string {
	want, have := aclEntries(recorded), aclEntries(live)
	var stmts []string
	for _, e := range have {
		if !slices.Contains(want, e) {
			grantee, priv, _ := strings.Cut(e, ":")
			stmts = append(stmts, fmt.Sprintf("REVOKE %s ON %s %s FROM %s", priv, keyword, object, grantee))
		}
	}
	for _, e := range want {
		if !slices.Contains(have, e) {
			grantee, priv, _ := strings.Cut(e, ":")
			stmts = append(stmts, fmt.Sprintf("GRANT %s ON %s %s TO %s", priv, keyword, object, grantee))
		}
	}
	return strings.Join(stmts, "; ")
}

// functionKeyword is FUNCTION or PROCEDURE for a pg_proc.prokind.
func functionKeyword(kind string) string {
	if kind == "p" {
		return "PROCEDURE"
	}
	return "FUNCTION"
}

// splitObject splits "schema.table.name" into the table and the name.
func splitObject(object string) (table, name string) {
	i := strings.LastIndexByte(object, '.')
	if i < 0 {
		return object, ""
	}
	return object[:i], object[i+1:]
}

// checkColumns compares the columns of every table of the boundary's
// schemas (the guarded tables, the core's, the tables it protects) with
// the record: type, NOT NULL, default (a default runs as
// whoever inserts, the engine included), generated expression and
// identity. A column dropped, added or altered outside the migrations is
// drift.
func (s *session) checkColumns(_ context.Context, c *Check) error {
	c.Checked = s.contractCounts[kindColumn]
	for _, d := range s.contract[kindColumn] {
		table, column := splitObject(d.Object)
		switch {
		case d.added():
			c.fail(d.Object, "not in the record: added outside the migrations",
				fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s%s", table, column, acceptHint(kindColumn, d.Object)))
		case d.removed():
			c.fail(d.Object, "in the record but gone: dropped outside the migrations",
				fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s -- and its data from backups;%s", table, column, str(d.Recorded, "type"), acceptHint(kindColumn, d.Object)))
		default:
			var changes, fixes []string
			rest := false
			for _, k := range d.changedKeys() {
				changes = append(changes, d.change(k))
				switch k {
				case "not_null":
					if d.Recorded[k] == true {
						fixes = append(fixes, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s SET NOT NULL", table, column))
					} else {
						fixes = append(fixes, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL", table, column))
					}
				case "default":
					if def := str(d.Recorded, "default"); def != "" {
						fixes = append(fixes, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s", table, column, def))
					} else {
						fixes = append(fixes, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT", table, column))
					}
				case "type":
					fixes = append(fixes, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s TYPE %s", table, column, str(d.Recorded, "type")))
				default:
					rest = true
				}
			}
			fix := strings.Join(fixes, "; ")
			if rest {
				fix += " -- restore its generated expression or identity from its migration;"
			}
			c.fail(d.Object, "changed since it was recorded: "+strings.Join(changes, "; "), fix+acceptHint(kindColumn, d.Object))
		}
	}
	// A column's type may be a domain, whose CHECKs run in every write of
	// the column, as the engine: ALTER DOMAIN changes the column's rules.
	c.Checked += s.contractCounts[kindDomain]
	for _, d := range s.contract[kindDomain] {
		switch {
		case d.added():
			c.fail(d.Object, "domain not in the record: added outside the migrations",
				fmt.Sprintf("DROP DOMAIN %s%s", d.Object, acceptHint(kindDomain, d.Object)))
		case d.removed():
			c.fail(d.Object, "domain in the record but gone: dropped outside the migrations",
				"CREATE DOMAIN "+d.Object+" as its migration did"+acceptHint(kindDomain, d.Object))
		default:
			var changes []string
			for _, k := range d.changedKeys() {
				changes = append(changes, d.change(k))
			}
			c.fail(d.Object, "domain changed since it was recorded (its CHECKs run as the engine in every write of its columns): "+strings.Join(changes, "; "),
				"ALTER DOMAIN "+d.Object+" back to what its migration made (constraints, default, NOT NULL, owner)"+acceptHint(kindDomain, d.Object))
		}
	}
	return nil
}

// checkRowSecurity compares the row-security settings and the policies of
// every table of the boundary's schemas with the record: a policy can
// hide rows from the engine's UPDATE (which then writes nothing) or from
// readers, and row security switched off where the migrations switched it
// on lets every policy lapse.
func (s *session) checkRowSecurity(_ context.Context, c *Check) error {
	c.Checked = s.contractCounts[kindTable] + s.contractCounts[kindPolicy]
	for _, d := range s.contract[kindTable] {
		if d.added() || d.removed() {
			// A table created or dropped by hand: its columns say so
			// (columns), or guarded_tables does.
			continue
		}
		var changes, fixes []string
		for _, k := range d.changedKeys() {
			changes = append(changes, d.change(k))
			on := d.Recorded[k] == true
			switch k {
			case "row_security":
				fixes = append(fixes, fmt.Sprintf("ALTER TABLE %s %s ROW LEVEL SECURITY", d.Object, map[bool]string{true: "ENABLE", false: "DISABLE"}[on]))
			case "force_row_security":
				fixes = append(fixes, fmt.Sprintf("ALTER TABLE %s %s ROW LEVEL SECURITY", d.Object, map[bool]string{true: "FORCE", false: "NO FORCE"}[on]))
			case "persistence":
				fixes = append(fixes, fmt.Sprintf("ALTER TABLE %s SET LOGGED", d.Object))
			}
		}
		c.fail(d.Object, "changed since it was recorded: "+strings.Join(changes, "; "), strings.Join(fixes, "; ")+acceptHint(kindTable, d.Object))
	}
	for _, d := range s.contract[kindPolicy] {
		table, name := splitObject(d.Object)
		drop := fmt.Sprintf("DROP POLICY %s ON %s", name, table)
		switch {
		case d.added():
			c.fail(d.Object, "a policy no migration recorded: it decides which rows the engine and readers see",
				drop+acceptHint(kindPolicy, d.Object))
		case d.removed():
			c.fail(d.Object, "in the record but gone: dropped outside the migrations",
				createPolicy(table, name, d.Recorded)+acceptHint(kindPolicy, d.Object))
		default:
			var changes []string
			for _, k := range d.changedKeys() {
				changes = append(changes, d.change(k))
			}
			c.fail(d.Object, "changed since it was recorded: "+strings.Join(changes, "; "),
				drop+"; "+createPolicy(table, name, d.Recorded)+acceptHint(kindPolicy, d.Object))
		}
	}
	return nil
}

// createPolicy is the CREATE POLICY of a recorded policy definition.
func createPolicy(table, name string, def map[string]any) string {
	permissive := "RESTRICTIVE"
	if def["permissive"] == true {
		permissive = "PERMISSIVE"
	}
	command := map[string]string{"r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE", "*": "ALL"}[str(def, "command")]
	var roles []string
	if list, ok := def["roles"].([]any); ok {
		for _, r := range list {
			if name, ok := r.(string); ok {
				roles = append(roles, name)
			}
		}
	}
	sql := fmt.Sprintf("CREATE POLICY %s ON %s AS %s FOR %s TO %s", name, table, permissive, command, strings.Join(roles, ", "))
	if using := str(def, "using"); using != "" {
		sql += " USING (" + using + ")"
	}
	if check := str(def, "with_check"); check != "" {
		sql += " WITH CHECK (" + check + ")"
	}
	return sql
}

// checkTriggerDefinitions compares every trigger on the tables of the
// boundary's schemas with the record: the core tables' write
// guards (bulwark_10_write_guard), audits (bulwark_90_audit) and TRUNCATE
// refusals, the declarations' own rules, the domains' frozen-record rules.
// One dropped or changed is drift; one added runs inside every write, as
// the engine. (The guard's and the audit log's own triggers have checks of
// their own: guard_triggers and append_only; an enabled state is
// triggers_enabled's.)
func (s *session) checkTriggerDefinitions(_ context.Context, c *Check) error {
	own := make(map[string]bool)
	for _, g := range s.guarded {
		for _, t := range guardTriggers {
			if g.Name != "" {
				own[g.Name+"."+t.name] = true
			}
		}
	}
	for _, t := range appendOnlyTriggers {
		own["bulwark.transition_log."+t.name] = true
	}
	c.Checked = s.contractCounts[kindTrigger]
	for _, d := range s.contract[kindTrigger] {
		if own[d.Object] {
			continue
		}
		table, name := splitObject(d.Object)
		drop := fmt.Sprintf("DROP TRIGGER %s ON %s", name, table)
		switch {
		case d.added():
			c.fail(d.Object, "a trigger no migration recorded: it runs inside every write of the table",
				drop+acceptHint(kindTrigger, d.Object))
		case d.removed():
			c.fail(d.Object, "in the record but gone: dropped outside the migrations",
				str(d.Recorded, "definition")+acceptHint(kindTrigger, d.Object))
		default:
			c.fail(d.Object, "changed since it was recorded: now "+str(d.Live, "definition"),
				drop+"; "+str(d.Recorded, "definition")+acceptHint(kindTrigger, d.Object))
		}
	}
	return nil
}

// checkRules refuses any RULE on a table of the boundary's schemas (the
// guarded tables, the core's, the tables it protects): a rule rewrites a
// statement before any trigger sees it (an UPDATE into anything, an audit
// INSERT into nothing).
func (s *session) checkRules(ctx context.Context, c *Check) error {
	if err := s.tx.QueryRow(ctx, `
		SELECT pg_catalog.count(*) FROM pg_catalog.pg_class AS c
		JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
		WHERE n.nspname = ANY ($1::text[]) AND c.relkind IN ('r', 'p')`,
		s.boundary).Scan(&c.Checked); err != nil {
		return err
	}
	rows, err := s.tx.Query(ctx, `
		SELECT c.oid::regclass::text,
		       pg_catalog.quote_ident(r.rulename),
		       CASE r.ev_type WHEN '1' THEN 'SELECT' WHEN '2' THEN 'UPDATE' WHEN '3' THEN 'INSERT' WHEN '4' THEN 'DELETE' ELSE 'any' END,
		       r.is_instead
		FROM pg_catalog.pg_rewrite AS r
		JOIN pg_catalog.pg_class AS c ON c.oid = r.ev_class
		JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
		WHERE n.nspname = ANY ($1::text[]) AND c.relkind IN ('r', 'p')
		ORDER BY 1, 2`, s.boundary)
	if err != nil {
		return err
	}
	var (
		table, rule, event string
		instead            bool
	)
	_, err = pgx.ForEachRow(rows, []any{&table, &rule, &event, &instead}, func() error {
		what := "also"
		if instead {
			what = "instead"
		}
		c.fail(table+"."+rule, fmt.Sprintf("a RULE rewrites every %s on the table (does something %s), before any trigger sees it", event, what),
			fmt.Sprintf("DROP RULE %s ON %s", rule, table))
		return nil
	})
	return err
}
