// Package pgcluster starts a disposable PostgreSQL cluster from the local
// server binaries and removes it afterwards.
//
// The package's rule: a cluster is throwaway. It trades durability for speed
// (fsync, synchronous_commit and full_page_writes are off), trusts every local
// connection, and lives in one temporary directory that [Cluster.Stop]
// deletes. Never point it at data you want to keep.
//
// # Starting and stopping
//
// [Start] runs initdb into a fresh directory under [os.TempDir], then starts
// the server with pg_ctl, listening on a unix socket in that directory and on
// a free TCP port on 127.0.0.1:
//
//	c, err := pgcluster.Start(ctx, nil)
//	if err != nil {
//		return err
//	}
//	defer c.Stop()
//
//	pool, err := pgxpool.New(ctx, c.URL("postgres"))
//
// Another process can take over a running cluster with [Attach], given the
// directory, and stop it.
//
// # Language
//
// A cluster speaks untranslated (C) messages unless [StartOpts].Language
// names a message catalog, such as "de": the server then runs with
// LANGUAGE=de in its environment and lc_messages = 'C.UTF-8', and its
// messages, context lines and severities reach clients in German, as on a
// production server set up in German. initdb and pg_ctl always speak C,
// and the package reads no message text to decide anything.
//
// # Binaries
//
// [FindBinDir] locates initdb, pg_ctl and postgres: `pg_config --bindir`
// first, then the newest /usr/lib/postgresql/*/bin, then the PATH. When none
// holds all three, [Start] returns an error wrapping [ErrNoBinaries].
//
// # Running as root
//
// initdb and postgres refuse to run as root. When the effective user is root,
// the package runs them as the OS user named by [StartOpts].OSUser
// ("postgres" by default) and hands the cluster directory to that user.
package pgcluster
