package verify

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// checkOwners requires bulwark_owner to own the schemas behind the
// boundary, every relation in schema bulwark and every guarded table:
// an owner may disable triggers and drop constraints, so ownership is the
// boundary's root.
func (s *session) checkOwners(ctx context.Context, c *Check) error {
	rows, err := s.tx.Query(ctx, `
		SELECT c.oid::regclass::text,
		       CASE c.relkind
		           WHEN 'S' THEN 'SEQUENCE'
		           WHEN 'v' THEN 'VIEW'
		           WHEN 'm' THEN 'MATERIALIZED VIEW'
		           WHEN 'f' THEN 'FOREIGN TABLE'
		           ELSE 'TABLE'
		       END,
		       pg_catalog.pg_get_userbyid(c.relowner)::text
		FROM pg_catalog.pg_class AS c
		WHERE (c.relnamespace = 'bulwark'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f'))
		   OR c.oid = ANY ($1::oid[])
		UNION ALL
		SELECT pg_catalog.quote_ident(n.nspname), 'SCHEMA', pg_catalog.pg_get_userbyid(n.nspowner)::text
		FROM pg_catalog.pg_namespace AS n
		WHERE n.nspname = ANY ($2::text[])
		ORDER BY 2 DESC, 1`, s.existingGuarded(), s.boundary)
	if err != nil {
		return err
	}
	var object, kind, owner string
	_, err = pgx.ForEachRow(rows, []any{&object, &kind, &owner}, func() error {
		c.Checked++
		if owner == roleOwner {
			return nil
		}
		name := object
		if kind == "SCHEMA" {
			name = "schema " + object
		}
		c.fail(name, "owned by "+owner+", not "+roleOwner,
			fmt.Sprintf("ALTER %s %s OWNER TO %s", kind, object, roleOwner))
		return nil
	})
	return err
}

// checkOwnerMembers refuses any login role other than the migration roles
// that is a member of bulwark_owner, directly or through other roles: it
// could log in and disable the guards. Superusers are beyond any role's
// boundary and are not listed.
func (s *session) checkOwnerMembers(ctx context.Context, c *Check) error {
	rows, err := s.tx.Query(ctx, `
		WITH RECURSIVE members (member, via, path) AS (
		    SELECT a.member, a.roleid, ARRAY[a.roleid]
		    FROM pg_catalog.pg_auth_members AS a
		    JOIN pg_catalog.pg_roles AS o ON o.oid = a.roleid
		    WHERE o.rolname = 'bulwark_owner'
		    UNION ALL
		    SELECT a.member, a.roleid, m.path || a.roleid
		    FROM pg_catalog.pg_auth_members AS a
		    JOIN members AS m ON a.roleid = m.member
		    WHERE NOT a.member = ANY (m.path || a.roleid)
		)
		SELECT DISTINCT ON (r.rolname) r.rolname::text, pg_catalog.quote_ident(r.rolname), pg_catalog.quote_ident(v.rolname), v.rolname::text
		FROM members AS m
		JOIN pg_catalog.pg_roles AS r ON r.oid = m.member
		JOIN pg_catalog.pg_roles AS v ON v.oid = m.via
		WHERE r.rolcanlogin
		ORDER BY r.rolname, pg_catalog.cardinality(m.path)`)
	if err != nil {
		return err
	}
	var member, quotedMember, quotedVia, via string
	_, err = pgx.ForEachRow(rows, []any{&member, &quotedMember, &quotedVia, &via}, func() error {
		c.Checked++
		for _, allowed := range s.opts.MigrationRoles {
			if member == allowed {
				return nil
			}
		}
		problem := "a LOGIN role and a member of " + roleOwner
		if via != roleOwner {
			problem += " (through " + via + ")"
		}
		c.fail(member, problem+": it can log in and disable the guards",
			fmt.Sprintf("REVOKE %s FROM %s (grant it bulwark_app or bulwark_jobs instead), or name it with --migration-role if it runs migrations",
				quotedVia, quotedMember))
		return nil
	})
	return err
}

// checkEngineMembers refuses any member of bulwark_engine, login or not:
// the write guards let through exactly the code bulwark_engine owns, so a
// member could write every guarded table unlogged. The role exists with no
// members; only a superuser (or CREATEROLE) could add one.
func (s *session) checkEngineMembers(ctx context.Context, c *Check) error {
	rows, err := s.tx.Query(ctx, `
		SELECT pg_catalog.quote_ident(r.rolname)
		FROM pg_catalog.pg_auth_members AS a
		JOIN pg_catalog.pg_roles AS r ON r.oid = a.member
		WHERE a.roleid = (SELECT e.oid FROM pg_catalog.pg_roles AS e WHERE e.rolname = $1)
		ORDER BY 1`, roleEngine)
	if err != nil {
		return err
	}
	c.Checked++
	var member string
	_, err = pgx.ForEachRow(rows, []any{&member}, func() error {
		c.fail(member, "a member of "+roleEngine+": it can write every guarded table around the engine",
			fmt.Sprintf("REVOKE %s FROM %s", roleEngine, member))
		return nil
	})
	return err
}

// checkCreateRole refuses roles that could make themselves bulwark_engine
// (or bulwark_owner) whenever they like. On PostgreSQL 15 and older a
// CREATEROLE role may grant itself any role but a superuser's: it could
// GRANT bulwark_engine TO itself, write guarded tables as the engine and
// REVOKE the membership again, leaving nothing for engine_members to see
// and only a gap in a row's history. So every role with CREATEROLE is
// listed, LOGIN or not (a member may SET ROLE to it), the migration roles
// included: the core's migrations need CREATEROLE (or a superuser) only
// while they run. Superusers are beyond any role's boundary and not
// listed.
//
// From PostgreSQL 16 on, CREATEROLE grants membership only in roles the
// role holds ADMIN OPTION on, so a CREATEROLE role is listed only if it
// holds ADMIN OPTION on bulwark_engine or bulwark_owner (as the role that
// created them does, when it is not a superuser).
func (s *session) checkCreateRole(ctx context.Context, c *Check) error {
	var version int
	if err := s.tx.QueryRow(ctx, `SELECT pg_catalog.current_setting('server_version_num')::int`).Scan(&version); err != nil {
		return err
	}
	rows, err := s.tx.Query(ctx, `
		SELECT r.rolname::text,
		       pg_catalog.quote_ident(r.rolname),
		       r.rolcreaterole,
		       r.rolcanlogin,
		       EXISTS (
		           SELECT FROM pg_catalog.pg_roles AS o
		           WHERE o.rolname = $1 AND pg_catalog.pg_has_role(r.oid, o.oid, 'MEMBER')
		       ),
		       coalesce((
		           SELECT pg_catalog.array_agg(DISTINCT t.rolname::text ORDER BY t.rolname::text)
		           FROM pg_catalog.pg_auth_members AS a
		           JOIN pg_catalog.pg_roles AS t ON t.oid = a.roleid
		           WHERE a.member = r.oid AND a.admin_option AND t.rolname IN ($1, $2)
		       ), '{}')
		FROM pg_catalog.pg_roles AS r
		WHERE NOT r.rolsuper
		ORDER BY 1`, roleOwner, roleEngine)
	if err != nil {
		return err
	}
	var (
		name, quoted         string
		createRole, canLogin bool
		ownerMember          bool
		admin                []string
	)
	_, err = pgx.ForEachRow(rows, []any{&name, &quoted, &createRole, &canLogin, &ownerMember, &admin}, func() error {
		c.Checked++
		if !createRole {
			return nil
		}
		who := "a NOLOGIN role (its members may SET ROLE to it)"
		switch {
		case canLogin && ownerMember:
			who = "a LOGIN role and a member of " + roleOwner
		case canLogin:
			who = "a LOGIN role"
		}
		if version >= 160000 {
			// PostgreSQL 16 and later: CREATEROLE alone grants no
			// membership in a role; ADMIN OPTION on it does.
			if len(admin) == 0 {
				return nil
			}
			c.fail(name, fmt.Sprintf("%s with CREATEROLE and ADMIN OPTION on %s: it can grant itself %s, and write around the guards",
				who, strings.Join(admin, " and "), strings.Join(admin, " and ")),
				fmt.Sprintf("ALTER ROLE %s NOCREATEROLE, and REVOKE ADMIN OPTION FOR %s FROM %s (keep both only while the core's migrations run, or run them as a superuser)",
					quoted, strings.Join(admin, ", "), quoted))
			return nil
		}
		c.fail(name, fmt.Sprintf("%s with CREATEROLE: up to PostgreSQL 15 a CREATEROLE role can grant itself %s, write guarded tables as the engine and revoke the membership, leaving only a gap in a row's history",
			who, roleEngine),
			fmt.Sprintf("ALTER ROLE %s NOCREATEROLE (keep CREATEROLE only while the core's migrations run, or run them as a superuser)", quoted))
		return nil
	})
	return err
}
