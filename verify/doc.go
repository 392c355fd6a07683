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
// with hundreds of guarded tables. The checks, in report order:
//
//   - guard_triggers: every table in bulwark.guarded_tables has the three
//     triggers bulwark.guard() attaches: bulwark_10_boundary (the write
//     guard, the machine's edges and the version bump) and
//     bulwark_90_audit, which call the functions the engine generates for
//     the table's own machine (bulwark.trg_<machine>_boundary and
//     bulwark.trg_<machine>_audit), and bulwark_truncate. Each calls the
//     right function with the right arguments on the right events,
//     without a WHEN condition or column list, and is enabled: tgenabled
//     O (origin) or A (always). D (disabled) and R (replica only) are
//     drift.
//   - append_only: bulwark.transition_log's bulwark_append_only and
//     bulwark_append_only_truncate, likewise.
//   - triggers_enabled: every other trigger on bulwark's tables and the
//     guarded tables (frozen-record rules, capability rules, the core
//     tables' write guards, foreign keys' internal triggers) fires.
//   - trigger_settings: no role or database setting (nor the server's
//     configuration) sets session_replication_role = replica, which
//     silences ordinary triggers for every session it applies to.
//   - constraints: every constraint and unique index in the enforcement
//     contract (bulwark.contract_constraints, filled by bulwark.guard()
//     and bulwark.declare_constraint() in the migrations, never by Go)
//     exists, is validated (NOT VALID is drift; so is an invalid index),
//     and keeps its declared definition.
//   - table_privileges: PUBLIC, bulwark_app and bulwark_jobs hold no
//     INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES or TRIGGER on a guarded
//     table or a table of schema bulwark (the audit log included), directly,
//     on columns, or through role membership.
//   - schema_create: they hold no CREATE on the schemas behind the boundary
//     (bulwark and those of the guarded tables) nor on any schema a
//     transition function's search_path names.
//   - river_privileges: PUBLIC and bulwark_app hold nothing in schema
//     river (River's tables, sequences and functions, and the schema
//     itself), and bulwark_jobs no CREATE on it and no TRUNCATE,
//     REFERENCES or TRIGGER on its tables: a River job row is an order to
//     act as a service principal, so only the job runners may write one.
//     A database without schema river passes with nothing checked.
//   - function_definer, function_owner, function_search_path: every
//     transition function is SECURITY DEFINER, owned by bulwark_owner (the
//     domain's wrappers) or bulwark_engine (the engine's generated code and
//     the core's own), and pins search_path to existing schemas with
//     pg_temp explicitly last.
//     A transition function is a SECURITY DEFINER function in a schema
//     behind the boundary, or a volatile function there that bulwark_app
//     or bulwark_jobs may execute other than through PUBLIC. (A stable
//     function the application roles may call, such as
//     bulwark.capability_name_problem, only reads, with the caller's
//     rights.)
//   - function_execute: PUBLIC may execute no function behind the boundary.
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
//   - capability_names: every capability passes
//     bulwark.capability_name_problem (no state or condition in the name).
//   - role_capabilities: every capability a domain role grants exists.
//   - state_machines: every machine's initial state and every transition's
//     states are declared, and every state is reachable from the initial
//     state.
//   - migrations: every migration applied (per goose's version table) is
//     known to the binary ([Opts].Migrations, by default bulwark's
//     embedded ones) and has the checksum recorded when it was applied
//     (bulwark.migration_checksums, written by schema.Up).
//
// # Errors
//
// Drift is not an error: [Run] returns a [Report] whose OK is false. It
// returns an error only when it could not check: [ErrNotInstalled],
// [ErrNoContract], or a [*CheckError] naming the check whose query failed
// (typically a missing privilege). Run it as the migration role, or as a
// login member of bulwark_app granted SELECT on goose's version table.
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
// schema.table.name for triggers and constraints, the regprocedure
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
