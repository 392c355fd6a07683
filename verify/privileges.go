package verify

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// writePrivileges are the table privileges that let a role change rows
// (or attach code that runs when others do) without a transition function.
var writePrivileges = []string{"INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"}

// heldPrivilege is one privilege a grantee holds on an object.
type heldPrivilege struct {
	Object    string
	Grantee   string
	Privilege string
	// Whole is false for a privilege held on some columns only.
	Whole bool
	// Direct is true when the object's ACL names the grantee: a REVOKE
	// from it removes the privilege.
	Direct bool
}

// checkTablePrivileges refuses INSERT, UPDATE, DELETE, TRUNCATE,
// REFERENCES and TRIGGER for PUBLIC, bulwark_app and bulwark_jobs on the
// guarded tables and bulwark's own tables (the audit log included),
// whether granted directly, on columns, or through role membership.
func (s *session) checkTablePrivileges(ctx context.Context, c *Check) error {
	const tables = `
		SELECT c.oid
		FROM pg_catalog.pg_class AS c
		WHERE (c.relnamespace = 'bulwark'::regnamespace AND c.relkind IN ('r', 'p'))
		   OR c.oid = ANY ($1::oid[])`
	if err := s.tx.QueryRow(ctx, `SELECT count(*) FROM (`+tables+`) AS t`, s.existingGuarded()).Scan(&c.Checked); err != nil {
		return err
	}
	rows, err := s.tx.Query(ctx, `
		WITH tables AS (`+tables+`),
		grantees AS (`+grantees+`)
		SELECT c.oid::regclass::text,
		       g.name,
		       p.name,
		       pg_catalog.has_table_privilege(g.name, c.oid, p.name),
		       EXISTS (
		           SELECT FROM pg_catalog.aclexplode(c.relacl) AS a
		           WHERE a.grantee = g.oid AND a.privilege_type = p.name
		       )
		FROM tables AS t
		JOIN pg_catalog.pg_class AS c ON c.oid = t.oid
		CROSS JOIN grantees AS g
		CROSS JOIN pg_catalog.unnest($2::text[]) AS p (name)
		WHERE pg_catalog.has_table_privilege(g.name, c.oid, p.name)
		   OR (p.name IN ('INSERT', 'UPDATE', 'REFERENCES') AND pg_catalog.has_any_column_privilege(g.name, c.oid, p.name))
		ORDER BY 1, 2, 3`, s.existingGuarded(), writePrivileges)
	if err != nil {
		return err
	}
	held, err := pgx.CollectRows(rows, pgx.RowToStructByPos[heldPrivilege])
	if err != nil {
		return err
	}
	reportHeld(c, held, func(object string) string { return "ON " + object },
		"may %s: writes would not go through the transition functions")
	return nil
}

// checkSchemaCreate refuses CREATE for PUBLIC, bulwark_app and
// bulwark_jobs on the schemas behind the boundary and on every schema a
// transition function's search_path names: whoever may create there can
// plant a table or function that a name resolves to.
func (s *session) checkSchemaCreate(ctx context.Context, c *Check) error {
	schemas := slices.Clone(s.boundary)
	for _, f := range s.transitionFunctions() {
		for _, name := range f.searchPath() {
			if name != "pg_temp" && !strings.HasPrefix(name, "$") && !slices.Contains(schemas, name) {
				schemas = append(schemas, name)
			}
		}
	}
	slices.Sort(schemas)
	c.Checked = len(schemas)
	rows, err := s.tx.Query(ctx, `
		WITH grantees AS (`+grantees+`)
		SELECT pg_catalog.quote_ident(n.nspname),
		       g.name,
		       'CREATE',
		       true,
		       EXISTS (
		           SELECT FROM pg_catalog.aclexplode(n.nspacl) AS a
		           WHERE a.grantee = g.oid AND a.privilege_type = 'CREATE'
		       )
		FROM pg_catalog.pg_namespace AS n
		CROSS JOIN grantees AS g
		WHERE n.nspname = ANY ($1::text[])
		  AND pg_catalog.has_schema_privilege(g.name, n.oid, 'CREATE')
		ORDER BY 1, 2`, schemas)
	if err != nil {
		return err
	}
	held, err := pgx.CollectRows(rows, pgx.RowToStructByPos[heldPrivilege])
	if err != nil {
		return err
	}
	reportHeld(c, held, func(object string) string { return "ON SCHEMA " + object },
		"may %s: it can plant objects that transition functions resolve")
	return nil
}

// reportHeld adds one finding per object and grantee. A privilege PUBLIC
// holds is reported for PUBLIC only: the other roles hold it through
// PUBLIC, and revoking it from PUBLIC is the fix.
func reportHeld(c *Check, held []heldPrivilege, on func(object string) string, problem string) {
	type key struct{ object, grantee string }
	public := make(map[key]bool)
	for _, h := range held {
		if h.Grantee == "public" {
			public[key{h.Object, h.Privilege}] = true
		}
	}
	var (
		order  []key
		groups = make(map[key][]heldPrivilege)
	)
	for _, h := range held {
		if h.Grantee != "public" && public[key{h.Object, h.Privilege}] {
			continue
		}
		k := key{h.Object, h.Grantee}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], h)
	}

	for _, k := range order {
		privs := groups[k]
		var names []string
		direct, whole := true, true
		for _, p := range privs {
			name := p.Privilege
			if !p.Whole {
				name += " (on some columns)"
			}
			names = append(names, name)
			direct = direct && p.Direct
			whole = whole && p.Whole
		}
		who := displayRole(k.grantee)
		text := fmt.Sprintf("%s "+problem, who, strings.Join(names, ", "))
		if k.grantee == "public" {
			text += " (every role may)"
		}
		var plain []string
		for _, p := range privs {
			plain = append(plain, p.Privilege)
		}
		revoke := fmt.Sprintf("REVOKE %s %s FROM %s", strings.Join(plain, ", "), on(k.object), who)
		var fix string
		switch {
		case direct && whole:
			fix = revoke
		case !whole:
			fix = revoke + ", and the column grants (REVOKE ... (columns) ...; see \\dp " + k.object + ")"
		default:
			fix = fmt.Sprintf("%s holds it through role membership: REVOKE it from the granting role (see \\dp %s), or revoke the membership", who, k.object)
		}
		c.fail(k.object, text, fix)
	}
}
