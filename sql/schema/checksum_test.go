package schema_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/internal/drift"
	"github.com/bulwarkdb/bulwark/internal/pgtest"
	"github.com/bulwarkdb/bulwark/sql/schema"
	"github.com/bulwarkdb/bulwark/verify"
)

func TestChecksums(t *testing.T) {
	t.Parallel()

	for _, line := range schema.Examples() {
		t.Run(line.Name(), func(t *testing.T) {
			t.Parallel()

			sums, err := line.Checksums()
			require.NoError(t, err)
			require.NotEmpty(t, sums)
			var files []string
			if line.FS() != nil {
				files, err = fs.Glob(line.FS(), "*.sql")
				require.NoError(t, err)
			}
			var sqlSums int
			for _, s := range sums {
				require.Equal(t, line.Name(), s.Line)
				if s.Sum == schema.ChecksumGo || strings.HasPrefix(s.Sum, "go:") {
					continue
				}
				sqlSums++
				raw, err := fs.ReadFile(line.FS(), s.Path)
				require.NoError(t, err)
				h := sha256.Sum256(raw)
				require.Equal(t, "sha256:"+hex.EncodeToString(h[:]), s.Sum, s.Path)
			}
			require.Equal(t, len(files), sqlSums, "every SQL file has a checksum")
		})
	}
}

func TestRecordChecksums(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	type testBundle struct {
		conn *pgx.Conn
		url  string
	}

	setup := func(t *testing.T) *testBundle {
		t.Helper()
		url := pgtest.NewDatabase(t)
		conn, err := pgx.Connect(ctx, url)
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close(context.Background()) })
		return &testBundle{conn: conn, url: url}
	}

	// recorded returns the record as "line/version" -> checksum.
	recorded := func(t *testing.T, conn *pgx.Conn) map[string]string {
		t.Helper()
		rows, err := conn.Query(ctx, `SELECT line || '/' || version, checksum FROM bulwark.migration_checksums`)
		require.NoError(t, err)
		got := map[string]string{}
		var key, sum string
		_, err = pgx.ForEachRow(rows, []any{&key, &sum}, func() error {
			got[key] = sum
			return nil
		})
		require.NoError(t, err)
		return got
	}

	want := func(t *testing.T) map[string]string {
		t.Helper()
		out := map[string]string{}
		for _, line := range schema.Examples() {
			sums, err := line.Checksums()
			require.NoError(t, err)
			for _, s := range sums {
				out[fmt.Sprintf("%s/%d", s.Line, s.Version)] = s.Sum
			}
		}
		return out
	}

	// tamper changes a recorded checksum the way an operator would.
	tamper := func(t *testing.T, conn *pgx.Conn, line string, version int64) {
		t.Helper()
		tx, err := conn.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		_, err = tx.Exec(ctx, `SELECT bulwark.maintenance_begin('test: tamper with a checksum')`)
		require.NoError(t, err)
		tag, err := tx.Exec(ctx, `
			UPDATE bulwark.migration_checksums
			SET checksum = 'sha256:' || pg_catalog.repeat('0', 64)
			WHERE line = $1 AND version = $2`, line, version)
		require.NoError(t, err)
		require.EqualValues(t, 1, tag.RowsAffected())
		require.NoError(t, tx.Commit(ctx))
	}

	t.Run("RecordsEveryMigrationOfEveryLineOnUp", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		require.Equal(t, want(t), recorded(t, bundle.conn))
	})

	t.Run("KeepsTheFirstRecordOfAnEarlierMigration", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		tamper(t, bundle.conn, schema.LineArticles, 1)

		_, err := schema.Up(ctx, openDB(t, bundle.url), schema.Examples()...)
		require.NoError(t, err)
		require.Equal(t, "sha256:"+strings.Repeat("0", 64), recorded(t, bundle.conn)["articles/1"],
			"a later up must not launder a changed file")
	})

	t.Run("ReplacesTheRecordOfAMigrationItRan", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		tamper(t, bundle.conn, schema.LineArticles, 1)
		tamper(t, bundle.conn, schema.LineCore, 1)

		db := openDB(t, bundle.url)
		articles := schema.Articles()
		provider, err := articles.NewProvider(db)
		require.NoError(t, err)
		ran := []*goose.MigrationResult{{Source: &goose.Source{Type: goose.TypeSQL, Version: 1}, Direction: "up"}}
		require.NoError(t, schema.RecordChecksums(ctx, db, articles, provider, ran))

		got := recorded(t, bundle.conn)
		require.Equal(t, want(t)["articles/1"], got["articles/1"])
		require.Equal(t, "sha256:"+strings.Repeat("0", 64), got["core/1"], "another line's version 1 is another migration")
	})

	t.Run("ForgetsWhatWasRolledBack", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		db := openDB(t, bundle.url)
		_, err := schema.DownTo(ctx, db, schema.Articles(), 1)
		require.NoError(t, err)
		got := recorded(t, bundle.conn)
		require.Contains(t, got, "articles/1")
		require.NotContains(t, got, "articles/2")
		require.Contains(t, got, "core/2", "other lines keep theirs")

		_, err = schema.Up(ctx, db, schema.Examples()...)
		require.NoError(t, err)
		require.Equal(t, want(t), recorded(t, bundle.conn))
	})

	t.Run("SkipsADatabaseWithoutTheCore", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		db := openDB(t, bundle.url)
		_, err := schema.Reset(ctx, db, schema.Examples()...)
		require.NoError(t, err)
		core := schema.Core()
		provider, err := core.NewProvider(db)
		require.NoError(t, err)
		require.NoError(t, schema.RecordChecksums(ctx, db, core, provider, nil))

		_, err = schema.Up(ctx, db, schema.Examples()...)
		require.NoError(t, err)
		require.Equal(t, want(t), recorded(t, bundle.conn))
	})
}

func TestRecordBoundary(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	type testBundle struct {
		conn *pgx.Conn
		db   *sql.DB
		url  string
	}

	setup := func(t *testing.T) *testBundle {
		t.Helper()
		url := pgtest.NewDatabase(t)
		conn, err := pgx.Connect(ctx, url)
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close(context.Background()) })
		return &testBundle{conn: conn, db: openDB(t, url), url: url}
	}

	exec := func(t *testing.T, bundle *testBundle, sql string) {
		t.Helper()
		_, err := bundle.conn.Exec(ctx, sql)
		require.NoError(t, err)
	}

	failures := func(t *testing.T, bundle *testBundle) []string {
		t.Helper()
		report, err := verify.Run(ctx, bundle.conn, &verify.Opts{MigrationRoles: drift.MigrationRoles(t, bundle.url, nil, "")})
		require.NoError(t, err)
		return report.Failures()
	}

	// migration changes the boundary the way a later migration would:
	// a wrapper rewritten, a column and a trigger added, a helper dropped
	// (one no rule calls: dropping one a rule calls breaks the engine, and
	// verify's action_rules check says so).
	const migration = `
		BEGIN;
		SET LOCAL ROLE bulwark_owner;
		CREATE OR REPLACE FUNCTION app.article_publish(p_actor uuid, p_id uuid, p_expected_version integer, p_idem_key text)
		RETURNS app.articles LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
		AS $$ BEGIN RETURN app.article_apply('publish', p_actor, p_id, p_expected_version, p_idem_key, NULL, 'published'); END $$;
		ALTER TABLE app.articles ADD COLUMN subtitle text;
		CREATE TRIGGER article_frozen_again BEFORE UPDATE ON app.articles FOR EACH ROW EXECUTE FUNCTION app.trg_article_frozen();
		SELECT bulwark.undeclare_callable('app.article_schedule_live_job(uuid, uuid)');
		COMMIT;
		DROP FUNCTION app.article_schedule_live_job(uuid, uuid)`

	t.Run("RecordsWhatTheMigrationsChanged", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		before, err := schema.SnapshotBoundary(ctx, bundle.db)
		require.NoError(t, err)
		exec(t, bundle, migration)
		require.NotEmpty(t, failures(t, bundle), "unrecorded, the migration's changes are drift")

		require.NoError(t, schema.RecordBoundary(ctx, bundle.db, before))
		require.Empty(t, failures(t, bundle))
	})

	t.Run("KeepsWhatChangedBeforeThem", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		// Drift made by hand before the deploy stays drift after it.
		exec(t, bundle, `ALTER TABLE app.articles ALTER COLUMN state DROP NOT NULL`)
		exec(t, bundle, `
			CREATE OR REPLACE FUNCTION bulwark.trg_protect_guard() RETURNS trigger LANGUAGE plpgsql
			SET search_path = pg_catalog, pg_temp AS $$ BEGIN RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END; END $$`)
		want := []string{"columns app.articles.state", "function_fingerprints bulwark.trg_protect_guard()"}
		require.ElementsMatch(t, want, failures(t, bundle))

		before, err := schema.SnapshotBoundary(ctx, bundle.db)
		require.NoError(t, err)
		exec(t, bundle, migration)
		require.NoError(t, schema.RecordBoundary(ctx, bundle.db, before))
		require.ElementsMatch(t, want, failures(t, bundle))

		// And schema.Up with nothing to apply launders nothing either.
		_, err = schema.Up(ctx, bundle.db, schema.Examples()...)
		require.NoError(t, err)
		require.ElementsMatch(t, want, failures(t, bundle))
	})

	t.Run("RecordsADomainAndSeesItChange", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		before, err := schema.SnapshotBoundary(ctx, bundle.db)
		require.NoError(t, err)
		exec(t, bundle, `
			BEGIN;
			CREATE SCHEMA rb_types AUTHORIZATION bulwark_owner;
			SET LOCAL ROLE bulwark_owner;
			CREATE DOMAIN app.label AS text CHECK (VALUE <> '');
			-- Outside the boundary's schemas, reached by a column only
			-- through an array of a composite of a domain over a domain.
			CREATE DOMAIN rb_types.base AS integer CHECK (VALUE >= 0);
			CREATE DOMAIN rb_types.pos AS rb_types.base;
			CREATE TYPE app.span AS (lo rb_types.pos);
			ALTER TABLE app.articles ADD COLUMN spans app.span[];
			COMMIT`)
		require.NoError(t, schema.RecordBoundary(ctx, bundle.db, before))
		rows, err := bundle.conn.Query(ctx, `SELECT object FROM bulwark.contract_objects WHERE kind = 'domain' ORDER BY object`)
		require.NoError(t, err)
		recorded, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		require.Equal(t, []string{"app.label", "rb_types.base", "rb_types.pos"}, recorded)
		exec(t, bundle, `
			BEGIN;
			SET LOCAL ROLE bulwark_owner;
			ALTER DOMAIN rb_types.base DROP CONSTRAINT base_check;
			COMMIT`)
		require.Contains(t, failures(t, bundle), "columns rb_types.base")
		// Meant, after all: a migration records it.
		exec(t, bundle, `
			BEGIN;
			SET LOCAL ROLE bulwark_owner;
			SELECT bulwark.boundary_accept('domain', 'rb_types.base');
			COMMIT`)
		require.Empty(t, failures(t, bundle))

		// Loosened by hand: its CHECKs are what every write of its
		// columns runs, as the engine.
		exec(t, bundle, `
			BEGIN;
			SET LOCAL ROLE bulwark_owner;
			ALTER DOMAIN app.label DROP CONSTRAINT label_check;
			COMMIT`)
		require.Equal(t, []string{"columns app.label"}, failures(t, bundle))
	})

	t.Run("TrustsTheFirstRecord", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		exec(t, bundle, migration)
		// No snapshot: a database that had no record records what it has.
		require.NoError(t, schema.RecordBoundary(ctx, bundle.db, schema.BoundarySnapshot{}))
		require.Empty(t, failures(t, bundle))
	})

	t.Run("UpRecordsAgainAfterADown", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		_, err := schema.Reset(ctx, bundle.db, schema.River(), schema.Articles())
		require.NoError(t, err)
		// The core as it was before its record (migration 2).
		_, err = schema.DownTo(ctx, bundle.db, schema.Core(), 1)
		require.NoError(t, err)
		before, err := schema.SnapshotBoundary(ctx, bundle.db)
		require.NoError(t, err)
		require.Equal(t, schema.BoundarySnapshot{}, before, "without the record there is nothing to snapshot")
		require.NoError(t, schema.RecordBoundary(ctx, bundle.db, before), "nor to record")

		_, err = schema.Up(ctx, bundle.db, schema.Examples()...)
		require.NoError(t, err)
		require.Empty(t, failures(t, bundle))
	})
}
