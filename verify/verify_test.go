package verify_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/auditlog"
	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/internal/drift"
	"github.com/bulwarkdb/bulwark/sql/schema"
	"github.com/bulwarkdb/bulwark/verify"
)

// tag names this package's owner-drift login role (see drift.Apply).
const tag = "verify"

// allChecks is every check, in report order.
var allChecks = []string{
	verify.CheckGuardTriggers,
	verify.CheckAppendOnly,
	verify.CheckTriggersEnabled,
	verify.CheckTriggerSettings,
	verify.CheckTriggerDefinitions,
	verify.CheckGuardedTables,
	verify.CheckColumns,
	verify.CheckConstraints,
	verify.CheckConflicts,
	verify.CheckRowSecurity,
	verify.CheckRules,
	verify.CheckTablePrivileges,
	verify.CheckSchemaCreate,
	verify.CheckRiverPrivileges,
	verify.CheckDefaultPrivileges,
	verify.CheckFunctionDefiner,
	verify.CheckFunctionOwner,
	verify.CheckFunctionSearchPath,
	verify.CheckFunctionExecute,
	verify.CheckFunctionFingerprints,
	verify.CheckCallableFunctions,
	verify.CheckOwners,
	verify.CheckOwnerMembers,
	verify.CheckEngineMembers,
	verify.CheckCreateRole,
	verify.CheckCapabilityNames,
	verify.CheckRoleCapabilities,
	verify.CheckStateMachines,
	verify.CheckActionRules,
	verify.CheckHistory,
	verify.CheckMigrations,
}

func TestVerify(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	type testBundle struct {
		conn *pgx.Conn
		url  string
	}

	setup := func(t *testing.T) *testBundle {
		t.Helper()
		url := bulwarktest.NewDatabase(t)
		conn, err := pgx.Connect(ctx, url)
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close(context.Background()) })
		return &testBundle{conn: conn, url: url}
	}

	// run verifies the bundle's database; f is the drift in place, if any.
	run := func(t *testing.T, bundle *testBundle, f *drift.Fixture) *verify.Report {
		t.Helper()
		report, err := verify.Run(ctx, bundle.conn, &verify.Opts{
			MigrationRoles: drift.MigrationRoles(t, bundle.url, f, tag),
		})
		require.NoError(t, err)
		return report
	}

	exec := func(t *testing.T, bundle *testBundle, sql string) {
		t.Helper()
		_, err := bundle.conn.Exec(ctx, sql)
		require.NoError(t, err)
	}

	t.Run("CleanDatabaseHolds", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		report := run(t, bundle, nil)
		require.Empty(t, report.Failures())
		require.True(t, report.OK)
		require.Equal(t, verify.SchemaVersion, report.SchemaVersion)
		var names []string
		for _, c := range report.Checks {
			names = append(names, c.Name)
			require.True(t, c.OK, c.Name)
			require.NotNil(t, c.Findings, c.Name)
			require.NotEmpty(t, c.Objects, c.Name)
		}
		require.Equal(t, allChecks, names)

		checked := map[string]int{}
		for _, c := range report.Checks {
			checked[c.Name] = c.Checked
		}
		// Two guarded tables, five guard triggers each; the log's two.
		require.GreaterOrEqual(t, checked[verify.CheckGuardTriggers], 10)
		require.Equal(t, 2, checked[verify.CheckAppendOnly])
		require.Positive(t, checked[verify.CheckConstraints])
		require.Equal(t, 4, checked[verify.CheckConflicts], "the core's and the article domain's declarations, and that the core's is there")
		require.Positive(t, checked[verify.CheckFunctionSearchPath])
		require.Positive(t, checked[verify.CheckMigrations])
	})

	t.Run("ContractFollowsDeclarations", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		// A domain migration adds a constraint after guarding the table
		// and declares it; dropping it later is drift.
		exec(t, bundle, `
			BEGIN;
			SET LOCAL ROLE bulwark_owner;
			ALTER TABLE app.articles ADD CONSTRAINT article_title_present CHECK (pg_catalog.btrim(title) <> '');
			SELECT bulwark.declare_constraint('app.articles', 'article_title_present');
			COMMIT`)
		require.Empty(t, run(t, bundle, nil).Failures())

		exec(t, bundle, `ALTER TABLE app.articles DROP CONSTRAINT article_title_present`)
		require.Equal(t, []string{"constraints app.articles.article_title_present"}, run(t, bundle, nil).Failures())

		// A migration that drops it on purpose says so.
		exec(t, bundle, `
			BEGIN;
			SET LOCAL ROLE bulwark_owner;
			SELECT bulwark.undeclare_constraint('app.articles', 'article_title_present');
			COMMIT`)
		require.Empty(t, run(t, bundle, nil).Failures())
	})

	t.Run("ConflictsFollowDeclarations", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		// A domain declares a race on its table's unique constraint;
		// dropping the constraint without undeclaring it leaves a
		// declaration that maps nothing.
		exec(t, bundle, `
			BEGIN;
			CREATE SCHEMA shop AUTHORIZATION bulwark_owner;
			SET LOCAL ROLE bulwark_owner;
			CREATE TABLE shop.seats (id integer PRIMARY KEY, seat text NOT NULL, CONSTRAINT seat_unique UNIQUE (seat));
			SELECT bulwark.declare_conflict('shop.seats', 'seat_unique', 'seat_taken', false, 'the seat is taken');
			COMMIT`)
		require.Empty(t, run(t, bundle, nil).Failures())

		exec(t, bundle, `ALTER TABLE shop.seats DROP CONSTRAINT seat_unique`)
		require.Equal(t, []string{"conflicts shop.seats.seat_unique"}, run(t, bundle, nil).Failures())
		exec(t, bundle, `ALTER TABLE shop.seats ADD CONSTRAINT seat_unique CHECK (seat <> '')`)
		report := run(t, bundle, nil)
		require.Equal(t, []string{"conflicts shop.seats.seat_unique"}, report.Failures())
		for _, c := range report.Checks {
			if c.Name == verify.CheckConflicts {
				require.Contains(t, c.Findings[0].Problem, "check constraint")
				require.Contains(t, c.Findings[0].Fix, "bulwark.undeclare_conflict('shop.seats', 'seat_unique')")
			}
		}

		exec(t, bundle, `DROP TABLE shop.seats`)
		require.Len(t, run(t, bundle, nil).Failures(), 1, "a declaration of a table that is gone")

		// The migration that drops it on purpose says so.
		exec(t, bundle, `
			BEGIN;
			SET LOCAL ROLE bulwark_owner;
			SELECT bulwark.undeclare_conflict(k.relation, k.name) FROM bulwark.conflict_constraints AS k WHERE k.code = 'seat_taken';
			COMMIT`)
		require.Empty(t, run(t, bundle, nil).Failures())
	})

	t.Run("Drift", func(t *testing.T) {
		t.Parallel()

		for _, f := range drift.Fixtures() {
			t.Run(f.Name, func(t *testing.T) {
				t.Parallel()

				bundle := setup(t)
				want := drift.Apply(t, bundle.url, tag, f)
				report := run(t, bundle, &f)
				require.False(t, report.OK)
				require.ElementsMatch(t, want, report.Failures())

				// bulwark log --check answers the history question from
				// the log alone: it sees what the log shows (f.LogShows)
				// and raises nothing verify does not.
				history, err := auditlog.Check(ctx, bundle.conn, nil)
				require.NoError(t, err)
				var logged []string
				for _, p := range history.Problems {
					logged = append(logged, p.Entity.String())
				}
				if f.LogShows {
					require.Contains(t, logged, drift.SeedArticle, "%+v", history.Problems)
				} else {
					require.Empty(t, history.Problems, "log --check reports what verify does not")
				}
				for _, c := range report.Checks {
					require.Equal(t, len(c.Findings) == 0, c.OK, c.Name)
					for _, finding := range c.Findings {
						require.NotEmpty(t, finding.Problem, finding.Object)
						require.NotEmpty(t, finding.Fix, finding.Object)
					}
				}
			})
		}
	})

	t.Run("DriftIsFixedByTheHint", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		exec(t, bundle, `ALTER TABLE app.articles DISABLE TRIGGER bulwark_10_boundary`)
		exec(t, bundle, `GRANT UPDATE ON app.articles TO bulwark_app`)
		report := run(t, bundle, nil)
		require.ElementsMatch(t, []string{
			"guard_triggers app.articles.bulwark_10_boundary",
			"table_privileges app.articles",
		}, report.Failures())
		for _, c := range report.Checks {
			for _, f := range c.Findings {
				exec(t, bundle, f.Fix)
			}
		}
		require.Empty(t, run(t, bundle, nil).Failures())
	})

	t.Run("AcceptRecordsOneChange", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		exec(t, bundle, `
			ALTER TABLE app.articles ALTER COLUMN summary SET DEFAULT 'none';
			ALTER TABLE app.articles ALTER COLUMN body SET DEFAULT 'empty'`)
		require.ElementsMatch(t, []string{"columns app.articles.summary", "columns app.articles.body"}, run(t, bundle, nil).Failures())

		// The migration that meant one of them says so.
		exec(t, bundle, `
			BEGIN;
			SET LOCAL ROLE bulwark_owner;
			SELECT bulwark.boundary_accept('column', 'app.articles.summary');
			COMMIT`)
		require.Equal(t, []string{"columns app.articles.body"}, run(t, bundle, nil).Failures())
	})

	t.Run("HistoryAcknowledged", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		tamper := `
			BEGIN;
			SELECT bulwark.maintenance_begin('test: an unlogged fix');
			ALTER TABLE app.articles DISABLE TRIGGER bulwark_90_audit;
			UPDATE app.articles SET title = title || '!' WHERE id = '` + drift.SeedArticle + `';
			ALTER TABLE app.articles ENABLE TRIGGER bulwark_90_audit;
			COMMIT`
		gap := []string{"history app.articles/" + drift.SeedArticle}
		exec(t, bundle, `
			BEGIN;
			SELECT bulwark.maintenance_begin('test: seed');
			INSERT INTO app.articles (id, author_id, title) VALUES ('`+drift.SeedArticle+`', bulwark.principal_id('bootstrap'), 'Seed');
			COMMIT`)
		exec(t, bundle, tamper)
		report := run(t, bundle, nil)
		require.Equal(t, gap, report.Failures())
		var history verify.Check
		for _, c := range report.Checks {
			if c.Name == verify.CheckHistory {
				history = c
			}
		}
		require.Contains(t, history.Findings[0].Problem, "version 2, but 1 log rows")

		// Explained, acknowledged: the history is checked from here on.
		exec(t, bundle, `
			BEGIN;
			SET LOCAL ROLE bulwark_owner;
			SELECT bulwark.history_acknowledge('app.articles', '`+drift.SeedArticle+`', 'a title fixed by hand on a Sunday');
			COMMIT`)
		require.Empty(t, run(t, bundle, nil).Failures())
		exec(t, bundle, `SELECT * FROM app.article_submit(bulwark.principal_id('bootstrap'), '`+drift.SeedArticle+`', 2, NULL)`)
		require.Empty(t, run(t, bundle, nil).Failures())

		// A new gap after it is a gap again.
		exec(t, bundle, tamper)
		require.Equal(t, gap, run(t, bundle, nil).Failures())
	})

	t.Run("HistorySamplesLargeTables", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		const articles = 30
		exec(t, bundle, fmt.Sprintf(`
			DO $seed$
			BEGIN
			    FOR i IN 1..%d LOOP
			        PERFORM app.article_create(bulwark.principal_id('bootstrap'), 'Article ' || i, '', NULL);
			    END LOOP;
			END
			$seed$`, articles))
		// Every row changed unlogged, so every row checked is a gap.
		exec(t, bundle, `
			BEGIN;
			SELECT bulwark.maintenance_begin('test: unlogged fixes');
			ALTER TABLE app.articles DISABLE TRIGGER bulwark_90_audit;
			UPDATE app.articles SET title = title || '!';
			ALTER TABLE app.articles ENABLE TRIGGER bulwark_90_audit;
			COMMIT;
			ANALYZE app.articles`)
		history := func(rows int) verify.Check {
			t.Helper()
			report, err := verify.Run(ctx, bundle.conn, &verify.Opts{
				HistoryRows:    rows,
				MigrationRoles: drift.MigrationRoles(t, bundle.url, nil, tag),
			})
			require.NoError(t, err)
			for _, c := range report.Checks {
				if c.Name == verify.CheckHistory {
					return c
				}
			}
			t.Fatal("no history check")
			return verify.Check{}
		}

		all := history(-1)
		require.Equal(t, articles, all.Checked)
		require.Len(t, all.Findings, articles)

		// A sample of about 5 of the 30 rows, never more.
		sampled := history(5)
		require.LessOrEqual(t, sampled.Checked, 5)
		require.Len(t, sampled.Findings, sampled.Checked)
	})

	t.Run("NewDriftIsFixedByTheHint", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		exec(t, bundle, `
			ALTER TABLE app.articles ALTER COLUMN state DROP NOT NULL;
			ALTER TABLE app.articles ALTER COLUMN version SET DEFAULT 100;
			ALTER TABLE app.articles ADD COLUMN backdoor text;
			CREATE POLICY article_hidden ON app.articles FOR UPDATE USING (false);
			ALTER TABLE app.articles ENABLE ROW LEVEL SECURITY;
			CREATE RULE article_swallow AS ON UPDATE TO app.articles DO INSTEAD NOTHING;
			CREATE TRIGGER article_rewrite BEFORE UPDATE ON app.articles FOR EACH ROW EXECUTE FUNCTION app.trg_article_frozen();
			DROP TRIGGER bulwark_90_audit ON bulwark.principals;
			REVOKE EXECUTE ON FUNCTION app.article_publish(uuid, uuid, integer, text) FROM bulwark_jobs;
			ALTER DEFAULT PRIVILEGES FOR ROLE bulwark_owner IN SCHEMA app GRANT INSERT ON TABLES TO bulwark_app;
			CREATE FUNCTION public.article_fix(p_id uuid) RETURNS void
			LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
			AS $$ UPDATE app.articles SET title = 'fixed' WHERE id = p_id $$`)
		report := run(t, bundle, nil)
		require.ElementsMatch(t, []string{
			"columns app.articles.state",
			"columns app.articles.version",
			"columns app.articles.backdoor",
			"row_security app.articles",
			"row_security app.articles.article_hidden",
			"rules app.articles.article_swallow",
			"trigger_definitions app.articles.article_rewrite",
			"trigger_definitions bulwark.principals.bulwark_90_audit",
			"function_fingerprints app.article_publish(uuid,uuid,integer,text)",
			"default_privileges role bulwark_owner in schema app",
			"callable_functions public.article_fix(uuid)",
		}, report.Failures())
		for _, c := range report.Checks {
			for _, f := range c.Findings {
				exec(t, bundle, f.Fix)
			}
		}
		require.Empty(t, run(t, bundle, nil).Failures())
	})

	t.Run("RowSecurityTurnedOff", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		// A migration put the table under row security, with a policy.
		exec(t, bundle, `
			BEGIN;
			ALTER TABLE app.articles ENABLE ROW LEVEL SECURITY;
			CREATE POLICY article_readers ON app.articles FOR SELECT TO bulwark_app USING (state = 'published');
			SET LOCAL ROLE bulwark_owner;
			SELECT bulwark.boundary_accept('table', 'app.articles');
			SELECT bulwark.boundary_accept('policy', 'app.articles.article_readers');
			COMMIT`)
		require.Empty(t, run(t, bundle, nil).Failures())

		exec(t, bundle, `
			ALTER TABLE app.articles DISABLE ROW LEVEL SECURITY;
			DROP POLICY article_readers ON app.articles`)
		report := run(t, bundle, nil)
		require.ElementsMatch(t, []string{"row_security app.articles", "row_security app.articles.article_readers"}, report.Failures())
		for _, c := range report.Checks {
			for _, f := range c.Findings {
				exec(t, bundle, f.Fix)
			}
		}
		require.Empty(t, run(t, bundle, nil).Failures())
	})

	t.Run("NeedsTheContract", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		db := stdlib.OpenDB(*bundle.conn.Config())
		t.Cleanup(func() { _ = db.Close() })

		// Schema bulwark as an older bulwark left it: everything but the
		// contract that constraints and migrations are verified against
		// (dropped in a transaction verify runs inside, then rolled back).
		tx, err := bundle.conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
		require.NoError(t, err)
		_, err = tx.Exec(ctx, `DROP TABLE bulwark.contract_constraints`)
		require.NoError(t, err)
		_, err = verify.Run(ctx, &savepointBeginner{tx: tx}, nil)
		require.ErrorIs(t, err, verify.ErrNoContract)
		require.NoError(t, tx.Rollback(ctx))

		_, err = schema.Reset(ctx, db, schema.Examples()...)
		require.NoError(t, err)
		_, err = verify.Run(ctx, bundle.conn, nil)
		require.ErrorIs(t, err, verify.ErrNotInstalled)
	})

	// inTx begins a transaction on the bundle's connection that is never
	// committed: verify runs inside it (in savepoints), the only session
	// that sees what it changed. Roles are cluster-wide, so drift of the
	// roles committed would fail every verify that other tests run on a
	// shared server at the time.
	inTx := func(t *testing.T, bundle *testBundle) pgx.Tx {
		t.Helper()
		tx, err := bundle.conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
		require.NoError(t, err)
		t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
		return tx
	}

	t.Run("ClusterDrift", func(t *testing.T) {
		t.Parallel()

		for _, f := range drift.ClusterFixtures() {
			t.Run(f.Name, func(t *testing.T) {
				t.Parallel()

				bundle := setup(t)
				tx := inTx(t, bundle)
				applied := drift.ApplyTx(t, tx, f)
				opts := &verify.Opts{MigrationRoles: append(drift.MigrationRoles(t, bundle.url, nil, tag), applied.MigrationRoles...)}
				report, err := verify.Run(ctx, &savepointBeginner{tx: tx}, opts)
				require.NoError(t, err)
				require.False(t, report.OK)
				require.ElementsMatch(t, applied.Want, report.Failures())
				for _, c := range report.Checks {
					for _, finding := range c.Findings {
						require.NotEmpty(t, finding.Problem, finding.Object)
						// The fix leads with its statement; a parenthesis
						// after it says more.
						stmt, _, _ := strings.Cut(finding.Fix, " (")
						_, err := tx.Exec(ctx, stmt)
						require.NoError(t, err, finding.Fix)
					}
				}

				report, err = verify.Run(ctx, &savepointBeginner{tx: tx}, opts)
				require.NoError(t, err)
				require.Empty(t, report.Failures())
			})
		}
	})

	t.Run("CreateRoleFindingSaysWhy", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		tx := inTx(t, bundle)
		var version int
		require.NoError(t, tx.QueryRow(ctx, `SELECT pg_catalog.current_setting('server_version_num')::int`).Scan(&version))
		if version >= 160000 {
			t.Skipf("server version %d: CREATEROLE alone grants no membership", version)
		}
		login := "bulwark_verify_createrole_" + strings.ToLower(rand.Text())[:12]
		_, err := tx.Exec(ctx, `CREATE ROLE `+login+` LOGIN CREATEROLE IN ROLE bulwark_owner`)
		require.NoError(t, err)
		opts := &verify.Opts{MigrationRoles: append(drift.MigrationRoles(t, bundle.url, nil, tag), login)}
		report, err := verify.Run(ctx, &savepointBeginner{tx: tx}, opts)
		require.NoError(t, err)
		require.Equal(t, []verify.Finding{{
			Object: login,
			Problem: "a LOGIN role and a member of bulwark_owner with CREATEROLE: up to PostgreSQL 15 a CREATEROLE role " +
				"can grant itself bulwark_engine, write guarded tables as the engine and revoke the membership, " +
				"leaving only a gap in a row's history",
			Fix: "ALTER ROLE " + login + " NOCREATEROLE (keep CREATEROLE only while the core's migrations run, or run them as a superuser)",
		}}, findings(report, verify.CheckCreateRole))

		// What it warns of: the role makes itself the engine.
		_, err = tx.Exec(ctx, `SET LOCAL ROLE `+login+`; GRANT bulwark_engine TO `+login+`; RESET ROLE`)
		require.NoError(t, err)
	})

	t.Run("TablePrivilegesOfAnyRole", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		tx := inTx(t, bundle)
		suffix := strings.ToLower(rand.Text())[:12]
		group := "bulwark_verify_group_" + suffix
		login := "bulwark_verify_login_" + suffix
		relay := "bulwark_verify_relay_" + suffix
		_, err := tx.Exec(ctx, fmt.Sprintf(`
			CREATE ROLE %[1]s NOLOGIN;
			CREATE ROLE %[2]s LOGIN IN ROLE %[1]s;
			GRANT INSERT, UPDATE, DELETE, TRUNCATE ON app.articles TO %[2]s;
			GRANT UPDATE (title, body), REFERENCES (id) ON app.articles TO %[1]s;
			GRANT DELETE ON bulwark.transition_log TO %[1]s;
			-- A role that may grant on, and did.
			CREATE ROLE %[3]s NOLOGIN;
			GRANT USAGE ON SCHEMA app TO %[3]s;
			GRANT TRUNCATE ON app.articles TO %[3]s WITH GRANT OPTION;
			SET LOCAL ROLE %[3]s;
			GRANT TRUNCATE ON app.articles TO %[1]s;
			RESET ROLE;
			-- Not drift: the engine, and a superuser (the session's user).
			GRANT TRUNCATE, TRIGGER ON app.articles TO bulwark_engine;
			GRANT UPDATE ON bulwark.principals TO session_user`, group, login, relay))
		require.NoError(t, err)

		opts := &verify.Opts{MigrationRoles: drift.MigrationRoles(t, bundle.url, nil, tag)}
		report, err := verify.Run(ctx, &savepointBeginner{tx: tx}, opts)
		require.NoError(t, err)
		require.Equal(t, []verify.Finding{
			{
				Object: "app.articles",
				Problem: group + " may UPDATE (on columns body, title), TRUNCATE, REFERENCES (on columns id): writes would not go " +
					"through the transition functions; so may its members " + login,
				Fix: "REVOKE UPDATE, TRUNCATE, REFERENCES ON app.articles FROM " + group + " (TRUNCATE granted by " + relay +
					": run it as " + relay + ", or REVOKE TRUNCATE ON app.articles FROM " + relay + " CASCADE)",
			},
			{
				Object:  "app.articles",
				Problem: login + " may INSERT, UPDATE, DELETE, TRUNCATE: writes would not go through the transition functions",
				Fix:     "REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON app.articles FROM " + login,
			},
			{
				Object:  "app.articles",
				Problem: relay + " may TRUNCATE: writes would not go through the transition functions",
				Fix:     "REVOKE TRUNCATE ON app.articles FROM " + relay + " CASCADE",
			},
			{
				Object:  "bulwark.transition_log",
				Problem: group + " may DELETE: writes would not go through the transition functions; so may its members " + login,
				Fix:     "REVOKE DELETE ON bulwark.transition_log FROM " + group,
			},
		}, findings(report, verify.CheckTablePrivileges))
		require.Equal(t, []string{
			"table_privileges app.articles",
			"table_privileges app.articles",
			"table_privileges app.articles",
			"table_privileges bulwark.transition_log",
		}, report.Failures())

		for _, f := range findings(report, verify.CheckTablePrivileges) {
			stmt, _, _ := strings.Cut(f.Fix, " (")
			_, err := tx.Exec(ctx, stmt)
			require.NoError(t, err, f.Fix)
		}
		report, err = verify.Run(ctx, &savepointBeginner{tx: tx}, opts)
		require.NoError(t, err)
		require.Empty(t, report.Failures())

		// An application role that holds them through the owner's
		// membership: what no grant explains is still the app role's.
		_, err = tx.Exec(ctx, `GRANT bulwark_owner TO bulwark_jobs`)
		require.NoError(t, err)
		report, err = verify.Run(ctx, &savepointBeginner{tx: tx}, opts)
		require.NoError(t, err)
		var tables verify.Check
		for _, c := range report.Checks {
			if c.Name == verify.CheckTablePrivileges {
				tables = c
			}
		}
		require.Len(t, tables.Findings, tables.Checked, "every table")
		for _, f := range tables.Findings {
			require.Equal(t, "bulwark_jobs may INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER through role membership: "+
				"writes would not go through the transition functions", f.Problem)
		}
	})

	t.Run("NamesTheCheckItCouldNotRun", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		// A login member of bulwark_app reads bulwark's tables and the
		// catalogs, but may not have the rules compiled (that parses
		// owner-written text as the engine) nor read the lines' goose
		// version tables.
		conn, err := pgx.Connect(ctx, bulwarktest.LoginAs(t, bundle.url, bulwarktest.RoleApp))
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close(context.Background()) })

		couldNotRun := func(check string) {
			t.Helper()
			_, err := verify.Run(ctx, conn, &verify.Opts{MigrationRoles: drift.MigrationRoles(t, bundle.url, nil, tag)})
			var checkErr *verify.CheckError
			require.ErrorAs(t, err, &checkErr)
			require.Equal(t, check, checkErr.Check)
			var pgErr *pgconn.PgError
			require.ErrorAs(t, err, &pgErr)
			require.Equal(t, pgerrcode.InsufficientPrivilege, pgErr.Code)
		}
		couldNotRun(verify.CheckActionRules)
		exec(t, bundle, `GRANT EXECUTE ON FUNCTION bulwark.rule_problems(text) TO bulwark_app`)
		couldNotRun(verify.CheckMigrations)

		exec(t, bundle, `GRANT SELECT ON public.bulwark_core_version, public.bulwark_river_version, public.bulwark_articles_version TO bulwark_app`)
		report, err := verify.Run(ctx, conn, &verify.Opts{MigrationRoles: drift.MigrationRoles(t, bundle.url, nil, tag)})
		require.NoError(t, err)
		// The grant is a door nobody declared: verify says so.
		require.ElementsMatch(t, []string{"callable_functions bulwark.rule_problems(text)", "function_fingerprints bulwark.rule_problems(text)"}, report.Failures())
	})

	t.Run("RunsInAReadOnlyTransaction", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		rec := &recordingBeginner{conn: bundle.conn}
		_, err := verify.Run(ctx, rec, &verify.Opts{MigrationRoles: drift.MigrationRoles(t, bundle.url, nil, tag)})
		require.NoError(t, err)
		// The server refuses any write in it, whatever a check does.
		require.Equal(t, []pgx.TxOptions{{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}}, rec.opts)
	})

	t.Run("RendersJSON", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		exec(t, bundle, `ALTER TABLE app.articles DISABLE TRIGGER bulwark_10_boundary`)
		var buf bytes.Buffer
		require.NoError(t, run(t, bundle, nil).WriteJSON(&buf))

		// Decoded without the package's types, as CI would.
		var doc struct {
			SchemaVersion *int    `json:"schema_version"`
			Database      *string `json:"database"`
			OK            *bool   `json:"ok"`
			Checks        []struct {
				Name     string `json:"name"`
				OK       bool   `json:"ok"`
				Checked  *int   `json:"checked"`
				Objects  string `json:"objects"`
				Findings []struct {
					Object  string `json:"object"`
					Problem string `json:"problem"`
					Fix     string `json:"fix"`
				} `json:"findings"`
			} `json:"checks"`
		}
		dec := json.NewDecoder(&buf)
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&doc))
		require.Equal(t, 1, *doc.SchemaVersion)
		require.NotEmpty(t, *doc.Database)
		require.False(t, *doc.OK)
		require.Len(t, doc.Checks, len(allChecks))
		var failed []string
		for _, c := range doc.Checks {
			require.NotNil(t, c.Checked)
			require.NotNil(t, c.Findings, "findings is a list, never null")
			for _, f := range c.Findings {
				failed = append(failed, fmt.Sprintf("%s %s: %s", c.Name, f.Object, f.Fix))
			}
		}
		require.Equal(t, []string{
			"guard_triggers app.articles.bulwark_10_boundary: ALTER TABLE app.articles ENABLE TRIGGER bulwark_10_boundary",
		}, failed)
	})

	t.Run("RendersText", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		exec(t, bundle, `ALTER TABLE app.articles DISABLE TRIGGER bulwark_10_boundary`)
		var buf bytes.Buffer
		require.NoError(t, run(t, bundle, nil).WriteText(&buf))
		text := buf.String()
		require.Regexp(t, `(?m)^guard_triggers +FAIL +app\.articles\.bulwark_10_boundary +disabled: it does not fire +ALTER TABLE app\.articles ENABLE TRIGGER bulwark_10_boundary$`, text)
		require.Regexp(t, `(?m)^append_only +ok +2 triggers`, text)
		require.Regexp(t, `(?m)^FAIL: 1 of \d+ checks failed with 1 problem on`, text)
	})

	t.Run("StopsOnCancel", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		_, err := verify.Run(canceled, bundle.conn, nil)
		require.True(t, errors.Is(err, context.Canceled), "%v", err)
	})
}

// findings returns the findings of the report's check name.
func findings(report *verify.Report, name string) []verify.Finding {
	for _, c := range report.Checks {
		if c.Name == name {
			return c.Findings
		}
	}
	return nil
}

// recordingBeginner records the options of each transaction it begins.
type recordingBeginner struct {
	conn *pgx.Conn
	opts []pgx.TxOptions
}

func (b *recordingBeginner) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	b.opts = append(b.opts, opts)
	return b.conn.BeginTx(ctx, opts)
}

// savepointBeginner runs each of verify's transactions as a savepoint of
// tx, so that verify sees what tx has not committed. tx must be REPEATABLE
// READ; a read-only request makes the savepoint read-only, which ends with
// it.
type savepointBeginner struct {
	tx pgx.Tx
}

func (b *savepointBeginner) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	if opts.IsoLevel != pgx.RepeatableRead {
		return nil, fmt.Errorf("savepoint of a REPEATABLE READ transaction: %s requested", opts.IsoLevel)
	}
	sp, err := b.tx.Begin(ctx)
	if err != nil {
		return nil, err
	}
	if opts.AccessMode == pgx.ReadOnly {
		if _, err := sp.Exec(ctx, `SET TRANSACTION READ ONLY`); err != nil {
			_ = sp.Rollback(ctx)
			return nil, err
		}
	}
	return sp, nil
}

// BenchmarkVerify verifies databases with 100 and 500 generated guarded
// tables, each a domain of its own as a migration makes one: a machine
// (bulwark.declare_machine), a table with a primary key and a CHECK
// constraint, bulwark.guard (the generated engine and triggers), a
// transition (bulwark.declare_transition) and its typed wrapper
// (bulwark.declare_api). It shows how verify grows with the number of
// tables: every check is one catalog query for all of them, and the
// history check one query per table, sent in one batch.
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{100, 500} {
		// Built here, not in the sub-benchmark, which runs more than once.
		url := bulwarktest.NewDatabase(b)
		guardTables(b, url, n)
		conn, err := pgx.Connect(ctx, url)
		require.NoError(b, err)
		b.Cleanup(func() { _ = conn.Close(context.Background()) })
		opts := &verify.Opts{MigrationRoles: drift.MigrationRoles(b, url, nil, tag)}

		report, err := verify.Run(ctx, conn, opts)
		require.NoError(b, err)
		require.Empty(b, report.Failures())
		for _, c := range report.Checks {
			if c.Name == verify.CheckGuardTriggers {
				require.GreaterOrEqual(b, c.Checked, 3*n, "every generated table is verified")
			}
		}

		b.Run(fmt.Sprintf("tables=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := verify.Run(ctx, conn, opts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/table")
		})
	}
}

// guardTables puts n small tables of schema bench behind the boundary, each
// with its own machine, engine, transition and wrapper, as a domain
// migration would, committing in batches so that no transaction holds
// thousands of locks.
func guardTables(b *testing.B, url string, n int) {
	b.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(b, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `
		CREATE SCHEMA bench AUTHORIZATION bulwark_owner;
		REVOKE ALL ON SCHEMA bench FROM PUBLIC;
		GRANT USAGE ON SCHEMA bench TO bulwark_app, bulwark_jobs;
		BEGIN;
		SET LOCAL ROLE bulwark_owner;
		SELECT bulwark.declare_capability('bench.finish', 'Finish a bench row.');
		COMMIT`)
	require.NoError(b, err)
	const batch = 50
	for from := 1; from <= n; from += batch {
		_, err := conn.Exec(ctx, fmt.Sprintf(`
			BEGIN;
			SET LOCAL ROLE bulwark_owner;
			DO $bench$
			BEGIN
			    FOR i IN %d..%d LOOP
			        PERFORM bulwark.declare_machine('bench_t' || i, 'draft', ARRAY['draft', 'done']);
			        EXECUTE pg_catalog.format(
			            'CREATE TABLE bench.t%%s (
			                 id      uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
			                 state   text NOT NULL DEFAULT ''draft'',
			                 version integer NOT NULL DEFAULT 1,
			                 CONSTRAINT t%%s_state_length CHECK (pg_catalog.char_length(state) <= 50)
			             )', i, i);
			        PERFORM bulwark.guard(pg_catalog.format('bench.t%%s', i)::regclass, 'bench_t' || i, 'state');
			        PERFORM bulwark.declare_transition('bench_t' || i, 'finish', 'draft', 'done', 'bench.finish');
			        EXECUTE pg_catalog.format(
			            'CREATE FUNCTION bench.t%%s_finish(p_actor uuid, p_id uuid, p_expected_version integer, p_idem_key text)
			             RETURNS bench.t%%s LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
			             AS $w$ BEGIN RETURN bench.bench_t%%s_apply(''finish'', p_actor, p_id, p_expected_version, p_idem_key); END $w$',
			            i, i, i);
			        PERFORM bulwark.declare_api(pg_catalog.format('bench.t%%s_finish(uuid, uuid, integer, text)', i)::regprocedure,
			            'bench_t' || i, 'finish');
			    END LOOP;
			END
			$bench$;
			COMMIT`, from, min(from+batch-1, n)))
		require.NoError(b, err)
	}
}
