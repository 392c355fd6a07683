// Package scaffold generates the start of a domain behind bulwark's
// boundary from a machine declaration: its goose migration, its sqlc
// queries and configuration, and its Go constants. `bulwark new` is its
// command; a team may also call it from its own tools or from go generate.
//
// The generator writes nothing a team must not read: every file is the
// code a careful person would have written by hand from the README, and
// is theirs to extend before the migration is merged (a merged migration
// is never edited). It never overwrites a file unless told to.
//
// # The declaration
//
// A declaration is a small JSON document ([Declaration], read with
// [Parse]): the machine's name, the schema and table it guards, its
// states and initial state, its transitions (name, source states, target
// state, capability), the create and update actions that write domain
// columns from typed arguments, the capabilities and the roles that bundle
// them, and the table's domain columns. [Declaration.Validate] applies the
// core's rules before anything is written: identifier formats and lengths,
// states and capabilities that exist, one edge per pair of states, one
// capability per action, and the capability-name rule (resource.action,
// naming no state or condition) that the database and the Go registry
// apply ([authz.NameRules]).
//
// # What it generates
//
// [Generate] returns, relative to the domain's directory:
//
//   - migrations/NNNNN_<machine>_workflow.sql: the schema and table (id,
//     state, version, created_at and the declared columns), the
//     declarations (bulwark.declare_capability, declare_role,
//     declare_machine, declare_transition, declare_action), bulwark.guard,
//     the rules that carry each action's typed arguments into the engine
//     (declare_set, declare_arg_check), one typed wrapper per action
//     registered with bulwark.declare_api, and a Down that removes all of
//     it;
//   - queries/<machine>.sql: reads and one call per wrapper, for sqlc;
//   - sqlc.yaml: sqlc's configuration, with the rule that refuses a query
//     writing the guarded schemas;
//   - capability.go, state.go, migrations.go: the Go package named after
//     the domain, with its capabilities, roles and states as typed
//     constants, and its migrations as a line of package schema (Line:
//     named after the schema, recorded in public.<schema>_goose_version);
//   - <package>db/entity.go: the methods the gate reads from the row type
//     sqlc generates (run sqlc generate next).
//
// No domain knowledge here; the generated code uses the kit only through
// its public API, exactly as a domain written by hand would.
package scaffold
