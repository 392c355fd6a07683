package bulwarktest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/db"
)

// Snapshot is what a database holds behind its boundary, as a row count
// and a content hash per part, keyed by the part's name:
//
//   - "table <name>" for every guarded table (bulwark.guarded_tables) and
//     every table of the core (schema bulwark: principals, grants,
//     declarations, the audit trail, idempotency keys, ...);
//   - "catalog <kind>" for what an attacker would change to get around the
//     guards rather than through them, in schema bulwark and the guarded
//     tables' schemas: the database's and the schemas' privileges, the
//     relations (owner, privileges, columns, rules, row security), the
//     functions (owner, privileges, SECURITY DEFINER, settings, body), the
//     triggers and whether they fire, the row security policies; and the
//     powers of bulwark_app, bulwark_jobs and their members (superuser,
//     CREATEROLE, BYPASSRLS, membership in bulwark_owner or
//     bulwark_engine), and whether bulwark_engine gained a member.
//
// Two snapshots are equal exactly when none of it changed (up to hash
// collisions), so require.Equal(t, before, after) proves a refusal left
// the database as it was, and its diff names the part that changed.
// Sequences are not in it: nextval is not undone by a rollback.
type Snapshot map[string]string

// snapshotTablesSQL builds the query that counts and hashes every guarded
// table and every table of schema bulwark. A row's text is its to_jsonb,
// so every column counts; the rows are sorted byte-wise first, so the
// hash does not depend on the physical order.
const snapshotTablesSQL = `
SELECT pg_catalog.string_agg(pg_catalog.format(
           $q$SELECT %L::text, pg_catalog.count(*), pg_catalog.md5(coalesce(pg_catalog.string_agg(pg_catalog.to_jsonb(t)::text, E'\n' ORDER BY pg_catalog.to_jsonb(t)::text COLLATE "C"), '')) FROM %s AS t$q$,
           'table ' || c.oid::pg_catalog.regclass::text, c.oid::pg_catalog.regclass),
       E'\nUNION ALL\n' ORDER BY c.oid::pg_catalog.regclass::text COLLATE "C")
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND (n.nspname = 'bulwark' OR c.oid IN (SELECT g.relation FROM bulwark.guarded_tables AS g))`

// snapshotCatalogSQL counts and hashes, per kind, the catalog entries that
// guard the tables.
const snapshotCatalogSQL = `
WITH schemas AS (
    SELECT n.oid
    FROM pg_catalog.pg_namespace AS n
    WHERE n.nspname = 'bulwark'
       OR n.oid IN (SELECT c.relnamespace
                    FROM pg_catalog.pg_class AS c
                    JOIN bulwark.guarded_tables AS g ON g.relation = c.oid)
),
entries (kind, entry) AS (
    SELECT 'database', pg_catalog.format('%s acl=%s', d.datname, d.datacl)
    FROM pg_catalog.pg_database AS d
    WHERE d.datname = pg_catalog.current_database()
    UNION ALL
    SELECT 'schema', pg_catalog.format('%s owner=%s acl=%s', n.nspname, n.nspowner::pg_catalog.regrole, n.nspacl)
    FROM pg_catalog.pg_namespace AS n
    WHERE n.oid IN (SELECT s.oid FROM schemas AS s)
    UNION ALL
    SELECT 'relation', pg_catalog.format('%s kind=%s owner=%s acl=%s columns=%s rules=%s rls=%s force_rls=%s',
        c.oid::pg_catalog.regclass, c.relkind, c.relowner::pg_catalog.regrole, c.relacl, c.relnatts,
        c.relhasrules, c.relrowsecurity, c.relforcerowsecurity)
    FROM pg_catalog.pg_class AS c
    WHERE c.relnamespace IN (SELECT s.oid FROM schemas AS s)
    UNION ALL
    SELECT 'function', pg_catalog.format('%s owner=%s acl=%s definer=%s config=%s body=%s',
        p.oid::pg_catalog.regprocedure, p.proowner::pg_catalog.regrole, p.proacl, p.prosecdef, p.proconfig,
        pg_catalog.md5(p.prosrc))
    FROM pg_catalog.pg_proc AS p
    WHERE p.pronamespace IN (SELECT s.oid FROM schemas AS s)
    UNION ALL
    SELECT 'trigger', pg_catalog.format('%s on %s enabled=%s function=%s',
        g.tgname, g.tgrelid::pg_catalog.regclass, g.tgenabled, g.tgfoid::pg_catalog.regprocedure)
    FROM pg_catalog.pg_trigger AS g
    JOIN pg_catalog.pg_class AS c ON c.oid = g.tgrelid
    WHERE c.relnamespace IN (SELECT s.oid FROM schemas AS s)
    UNION ALL
    SELECT 'policy', pg_catalog.format('%s on %s command=%s permissive=%s roles=%s using=%s check=%s',
        p.polname, p.polrelid::pg_catalog.regclass, p.polcmd, p.polpermissive, p.polroles::pg_catalog.regrole[],
        pg_catalog.pg_get_expr(p.polqual, p.polrelid), pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid))
    FROM pg_catalog.pg_policy AS p
    JOIN pg_catalog.pg_class AS c ON c.oid = p.polrelid
    WHERE c.relnamespace IN (SELECT s.oid FROM schemas AS s)
    UNION ALL
    -- Only powers count, so that a plain login role made meanwhile (by
    -- LoginAs in another test process: roles are cluster-wide) is no change.
    SELECT 'role', pg_catalog.format('%s super=%s createrole=%s createdb=%s bypassrls=%s owner_member=%s engine_member=%s',
        r.rolname, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls,
        pg_catalog.pg_has_role(r.oid, 'bulwark_owner', 'MEMBER'), pg_catalog.pg_has_role(r.oid, 'bulwark_engine', 'MEMBER'))
    FROM pg_catalog.pg_roles AS r
    WHERE r.rolname IN ('bulwark_app', 'bulwark_jobs')
       OR ((pg_catalog.pg_has_role(r.oid, 'bulwark_app', 'MEMBER') OR pg_catalog.pg_has_role(r.oid, 'bulwark_jobs', 'MEMBER'))
           AND (r.rolsuper OR r.rolcreaterole OR r.rolbypassrls
                OR pg_catalog.pg_has_role(r.oid, 'bulwark_owner', 'MEMBER')
                OR pg_catalog.pg_has_role(r.oid, 'bulwark_engine', 'MEMBER')))
    UNION ALL
    SELECT 'role', pg_catalog.format('bulwark_engine members=%s', pg_catalog.count(*))
    FROM pg_catalog.pg_auth_members AS m
    WHERE m.roleid = 'bulwark_engine'::pg_catalog.regrole
)
SELECT 'catalog ' || e.kind, pg_catalog.count(*), pg_catalog.md5(pg_catalog.string_agg(e.entry, E'\n' ORDER BY e.entry COLLATE "C"))
FROM entries AS e
GROUP BY e.kind`

// TakeSnapshot reads the [Snapshot] of conn's database. conn must see every
// row: use the migration role's session (a pool from [DB], or one from
// [Pool] on a URL from [NewDatabase]), not a login of [LoginAs], which row
// security or missing privileges would blind. Nothing may write the
// database while it reads. It fails t if the database cannot be read, or
// has no core (schema bulwark) to snapshot.
func TakeSnapshot(t testing.TB, conn db.DBTX) Snapshot {
	t.Helper()
	s, err := takeSnapshot(context.Background(), conn)
	require.NoError(t, err, "bulwarktest: take a snapshot")
	return s
}

// errNoCore reports a database without schema bulwark's tables.
var errNoCore = errors.New("the database has no table in schema bulwark: is the core migrated?")

// takeSnapshot reads the Snapshot of conn's database.
func takeSnapshot(ctx context.Context, conn db.DBTX) (Snapshot, error) {
	var tablesSQL *string
	if err := conn.QueryRow(ctx, snapshotTablesSQL).Scan(&tablesSQL); err != nil {
		return nil, fmt.Errorf("list the tables: %w", err)
	}
	if tablesSQL == nil {
		return nil, errNoCore
	}
	s := Snapshot{}
	for _, query := range []string{*tablesSQL, snapshotCatalogSQL} {
		rows, err := conn.Query(ctx, query)
		if err != nil {
			return nil, err
		}
		var (
			part  string
			count int64
			hash  string
		)
		_, err = pgx.ForEachRow(rows, []any{&part, &count, &hash}, func() error {
			s[part] = fmt.Sprintf("%d rows md5:%s", count, hash)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}
