// Package verify proves that the enforcement boundary still holds in a live
// database: that the triggers, constraints, privileges, functions and
// ownership the migrations set up are all still in place, and that the
// migrations that ran are the ones in hand. It is what `bulwark verify`
// and `bulwark migrate up` run; call [Run] from your own tooling the same
// way.
//
// The package's rule: it only reads. [Run] inspects the catalogs and
// bulwark's own tables in one READ ONLY, REPEATABLE READ transaction, so
// it is safe against production; it never repairs anything, it says what
// to run.
//
// # What is checked
//
// Each check is one catalog query for all tables, so verify stays fast
// with hundreds of guarded tables (500 take well under a second; see
// BenchmarkVerify). Several checks compare the live catalog with the
// boundary's record (bulwark.contract_objects): what the functions,
// columns, triggers, policies and row-security settings behind the
// boundary were when the migrations or the declarations last changed them.
// schema.Up records what each run of migrations changed (the catalog
// before and after it), and a declaration (guard, declare_transition,
// declare_api, ...) records the code it generates when its transaction
// commits; a change made any other way stays different from the record
// until a migration accepts it (SELECT bulwark.boundary_accept(kind,
// object)). The checks, in report order:
//
//   - guard_triggers: every table in bulwark.guarded_tables has the five
//     triggers bulwark.guard() attaches: bulwark_10_boundary (UPDATE),
//     bulwark_10_boundary_insert (INSERT) and bulwark_10_boundary_delete
//     (DELETE): the write guard, the machine's edges and the version bump,
//     skipped (by their WHEN) only for the apply function's own write, by
//     the engine, of the table, row and version it named in
//     bulwark.engine_write, to the next version; bulwark_90_audit (WHEN the
//     writer is not the engine: the apply function logs its own write),
//     which call the functions the engine generates for the table's own
//     machine (bulwark.trg_<machine>_boundary and
//     bulwark.trg_<machine>_audit); and bulwark_truncate. Each calls the
//     right function with the right arguments on the right events, with
//     exactly that WHEN condition (as pg_get_triggerdef prints it) and no
//     column list, and is enabled: tgenabled O (origin) or A (always). D
//     (disabled) and R (replica only) are drift.
//   - append_only: bulwark.transition_log's bulwark_append_only and
//     bulwark_append_only_truncate, likewise.
//   - triggers_enabled: every other trigger on the tables of the
//     boundary's schemas (frozen-record rules, capability rules, the write
//     guards of the tables the core protects, foreign keys' internal
//     triggers) fires.
//   - trigger_settings: no role or database setting (nor the server's
//     configuration) sets session_replication_role = replica, which
//     silences ordinary triggers for every session it applies to.
//   - trigger_definitions: every other trigger on a table of the
//     boundary's schemas (schema bulwark and the guarded tables' schemas)
//     is as recorded: the core tables' bulwark_10_write_guard,
//     bulwark_90_audit and bulwark_truncate, the declarations' and the
//     domains' rules. One dropped or changed is drift, and so is one
//     added: it runs inside every write, as the engine.
//   - guarded_tables: every table that was ever guarded
//     (bulwark.guard_history) is guarded still, or gone (unguard belongs
//     in a Down migration that then drops the table); every registered
//     table exists (one dropped without its migration's unguard leaves
//     its registration behind).
//   - columns: every column of those tables has its recorded type, NOT
//     NULL, default, generated expression and identity; none dropped or
//     added outside the migrations. So has every domain of the boundary's
//     schemas, and every domain a boundary column is of, wherever it
//     lives: its base type, CHECKs, default, NOT NULL and owner (a
//     domain's CHECKs run in every write of its columns, as the engine;
//     ALTER DOMAIN would change them unseen).
//   - constraints: every constraint and unique index in the enforcement
//     contract (bulwark.contract_constraints, filled by bulwark.guard()
//     and bulwark.declare_constraint() in the migrations, never by Go)
//     exists, is validated (NOT VALID is drift; so is an invalid index),
//     and keeps its declared definition.
//   - conflicts: every declared conflict (bulwark.conflict_constraints,
//     filled by bulwark.declare_conflict() in the migrations) names a
//     table that exists and a unique or exclusion constraint (or unique
//     index) of it; one left behind by a dropped or replaced constraint
//     maps nothing.
//   - row_security: every such table keeps its recorded row-security
//     settings (ENABLE, FORCE, and LOGGED), and its policies are the
//     recorded ones: a policy decides which rows the engine's UPDATE and
//     the readers see.
//   - rules: no RULE on any such table: a rule rewrites a statement
//     before any trigger sees it.
//   - table_privileges: no role but the table's owner (bulwark_owner, see
//     owners) and bulwark_engine holds INSERT, UPDATE, DELETE, TRUNCATE,
//     REFERENCES or TRIGGER on a guarded table or a table of schema
//     bulwark (the audit log included): no grant of them on the table or
//     on its columns (aclexplode of relacl and attacl), to PUBLIC or to
//     any role, whose members all hold it too (the finding names them).
//     Superusers are beyond any role's boundary and not listed; the
//     owner's members are owner_members' to check, the engine's
//     engine_members'. bulwark_app and bulwark_jobs also hold none of
//     them through role membership that no such grant explains (of
//     bulwark_owner, say).
//   - schema_create: PUBLIC, bulwark_app and bulwark_jobs hold no CREATE
//     on the schemas behind the boundary (bulwark and those of the guarded
//     tables) nor on any schema a transition function's search_path names.
//   - river_privileges: PUBLIC and bulwark_app hold nothing in schema
//     river (River's tables, sequences and functions, and the schema
//     itself), and bulwark_jobs no CREATE on it and no TRUNCATE,
//     REFERENCES or TRIGGER on its tables: a River job row is an order to
//     act as a service principal, so only the job runners may write one.
//     A database without schema river passes with nothing checked.
//   - default_privileges: no default privileges (ALTER DEFAULT
//     PRIVILEGES) give bulwark_app or bulwark_jobs, directly, through a
//     role or through PUBLIC, DML on future tables or EXECUTE on future
//     functions; bulwark_owner's and bulwark_engine's new functions start
//     without EXECUTE for PUBLIC.
//   - function_definer, function_owner, function_search_path: every
//     transition function is SECURITY DEFINER, owned by bulwark_owner (the
//     domain's wrappers) or bulwark_engine (the core's code), and pins
//     search_path to existing schemas with pg_temp explicitly last; the
//     code the engine generates (<schema>.<machine>_apply and
//     bulwark.trg_<machine>_boundary and _audit) is owned by
//     bulwark_engine, whose code no login can replace.
//     A transition function is a SECURITY DEFINER function in a schema
//     behind the boundary, or a volatile function there that bulwark_app
//     or bulwark_jobs may execute other than through PUBLIC. (A stable
//     function the application roles may call, such as
//     bulwark.capability_name_problem, only reads, with the caller's
//     rights.)
//   - function_execute: PUBLIC may execute no function behind the boundary.
//   - function_fingerprints: every function in the boundary's schemas, and
//     every trigger function of their tables, has its recorded
//     fingerprint: a sha256 of its body, its language, security,
//     volatility, strictness, settings, arguments, result, owner and ACL
//     (stable across dump and restore). A body replaced by hand with the
//     same signature and settings, a function added or dropped outside the
//     migrations, is drift.
//   - callable_functions: every function bulwark_app or bulwark_jobs may
//     execute (directly, through a role or through PUBLIC, in a schema
//     they may use; any schema but the system's, leaving out extensions'
//     and trigger functions) is declared: a typed API wrapper
//     (bulwark.api_functions, with its action's capability) or a declared
//     callable (bulwark.callable_functions: a read, or a call that checks
//     its capability itself).
//   - owners: bulwark_owner owns the schemas behind the boundary, every
//     relation of schema bulwark and every guarded table.
//   - owner_members: no login role other than the migration roles
//     ([Opts].MigrationRoles, by default the session's user) is a member
//     of bulwark_owner, directly or through other roles. Superusers are
//     beyond any role's boundary and not listed.
//   - engine_members: no role at all, login or not, is a member of
//     bulwark_engine. The write guards let through exactly the code that
//     role owns, so a member could write every guarded table around the
//     engine; the role is made without members and keeps none.
//   - createrole: no role but a superuser could make itself
//     bulwark_engine. Up to PostgreSQL 15 a CREATEROLE role may grant
//     itself any role but a superuser's: it could GRANT bulwark_engine TO
//     itself, write guarded tables as the engine and REVOKE the membership
//     again, which engine_members never sees and which leaves only a gap
//     in a row's history. So every role with CREATEROLE fails, LOGIN or
//     not (its members may SET ROLE to it), the migration roles included:
//     the core's migrations need CREATEROLE (or a superuser) only while
//     they run. From PostgreSQL 16 on, CREATEROLE grants membership only
//     in roles held WITH ADMIN OPTION, so a CREATEROLE role fails only if
//     it holds ADMIN OPTION on bulwark_engine or bulwark_owner.
//   - capability_names: every capability passes
//     bulwark.capability_name_problem (no state or condition in the name).
//   - role_capabilities: every capability a domain role grants exists.
//   - state_machines: every machine's initial state and every transition's
//     states are declared, and every state is reachable from the initial
//     state.
//   - action_rules: every rule of every guarded machine (declare_check,
//     declare_arg_check, declare_set, declare_after) compiles against its
//     table as the engine runs it: bulwark.rule_problems parses and
//     analyzes each (names, types, the assignment to its column), never
//     plans or runs it, in a subtransaction rolled back with its locks. A
//     declaration whose rule does not compile is refused; this catches a
//     rule broken later, by a column renamed, dropped or retyped, or a
//     function it calls dropped (privileges are not checked). A probe
//     that cannot take its lock in time fails the run (exit 2): it is no
//     rule's problem.
//   - history: every guarded row's version equals the number of its log
//     rows, its log replays from its creation along the machine's declared
//     transitions to its state, and the log's hash chain holds
//     (transition_log.prev_hash and hash: an edited row, or one erased
//     before others, breaks it). Each row's log is read through the index
//     on entity_id, in one query with a branch per table. A table larger
//     than [Opts].HistoryRows (10,000 by default) is checked on a fresh
//     Bernoulli sample of about that many rows per run, never more: a gap
//     in k of n rows escapes one run with probability at most
//     (1 - HistoryRows/n)^k. A gap that was explained is acknowledged
//     (bulwark.history_acknowledge) and the history after it checked. A
//     change of other columns made with both the boundary and the audit
//     trigger disabled leaves version, log and state as they were, and
//     shows nowhere.
//   - migrations: in each migration line (the core's always; River's and
//     the articles' when their version tables exist; a team's own,
//     [Opts].Lines, when given), every migration applied (per the line's
//     goose version table) is one of the line's, and has the checksum
//     recorded when it was applied (bulwark.migration_checksums, by line
//     and version, written by schema.Up). A line the database recorded
//     but verify was not given is a failure too: its files would go
//     unchecked (a CI job that forgot --migrations).
//
// # Errors
//
// Drift is not an error: [Run] returns a [Report] whose OK is false. It
// returns an error only when it could not check: [ErrNotInstalled],
// [ErrNoContract], [ErrNoRecord], or a [*CheckError] naming the check
// whose query failed (typically a missing privilege). Run it as the migration role, or as a
// login member of bulwark_app granted SELECT on the lines' version tables.
//
// # JSON report
//
// [Report.WriteJSON] writes, and `bulwark verify --format json` prints,
// one object. Schema version 1:
//
//	{
//	  "schema_version": 1,             // integer; changes only when a field is removed or changes meaning
//	  "database": "app_production",    // the verified database
//	  "ok": false,                     // true when every check passed
//	  "checks": [                      // every check, always, in the order above
//	    {
//	      "name": "guard_triggers",    // one of the check names above
//	      "ok": false,                 // true when findings is empty
//	      "checked": 6,               // how many objects the check examined
//	      "objects": "triggers",       // what checked counts
//	      "findings": [                // each object that breaks the rule; [] when none, never null
//	        {
//	          "object": "app.articles.bulwark_10_boundary",
//	          "problem": "disabled: it does not fire",
//	          "fix": "ALTER TABLE app.articles ENABLE TRIGGER bulwark_10_boundary"
//	        }
//	      ]
//	    }
//	  ]
//	}
//
// Objects are named as the catalog prints them: schema.table for tables,
// schema.table.name for columns, triggers, constraints, policies and
// rules, schema.table/id for a guarded row, the regprocedure
// (schema.name(argtypes)) for functions, the bare name for schemas, roles
// and capabilities, machine/state for states, the file name (or
// "version N") for migrations. New checks and new fields may appear
// within a schema version; consumers should ignore what they do not know.
//
// # Exit codes
//
// `bulwark verify` exits 0 when every check passes, 1 on drift, 2 when it
// could not run (no connection, not migrated, a missing privilege).
package verify
