// Package drift weakens a migrated database the way people do (a trigger
// disabled for a backfill, a grant for one tool, a constraint dropped
// "temporarily"), for the tests of bulwark verify and of the CLI that runs
// it. Each [Fixture] is one kind of drift and names exactly what verify
// must report.
//
// The package's rule: a fixture makes its drift with the statements a
// person would type, as the migration role, and nothing else; it never
// writes the catalogs directly.
package drift

import (
	"context"
	"crypto/rand"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// PgtestOwnerLogin is the login role that pgtest.LoginAs makes in
// bulwark_owner. Roles are cluster-wide and tests of other packages make
// it whenever they like, so verify's tests treat it as a migration role.
const PgtestOwnerLogin = "bulwark_owner_login_test"

// ownerLoginPrefix starts the name of the login role that the
// LoginRoleInOwner fixture puts in bulwark_owner; the rest is the caller's
// tag, so that test processes running side by side each use their own.
const ownerLoginPrefix = "bulwark_drift_owner_"

// Tags name the test packages that apply fixtures, one owner login each.
var Tags = []string{"cli", "verify"}

// SeedArticle is the id of the article that the history fixtures create
// (under the maintenance switch, logged) before they tamper with it.
const SeedArticle = "00000000-0000-4000-8000-00000000d21f"

// seedArticle creates [SeedArticle] as a logged maintenance write;
// submitArticle submits it through the engine, as bootstrap.
const (
	seedArticle = `
		BEGIN;
		SELECT bulwark.maintenance_begin('drift: seed an article');
		INSERT INTO app.articles (id, author_id, title) VALUES ('` + SeedArticle + `', bulwark.principal_id('bootstrap'), 'Seed');
		COMMIT`
	submitArticle = `SELECT * FROM app.article_submit(bulwark.principal_id('bootstrap'), '` + SeedArticle + `', 1, NULL)`
)

// Fixture is one kind of drift.
type Fixture struct {
	// Name is the subtest name.
	Name string
	// SQL runs in order, as the migration role, each string as one
	// simple-protocol batch (a BEGIN ... COMMIT may span statements).
	// {database} is the database's name and {owner_login} the login role
	// of the LoginRoleInOwner fixture. {role} and {group} are roles the
	// fixture creates: each application names them afresh, so that test
	// processes and fixtures side by side never share one, and [Apply]
	// drops them in the test's Cleanup.
	SQL []string
	// Want lists the findings verify must report, exactly, as
	// "check object" (see verify.Report.Failures), with the same
	// placeholders as SQL.
	Want []string
	// LogShows marks a drift of a row's history that the log alone shows
	// (a write it lacks, a state no logged transition reached, a lost
	// creation): `bulwark log --check` reports it as verify's history
	// check does. Drift seen only in xmin or the hash chain is verify's.
	LogShows bool
	// MigrationRoles lists roles the fixture creates (as placeholders)
	// that verify must accept as migration roles: [ApplyTx] returns their
	// names.
	MigrationRoles []string
	// ownsLogin marks the fixture that creates {owner_login}.
	ownsLogin bool
	// cluster marks a drift of the cluster's roles (see
	// [ClusterFixtures]), made with ApplyTx only.
	cluster bool
	// before is the first server version (server_version_num) on which
	// the fixture's drift is none; zero means every version.
	before int
}

// rolePlaceholders are the placeholders of the roles a fixture creates.
var rolePlaceholders = []string{"{role}", "{group}"}

// Fixtures returns every kind of drift verify detects but those of the
// cluster's roles ([ClusterFixtures]).
func Fixtures() []Fixture {
	const (
		apply   = "app.article_apply(text,uuid,uuid,integer,text,jsonb,text)"
		publish = "app.article_publish(uuid,uuid,integer,text)"
	)
	return []Fixture{
		{
			Name: "AppendOnlyTriggerDisabled",
			SQL:  []string{`ALTER TABLE bulwark.transition_log DISABLE TRIGGER bulwark_append_only`},
			Want: []string{"append_only bulwark.transition_log.bulwark_append_only"},
		},
		{
			Name: "ApplyGrantedToApp",
			// The engine itself, callable by the application role: no
			// declared API stands between it and every action.
			SQL: []string{`GRANT EXECUTE ON FUNCTION app.article_apply(text, uuid, uuid, integer, text, jsonb, text) TO bulwark_app`},
			Want: []string{
				"callable_functions " + apply,
				"function_fingerprints " + apply,
			},
		},
		{
			Name:     "AuditTriggerOffForAnUpdate",
			LogShows: true,
			// A quick fix as an owner login, the audit trigger off for the
			// length of it: the row's version now exceeds its log.
			SQL: []string{seedArticle, `
				BEGIN;
				SELECT bulwark.maintenance_begin('drift: a quick fix, unlogged');
				ALTER TABLE app.articles DISABLE TRIGGER bulwark_90_audit;
				UPDATE app.articles SET title = 'Fixed' WHERE id = '` + SeedArticle + `';
				ALTER TABLE app.articles ENABLE TRIGGER bulwark_90_audit;
				COMMIT`},
			Want: []string{"history app.articles/" + SeedArticle},
		},
		{
			Name: "CapabilityEncodesState",
			// The capabilities trigger refuses such a name even under the
			// maintenance switch, so the careless admin turns it off too.
			SQL: []string{`
				BEGIN;
				SELECT bulwark.maintenance_begin('drift: add a capability by hand');
				ALTER TABLE bulwark.capabilities DISABLE TRIGGER bulwark_capability_rules;
				INSERT INTO bulwark.capabilities (name, description) VALUES ('article.publish_draft', 'Publish a draft.');
				ALTER TABLE bulwark.capabilities ENABLE TRIGGER bulwark_capability_rules;
				COMMIT`},
			Want: []string{"capability_names article.publish_draft"},
		},
		{
			Name: "ColumnAdded",
			SQL:  []string{`ALTER TABLE app.articles ADD COLUMN backdoor text`},
			Want: []string{"columns app.articles.backdoor"},
		},
		{
			Name: "ColumnDefaultChanged",
			SQL:  []string{`ALTER TABLE app.articles ALTER COLUMN version SET DEFAULT 100`},
			Want: []string{"columns app.articles.version"},
		},
		{
			Name: "ColumnNotNullDropped",
			SQL:  []string{`ALTER TABLE app.articles ALTER COLUMN state DROP NOT NULL`},
			Want: []string{"columns app.articles.state"},
		},
		{
			Name: "ColumnRenamed",
			// A rename "for clarity": the constraints follow it, the
			// engine's rules, which are code, do not (publish's check that
			// a summary is there, edit's assignment of it).
			SQL: []string{`ALTER TABLE app.articles RENAME COLUMN summary TO abstract`},
			Want: []string{
				"action_rules article/rule 14",
				"action_rules article/rule 24",
				"columns app.articles.abstract",
				"columns app.articles.summary",
				"constraints app.articles.article_published_complete",
				"constraints app.articles.article_summary_length",
				"constraints app.articles.article_summary_text",
			},
		},
		{
			Name: "ConstraintDropped",
			SQL:  []string{`ALTER TABLE app.articles DROP CONSTRAINT article_title_length`},
			Want: []string{"constraints app.articles.article_title_length"},
		},
		{
			Name: "ConstraintNotValid",
			SQL: []string{`
				ALTER TABLE app.articles DROP CONSTRAINT article_title_length;
				ALTER TABLE app.articles ADD CONSTRAINT article_title_length CHECK (pg_catalog.char_length(title) <= 300) NOT VALID`},
			Want: []string{"constraints app.articles.article_title_length"},
		},
		{
			Name: "ConstraintWeakened",
			SQL: []string{`
				ALTER TABLE app.articles DROP CONSTRAINT article_title_length;
				ALTER TABLE app.articles ADD CONSTRAINT article_title_length CHECK (pg_catalog.char_length(title) <= 100000)`},
			Want: []string{"constraints app.articles.article_title_length"},
		},
		{
			Name: "CoreHelperMadePermissive",
			// The capability check every grant function runs, emptied
			// (as a superuser: it is the engine's).
			SQL: []string{`
				CREATE OR REPLACE FUNCTION bulwark.require_capability(p_actor uuid, p_capability text)
				RETURNS void
				LANGUAGE plpgsql
				STABLE
				SET search_path = pg_catalog, pg_temp
				AS $$ BEGIN RETURN; END $$`},
			Want: []string{"function_fingerprints bulwark.require_capability(uuid,text)"},
		},
		{
			Name: "CoreTriggerFunctionNeutered",
			// The core tables' write guard, letting everything through.
			SQL: []string{`
				CREATE OR REPLACE FUNCTION bulwark.trg_protect_guard()
				RETURNS trigger
				LANGUAGE plpgsql
				SET search_path = pg_catalog, pg_temp
				AS $$ BEGIN RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END; END $$`},
			Want: []string{"function_fingerprints bulwark.trg_protect_guard()"},
		},
		{
			Name: "CreateOnSchemaGranted",
			SQL:  []string{`GRANT CREATE ON SCHEMA app TO bulwark_app`},
			Want: []string{"schema_create app"},
		},
		{
			Name: "DatabaseSkipsTriggers",
			SQL:  []string{`ALTER DATABASE {database} SET session_replication_role = replica`},
			Want: []string{"trigger_settings database {database}"},
		},
		{
			Name: "DefaultPrivilegesExecuteForPublic",
			// Undoes the migration's revoke: the owner's new functions
			// would be executable by everyone.
			SQL:  []string{`ALTER DEFAULT PRIVILEGES FOR ROLE bulwark_owner GRANT EXECUTE ON FUNCTIONS TO PUBLIC`},
			Want: []string{"default_privileges role bulwark_owner"},
		},
		{
			Name: "DefaultPrivilegesGrantDML",
			SQL:  []string{`ALTER DEFAULT PRIVILEGES FOR ROLE bulwark_owner IN SCHEMA app GRANT INSERT, UPDATE ON TABLES TO bulwark_app`},
			Want: []string{"default_privileges role bulwark_owner in schema app"},
		},
		{
			Name: "DefinerAddedBehindTheBoundary",
			// A new definer function in a guarded table's schema,
			// callable by the application, declared nowhere.
			SQL: []string{`
				BEGIN;
				SET LOCAL ROLE bulwark_owner;
				CREATE FUNCTION app.article_fix(p_id uuid) RETURNS void
				LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
				AS $$ UPDATE app.articles SET title = 'fixed' WHERE id = p_id $$;
				GRANT EXECUTE ON FUNCTION app.article_fix(uuid) TO bulwark_app;
				COMMIT`},
			Want: []string{
				"callable_functions app.article_fix(uuid)",
				"function_fingerprints app.article_fix(uuid)",
			},
		},
		{
			Name: "DefinerAddedElsewhere",
			// The same door in schema public, outside the boundary's
			// schemas, executable by PUBLIC (PostgreSQL's default).
			SQL: []string{`
				CREATE FUNCTION public.article_fix(p_id uuid) RETURNS void
				LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
				AS $$ UPDATE app.articles SET title = 'fixed' WHERE id = p_id $$`},
			Want: []string{"callable_functions public.article_fix(uuid)"},
		},
		{
			Name: "DomainAdded",
			// A type for a new column, made by hand: its CHECKs would run
			// as the engine in every write of that column, and ALTER
			// DOMAIN would change them unseen.
			SQL: []string{`
				BEGIN;
				SET LOCAL ROLE bulwark_owner;
				CREATE DOMAIN app.tag AS text CHECK (VALUE <> '');
				COMMIT`},
			Want: []string{"columns app.tag"},
		},
		{
			Name: "EngineOwnedByOwner",
			// Generated code handed to bulwark_owner, whose logins could
			// then replace it (as a superuser: only one can give it away).
			SQL: []string{`ALTER FUNCTION bulwark.trg_article_boundary() OWNER TO bulwark_owner`},
			Want: []string{
				"function_owner bulwark.trg_article_boundary()",
				"function_fingerprints bulwark.trg_article_boundary()",
			},
		},
		{
			Name: "EngineTriggerNeutered",
			// The machine's generated boundary, replaced to let every
			// write through (as a superuser).
			SQL: []string{`
				CREATE OR REPLACE FUNCTION bulwark.trg_article_boundary()
				RETURNS trigger
				LANGUAGE plpgsql
				SET search_path = pg_catalog, pg_temp
				AS $$ BEGIN RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END; END $$`},
			Want: []string{"function_fingerprints bulwark.trg_article_boundary()"},
		},
		{
			Name: "EngineWithoutSearchPath",
			// The generated engine, its pinned search_path reset: it runs
			// as bulwark_engine with the caller's.
			SQL: []string{`ALTER FUNCTION app.article_apply(text, uuid, uuid, integer, text, jsonb, text) RESET search_path`},
			Want: []string{
				"function_search_path " + apply,
				"function_fingerprints " + apply,
			},
		},
		{
			Name: "ExecuteGrantedToPublic",
			SQL:  []string{`GRANT EXECUTE ON FUNCTION app.article_publish(uuid, uuid, integer, text) TO PUBLIC`},
			Want: []string{"function_execute " + publish, "function_fingerprints " + publish},
		},
		{
			Name: "FrozenTriggerDisabled",
			SQL:  []string{`ALTER TABLE app.articles DISABLE TRIGGER article_frozen`},
			Want: []string{"triggers_enabled app.articles.article_frozen"},
		},
		{
			Name: "FunctionDropped",
			// The schedule's check that its article is approved calls it:
			// every schedule would now fail as an invariant.
			SQL: []string{`DROP FUNCTION app.article_lock_approved(uuid)`},
			Want: []string{
				"function_fingerprints app.article_lock_approved(uuid)",
				"action_rules article_schedule/rule 27",
			},
		},
		{
			Name: "FunctionNotDefiner",
			// Replaced with the same body and settings, SECURITY DEFINER
			// forgotten.
			SQL: []string{`
				CREATE OR REPLACE FUNCTION app.article_publish(p_actor uuid, p_id uuid, p_expected_version integer, p_idem_key text)
				RETURNS app.articles
				LANGUAGE plpgsql
				SET search_path = pg_catalog, pg_temp
				AS $$ BEGIN RETURN app.article_apply('publish', p_actor, p_id, p_expected_version, p_idem_key); END $$`},
			Want: []string{"function_definer " + publish, "function_fingerprints " + publish},
		},
		{
			Name: "FunctionWithoutSearchPath",
			// Replaced with the same body, the SET clause forgotten.
			SQL: []string{`
				CREATE OR REPLACE FUNCTION app.article_publish(p_actor uuid, p_id uuid, p_expected_version integer, p_idem_key text)
				RETURNS app.articles
				LANGUAGE plpgsql
				SECURITY DEFINER
				AS $$ BEGIN RETURN app.article_apply('publish', p_actor, p_id, p_expected_version, p_idem_key); END $$`},
			Want: []string{"function_search_path " + publish, "function_fingerprints " + publish},
		},
		{
			Name: "GuardTriggerDisabled",
			SQL:  []string{`ALTER TABLE app.articles DISABLE TRIGGER bulwark_10_boundary`},
			Want: []string{"guard_triggers app.articles.bulwark_10_boundary"},
		},
		{
			Name: "GuardTriggerDropped",
			SQL:  []string{`DROP TRIGGER bulwark_truncate ON app.articles`},
			Want: []string{"guard_triggers app.articles.bulwark_truncate"},
		},
		{
			Name: "GuardTriggerOtherMachine",
			// Copied from the schedules table: a boundary, but the wrong
			// machine's, whose edges and audit know nothing of articles.
			SQL: []string{`
				DROP TRIGGER bulwark_10_boundary ON app.articles;
				CREATE TRIGGER bulwark_10_boundary BEFORE INSERT OR UPDATE OR DELETE ON app.articles
				FOR EACH ROW EXECUTE FUNCTION bulwark.trg_article_schedule_boundary()`},
			Want: []string{"guard_triggers app.articles.bulwark_10_boundary"},
		},
		{
			Name: "GuardTriggerReplicaOnly",
			SQL:  []string{`ALTER TABLE app.articles ENABLE REPLICA TRIGGER bulwark_90_audit`},
			Want: []string{"guard_triggers app.articles.bulwark_90_audit"},
		},
		{
			Name: "GuardTriggerWhenFalse",
			SQL: []string{`
				DROP TRIGGER bulwark_10_boundary ON app.articles;
				CREATE TRIGGER bulwark_10_boundary BEFORE INSERT OR UPDATE OR DELETE ON app.articles
				FOR EACH ROW WHEN (false) EXECUTE FUNCTION bulwark.trg_article_boundary()`},
			Want: []string{"guard_triggers app.articles.bulwark_10_boundary"},
		},
		{
			// The audit trigger skips the engine's own writes; one that
			// skips everybody's leaves maintenance writes unlogged.
			Name: "AuditTriggerWhenWidened",
			SQL: []string{`
				DROP TRIGGER bulwark_90_audit ON app.articles;
				CREATE TRIGGER bulwark_90_audit AFTER INSERT OR UPDATE OR DELETE ON app.articles
				FOR EACH ROW WHEN (CURRENT_USER = 'nobody') EXECUTE FUNCTION bulwark.trg_article_audit()`},
			Want: []string{"guard_triggers app.articles.bulwark_90_audit"},
		},
		{
			// Written around declare_conflict (which refuses the core's
			// tables): a defect of the core would read as a retryable
			// conflict.
			Name: "CoreConflictPlanted",
			SQL: []string{`
				BEGIN;
				SELECT bulwark.maintenance_begin('plant a conflict on the core');
				INSERT INTO bulwark.conflict_constraints (relation, name, code, reason, retryable)
				VALUES ('bulwark.transition_log', 'transition_log_pkey', 'retry_me', 'try again', true);
				COMMIT`},
			Want: []string{"conflicts bulwark.transition_log.transition_log_pkey"},
		},
		{
			Name: "CoreConflictRemoved",
			SQL: []string{`
				BEGIN;
				SELECT bulwark.maintenance_begin('remove the core''s conflict');
				DELETE FROM bulwark.conflict_constraints WHERE name = 'principal_name_unique';
				COMMIT`},
			Want: []string{"conflicts bulwark.principals.principal_name_unique"},
		},
		{
			Name: "BoundaryDeleteTriggerDropped",
			SQL:  []string{`DROP TRIGGER bulwark_10_boundary_delete ON app.articles`},
			Want: []string{"guard_triggers app.articles.bulwark_10_boundary_delete"},
		},
		{
			Name: "GuardedTableDropped",
			// Guarded by a migration, then dropped without its Down's
			// unguard: the registration stays.
			SQL: []string{`
				BEGIN;
				SET LOCAL ROLE bulwark_owner;
				SELECT bulwark.declare_machine('probe', 'open', ARRAY['open']);
				CREATE TABLE app.probes (
				    id      uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
				    state   text NOT NULL DEFAULT 'open',
				    version integer NOT NULL DEFAULT 1
				);
				SELECT bulwark.guard('app.probes', 'probe', 'state');
				COMMIT`,
				`DROP TABLE app.probes CASCADE`},
			Want: []string{
				"guarded_tables app.probes",
				"function_fingerprints app.probe_apply(text,uuid,uuid,integer,text,jsonb,text)",
			},
		},
		{
			Name: "ContentChangedAllTriggersOff",
			// The quiet fix: every trigger off, a content-only
			// update (no version bump, no log row, no state change), the
			// triggers back on, in one transaction. The row's xmin names a
			// transaction that logged nothing for it.
			SQL: []string{seedArticle, `
				BEGIN;
				ALTER TABLE app.articles DISABLE TRIGGER USER;
				UPDATE app.articles SET title = 'Quietly changed' WHERE id = '` + SeedArticle + `';
				ALTER TABLE app.articles ENABLE TRIGGER USER;
				COMMIT`},
			Want: []string{"history app.articles/" + SeedArticle},
		},
		{
			Name:     "LogRowDeleted",
			LogShows: true,
			// The creation's log row deleted, the append-only trigger off
			// for it.
			SQL: []string{seedArticle, submitArticle, `
				BEGIN;
				ALTER TABLE bulwark.transition_log DISABLE TRIGGER bulwark_append_only;
				DELETE FROM bulwark.transition_log WHERE entity_id = '` + SeedArticle + `' AND transition = 'maintenance_insert';
				ALTER TABLE bulwark.transition_log ENABLE TRIGGER bulwark_append_only;
				COMMIT`},
			Want: []string{"history app.articles/" + SeedArticle},
		},
		{
			Name: "LogRowEdited",
			// Who did it, rewritten: the hash chain breaks.
			SQL: []string{seedArticle, submitArticle, `
				BEGIN;
				ALTER TABLE bulwark.transition_log DISABLE TRIGGER bulwark_append_only;
				UPDATE bulwark.transition_log SET actor_id = NULL WHERE entity_id = '` + SeedArticle + `' AND transition = 'submit';
				ALTER TABLE bulwark.transition_log ENABLE TRIGGER bulwark_append_only;
				COMMIT`},
			Want: []string{"history app.articles/" + SeedArticle},
		},
		{
			Name:      "LoginRoleInOwner",
			SQL:       []string{`CREATE ROLE {owner_login} LOGIN`, `GRANT bulwark_owner TO {owner_login}`},
			Want:      []string{"owner_members {owner_login}"},
			ownsLogin: true,
		},
		{
			Name: "MigrationChecksumChanged",
			SQL: []string{`
				BEGIN;
				SELECT bulwark.maintenance_begin('drift: a migration file was edited after it ran');
				UPDATE bulwark.migration_checksums SET checksum = 'sha256:' || pg_catalog.repeat('0', 64) WHERE line = 'articles' AND version = 1;
				COMMIT`},
			Want: []string{"migrations articles/00001_article_workflow.sql"},
		},
		{
			Name: "MigrationVersionUnknown",
			SQL:  []string{`INSERT INTO public.bulwark_core_version (version_id, is_applied) VALUES (99999, true)`},
			Want: []string{"migrations core version 99999"},
		},
		{
			Name: "PolicyAdded",
			SQL:  []string{`CREATE POLICY article_hidden ON app.articles FOR UPDATE USING (false)`},
			Want: []string{"row_security app.articles.article_hidden"},
		},
		{
			Name: "ProtectTriggersDropped",
			// The core's grant and declaration tables lose their write
			// guard and their audit.
			SQL: []string{`
				DROP TRIGGER bulwark_10_write_guard ON bulwark.transitions;
				DROP TRIGGER bulwark_90_audit ON bulwark.principals`},
			Want: []string{
				"trigger_definitions bulwark.transitions.bulwark_10_write_guard",
				"trigger_definitions bulwark.principals.bulwark_90_audit",
			},
		},
		{
			Name: "RiverJobWritableByApp",
			// The grants River's own insert client needed: an application
			// login could queue a retention job, or rewrite a job's kind.
			SQL: []string{`
				GRANT USAGE ON SCHEMA river TO bulwark_app;
				GRANT SELECT, INSERT ON river.river_job TO bulwark_app;
				GRANT UPDATE (kind) ON river.river_job TO bulwark_app`},
			Want: []string{"river_privileges river", "river_privileges river.river_job"},
		},
		{
			Name: "RiverTruncateGrantedToRunners",
			SQL:  []string{`GRANT TRUNCATE ON river.river_job TO bulwark_jobs`},
			Want: []string{"river_privileges river.river_job"},
		},
		{
			Name: "RowSecurityEnabled",
			SQL:  []string{`ALTER TABLE app.articles ENABLE ROW LEVEL SECURITY`},
			Want: []string{"row_security app.articles"},
		},
		{
			Name: "RuleRewritesUpdates",
			SQL:  []string{`CREATE RULE article_swallow AS ON UPDATE TO app.articles DO INSTEAD NOTHING`},
			Want: []string{"rules app.articles.article_swallow"},
		},
		{
			Name:     "StateSetAroundTheMachine",
			LogShows: true,
			// Both the boundary and the audit trigger off: the version
			// stays, but the state no logged transition led to shows.
			SQL: []string{seedArticle, `
				BEGIN;
				ALTER TABLE app.articles DISABLE TRIGGER bulwark_10_boundary;
				ALTER TABLE app.articles DISABLE TRIGGER bulwark_90_audit;
				UPDATE app.articles SET state = 'archived' WHERE id = '` + SeedArticle + `';
				ALTER TABLE app.articles ENABLE TRIGGER bulwark_10_boundary;
				ALTER TABLE app.articles ENABLE TRIGGER bulwark_90_audit;
				COMMIT`},
			Want: []string{"history app.articles/" + SeedArticle},
		},
		{
			Name: "StateUnreachable",
			SQL: []string{`
				BEGIN;
				SELECT bulwark.maintenance_begin('drift: a state added by hand');
				INSERT INTO bulwark.states (machine, name) VALUES ('article', 'limbo');
				COMMIT`},
			Want: []string{"state_machines article/limbo"},
		},
		{
			Name: "TableOwnedByAnother",
			SQL:  []string{`ALTER TABLE app.articles OWNER TO {session_user}`},
			Want: []string{"owners app.articles"},
		},
		{
			Name: "TableUnguarded",
			// Taken out of the boundary by hand: its wrappers stay
			// callable, now declared by nothing.
			SQL: []string{`
				BEGIN;
				SET LOCAL ROLE bulwark_owner;
				SELECT bulwark.unguard('app.articles');
				COMMIT`},
			Want: []string{
				"guarded_tables app.articles",
				"callable_functions app.article_approve(uuid,uuid,integer,text)",
				"callable_functions app.article_archive(uuid,uuid,integer,text)",
				"callable_functions app.article_create(uuid,text,text,text)",
				"callable_functions app.article_edit(uuid,uuid,integer,text,text,text,text,text)",
				"callable_functions " + publish,
				"callable_functions app.article_request_changes(uuid,uuid,integer,text,text)",
				"callable_functions app.article_submit(uuid,uuid,integer,text)",
				"callable_functions app.article_withdraw(uuid,uuid,integer,text)",
			},
		},
		{
			Name: "TriggerAddedOnGuardedTable",
			// Runs inside every write of the table, as the engine.
			SQL: []string{`
				CREATE TRIGGER article_rewrite BEFORE UPDATE ON app.articles
				FOR EACH ROW EXECUTE FUNCTION app.trg_article_frozen()`},
			Want: []string{"trigger_definitions app.articles.article_rewrite"},
		},
		{
			Name: "UniqueIndexDropped",
			SQL:  []string{`DROP INDEX app.article_slug_published_unique`},
			Want: []string{"constraints app.articles.article_slug_published_unique"},
		},
		{
			Name: "DMLGrantedToALogin",
			// A login for one tool, outside bulwark_app: it writes the
			// table around the transition functions.
			SQL: []string{`
				CREATE ROLE {role} LOGIN;
				GRANT INSERT, UPDATE, DELETE, TRUNCATE ON app.articles TO {role}`},
			Want: []string{"table_privileges app.articles"},
		},
		{
			Name: "AuditLogColumnGrantedToAGroup",
			// A column of the audit log, writable by a group and so by
			// its member login.
			SQL: []string{`
				CREATE ROLE {group} NOLOGIN;
				CREATE ROLE {role} LOGIN IN ROLE {group};
				GRANT UPDATE (actor_id) ON bulwark.transition_log TO {group}`},
			Want: []string{"table_privileges bulwark.transition_log"},
		},
		{
			Name: "UpdateGrantedToApp",
			SQL:  []string{`GRANT UPDATE ON app.articles TO bulwark_app`},
			Want: []string{"table_privileges app.articles"},
		},
		{
			Name: "UpdateGrantedToPublic",
			SQL:  []string{`GRANT UPDATE ON app.articles TO PUBLIC`},
			Want: []string{"table_privileges app.articles"},
		},
		{
			Name: "WrapperRedirected",
			// The typed API's publish, now archiving: same signature,
			// settings and grants, another body.
			SQL: []string{`
				CREATE OR REPLACE FUNCTION app.article_publish(p_actor uuid, p_id uuid, p_expected_version integer, p_idem_key text)
				RETURNS app.articles
				LANGUAGE plpgsql
				SECURITY DEFINER
				SET search_path = pg_catalog, pg_temp
				AS $$ BEGIN RETURN app.article_apply('archive', p_actor, p_id, p_expected_version, p_idem_key); END $$`},
			Want: []string{"function_fingerprints " + publish},
		},
	}
}

// ClusterFixtures returns the kinds of drift of the cluster's roles that
// verify detects in any database: a member of bulwark_engine (check
// engine_members) and a role with CREATEROLE (check createrole). Roles are
// cluster-wide and verify accepts none of these in any database, so a
// committed one would fail every verify that other tests run on a shared
// server at the time: make them with [ApplyTx], in a transaction that is
// never committed, and run verify inside it.
func ClusterFixtures() []Fixture {
	return []Fixture{
		{
			Name: "EngineMembers",
			// Not only a login role: a group role's members, present or
			// later, would be the engine too.
			SQL: []string{`
				CREATE ROLE {group} NOLOGIN;
				CREATE ROLE {role} LOGIN;
				GRANT bulwark_engine TO {group}, {role}`},
			Want:    []string{"engine_members {group}", "engine_members {role}"},
			cluster: true,
		},
		{
			Name: "CreateRoleLogin",
			// Up to PostgreSQL 15 it may GRANT bulwark_engine TO itself,
			// write as the engine, and revoke the membership again.
			SQL:     []string{`CREATE ROLE {role} LOGIN CREATEROLE`},
			Want:    []string{"createrole {role}"},
			cluster: true,
			before:  160000,
		},
		{
			Name: "CreateRoleGroup",
			// Its members may SET ROLE to it, then grant it the engine.
			SQL: []string{`
				CREATE ROLE {group} NOLOGIN CREATEROLE;
				CREATE ROLE {role} LOGIN IN ROLE {group}`},
			Want:    []string{"createrole {group}"},
			cluster: true,
			before:  160000,
		},
		{
			Name: "CreateRoleMigrationRole",
			// The migration role, CREATEROLE kept after the core's
			// migrations needed it: allowed in bulwark_owner, not that.
			SQL:            []string{`CREATE ROLE {role} LOGIN CREATEROLE IN ROLE bulwark_owner`},
			Want:           []string{"createrole {role}"},
			MigrationRoles: []string{"{role}"},
			cluster:        true,
			before:         160000,
		},
	}
}

// Applied is what [ApplyTx] made.
type Applied struct {
	// Want is the fixture's Want, its placeholders filled in.
	Want []string
	// MigrationRoles names the roles of the fixture's MigrationRoles.
	MigrationRoles []string
}

// ApplyTx makes f's drift, one of [ClusterFixtures], in tx, which the
// caller must never commit, and returns what verify must report when it
// runs inside tx. It skips t when the server is too new for the drift to
// be one, and fails t if a statement fails.
func ApplyTx(t testing.TB, tx pgx.Tx, f Fixture) Applied {
	t.Helper()
	require.True(t, f.cluster, "fixture %s: apply it with Apply", f.Name)
	ctx := context.Background()

	var database, sessionUser string
	var version int
	require.NoError(t, tx.QueryRow(ctx, `
		SELECT pg_catalog.current_database(), session_user, pg_catalog.current_setting('server_version_num')::int`,
	).Scan(&database, &sessionUser, &version))
	if f.before != 0 && version >= f.before {
		t.Skipf("fixture %s: no drift on server version %d", f.Name, version)
	}
	roles := newRoles("cluster")
	fillSQL, fillWant := fillers(database, sessionUser, "", roles)
	for _, stmt := range f.SQL {
		_, err := tx.Exec(ctx, fillSQL(stmt))
		require.NoError(t, err, "fixture %s: %s", f.Name, stmt)
	}
	applied := Applied{Want: make([]string, 0, len(f.Want))}
	for _, w := range f.Want {
		applied.Want = append(applied.Want, fillWant(w))
	}
	for _, r := range f.MigrationRoles {
		applied.MigrationRoles = append(applied.MigrationRoles, fillWant(r))
	}
	return applied
}

// newRoles names the roles of rolePlaceholders afresh: lower-case, so that
// verify reports them unquoted.
func newRoles(tag string) map[string]string {
	suffix := strings.ToLower(rand.Text())[:12]
	roles := make(map[string]string, len(rolePlaceholders))
	for _, p := range rolePlaceholders {
		roles[p] = "bulwark_drift_" + tag + "_" + strings.Trim(p, "{}") + "_" + suffix
	}
	return roles
}

// fillers return the functions that fill in the placeholders of a
// fixture's SQL (names quoted) and of its Want (names as verify reports
// them).
func fillers(database, sessionUser, ownerLogin string, roles map[string]string) (sql, want func(string) string) {
	sqlPairs := []string{
		"{database}", pgx.Identifier{database}.Sanitize(),
		"{owner_login}", pgx.Identifier{ownerLogin}.Sanitize(),
		"{session_user}", pgx.Identifier{sessionUser}.Sanitize(),
	}
	wantPairs := []string{"{database}", database, "{owner_login}", ownerLogin}
	for _, p := range rolePlaceholders {
		sqlPairs = append(sqlPairs, p, pgx.Identifier{roles[p]}.Sanitize())
		wantPairs = append(wantPairs, p, roles[p])
	}
	return strings.NewReplacer(sqlPairs...).Replace, strings.NewReplacer(wantPairs...).Replace
}

// OwnerLogin is the login role the LoginRoleInOwner fixture of tag makes.
func OwnerLogin(tag string) string { return ownerLoginPrefix + tag }

// Apply makes f's drift in the database at url (a migration role's URL,
// as pgtest.NewDatabase returns) and returns f.Want with its placeholders
// filled in. tag is one of [Tags], naming the calling package. A role the
// fixture creates is dropped in t's Cleanup. It fails t if a statement
// fails.
func Apply(t testing.TB, url, tag string, f Fixture) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)

	require.False(t, f.cluster, "fixture %s: a drift of the cluster's roles: apply it with ApplyTx", f.Name)

	var database, sessionUser string
	require.NoError(t, conn.QueryRow(ctx, `SELECT pg_catalog.current_database(), session_user`).Scan(&database, &sessionUser))
	roles := newRoles(tag)
	fill, fillWant := fillers(database, sessionUser, OwnerLogin(tag), roles)

	// The roles the fixture creates hold privileges in this database only,
	// which DROP OWNED BY revokes; the database is dropped after this
	// Cleanup runs.
	var created []string
	for _, p := range rolePlaceholders {
		if slices.ContainsFunc(f.SQL, func(stmt string) bool { return strings.Contains(stmt, p) }) {
			created = append(created, roles[p])
		}
	}
	if len(created) > 0 {
		t.Cleanup(func() {
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, url)
			require.NoError(t, err)
			defer conn.Close(ctx)
			// Those the fixture got to create.
			var names []string
			require.NoError(t, conn.QueryRow(ctx, `
				SELECT coalesce(pg_catalog.array_agg(pg_catalog.quote_ident(r.rolname)), '{}')
				FROM pg_catalog.pg_roles AS r WHERE r.rolname = ANY ($1)`, created).Scan(&names))
			if len(names) > 0 {
				list := strings.Join(names, ", ")
				_, err = conn.Exec(ctx, `DROP OWNED BY `+list+`; DROP ROLE `+list)
				require.NoError(t, err)
			}
		})
	}

	if f.ownsLogin {
		login := pgx.Identifier{OwnerLogin(tag)}.Sanitize()
		// Left over by a run that died before its Cleanup.
		_, err := conn.Exec(ctx, `DROP ROLE IF EXISTS `+login)
		require.NoError(t, err)
		t.Cleanup(func() {
			conn, err := pgx.Connect(context.Background(), url)
			require.NoError(t, err)
			defer conn.Close(context.Background())
			_, err = conn.Exec(context.Background(), `DROP ROLE IF EXISTS `+login)
			require.NoError(t, err)
		})
	}
	for _, stmt := range f.SQL {
		_, err := conn.Exec(ctx, fill(stmt))
		require.NoError(t, err, "fixture %s: %s", f.Name, stmt)
	}

	want := make([]string, 0, len(f.Want))
	for _, w := range f.Want {
		// Objects are reported as the catalog names them, unquoted.
		want = append(want, fillWant(w))
	}
	return want
}

// MigrationRoles returns the login roles that verify must accept as
// members of bulwark_owner in the database at url while f's drift is in
// place: the migration role, pgtest's owner login, and every package's
// owner-drift login except the one f is about. A nil f means no fixture.
func MigrationRoles(t testing.TB, url string, f *Fixture, tag string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var sessionUser string
	require.NoError(t, conn.QueryRow(ctx, `SELECT session_user`).Scan(&sessionUser))

	roles := []string{sessionUser, PgtestOwnerLogin}
	for _, other := range Tags {
		if f != nil && f.ownsLogin && other == tag {
			continue
		}
		roles = append(roles, OwnerLogin(other))
	}
	return roles
}
