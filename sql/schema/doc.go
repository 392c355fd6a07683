// Package schema holds bulwark's goose migrations as migration lines and
// runs them, with the lines a team brings of its own.
//
// # Lines
//
// A [Line] is one goose line of migrations with its own version table:
//
//   - [Core] is bulwark itself (schema bulwark: the roles, the engine, the
//     contract, the record verify reads), recorded in
//     public.bulwark_core_version. Every database needs it.
//   - [River] installs River's tables in schema river, for job runners
//     (package jobs), recorded in public.bulwark_river_version. It
//     requires the core.
//   - [Articles] is the reference domain (schema app), for the demo, the
//     bench and bulwark's own tests, recorded in
//     public.bulwark_articles_version. It requires the core and River.
//   - [Own] is a team's own migrations, from any [io/fs.FS], recorded in
//     goose's default version table (public.goose_db_version) unless named
//     otherwise.
//
// The migrations are the source of truth for every invariant; Go code never
// re-implements them.
//
// # Running them
//
// [Up], [Redo] and [Reset] first check every line they are given
// ([Line.Check]: goose parses each file), so that a bad file anywhere
// applies nothing anywhere ([MigrationFileError]). [Up] applies the lines
// in the order given, each after the lines it
// requires, and records the checksum of every applied migration of every
// line (bulwark.migration_checksums, by line and version) and what the run
// changed behind the boundary (bulwark.contract_objects), both of which
// `bulwark verify` compares. [Down], [Redo] and [Reset] roll a line back the
// same way, and refuse while a line that requires it is applied. [Status]
// reads the lines without writing. One PostgreSQL advisory lock serializes
// every run against a database, so several processes may migrate at once.
//
// The bulwark CLI runs the same functions: `bulwark migrate up` applies the
// core, --with-river adds River, --with-examples adds River and the
// articles, and --migrations DIR adds the team's own line.
//
// A program that drives goose itself, with a provider from
// [Line.NewProvider], calls [SnapshotBoundary] before, and [RecordChecksums]
// and [RecordBoundary] after.
package schema
