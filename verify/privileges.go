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

// tableGrant is one privilege a role holds on a table: granted to it
// (Direct, on the table or on the columns Columns), or, for the
// application roles, held through role membership.
type tableGrant struct {
	Table string
	// Grantee is the role's name ("public" for PUBLIC); Quoted is it
	// quoted for a statement.
	Grantee string
	Quoted  string
	// Privilege is one of writePrivileges.
	Privilege string
	// Direct is true when the table's ACL, or a column's, names the
	// grantee: a REVOKE from it on the table removes the privilege, with
	// its column grants.
	Direct bool
	// Columns lists the columns a privilege granted on columns only is
	// held on; empty when it is held on the table.
	Columns []string
	// Members are the roles (superusers aside) that are members of the
	// grantee and so may use the privilege too.
	Members []string
	// Grantable is true when the grantee may grant the privilege on: a
	// REVOKE needs CASCADE to take what it granted too.
	Grantable bool
	// Grantors are the roles other than the owner that granted it; only
	// they (or a REVOKE ... CASCADE from them) can take it back.
	Grantors []string
}

// checkTablePrivileges refuses INSERT, UPDATE, DELETE, TRUNCATE,
// REFERENCES and TRIGGER on the guarded tables and bulwark's own tables
// (the audit log included) for every role but the table's owner (which
// the owners check requires to be bulwark_owner) and bulwark_engine:
// granted on the table or on its columns, to PUBLIC or to any role, every
// member of which holds it too. Superusers are beyond any role's boundary
// and not listed. The owner's members are owner_members' to check and the
// engine's engine_members'; bulwark_app and bulwark_jobs are also checked
// for what they hold through role membership (of the owner, say) that no
// grant listed here explains.
func (s *session) checkTablePrivileges(ctx context.Context, c *Check) error {
	const tables = `
		SELECT c.oid, c.relowner, c.relacl
		FROM pg_catalog.pg_class AS c
		WHERE (c.relnamespace = 'bulwark'::regnamespace AND c.relkind IN ('r', 'p'))
		   OR c.oid = ANY ($1::oid[])`
	if err := s.tx.QueryRow(ctx, `SELECT count(*) FROM (`+tables+`) AS t`, s.existingGuarded()).Scan(&c.Checked); err != nil {
		return err
	}
	rows, err := s.tx.Query(ctx, `
		WITH tables AS (`+tables+`),
		acl (rel, grantee, privilege, col, attnum, grantable, grantor) AS (
		    SELECT t.oid, a.grantee, a.privilege_type, NULL::name, 0::int2, a.is_grantable, NULLIF(a.grantor, t.relowner)
		    FROM tables AS t, pg_catalog.aclexplode(t.relacl) AS a
		    WHERE a.grantee <> t.relowner
		    UNION ALL
		    SELECT t.oid, a.grantee, a.privilege_type, att.attname, att.attnum, a.is_grantable, NULLIF(a.grantor, t.relowner)
		    FROM tables AS t
		    JOIN pg_catalog.pg_attribute AS att ON att.attrelid = t.oid AND att.attnum > 0 AND NOT att.attisdropped,
		    pg_catalog.aclexplode(att.attacl) AS a
		    WHERE a.grantee <> t.relowner
		),
		direct AS (
		    SELECT acl.*
		    FROM acl
		    LEFT JOIN pg_catalog.pg_roles AS r ON r.oid = acl.grantee
		    WHERE acl.privilege = ANY ($2::text[])
		      AND (acl.grantee = 0 OR (r.rolname <> $3 AND NOT r.rolsuper))
		),
		members AS (
		    SELECT g.grantee, pg_catalog.array_agg(m.rolname::text ORDER BY m.rolname) AS names
		    FROM (SELECT DISTINCT d.grantee FROM direct AS d WHERE d.grantee <> 0) AS g
		    JOIN pg_catalog.pg_roles AS m
		      ON m.oid <> g.grantee AND NOT m.rolsuper AND pg_catalog.pg_has_role(m.oid, g.grantee, 'MEMBER')
		    GROUP BY g.grantee
		),
		app AS (`+appRoles+`),
		-- Granted on the table or its columns, to PUBLIC or a role.
		held AS (
		    SELECT d.rel::regclass::text AS relname,
		           coalesce(r.rolname::text, 'public') AS grantee,
		           coalesce(pg_catalog.quote_ident(r.rolname), 'PUBLIC') AS quoted,
		           d.privilege,
		           true AS direct,
		           CASE WHEN pg_catalog.bool_or(d.col IS NULL) THEN '{}'::text[]
		                ELSE pg_catalog.array_agg(pg_catalog.quote_ident(d.col) ORDER BY d.attnum)
		           END AS columns,
		           coalesce(m.names, '{}') AS members,
		           pg_catalog.bool_or(d.grantable) AS grantable,
		           coalesce(pg_catalog.array_agg(DISTINCT pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(d.grantor)))
		               FILTER (WHERE d.grantor IS NOT NULL), '{}') AS grantors
		    FROM direct AS d
		    LEFT JOIN pg_catalog.pg_roles AS r ON r.oid = d.grantee
		    LEFT JOIN members AS m ON m.grantee = d.grantee
		    GROUP BY d.rel, d.grantee, r.rolname, d.privilege, m.names
		    UNION ALL
		    -- What the application roles hold through membership that no
		    -- grant above explains: of the owner, say, or a superuser.
		    SELECT c.oid::regclass::text, g.name, pg_catalog.quote_ident(g.name), p.name, false, '{}', '{}', false, '{}'
		    FROM tables AS c
		    CROSS JOIN app AS g
		    CROSS JOIN pg_catalog.unnest($2::text[]) AS p (name)
		    WHERE (pg_catalog.has_table_privilege(g.oid, c.oid, p.name)
		           OR (p.name IN ('INSERT', 'UPDATE', 'REFERENCES') AND pg_catalog.has_any_column_privilege(g.oid, c.oid, p.name)))
		      AND NOT EXISTS (
		          SELECT FROM direct AS d
		          WHERE d.rel = c.oid AND d.privilege = p.name
		            AND (d.grantee = 0 OR pg_catalog.pg_has_role(g.oid, d.grantee, 'MEMBER'))
		      )
		)
		SELECT h.*
		FROM held AS h
		ORDER BY h.relname, h.grantee, pg_catalog.array_position($2::text[], h.privilege)`, s.existingGuarded(), writePrivileges, roleEngine)
	if err != nil {
		return err
	}
	grants, err := pgx.CollectRows(rows, pgx.RowToStructByPos[tableGrant])
	if err != nil {
		return err
	}
	reportTableGrants(c, grants)
	return nil
}

// maxMembers bounds the members a finding names.
const maxMembers = 5

// reportTableGrants adds one finding per table and role, naming the
// privileges, the columns of a column grant and the role's members, with
// the REVOKE that removes them.
func reportTableGrants(c *Check, grants []tableGrant) {
	for len(grants) > 0 {
		n := 1
		for n < len(grants) && grants[n].Table == grants[0].Table && grants[n].Grantee == grants[0].Grantee {
			n++
		}
		group := grants[:n]
		grants = grants[n:]

		g := group[0]
		var direct, revoke, inherited, members, grantors []string
		granted := make(map[string][]string) // by grantor
		grantable := false
		for _, p := range group {
			if !p.Direct {
				inherited = append(inherited, p.Privilege)
				continue
			}
			name := p.Privilege
			if len(p.Columns) > 0 {
				name += " (on columns " + strings.Join(p.Columns, ", ") + ")"
			}
			direct = append(direct, name)
			revoke = append(revoke, p.Privilege)
			members = p.Members
			grantable = grantable || p.Grantable
			for _, r := range p.Grantors {
				if _, ok := granted[r]; !ok {
					grantors = append(grantors, r)
				}
				granted[r] = append(granted[r], p.Privilege)
			}
		}
		held := strings.Join(direct, ", ")
		if len(inherited) > 0 {
			if held != "" {
				held += ", and "
			}
			held += strings.Join(inherited, ", ") + " through role membership"
		}
		text := fmt.Sprintf("%s may %s: writes would not go through the transition functions", displayRole(g.Grantee), held)
		switch {
		case g.Grantee == "public":
			text += " (every role may)"
		case len(members) > maxMembers:
			text += fmt.Sprintf("; so may its members %s and %d more", strings.Join(members[:maxMembers], ", "), len(members)-maxMembers)
		case len(members) > 0:
			text += "; so may its members " + strings.Join(members, ", ")
		}
		var fixes []string
		if len(revoke) > 0 {
			// A REVOKE on the table takes the column grants with it, and
			// with CASCADE what the grantee granted on.
			fix := fmt.Sprintf("REVOKE %s ON %s FROM %s", strings.Join(revoke, ", "), g.Table, g.Quoted)
			if grantable {
				fix += " CASCADE"
			}
			// A REVOKE takes back only the grants of the role that runs
			// it (the owner's, when a superuser does).
			var others []string
			for _, r := range grantors {
				privs := strings.Join(granted[r], ", ")
				others = append(others, fmt.Sprintf("%[1]s granted by %[2]s: run it as %[2]s, or REVOKE %[1]s ON %[3]s FROM %[2]s CASCADE",
					privs, r, g.Table))
			}
			if len(others) > 0 {
				fix += " (" + strings.Join(others, "; ") + ")"
			}
			fixes = append(fixes, fix)
		}
		if len(inherited) > 0 {
			fixes = append(fixes, fmt.Sprintf("%s holds %s through role membership: REVOKE it from the granting role (see \\dp %s), or revoke the membership",
				g.Quoted, strings.Join(inherited, ", "), g.Table))
		}
		c.fail(g.Table, text, strings.Join(fixes, "; "))
	}
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
