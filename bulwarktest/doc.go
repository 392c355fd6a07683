// Package bulwarktest is the test kit for a domain behind bulwark's
// boundary: it gives each test a real PostgreSQL database migrated with the
// core's migrations and the team's own, logins that hold exactly the
// application's privileges, principals made through the core's own
// functions, and assertions on layered errors and on refusals that must
// change nothing. bulwark's own packages test themselves with it.
//
// The package's rule: tests run against a real server and never skip for
// want of one. When none can be had, the test fails and says how to provide
// one.
//
// # Wiring
//
// Every test package wires the kit from TestMain, naming the migration
// lines its tests need (a nil *MainOpts means the core's alone):
//
//	func TestMain(m *testing.M) {
//		own, err := schema.Own(os.DirFS("migrations"), &schema.OwnOpts{Name: "billing", VersionTable: "public.billing_version"})
//		if err != nil {
//			panic(err)
//		}
//		bulwarktest.Main(m, &bulwarktest.MainOpts{Lines: []*schema.Line{schema.Core(), own}})
//	}
//
// # Which server
//
// If DATABASE_URL is set, it names the server: a postgres:// URL for a
// role that may create databases and roles, such as
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable. Otherwise
// the test processes of one `go test ./...` run share one throwaway
// cluster, started from the local PostgreSQL server binaries (found with
// pg_config or under /usr/lib/postgresql; as root it runs as the postgres
// OS user) and stopped by the last process to leave. [MainOpts].Language
// asks for a throwaway server that speaks another language instead.
//
// # Template and databases
//
// The lines run once per server into a template database, applied with
// schema.Up (which records their checksums, as `bulwark migrate` does, so
// `bulwark verify` holds on a test database too) and named after a hash of
// the lines' files and checksums and of [MainOpts].TemplateKey: packages
// that wire the same migrations share it, across processes and runs, and a
// changed migration gets a new one. [NewDatabase] clones it for one test
// (CREATE DATABASE ... TEMPLATE) and drops the clone in the test's
// Cleanup; [DB] and [Pool] open pools on it; [Tx] gives a test that fits in
// one transaction a rolled-back transaction in a database shared by the
// process; [EmptyDatabase] gives a test of migrating itself a database
// without migrations. The harness's
// sessions set search_path to the empty string, so an unqualified name
// fails in tests as it would for a caller with another search_path.
//
// # Roles and principals
//
// [NewDatabase]'s URL connects as the migration role, which declares and
// acts as the bootstrap principal. [LoginAs] returns a URL for a login
// member of [RoleApp] or [RoleJobs]: the privileges a service or a job
// runner really has, so a test sees what production would refuse.
// [Principal], [ServicePrincipal], [Grant], [Revoke] and [Role] make
// principals and roles through the core's functions (principal_create,
// role_grant, declare_principal, declare_role), logged like any other.
//
// # Assertions
//
// [RequireLayer] asserts a failure's layer and code and that it matches its
// layer's sentinel alone. [RequireSQLState] asserts the server's SQLSTATE.
// [RequireRefused] runs raw SQL as a login, requires its SQLSTATE, and
// proves that nothing changed: a [Snapshot] of every guarded table, every
// table of the core and the catalog entries that guard them, before and
// after. [RequireRefusedAfter] sets the session up first (a role, a forged
// setting, the maintenance switch), as an attacker at a psql prompt would. Decide by SQLSTATEs and constraint names, never by message text:
// servers translate it. The three return the error they matched, for a
// test that looks further (its reason, its constraint); a linter that
// wants every error checked (errcheck) is told to let them be, as
// bulwark's .golangci.yml does.
//
// # Examples
//
// An Example gets no *testing.T. [PanicTB] stands in for one, failing by
// panicking, so that examples run against the real database and cannot
// drift from what the database and the gate do.
package bulwarktest
