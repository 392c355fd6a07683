package db_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/fault"
)

// These tests attack the boundary the way people would: a compromised
// service with the application role's credentials, a careless operator
// with the owner's, a superuser at a psql prompt. Every attack must be
// refused with its documented SQLSTATE and leave every row, and every
// catalog entry that guards the rows, as it was. Raw SQL is the point here;
// everywhere else it goes through the transition functions.

// superuser names the role of the URL that bulwarktest.NewDatabase returns,
// next to the group roles that bulwarktest.LoginAs logs in as.
const superuser = "superuser"

// beginMaintenance opens the maintenance switch in the attacker's
// transaction: the owner's legitimate way around the write guard.
const beginMaintenance = "SELECT bulwark.maintenance_begin('attack test: maintenance')"

// attack is one attempt to get around the boundary. The setup statements
// run first, on the attacker's own session, and must succeed; sql must then
// be refused with sqlState (and, for class 23, on constraint).
type attack struct {
	name       string
	constraint string
	setup      []string
	sql        string
	sqlState   string
}

// refusals is what db.InterpretError must make of each SQLSTATE an attack
// meets. All but a missing capability are invariants: the layers above
// should never let a request reach them.
var refusals = map[string]struct {
	code  string
	layer fault.Layer
}{
	db.SQLStateDirectWrite:          {fault.CodeDirectWrite, fault.LayerInvariant},
	db.SQLStateFrozen:               {fault.CodeFrozen, fault.LayerInvariant},
	db.SQLStateIllegalTransition:    {fault.CodeIllegalTransition, fault.LayerInvariant},
	db.SQLStateMissingCapability:    {fault.CodeMissingCapability, fault.LayerPermission},
	db.SQLStatePreconditionFailed:   {fault.CodePreconditionFailed, fault.LayerInvariant},
	pgerrcode.CheckViolation:        {fault.CodeIntegrity, fault.LayerInvariant},
	pgerrcode.InsufficientPrivilege: {fault.CodeBoundaryViolation, fault.LayerInvariant},
	pgerrcode.InvalidParameterValue: {fault.CodeInvalidInput, fault.LayerInvalid},
}

// requireRefused asserts that err is the database's refusal with sqlState
// (on constraint, if not empty) and that db.InterpretError puts it in the
// right layer.
func requireRefused(t *testing.T, err error, sqlState, constraint string) {
	t.Helper()
	require.Error(t, err, "the attack succeeded: want SQLSTATE %s", sqlState)
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "not a database error: %v", err)
	require.Equal(t, sqlState, pgErr.Code, "SQLSTATE of %v", err)
	if constraint != "" {
		require.Equal(t, constraint, pgErr.ConstraintName, "constraint of %v", err)
	}
	want, ok := refusals[sqlState]
	require.True(t, ok, "no layer known for SQLSTATE %s", sqlState)
	requireLayer(t, err, want.layer, want.code)
}

// logins returns a URL for each role an attacker may hold: the group roles
// through their login members, and the superuser. The login roles are
// cluster-wide and created on first use, so every test asks for all of
// them before its first snapshot, which lists them.
func (w *world) logins(t *testing.T) map[string]string {
	t.Helper()
	urls := map[string]string{superuser: w.url}
	for _, group := range []string{"bulwark_app", "bulwark_jobs", "bulwark_owner"} {
		urls[group] = bulwarktest.LoginAs(t, w.url, group)
	}
	return urls
}

// dial opens a session of its own for one attacker, with an empty
// search_path, closed in t's Cleanup. Attackers get fresh sessions so that
// what one sets (a role, a setting, a temporary object) cannot leak into
// another's.
func dial(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(url)
	require.NoError(t, err)
	cfg.RuntimeParams["search_path"] = ""
	conn, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// runAttacks runs each attack as a parallel subtest on its own session of
// url: the setup statements first, then the attack, which
// bulwarktest.RequireRefusedAfter requires to be refused with its SQLSTATE
// (over the simple protocol, as from psql) and to leave every guarded and
// core row, and the catalog that guards them, as it was. The caller's
// other subtests must not write.
func (w *world) runAttacks(t *testing.T, url string, attacks []attack) {
	t.Helper()
	slices.SortFunc(attacks, func(a, b attack) int { return strings.Compare(a.name, b.name) })
	for i := 1; i < len(attacks); i++ {
		require.NotEqual(t, attacks[i-1].name, attacks[i].name, "attack names are unique")
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			pgErr := bulwarktest.RequireRefusedAfter(t, dial(t, url), a.setup, a.sql, a.sqlState)
			requireRefused(t, pgErr, a.sqlState, a.constraint)
		})
	}
}

// snapshot holds every row of the tables behind the boundary, and the
// catalog entries an attacker would change to get around them, as sorted
// text keyed by where it came from.
type snapshot map[string][]string

// snapshotTables are the tables whose every row a snapshot holds.
var snapshotTables = []string{
	"app.articles",
	"bulwark.capabilities",
	"bulwark.capability_qualifiers",
	"bulwark.guarded_tables",
	"bulwark.idempotency_keys",
	"bulwark.machines",
	"bulwark.principal_roles",
	"bulwark.principals",
	"bulwark.role_capabilities",
	"bulwark.roles",
	"bulwark.states",
	"bulwark.transition_log",
	"bulwark.transitions",
}

// snapshotCatalog reads what an attacker would change to get around the
// guards rather than through them: objects and privileges in the guarded
// schemas, triggers and whether they fire, and the application roles'
// powers.
const snapshotCatalog = `
SELECT 'catalog.database', pg_catalog.format('%s acl=%s', d.datname, d.datacl)
FROM pg_catalog.pg_database AS d
WHERE d.datname = pg_catalog.current_database()
UNION ALL
SELECT 'catalog.schema', pg_catalog.format('%s owner=%s acl=%s', n.nspname, n.nspowner::pg_catalog.regrole, n.nspacl)
FROM pg_catalog.pg_namespace AS n
WHERE n.nspname !~ '^pg_(toast_)?temp_'
UNION ALL
SELECT 'catalog.relation', pg_catalog.format('%s kind=%s owner=%s acl=%s columns=%s rules=%s rls=%s',
    c.oid::pg_catalog.regclass, c.relkind, c.relowner::pg_catalog.regrole, c.relacl, c.relnatts, c.relhasrules, c.relrowsecurity)
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname IN ('app', 'bulwark', 'public')
UNION ALL
SELECT 'catalog.function', pg_catalog.format('%s owner=%s acl=%s definer=%s config=%s body=%s',
    p.oid::pg_catalog.regprocedure, p.proowner::pg_catalog.regrole, p.proacl, p.prosecdef, p.proconfig, pg_catalog.md5(p.prosrc))
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
WHERE n.nspname IN ('app', 'bulwark', 'public')
UNION ALL
SELECT 'catalog.trigger', pg_catalog.format('%s on %s enabled=%s function=%s',
    g.tgname, g.tgrelid::pg_catalog.regclass, g.tgenabled, g.tgfoid::pg_catalog.regprocedure)
FROM pg_catalog.pg_trigger AS g
JOIN pg_catalog.pg_class AS c ON c.oid = g.tgrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname IN ('app', 'bulwark', 'public')
UNION ALL
SELECT 'catalog.role', pg_catalog.format('%s super=%s createrole=%s createdb=%s bypassrls=%s owner_member=%s',
    r.rolname, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls, pg_catalog.pg_has_role(r.oid, 'bulwark_owner', 'MEMBER'))
FROM pg_catalog.pg_roles AS r
WHERE r.rolname IN ('bulwark_app', 'bulwark_jobs', 'bulwark_app_login_test', 'bulwark_jobs_login_test')`

// snapshotSQL reads a whole snapshot in one statement, so that it sees one
// consistent state.
var snapshotSQL = func() string {
	var parts []string
	for _, table := range snapshotTables {
		parts = append(parts, fmt.Sprintf("SELECT '%[1]s', pg_catalog.to_jsonb(t)::text FROM %[1]s AS t", table))
	}
	parts = append(parts, snapshotCatalog)
	return "SELECT source::text, line::text FROM (" + strings.Join(parts, "\nUNION ALL\n") + ") AS s (source, line) ORDER BY 1, 2"
}()

// snapshot reads the database as the superuser, who sees every row.
func (w *world) snapshot(t *testing.T) snapshot {
	t.Helper()
	rows, err := w.pool.Query(context.Background(), snapshotSQL)
	require.NoError(t, err)
	s := snapshot{}
	var source, line string
	_, err = pgx.ForEachRow(rows, []any{&source, &line}, func() error {
		s[source] = append(s[source], line)
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, s["app.articles"], "a snapshot without articles proves nothing")
	return s
}

// requireOnlyChanged asserts that from before to after nothing changed but
// the articles with the given ids, and that the log only grew, by rows
// about them.
func requireOnlyChanged(t *testing.T, before, after snapshot, ids ...uuid.UUID) {
	t.Helper()
	allowed := map[string]bool{}
	for _, id := range ids {
		allowed[id.String()] = true
	}
	var sources []string
	for source := range before {
		sources = append(sources, source)
	}
	for source := range after {
		if _, ok := before[source]; !ok {
			sources = append(sources, source)
		}
	}
	slices.Sort(sources)
	for _, source := range sources {
		removed, added := without(before[source], after[source]), without(after[source], before[source])
		switch source {
		case "app.articles":
			for _, line := range slices.Concat(removed, added) {
				require.True(t, allowed[jsonField(t, line, "id")], "an article that nobody transitioned changed: %s", line)
			}
		case "bulwark.transition_log":
			require.Empty(t, removed, "log rows changed or vanished")
			for _, line := range added {
				require.True(t, allowed[jsonField(t, line, "entity_id")], "a log row about something else: %s", line)
			}
		default:
			require.Empty(t, removed, "%s lost or changed rows", source)
			require.Empty(t, added, "%s gained or changed rows", source)
		}
	}
}

// without returns the lines of a that are not in b, counting duplicates.
func without(a, b []string) []string {
	count := map[string]int{}
	for _, line := range b {
		count[line]++
	}
	var out []string
	for _, line := range a {
		if count[line] > 0 {
			count[line]--
			continue
		}
		out = append(out, line)
	}
	return out
}

// jsonField returns the text of one field of a row read by a snapshot.
func jsonField(t *testing.T, line, field string) string {
	t.Helper()
	var row map[string]any
	require.NoError(t, json.Unmarshal([]byte(line), &row))
	s, _ := row[field].(string)
	return s
}

// lit quotes an id as an SQL literal. Ids are the only values spliced into
// attack SQL, which runs over the simple protocol as an attacker's would.
func lit(id uuid.UUID) string { return "'" + id.String() + "'" }

// targets are the articles the attacks aim at, one in each state that
// matters.
type targets struct {
	approved  db.AppArticle
	archived  db.AppArticle
	draft     db.AppArticle
	published db.AppArticle
}

func (w *world) targets(t *testing.T) targets {
	t.Helper()
	return targets{approved: w.approved(t), archived: w.archived(t), draft: w.draft(t), published: w.published(t)}
}

// appRoleAttacks are what a service holding bulwark_app's (or
// bulwark_jobs') credentials might try instead of calling the transition
// functions. Privileges stop every one of them before any trigger runs.
func appRoleAttacks(w *world, tg targets) []attack {
	d, ap, p := lit(tg.draft.ID), lit(tg.approved.ID), lit(tg.published.ID)
	alice, pat, nobody, erin := lit(w.alice), lit(w.pat), lit(w.nobody), lit(w.erin)
	denied := pgerrcode.InsufficientPrivilege
	attacks := []attack{
		// The guarded table.
		{name: "ArticlesDelete", sql: "DELETE FROM app.articles WHERE id = " + p},
		{name: "ArticlesDeleteAll", sql: "DELETE FROM app.articles"},
		{name: "ArticlesInsert", sql: "INSERT INTO app.articles (author_id, title) VALUES (" + alice + ", 'forged')"},
		{name: "ArticlesInsertPublished", sql: "INSERT INTO app.articles (author_id, title, slug, summary, state, approved_by, published_at) VALUES (" +
			alice + ", 'forged', 'forged', 'forged', 'published', " + erin + ", pg_catalog.now())"},
		{name: "ArticlesLockRowsForUpdate", sql: "SELECT id FROM app.articles WHERE id = " + d + " FOR UPDATE"},
		{name: "ArticlesLockTable", setup: []string{"BEGIN"}, sql: "LOCK TABLE app.articles IN ACCESS EXCLUSIVE MODE"},
		{name: "ArticlesTruncate", sql: "TRUNCATE app.articles"},
		{name: "ArticlesTruncateCascade", sql: "TRUNCATE bulwark.principals CASCADE"},
		{name: "ArticlesUpdate", sql: "UPDATE app.articles SET state = 'published', published_at = pg_catalog.now() WHERE id = " + ap},
		{name: "ArticlesUpdateAll", sql: "UPDATE app.articles SET title = 'pwned'"},
		{name: "ArticlesUpdateUnderForgedMaintenance", setup: []string{
			"BEGIN",
			"SELECT pg_catalog.set_config('bulwark.maintenance', pg_catalog.txid_current()::text || ':forged', true)",
		}, sql: "UPDATE app.articles SET state = 'published', published_at = pg_catalog.now() WHERE id = " + ap},
		{name: "ArticlesUpdateWithTransitionFlag", setup: []string{"SET bulwark.transition = 'on'"},
			sql: "UPDATE app.articles SET state = 'published', published_at = pg_catalog.now() WHERE id = " + ap},
		{name: "ArticlesUpdateWithTransitionFlagInTx", setup: []string{
			"BEGIN",
			"SELECT pg_catalog.set_config('bulwark.transition', 'on', true)",
			"SELECT pg_catalog.set_config('bulwark.actor', " + pat + ", true)",
			"SELECT pg_catalog.set_config('bulwark.transition_name', 'publish', true)",
		}, sql: "UPDATE app.articles SET state = 'published', published_at = pg_catalog.now() WHERE id = " + ap},

		// The audit log.
		{name: "LogDelete", sql: "DELETE FROM bulwark.transition_log WHERE entity_id = " + p},
		{name: "LogInsert", sql: "INSERT INTO bulwark.transition_log (actor_id, entity_id, from_state, machine, to_state, transition) VALUES (" +
			pat + ", " + ap + ", 'approved', 'article', 'published', 'publish')"},
		{name: "LogInsertWithTransitionFlag", setup: []string{"SET bulwark.transition = 'on'"},
			sql: "INSERT INTO bulwark.transition_log (machine, transition) VALUES ('article', 'forged')"},
		{name: "LogTruncate", sql: "TRUNCATE bulwark.transition_log"},
		{name: "LogUpdate", sql: "UPDATE bulwark.transition_log SET note = 'rewritten', actor_id = NULL"},

		// Grants, capabilities and the machine.
		{name: "CapabilitiesDelete", sql: "DELETE FROM bulwark.capabilities WHERE name = 'article.publish'"},
		{name: "CapabilitiesInsert", sql: "INSERT INTO bulwark.capabilities (name, description) VALUES ('article.delete', 'Delete an article.')"},
		{name: "CapabilitiesUpdate", sql: "UPDATE bulwark.capabilities SET description = 'Anything.' WHERE name = 'article.publish'"},
		{name: "IdempotencyKeysDelete", sql: "DELETE FROM bulwark.idempotency_keys"},
		{name: "IdempotencyKeysInsert", sql: "INSERT INTO bulwark.idempotency_keys (actor_id, key, request_hash, result) VALUES (" +
			pat + ", 'forged', '\\x00', '{}')"},
		{name: "IdempotencyKeysSelect", sql: "SELECT * FROM bulwark.idempotency_keys"},
		{name: "IdempotencyKeysUpdate", sql: "UPDATE bulwark.idempotency_keys SET result = NULL"},
		{name: "PrincipalRolesDelete", sql: "DELETE FROM bulwark.principal_roles WHERE principal_id = " + erin},
		{name: "PrincipalRolesInsert", sql: "INSERT INTO bulwark.principal_roles (principal_id, role) VALUES (" + nobody + ", 'admin')"},
		{name: "PrincipalRolesUpdate", sql: "UPDATE bulwark.principal_roles SET role = 'admin' WHERE principal_id = " + alice},
		{name: "PrincipalsUpdate", sql: "UPDATE bulwark.principals SET active = true, name = 'root' WHERE id = " + nobody},
		{name: "RoleCapabilitiesDelete", sql: "DELETE FROM bulwark.role_capabilities WHERE role = 'editor'"},
		{name: "RoleCapabilitiesInsert", sql: "INSERT INTO bulwark.role_capabilities (role, capability) VALUES ('author', 'article.publish')"},
		{name: "RoleCapabilitiesUpdate", sql: "UPDATE bulwark.role_capabilities SET role = 'author' WHERE capability = 'article.publish'"},
		{name: "RolesInsert", sql: "INSERT INTO bulwark.roles (name) VALUES ('root')"},
		{name: "StatesInsert", sql: "INSERT INTO bulwark.states (machine, name) VALUES ('article', 'limbo')"},
		{name: "TransitionsDelete", sql: "DELETE FROM bulwark.transitions"},
		{name: "TransitionsInsert", sql: "INSERT INTO bulwark.transitions (machine, name, from_state, to_state) VALUES ('article', 'shortcut', 'draft', 'published')"},
		{name: "TransitionsUpdate", sql: "UPDATE bulwark.transitions SET from_state = 'draft' WHERE machine = 'article' AND name = 'publish'"},

		// Switching the guards off, or becoming someone who can.
		{name: "DDLAlterFunctionSecurityInvoker", sql: "ALTER FUNCTION app.article_publish(uuid, uuid, integer, text) SECURITY INVOKER"},
		{name: "DDLCreateFunctionInApp", sql: "CREATE FUNCTION app.evil() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$"},
		{name: "DDLCreateFunctionInBulwark", sql: "CREATE FUNCTION bulwark.evil() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$"},
		{name: "DDLCreateFunctionInPublic", sql: "CREATE FUNCTION public.evil() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$"},
		{name: "DDLCreateSchema", sql: "CREATE SCHEMA evil"},
		{name: "DDLCreateTableInApp", sql: "CREATE TABLE app.evil (id integer)"},
		{name: "DDLCreateTableInBulwark", sql: "CREATE TABLE bulwark.evil (id integer)"},
		{name: "DDLCreateTableInPublic", sql: "CREATE TABLE public.evil (id integer)"},
		{name: "DDLCreateTrigger", sql: "CREATE TRIGGER evil BEFORE UPDATE ON app.articles FOR EACH ROW EXECUTE FUNCTION bulwark.trg_article_boundary()"},
		{name: "DDLDisableAllTriggers", sql: "ALTER TABLE app.articles DISABLE TRIGGER ALL"},
		{name: "DDLDisableAppendOnly", sql: "ALTER TABLE bulwark.transition_log DISABLE TRIGGER bulwark_append_only"},
		{name: "DDLDisableWriteGuard", sql: "ALTER TABLE app.articles DISABLE TRIGGER bulwark_10_boundary"},
		{name: "DDLDropWriteGuard", sql: "DROP TRIGGER bulwark_10_boundary ON app.articles"},
		{name: "DDLReplaceEngine", sql: "CREATE OR REPLACE FUNCTION bulwark.trg_article_boundary() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$"},
		{name: "DDLReplaceTransitionFunction", sql: "CREATE OR REPLACE FUNCTION app.article_publish(p_actor uuid, p_id uuid, p_expected_version integer, p_idem_key text) " +
			"RETURNS app.articles LANGUAGE sql AS $$ SELECT * FROM app.articles WHERE id = p_id $$"},
		{name: "RoleGrantEngineToSelf", sql: "GRANT bulwark_engine TO CURRENT_USER"},
		{name: "RoleGrantOwnerToSelf", sql: "GRANT bulwark_owner TO CURRENT_USER"},
		{name: "RoleSetEngine", sql: "SET ROLE bulwark_engine"},
		{name: "RoleSetOwner", sql: "SET ROLE bulwark_owner"},
		{name: "RoleSetSessionAuthorization", sql: "SET SESSION AUTHORIZATION bulwark_owner"},
		{name: "SessionReplicationRoleReplica", sql: "SET session_replication_role = replica"},

		// Internal helpers, each with arguments that would work if it ran.
		{name: "CallArticleApply", sql: "SELECT * FROM app.article_apply('publish', " + pat + ", " + ap + ", " +
			fmt.Sprint(tg.approved.Version) + ", NULL)"},
		{name: "CallArticleLockApproved", sql: "SELECT app.article_lock_approved(" + d + ")"},
		{name: "CallContextSet", sql: "SELECT bulwark.context_set(" + pat + ", 'publish', NULL, NULL)"},
		{name: "CallDeclareAction", sql: "SELECT bulwark.declare_action('article', 'delete', 'update', 'article.edit')"},
		{name: "CallDeclareAPI", sql: "SELECT bulwark.declare_api('app.article_publish(uuid, uuid, integer, text)', 'article', 'publish')"},
		{name: "CallDeclareRule", sql: "SELECT bulwark.declare_rule('article', 'publish', 'after', 'PERFORM 1')"},
		{name: "CallDeclareFunction", sql: "SELECT bulwark.declare_function('app.evil()', 'CREATE FUNCTION app.evil() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$')"},
		{name: "CallEngineBuild", sql: "SELECT bulwark.engine_build('article')"},
		{name: "CallEngineRegister", sql: "SELECT bulwark.engine_register('app.articles', 'article', 'state')"},
		{name: "CallEngineUnregister", sql: "SELECT bulwark.engine_unregister('app.articles')"},
		{name: "CallDeclareCapability", sql: "SELECT bulwark.declare_capability('article.delete', 'Delete an article.')"},
		{name: "CallDeclarePrincipal", sql: "SELECT bulwark.declare_principal('human', 'mallory', ARRAY['admin'], NULL)"},
		{name: "CallDeclareRole", sql: "SELECT bulwark.declare_role('author', ARRAY['article.publish'])"},
		{name: "CallDeclareTransition", sql: "SELECT bulwark.declare_transition('article', 'shortcut', 'draft', 'published')"},
		{name: "CallGuard", sql: "SELECT bulwark.guard('app.articles', 'article', 'state')"},
		{name: "CallMaintenanceBegin", sql: "SELECT bulwark.maintenance_begin('attack test: let me in')"},
		{name: "CallMaintenanceEnd", sql: "SELECT bulwark.maintenance_end()"},
		{name: "CallProtect", sql: "SELECT bulwark.protect('app.articles')"},
		{name: "CallRaise", sql: "SELECT bulwark.raise('BWI01', 'x')"},
		{name: "CallUndeclareMachine", sql: "SELECT bulwark.undeclare_machine('article')"},
		{name: "CallUnguard", sql: "SELECT bulwark.unguard('app.articles')"},
	}
	for i := range attacks {
		attacks[i].sqlState = denied
	}
	return attacks
}

// TestAttackAppRoles attacks as the roles services and jobs connect as.
// Their privileges are SELECT and EXECUTE on the transition functions;
// everything else is refused with 42501 before any trigger runs.
func TestAttackAppRoles(t *testing.T) {
	t.Parallel()

	w := newWorld(t)
	urls := w.logins(t)
	tg := w.targets(t)

	for _, role := range []string{"bulwark_app", "bulwark_jobs"} {
		t.Run(role, func(t *testing.T) {
			t.Parallel()
			w.runAttacks(t, urls[role], appRoleAttacks(w, tg))
		})
	}
}

// shadowSetup creates, in the attacker's session, temporary tables and
// functions named like the objects the transition functions use, each
// holding what the attacker wishes were true: nobody may do anything, a
// draft may go straight to published, the boundary is always open, and it
// is always the year 2000.
func shadowSetup(w *world, fake uuid.UUID) []string {
	nobody := lit(w.nobody)
	return []string{
		"CREATE TEMP TABLE articles (id uuid, author_id uuid, state text, title text, version integer)",
		"INSERT INTO pg_temp.articles VALUES (" + lit(fake) + ", " + nobody + ", 'published', 'shadow', 1)",
		"CREATE TEMP TABLE capabilities (name text, description text)",
		"INSERT INTO pg_temp.capabilities VALUES ('article.publish', 'shadow')",
		"CREATE TEMP TABLE idempotency_keys (actor_id uuid, key text, request_hash bytea, result jsonb)",
		"CREATE TEMP TABLE machines (name text, initial_state text)",
		"INSERT INTO pg_temp.machines VALUES ('article', 'published')",
		"CREATE TEMP TABLE principal_capabilities (principal_id uuid, capability text)",
		"INSERT INTO pg_temp.principal_capabilities SELECT " + nobody + ", c FROM pg_catalog.unnest(ARRAY[" +
			"'article.create', 'article.edit', 'article.submit', 'article.review', 'article.publish', 'article.archive']) AS c",
		"CREATE TEMP TABLE principal_roles (principal_id uuid, role text)",
		"INSERT INTO pg_temp.principal_roles VALUES (" + nobody + ", 'admin')",
		"CREATE TEMP TABLE principals (id uuid, active boolean, kind text, name text)",
		"INSERT INTO pg_temp.principals VALUES (" + nobody + ", true, 'human', 'nobody')",
		"CREATE TEMP TABLE role_capabilities (role text, capability text)",
		"INSERT INTO pg_temp.role_capabilities VALUES ('author', 'article.publish')",
		"CREATE TEMP TABLE states (machine text, name text)",
		"CREATE TEMP TABLE transition_log (id bigint, entity_id uuid, transition text)",
		"CREATE TEMP TABLE transitions (machine text, from_state text, to_state text, name text)",
		"INSERT INTO pg_temp.transitions VALUES ('article', 'draft', 'published', 'publish'), ('article', 'draft', 'approved', 'approve')",
		"CREATE FUNCTION pg_temp.clock_timestamp() RETURNS timestamptz LANGUAGE sql AS $$ SELECT '2000-01-01 00:00:00+00'::timestamptz $$",
		"CREATE FUNCTION pg_temp.current_setting(text, boolean) RETURNS text LANGUAGE sql AS $$ SELECT 'on'::text $$",
		"CREATE FUNCTION pg_temp.gen_random_uuid() RETURNS uuid LANGUAGE sql AS $$ SELECT " + lit(fake) + "::uuid $$",
		"CREATE FUNCTION pg_temp.in_transition() RETURNS boolean LANGUAGE sql AS $$ SELECT true $$",
		"CREATE FUNCTION pg_temp.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT '2000-01-01 00:00:00+00'::timestamptz $$",
		"CREATE FUNCTION pg_temp.raise(text, text, text, text) RETURNS void LANGUAGE sql AS $$ SELECT $$",
		"CREATE FUNCTION pg_temp.require_capability(uuid, text) RETURNS void LANGUAGE sql AS $$ SELECT $$",
		"CREATE FUNCTION pg_temp.txid_current() RETURNS bigint LANGUAGE sql AS $$ SELECT 1::bigint $$",
	}
}

// shadowState reads the attacker's temporary objects: their rows, and what
// the functions return.
func shadowState(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	ctx := context.Background()
	rows, err := conn.Query(ctx, `
		SELECT pg_catalog.format('%s %s', c.relname, (
		    SELECT pg_catalog.count(*) FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = c.oid AND a.attnum > 0))
		FROM pg_catalog.pg_class AS c
		WHERE c.relnamespace = pg_catalog.pg_my_temp_schema()
		UNION ALL
		SELECT p.oid::pg_catalog.regprocedure::text || ' ' || pg_catalog.md5(p.prosrc)
		FROM pg_catalog.pg_proc AS p
		WHERE p.pronamespace = pg_catalog.pg_my_temp_schema()
		ORDER BY 1`)
	require.NoError(t, err)
	state, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	for _, table := range []string{
		"articles", "capabilities", "idempotency_keys", "machines", "principal_capabilities", "principal_roles",
		"principals", "role_capabilities", "states", "transition_log", "transitions",
	} {
		rows, err := conn.Query(ctx, "SELECT pg_catalog.to_jsonb(t)::text FROM pg_temp."+table+" AS t ORDER BY 1")
		require.NoError(t, err)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		state = append(state, table+": "+strings.Join(lines, ", "))
	}
	var values string
	require.NoError(t, conn.QueryRow(ctx, `SELECT pg_catalog.concat_ws(' ',
		pg_temp.now(), pg_temp.clock_timestamp(), pg_temp.txid_current(), pg_temp.gen_random_uuid(),
		pg_temp.current_setting('bulwark.transition', true), pg_temp.in_transition())`).Scan(&values))
	return append(state, "values: "+values)
}

// TestAttackShadowing puts temporary tables and functions named like the
// ones the transition functions use in front of them on the caller's
// search_path. The functions pin their own search_path (pg_temp last) and
// qualify every name, so calls behave exactly as normal and the shadows are
// neither read nor written.
func TestAttackShadowing(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	w := newWorld(t)
	urls := w.logins(t)
	// The year the shadows claim it is; nothing the functions write may be
	// that old.
	shadowYear := time.Date(2000, 1, 2, 0, 0, 0, 0, time.UTC)
	// People act through services (bulwark_app) only; here the job role
	// must drive the same calls, so this world's people are unbound.
	_, err := w.pool.Exec(ctx, `BEGIN;
		SELECT bulwark.maintenance_begin('attack test: let the job role act as people');
		UPDATE bulwark.principals SET db_role = NULL WHERE kind = 'human';
		COMMIT`)
	require.NoError(t, err)

	for _, tc := range []struct {
		name       string
		role       string
		searchPath string
	}{
		{"AppTempBeforeCatalog", "bulwark_app", "pg_temp, pg_catalog, public"},
		{"AppTempFirst", "bulwark_app", "pg_temp, public"},
		{"JobsTempBeforeCatalog", "bulwark_jobs", "pg_temp, pg_catalog, public"},
		{"JobsTempFirst", "bulwark_jobs", "pg_temp, public"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			fake := uuid.New()
			conn := dial(t, urls[tc.role])
			for _, s := range shadowSetup(w, fake) {
				_, err := conn.Exec(ctx, s)
				require.NoError(t, err, s)
			}
			_, err := conn.Exec(ctx, "SET search_path = "+tc.searchPath)
			require.NoError(t, err)
			shadows := shadowState(t, conn)
			key := func(step string) *string { return ptr(tc.name + "-" + step) }

			a, err := w.q.ArticleCreate(ctx, conn, db.ArticleCreateParams{Actor: w.alice, Title: "Shadowed", Body: "Body.", IdemKey: key("create")})
			require.NoError(t, err)
			require.NotEqual(t, fake, a.ID, "the id came from the shadow gen_random_uuid")
			require.Equal(t, w.alice, a.AuthorID)
			require.Equal(t, "draft", a.State)
			require.EqualValues(t, 1, a.Version)
			require.True(t, a.CreatedAt.After(shadowYear), "created_at came from the shadow now(): %v", a.CreatedAt)

			slug := nextSlug()
			a, err = w.q.ArticleEdit(ctx, conn, db.ArticleEditParams{
				Actor: w.alice, ID: a.ID, ExpectedVersion: a.Version, Slug: &slug, Summary: ptr("A summary."), IdemKey: key("edit"),
			})
			require.NoError(t, err)

			submit := db.ArticleSubmitParams{Actor: w.alice, ID: a.ID, ExpectedVersion: a.Version, IdemKey: key("submit")}
			a, err = w.q.ArticleSubmit(ctx, conn, submit)
			require.NoError(t, err)
			replay, err := w.q.ArticleSubmit(ctx, conn, submit)
			require.NoError(t, err, "the replay reads the real idempotency_keys")
			require.Equal(t, a, replay)

			// The shadow principal_capabilities grants nobody everything.
			_, err = w.q.ArticleApprove(ctx, conn, db.ArticleApproveParams{Actor: w.nobody, ID: a.ID, ExpectedVersion: a.Version})
			requireRefused(t, err, db.SQLStateMissingCapability, "")
			a, err = w.q.ArticleApprove(ctx, conn, db.ArticleApproveParams{Actor: w.erin, ID: a.ID, ExpectedVersion: a.Version})
			require.NoError(t, err)
			_, err = w.q.ArticlePublish(ctx, conn, db.ArticlePublishParams{Actor: w.nobody, ID: a.ID, ExpectedVersion: a.Version})
			requireRefused(t, err, db.SQLStateMissingCapability, "")
			a, err = w.q.ArticlePublish(ctx, conn, db.ArticlePublishParams{Actor: w.pat, ID: a.ID, ExpectedVersion: a.Version})
			require.NoError(t, err)
			require.Equal(t, "published", a.State)
			require.NotNil(t, a.PublishedAt)
			require.True(t, a.PublishedAt.After(shadowYear), "published_at came from the shadow now(): %v", a.PublishedAt)
			require.True(t, a.UpdatedAt.After(shadowYear), "updated_at came from the shadow now(): %v", a.UpdatedAt)

			// The shadow transitions table lets a draft go straight to
			// published; the real one does not.
			d, err := w.q.ArticleCreate(ctx, conn, db.ArticleCreateParams{Actor: w.alice, Title: "Shortcut", Body: "Body."})
			require.NoError(t, err)
			_, err = w.q.ArticlePublish(ctx, conn, db.ArticlePublishParams{Actor: w.pat, ID: d.ID, ExpectedVersion: d.Version})
			requireRefused(t, err, db.SQLStateIllegalTransition, "")
			require.Equal(t, d, w.get(t, d.ID))

			entries, err := w.q.TransitionLogByEntity(ctx, w.pool, a.ID)
			require.NoError(t, err)
			var got []string
			for _, e := range entries {
				require.NotNil(t, e.ActorID)
				require.True(t, e.At.After(shadowYear), "log time came from the shadow clock_timestamp(): %v", e.At)
				got = append(got, e.Transition+" by "+principalName(w, *e.ActorID))
			}
			require.Equal(t, []string{"create by alice", "edit by alice", "submit by alice", "approve by erin", "publish by pat"}, got)
			require.Len(t, entries, int(a.Version), "one log row per version")

			var keys int
			require.NoError(t, w.pool.QueryRow(ctx,
				`SELECT pg_catalog.count(*) FROM bulwark.idempotency_keys WHERE actor_id = $1 AND key LIKE $2`,
				w.alice, tc.name+"-%").Scan(&keys))
			require.Equal(t, 3, keys, "create, edit and submit claimed their keys in the real table")

			require.Equal(t, shadows, shadowState(t, conn), "the transition functions touched the shadows")
		})
	}
}

// principalName returns the fixture name of id.
func principalName(w *world, id uuid.UUID) string {
	for name, p := range w.principal {
		if p == id {
			return name
		}
	}
	return id.String()
}

// quoted doubles the quotes of a literal, for SQL inside a string literal.
func quoted(literal string) string { return strings.ReplaceAll(literal, "'", "''") }

// forgeFunction is the owner's pg_temp function that writes anything with
// the old boundary flag and the engine's audit context set.
const forgeFunction = `CREATE FUNCTION pg_temp.forge(p_sql text) RETURNS void LANGUAGE plpgsql AS $f$ BEGIN
	PERFORM pg_catalog.set_config('bulwark.transition', 'on', true);
	PERFORM pg_catalog.set_config('bulwark.actor', (SELECT p.id::text FROM bulwark.principals AS p WHERE p.name = 'bootstrap'), true);
	PERFORM pg_catalog.set_config('bulwark.action', 'publish', true);
	EXECUTE p_sql;
END $f$`

// ownerAttacks are what the owner (or a superuser) might do by hand. The
// privileges allow all of it; the triggers refuse it, maintenance switch or
// not.
func ownerAttacks(w *world, tg targets) []attack {
	d, p, ar := lit(tg.draft.ID), lit(tg.published.ID), lit(tg.archived.ID)
	alice, bob, erin, nobody := lit(w.alice), lit(w.bob), lit(w.erin), lit(w.nobody)
	touch := "UPDATE app.articles SET updated_at = pg_catalog.now() WHERE id = " + d
	maintenance := []string{"BEGIN", beginMaintenance}
	return []attack{
		// Direct writes outside the maintenance switch.
		{name: "DirectDelete", sql: "DELETE FROM app.articles WHERE id = " + d, sqlState: db.SQLStateDirectWrite},
		{name: "DirectDeleteAll", sql: "DELETE FROM app.articles", sqlState: db.SQLStateDirectWrite},
		{name: "DirectGrantRole", sql: "INSERT INTO bulwark.principal_roles (principal_id, role) VALUES (" + nobody + ", 'admin')",
			sqlState: db.SQLStateDirectWrite},
		{name: "DirectInsert", sql: "INSERT INTO app.articles (author_id, title) VALUES (" + alice + ", 'direct')", sqlState: db.SQLStateDirectWrite},
		{name: "DirectTransitionsInsert", sql: "INSERT INTO bulwark.transitions (machine, name, from_state, to_state) VALUES ('article', 'shortcut', 'draft', 'published')",
			sqlState: db.SQLStateDirectWrite},
		{name: "DirectUpdate", sql: touch, sqlState: db.SQLStateDirectWrite},
		{name: "DirectUpdateAlongAnEdge", sql: "UPDATE app.articles SET state = 'in_review' WHERE id = " + d, sqlState: db.SQLStateDirectWrite},
		{name: "Truncate", sql: "TRUNCATE app.articles CASCADE", sqlState: db.SQLStateDirectWrite},
		{name: "TruncateCascadeFromPrincipals", sql: "TRUNCATE bulwark.principals CASCADE", sqlState: db.SQLStateDirectWrite},

		// The boundary flag is a setting anyone can SET; by itself it opens
		// nothing: the write must also come from inside a function owned by
		// bulwark_owner.
		{name: "ForgedFlagUpdate", setup: []string{"SET bulwark.transition = 'on'"}, sql: "UPDATE app.articles SET state = 'in_review' WHERE id = " + d,
			sqlState: db.SQLStateDirectWrite},
		{name: "ForgedFlagGrantRole", setup: []string{"SET bulwark.transition = 'on'"},
			sql: "INSERT INTO bulwark.principal_roles (principal_id, role) VALUES (" + nobody + ", 'admin')", sqlState: db.SQLStateDirectWrite},
		{name: "ForgedFlagInsertRole", setup: []string{"SET bulwark.transition = 'on'"}, sql: "INSERT INTO bulwark.roles (name) VALUES ('forged')",
			sqlState: db.SQLStateDirectWrite},
		{name: "ForgedFlagInDOBlock", sql: "DO $$ BEGIN PERFORM pg_catalog.set_config('bulwark.transition', 'on', true); " +
			"INSERT INTO bulwark.roles (name) VALUES ('forged'); END $$", sqlState: db.SQLStateDirectWrite},
		// The forgery the call-stack check allowed: a pg_temp function owned
		// by bulwark_owner that sets the old flag (and the engine's audit
		// context) and runs any statement. The guards ask who is writing
		// (current_user must be bulwark_engine), not what a setting says.
		{name: "ForgedTempFunctionUpdate", setup: []string{forgeFunction},
			sql: "SELECT pg_temp.forge('UPDATE app.articles SET title = ''forged'' WHERE id = " + quoted(d) + "')", sqlState: db.SQLStateDirectWrite},
		{name: "ForgedTempFunctionGrantRole", setup: []string{forgeFunction},
			sql:      "SELECT pg_temp.forge('INSERT INTO bulwark.principal_roles (principal_id, role) VALUES (" + quoted(nobody) + ", ''admin'')')",
			sqlState: db.SQLStateDirectWrite},
		{name: "ForgedTempFunctionIdempotencyResult", setup: []string{forgeFunction},
			sql: "SELECT pg_temp.forge('INSERT INTO bulwark.idempotency_keys (actor_id, key, request_hash, result) VALUES (" + quoted(alice) +
				", ''forged'', ''\\x00'', ''{}'')')", sqlState: db.SQLStateDirectWrite},
		{name: "ForgedTempFunctionLogRow", setup: []string{forgeFunction},
			sql:      "SELECT pg_temp.forge('INSERT INTO bulwark.transition_log (machine, transition, actor_id) VALUES (''article'', ''publish'', " + quoted(alice) + ")')",
			sqlState: db.SQLStateDirectWrite},
		{name: "ForgedContextUpdate", setup: []string{"SELECT pg_catalog.set_config('bulwark.actor', " + alice + "::text, false)",
			"SELECT pg_catalog.set_config('bulwark.action', 'edit', false)"},
			sql: touch, sqlState: db.SQLStateDirectWrite},
		// The apply function names the row it writes in a setting; the
		// boundary trigger skips only the engine's write of that row, so
		// the setting opens nothing for anybody else.
		{name: "ForgedEngineWriteUpdate", setup: []string{"SELECT pg_catalog.set_config('bulwark.engine_write', " + d + ", false)"},
			sql: "UPDATE app.articles SET state = 'in_review' WHERE id = " + d, sqlState: db.SQLStateDirectWrite},
		{name: "ForgedEngineWriteInsert", setup: []string{"SELECT pg_catalog.set_config('bulwark.engine_write', '00000000-0000-0000-0000-00000000f0f0', false)"},
			sql:      "INSERT INTO app.articles (id, author_id, title) VALUES ('00000000-0000-0000-0000-00000000f0f0', " + alice + ", 'forged')",
			sqlState: db.SQLStateDirectWrite},
		// The engine's apply functions chain their own log rows; a row
		// that brings its own hash is still nobody else's to write.
		{name: "DirectLogInsertWithHash", sql: "INSERT INTO bulwark.transition_log (machine, transition, actor_id, prev_hash, hash) VALUES ('article', 'publish', " +
			alice + ", '\\x00', '\\x00')", sqlState: db.SQLStateDirectWrite},
		{name: "DirectLogInsert", sql: "INSERT INTO bulwark.transition_log (machine, transition, actor_id) VALUES ('article', 'publish', " + alice + ")",
			sqlState: db.SQLStateDirectWrite},
		{name: "DirectMaintenanceWindow", sql: "INSERT INTO bulwark.maintenance_windows (txid, reason) VALUES (pg_catalog.txid_current(), 'forged window')",
			sqlState: db.SQLStateDirectWrite},
		{name: "DirectActionRule", sql: "INSERT INTO bulwark.action_rules (machine, action, kind, body) VALUES ('article', 'publish', 'after', 'PERFORM 1')",
			sqlState: db.SQLStateDirectWrite},

		// The log is append-only for everyone, maintenance included.
		{name: "LogDelete", sql: "DELETE FROM bulwark.transition_log WHERE entity_id = " + p, sqlState: db.SQLStateFrozen},
		{name: "LogDeleteUnderMaintenance", setup: maintenance, sql: "DELETE FROM bulwark.transition_log", sqlState: db.SQLStateFrozen},
		{name: "LogTruncate", sql: "TRUNCATE bulwark.transition_log", sqlState: db.SQLStateFrozen},
		{name: "LogTruncateUnderMaintenance", setup: maintenance, sql: "TRUNCATE bulwark.transition_log", sqlState: db.SQLStateFrozen},
		{name: "LogUpdate", sql: "UPDATE bulwark.transition_log SET note = 'rewritten'", sqlState: db.SQLStateFrozen},
		{name: "LogUpdateUnderMaintenance", setup: maintenance, sql: "UPDATE bulwark.transition_log SET actor_id = NULL WHERE entity_id = " + p,
			sqlState: db.SQLStateFrozen},

		// The switch is bound to the transaction that opened it through
		// bulwark.maintenance_begin.
		{name: "ForgedSwitchEmptyTxid", setup: []string{"SET bulwark.maintenance = ':forged'"}, sql: touch, sqlState: db.SQLStateDirectWrite},
		{name: "ForgedSwitchLocal", setup: []string{"BEGIN", "SET LOCAL bulwark.maintenance = '123:forged'"}, sql: touch, sqlState: db.SQLStateDirectWrite},
		{name: "ForgedSwitchNoTxid", setup: []string{"SET bulwark.maintenance = 'forged'"}, sql: touch, sqlState: db.SQLStateDirectWrite},
		{name: "ForgedSwitchSession", setup: []string{"SET bulwark.maintenance = '123:x'"}, sql: touch, sqlState: db.SQLStateDirectWrite},
		{name: "SwitchClosedByMaintenanceEnd", setup: []string{"BEGIN", beginMaintenance, "SELECT bulwark.maintenance_end()"},
			sql: touch, sqlState: db.SQLStateDirectWrite},
		{name: "SwitchFromEarlierTransaction", setup: []string{
			// Autocommit: the setting outlives the transaction whose txid it names.
			"SELECT pg_catalog.set_config('bulwark.maintenance', pg_catalog.txid_current()::text || ':stale', false)",
		}, sql: touch, sqlState: db.SQLStateDirectWrite},
		{name: "SwitchNotCarriedPastRollback", setup: []string{"BEGIN", beginMaintenance, "ROLLBACK"}, sql: touch, sqlState: db.SQLStateDirectWrite},
		{name: "SwitchNotCarriedPastSavepoint", setup: []string{"BEGIN", "SAVEPOINT s", beginMaintenance, "ROLLBACK TO SAVEPOINT s"},
			sql: touch, sqlState: db.SQLStateDirectWrite},

		// Under the switch, the machine, frozen content and constraints
		// still hold.
		{name: "MaintenanceChangeAuthor", setup: maintenance, sql: "UPDATE app.articles SET author_id = " + bob + " WHERE id = " + d,
			sqlState: db.SQLStateFrozen},
		{name: "MaintenanceInsertPublished", setup: maintenance, sql: "INSERT INTO app.articles (author_id, title, slug, summary, state, approved_by, published_at) VALUES (" +
			alice + ", 'forged', 'forged', 'forged', 'published', " + erin + ", pg_catalog.now())", sqlState: db.SQLStateIllegalTransition},
		{name: "MaintenancePublishedBackToDraft", setup: maintenance, sql: "UPDATE app.articles SET state = 'draft' WHERE id = " + p,
			sqlState: db.SQLStateIllegalTransition},
		// The frozen check fires before the state machine (triggers fire in
		// name order), so an archived article is frozen before it is
		// illegal.
		{name: "MaintenanceReviveArchived", setup: maintenance, sql: "UPDATE app.articles SET state = 'draft' WHERE id = " + ar,
			sqlState: db.SQLStateFrozen},
		{name: "MaintenanceRetitlePublished", setup: maintenance, sql: "UPDATE app.articles SET title = 'Changed' WHERE id = " + p,
			sqlState: db.SQLStateFrozen},
		{name: "MaintenanceSelfApproval", setup: maintenance, sql: "UPDATE app.articles SET approved_by = author_id WHERE id = " + d,
			sqlState: pgerrcode.CheckViolation, constraint: "article_approver_not_author"},
		{name: "MaintenanceSkipReview", setup: maintenance, sql: "UPDATE app.articles SET state = 'published', approved_by = " + erin +
			", published_at = pg_catalog.now() WHERE id = " + d, sqlState: db.SQLStateIllegalTransition},
	}
}

// TestAttackOwner attacks as the owner of the guarded tables and as the
// superuser: privileges let them write, and the triggers refuse.
func TestAttackOwner(t *testing.T) {
	t.Parallel()

	w := newWorld(t)
	urls := w.logins(t)
	tg := w.targets(t)

	t.Run("Owner", func(t *testing.T) {
		t.Parallel()
		attacks := append(ownerAttacks(w, tg),
			// The owner is no superuser: it cannot switch the triggers off
			// for the session.
			attack{name: "SessionReplicationRoleReplica", sql: "SET session_replication_role = replica", sqlState: pgerrcode.InsufficientPrivilege},
			// Nor become the engine: it has no members, and granting one
			// takes a superuser.
			attack{name: "SetRoleEngine", sql: "SET ROLE bulwark_engine", sqlState: pgerrcode.InsufficientPrivilege},
			attack{name: "GrantEngineToSelf", sql: "GRANT bulwark_engine TO CURRENT_USER", sqlState: pgerrcode.InsufficientPrivilege},
			attack{name: "AlterEngineFunctionOwner", sql: "ALTER FUNCTION app.article_apply(text, uuid, uuid, integer, text, jsonb, text) OWNER TO bulwark_owner",
				sqlState: pgerrcode.InsufficientPrivilege},
			attack{name: "ReplaceEngineFunction", sql: "CREATE OR REPLACE FUNCTION bulwark.trg_article_boundary() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
				sqlState: pgerrcode.InsufficientPrivilege},
			// Nor run as the engine by rewriting code the engine runs: the
			// core's helpers and trigger functions and the domain's trigger
			// functions and rule helpers belong to bulwark_engine.
			attack{name: "ReplaceContextSet", sql: "CREATE OR REPLACE FUNCTION bulwark.context_set(p_actor uuid, p_action text, p_idem_key text, p_note text) " +
				"RETURNS void LANGUAGE sql AS $$ SELECT $$", sqlState: pgerrcode.InsufficientPrivilege},
			attack{name: "ReplaceMaintenanceReason", sql: "CREATE OR REPLACE FUNCTION bulwark.maintenance_reason() RETURNS text LANGUAGE sql STABLE AS $$ SELECT 'forged' $$",
				sqlState: pgerrcode.InsufficientPrivilege},
			attack{name: "ReplaceDomainTrigger", sql: "CREATE OR REPLACE FUNCTION app.trg_article_frozen() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
				sqlState: pgerrcode.InsufficientPrivilege},
			attack{name: "ReplaceRuleHelper", sql: "CREATE OR REPLACE FUNCTION app.article_lock_approved(p_id uuid) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$",
				sqlState: pgerrcode.InsufficientPrivilege},
			// A rule cannot restructure the engine it is spliced into.
			attack{name: "RuleWithStatements", sql: "SELECT bulwark.declare_check('article', 'publish', " +
				"'true) IS FALSE THEN NULL; END IF; RETURN NULL; IF (true', 'BWI03', '''x''')", sqlState: pgerrcode.InvalidParameterValue},
			attack{name: "RuleWithComment", sql: "SELECT bulwark.declare_check('article', 'publish', 'true --', 'BWI03', '''x''')",
				sqlState: pgerrcode.InvalidParameterValue},
			attack{name: "AfterRuleNotAFunctionCall", sql: "SELECT bulwark.declare_after('article', 'publish', 'UPDATE app.articles SET title = ''x''')",
				sqlState: pgerrcode.InvalidParameterValue},
		)
		w.runAttacks(t, urls["bulwark_owner"], attacks)
	})

	t.Run("Superuser", func(t *testing.T) {
		t.Parallel()
		w.runAttacks(t, urls[superuser], ownerAttacks(w, tg))
	})
}

// TestAttackOwnerMaintenance opens the maintenance switch the documented
// way: the write goes through and is audited, and the switch closes with
// its transaction.
func TestAttackOwnerMaintenance(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	w := newWorld(t)
	urls := w.logins(t)

	for _, tc := range []struct{ name, role string }{
		{"Owner", "bulwark_owner"},
		{"Superuser", superuser},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			a := w.draft(t)
			n := w.logCount(t, a.ID)
			conn := dial(t, urls[tc.role])
			var user string
			require.NoError(t, conn.QueryRow(ctx, "SELECT session_user").Scan(&user))
			reason := "attack test: touch an article as " + tc.name

			tx, err := conn.Begin(ctx)
			require.NoError(t, err)
			_, err = tx.Exec(ctx, "SELECT bulwark.maintenance_begin($1)", reason)
			require.NoError(t, err)
			tag, err := tx.Exec(ctx, "UPDATE app.articles SET updated_at = pg_catalog.now() WHERE id = $1", a.ID)
			require.NoError(t, err)
			require.EqualValues(t, 1, tag.RowsAffected())
			require.NoError(t, tx.Commit(ctx))

			after := w.get(t, a.ID)
			require.Equal(t, a.Version+1, after.Version, "the version trigger still runs")
			require.True(t, after.UpdatedAt.After(a.UpdatedAt))
			want := a
			want.UpdatedAt, want.Version = after.UpdatedAt, after.Version
			require.Equal(t, want, after, "only updated_at and version changed")

			entries, err := w.q.TransitionLogByEntity(ctx, w.pool, a.ID)
			require.NoError(t, err)
			require.Len(t, entries, n+1)
			last := entries[n]
			require.Equal(t, "maintenance_update", last.Transition)
			require.Equal(t, "draft", *last.FromState)
			require.Equal(t, "draft", *last.ToState)
			require.Nil(t, last.ActorID, "a maintenance write has no principal")
			require.NotNil(t, last.Note)
			require.Contains(t, *last.Note, reason)
			require.Contains(t, *last.Note, user)

			var opened int
			var openedID int64
			require.NoError(t, w.pool.QueryRow(ctx, `
				SELECT pg_catalog.count(*), coalesce(pg_catalog.max(id), 0)
				FROM bulwark.transition_log
				WHERE machine = 'bulwark.maintenance'
				  AND transition = 'maintenance_begin'
				  AND note = $1`, reason+" (by "+user+")").Scan(&opened, &openedID))
			require.Equal(t, 1, opened, "one maintenance_begin row names the reason and the user")
			require.Less(t, openedID, last.ID)

			// The next transaction on the same session starts closed.
			_, err = conn.Exec(ctx, "UPDATE app.articles SET updated_at = pg_catalog.now() WHERE id = $1", a.ID)
			requireRefused(t, err, db.SQLStateDirectWrite, "")
			require.Equal(t, after, w.get(t, a.ID))
			require.Equal(t, n+1, w.logCount(t, a.ID))
		})
	}
}

// inTx runs stmts in one transaction on pool and commits if all succeed, so
// an attack that wrongly succeeds leaves its mark for the snapshot to find.
func inTx(ctx context.Context, pool *pgxpool.Pool, stmts ...string) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
}

// TestAttackConcurrentPublish races application-role attackers against
// legitimate publishers of one approved article: every attack fails, one
// publish wins, and the log has one row per version.
func TestAttackConcurrentPublish(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	w := newWorld(t)
	urls := w.logins(t)
	app, jobs := poolFor(t, urls["bulwark_app"]), poolFor(t, urls["bulwark_jobs"])
	const n = 8
	rounds := 4
	if testing.Short() {
		rounds = 1
	}

	for range rounds {
		a := w.approved(t)
		before := w.snapshot(t)
		publish := "UPDATE app.articles SET state = 'published', published_at = pg_catalog.now() WHERE id = " + lit(a.ID)
		errs := release(2*n, func(i int) error {
			switch {
			case i >= n:
				_, err := w.q.ArticlePublish(ctx, app, db.ArticlePublishParams{Actor: w.pat, ID: a.ID, ExpectedVersion: a.Version})
				return err
			case i%4 == 0:
				_, err := app.Exec(ctx, publish)
				return err
			case i%4 == 1:
				_, err := jobs.Exec(ctx, publish)
				return err
			case i%4 == 2:
				return inTx(ctx, app, "SELECT pg_catalog.set_config('bulwark.transition', 'on', true)", publish)
			default:
				return inTx(ctx, jobs, "SELECT pg_catalog.set_config('bulwark.transition', 'on', true)", publish)
			}
		})
		for _, err := range errs[:n] {
			requireRefused(t, err, pgerrcode.InsufficientPrivilege, "")
		}
		wins := 0
		for _, err := range errs[n:] {
			if err == nil {
				wins++
				continue
			}
			requireLayer(t, err, fault.LayerConflict, fault.CodeStaleVersion)
		}
		require.Equal(t, 1, wins)

		final := w.get(t, a.ID)
		require.Equal(t, "published", final.State)
		require.Equal(t, a.Version+1, final.Version)
		require.Equal(t, int(final.Version), w.logCount(t, a.ID), "one log row per version")
		requireOnlyChanged(t, before, w.snapshot(t), a.ID)
	}
}

// TestAttackConcurrentRoles races attackers holding every role against
// legitimate submits and edits of one draft. The attacks that get past the
// privileges queue on the same row as the legitimate calls, and each is
// refused as it would be alone.
func TestAttackConcurrentRoles(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	w := newWorld(t)
	urls := w.logins(t)
	app, jobs := poolFor(t, urls["bulwark_app"]), poolFor(t, urls["bulwark_jobs"])
	owner, super := poolFor(t, urls["bulwark_owner"]), w.pool
	const n = 8
	rounds := 4
	if testing.Short() {
		rounds = 1
	}

	for range rounds {
		d := w.draft(t)
		id := lit(d.ID)
		before := w.snapshot(t)
		type racer struct {
			pool       *pgxpool.Pool
			stmts      []string
			sqlState   string
			constraint string
		}
		// Each refusal holds whichever legitimate call wins: neither leaves
		// a frozen state.
		attacks := [n]racer{
			{app, []string{"DELETE FROM app.articles WHERE id = " + id}, pgerrcode.InsufficientPrivilege, ""},
			{jobs, []string{"TRUNCATE bulwark.transition_log"}, pgerrcode.InsufficientPrivilege, ""},
			{jobs, []string{
				"SELECT pg_catalog.set_config('bulwark.transition', 'on', true)",
				"UPDATE app.articles SET state = 'archived' WHERE id = " + id,
			}, pgerrcode.InsufficientPrivilege, ""},
			{owner, []string{"UPDATE app.articles SET state = 'in_review' WHERE id = " + id}, db.SQLStateDirectWrite, ""},
			{owner, []string{"DELETE FROM bulwark.transition_log WHERE entity_id = " + id}, db.SQLStateFrozen, ""},
			{owner, []string{"TRUNCATE app.articles CASCADE"}, db.SQLStateDirectWrite, ""},
			{super, []string{
				"SET LOCAL bulwark.maintenance = '1:forged'",
				"UPDATE app.articles SET title = 'forged' WHERE id = " + id,
			}, db.SQLStateDirectWrite, ""},
			{super, []string{beginMaintenance, "UPDATE app.articles SET approved_by = author_id WHERE id = " + id},
				pgerrcode.CheckViolation, "article_approver_not_author"},
		}
		errs := release(2*n, func(i int) error {
			if i < n {
				return inTx(ctx, attacks[i].pool, attacks[i].stmts...)
			}
			var err error
			if i%2 == 0 {
				_, err = w.q.ArticleSubmit(ctx, app, db.ArticleSubmitParams{Actor: w.alice, ID: d.ID, ExpectedVersion: d.Version})
			} else {
				_, err = w.q.ArticleEdit(ctx, app, db.ArticleEditParams{
					Actor: w.alice, ID: d.ID, ExpectedVersion: d.Version, Title: ptr(fmt.Sprintf("Edited by %d", i)),
				})
			}
			return err
		})
		for i, a := range attacks {
			requireRefused(t, errs[i], a.sqlState, a.constraint)
		}
		wins := 0
		for _, err := range errs[n:] {
			if err == nil {
				wins++
				continue
			}
			requireLayer(t, err, fault.LayerConflict, fault.CodeStaleVersion)
		}
		require.Equal(t, 1, wins)

		final := w.get(t, d.ID)
		require.Equal(t, d.Version+1, final.Version)
		require.Contains(t, []string{"draft", "in_review"}, final.State)
		require.Equal(t, int(final.Version), w.logCount(t, d.ID), "one log row per version")
		requireOnlyChanged(t, before, w.snapshot(t), d.ID)
	}
}

// capabilityAttacks break the capability rule (resource.action, never a
// state or a condition) or try to redefine a capability, as the owner or
// superuser would from a migration or a prompt.
func capabilityAttacks() []attack {
	maintenance := []string{"BEGIN", beginMaintenance}
	return []attack{
		{name: "DeclareConditionCapability", sql: "SELECT bulwark.declare_capability('article.edit_any', 'Edit any article.')",
			sqlState: db.SQLStatePreconditionFailed},
		{name: "DeclareMachineWhoseStateACapabilityContains", sql: "SELECT bulwark.declare_machine('thing', 'create', ARRAY['create'])",
			sqlState: db.SQLStatePreconditionFailed},
		{name: "DeclareMalformedCapability", sql: "SELECT bulwark.declare_capability('Article.Publish', 'Publish.')",
			sqlState: db.SQLStatePreconditionFailed},
		{name: "DeclareStateCapability", sql: "SELECT bulwark.declare_capability('article.publish_draft', 'x')",
			sqlState: db.SQLStatePreconditionFailed},
		{name: "DeleteCapabilityDirectly", sql: "DELETE FROM bulwark.capabilities WHERE name = 'article.publish'",
			sqlState: db.SQLStateDirectWrite},
		{name: "InsertCapabilityDirectly", sql: "INSERT INTO bulwark.capabilities (name, description) VALUES ('article.delete', 'Delete an article.')",
			sqlState: db.SQLStateDirectWrite},
		{name: "MaintenanceInsertConditionCapability", setup: maintenance,
			sql: "INSERT INTO bulwark.capabilities (name, description) VALUES ('article.edit_own', 'Edit one''s own article.')", sqlState: db.SQLStatePreconditionFailed},
		{name: "MaintenanceInsertStateACapabilityContains", setup: maintenance,
			sql: "INSERT INTO bulwark.states (machine, name) VALUES ('article', 'review')", sqlState: db.SQLStatePreconditionFailed},
		{name: "MaintenanceRedescribeCapability", setup: maintenance,
			sql: "UPDATE bulwark.capabilities SET description = 'Publish anything.' WHERE name = 'article.publish'", sqlState: db.SQLStateFrozen},
		{name: "MaintenanceRenameCapability", setup: maintenance,
			sql: "UPDATE bulwark.capabilities SET name = 'article.release' WHERE name = 'article.publish'", sqlState: db.SQLStateFrozen},
		{name: "RedefineCapability", sql: "SELECT bulwark.declare_capability('article.publish', 'Publish anything, anywhere.')",
			sqlState: db.SQLStateFrozen},
	}
}

// TestAttackCapabilityRules holds the capability rule in SQL, whoever
// writes and however.
func TestAttackCapabilityRules(t *testing.T) {
	t.Parallel()

	w := newWorld(t)
	urls := w.logins(t)
	w.draft(t) // a snapshot needs an article to prove anything

	for _, tc := range []struct{ name, role string }{
		{"Owner", "bulwark_owner"},
		{"Superuser", superuser},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w.runAttacks(t, urls[tc.role], capabilityAttacks())
		})
	}
}

// TestAttackAssertedIdentity: a session asserts the actor, but only within
// its binding. A job credential cannot act as a person or as bootstrap; an
// application credential cannot act as the scheduler or as bootstrap. Each
// refusal is BWP01 and changes nothing.
func TestAttackAssertedIdentity(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	w := newWorld(t)
	urls := w.logins(t)
	d := w.draft(t)
	n := w.logCount(t, d.ID)
	var scheduler uuid.UUID
	require.NoError(t, w.pool.QueryRow(ctx, `SELECT bulwark.principal_id('scheduler')`).Scan(&scheduler))

	for _, tc := range []struct {
		name, role, sql string
		args            []any
	}{
		{"JobsAsPerson", "bulwark_jobs", `SELECT * FROM app.article_submit($1, $2, $3, NULL)`, []any{w.alice, d.ID, d.Version}},
		{"JobsAsBootstrap", "bulwark_jobs", `SELECT bulwark.role_grant(bulwark.principal_id('bootstrap'), $1, 'admin')`, []any{scheduler}},
		{"AppAsBootstrap", "bulwark_app", `SELECT bulwark.role_grant(bulwark.principal_id('bootstrap'), $1, 'admin')`, []any{w.nobody}},
		{"AppAsBootstrapCreate", "bulwark_app", `SELECT bulwark.principal_create(bulwark.principal_id('bootstrap'), 'human', 'mallory')`, nil},
		{"AppAsScheduler", "bulwark_app", `SELECT * FROM app.article_archive($1, $2, $3, NULL)`, []any{scheduler, d.ID, d.Version}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conn := dial(t, urls[tc.role])
			_, err := conn.Exec(ctx, tc.sql, tc.args...)
			requireLayer(t, err, fault.LayerPermission, fault.CodeMissingCapability)
		})
	}
	t.Cleanup(func() {
		w.requireUnchanged(t, d, n)
		var admins int
		require.NoError(t, w.pool.QueryRow(ctx, `SELECT count(*) FROM bulwark.principal_roles WHERE role = 'admin'`).Scan(&admins))
		require.Equal(t, 2, admins, "bootstrap and the fixture's admin only")
	})
}
