// Package pgtest is the machinery behind package bulwarktest, the public
// test kit: it finds or starts a server, migrates a template database once,
// and hands each test a database, a pool or a transaction of its own. Test
// packages use bulwarktest; this package keeps what need not be public
// (the shared cluster's locks and state, the template build, the streaming
// replica pair).
//
// The package's rule: tests never skip for want of a database. When none can
// be had, the test fails and says how to provide one.
//
// # Wiring
//
// Every test package wires the harness from TestMain, through
// bulwarktest.Main or here:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// [Main] runs the tests and then releases what the process set up. The
// server is set up lazily, by the first call to [NewDatabase], [DB], [Tx] or
// [LoginAs], so a package that never asks for a database costs nothing.
//
// # Which server
//
// If DATABASE_URL is set, it names the server: a URL (postgres://...) for a
// role that may create databases and roles, such as
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable.
//
// Otherwise the test processes of one `go test ./...` run share a single
// throwaway cluster from package pgcluster. Coordination uses flock(2) on
// files in a per-user directory, os.TempDir()/bulwark-pgtest-<uid>
// (BULWARK_PGTEST_STATE_DIR overrides it):
//
//   - setup.lock is held exclusively by whoever starts, adopts or stops the
//     cluster, so those steps never interleave.
//   - state.json records the cluster's URL, directory and postmaster PID.
//   - users.lock is held shared by every process using the cluster, for the
//     process's whole life; the kernel drops it if the process dies.
//
// A process joins by taking setup.lock, then users.lock shared, then
// reading state.json; if the server it names does not answer, the process
// stops what is left of it and starts a new one. A process leaves, in
// [Main], by dropping its share of users.lock, taking setup.lock, and trying
// users.lock exclusively without waiting: success means no one else uses the
// cluster, so it stops the cluster and removes state.json. Processes that run
// one after another, rather than side by side, may each start a cluster.
//
// # Another language
//
// PostgreSQL translates its messages, their context lines and severities,
// so code that reads them breaks on a server set up in another language. A
// package that tests that nothing does wires the harness with
// [MainLanguage] instead:
//
//	func TestMain(m *testing.M) { pgtest.MainLanguage(m, "de") }
//
// Its tests then run on a throwaway cluster started with LANGUAGE=de in the
// server's environment and lc_messages = 'C.UTF-8' (see
// [pgcluster.StartOpts].Language), shared like the default cluster by the
// processes that ask for the same language, with its files in the
// subdirectory language-de of the state directory. DATABASE_URL is
// ignored: a client cannot choose a server's language, so such a package
// needs the local server binaries and their message catalog even where
// DATABASE_URL is set.
//
// # Template and databases
//
// A [Migration] runs once per server into a template database named
// bulwark_tmpl_<hash>, after a hash of its key; by default ([KitMigration])
// the migrations of package schema, keyed by their files, so a changed
// migration gets a new template and an unchanged one is reused across runs
// and across the test processes that wire the same migration ([MainWith]). Processes racing to build it serialize on an advisory lock in
// the maintenance database. [NewDatabase] clones the template for one test;
// [Tx] opens a transaction in a database shared by the tests of one process;
// [EmptyDatabase] gives a test of migrating itself a database without them.
//
// Test connections (those of [DB], [Tx] and [LoginAs]) set search_path to
// the empty string, so an unqualified name fails in tests as it would fail
// for a caller with another search_path.
package pgtest
