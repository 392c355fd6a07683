package schema_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/internal/pgtest"
	"github.com/bulwarkdb/bulwark/sql/schema"
)

func TestChecksums(t *testing.T) {
	t.Parallel()

	sums, err := schema.Checksums()
	require.NoError(t, err)

	files, err := fs.Glob(schema.FS(), "*.sql")
	require.NoError(t, err)
	var sqlSums int
	for _, s := range sums {
		if s.Sum == schema.ChecksumGo || strings.HasPrefix(s.Sum, "go:") {
			continue
		}
		sqlSums++
		raw, err := fs.ReadFile(schema.FS(), s.Path)
		require.NoError(t, err)
		h := sha256.Sum256(raw)
		require.Equal(t, "sha256:"+hex.EncodeToString(h[:]), s.Sum, s.Path)
	}
	require.Equal(t, len(files), sqlSums, "every SQL file has a checksum")
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

	recorded := func(t *testing.T, conn *pgx.Conn) map[int64]string {
		t.Helper()
		rows, err := conn.Query(ctx, `SELECT version, checksum FROM bulwark.migration_checksums`)
		require.NoError(t, err)
		got := map[int64]string{}
		var version int64
		var sum string
		_, err = pgx.ForEachRow(rows, []any{&version, &sum}, func() error {
			got[version] = sum
			return nil
		})
		require.NoError(t, err)
		return got
	}

	// tamper changes a recorded checksum the way an operator would.
	tamper := func(t *testing.T, conn *pgx.Conn, version int64) {
		t.Helper()
		tx, err := conn.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		_, err = tx.Exec(ctx, `SELECT bulwark.maintenance_begin('test: tamper with a checksum')`)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, `
			UPDATE bulwark.migration_checksums
			SET checksum = 'sha256:' || pg_catalog.repeat('0', 64)
			WHERE version = $1`, version)
		require.NoError(t, err)
		require.NoError(t, tx.Commit(ctx))
	}

	t.Run("RecordsEveryMigrationOnUp", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		sums, err := schema.Checksums()
		require.NoError(t, err)
		want := map[int64]string{}
		for _, s := range sums {
			want[s.Version] = s.Sum
		}
		require.Equal(t, want, recorded(t, bundle.conn))
	})

	t.Run("KeepsTheFirstRecordOfAnEarlierMigration", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		tamper(t, bundle.conn, 2)

		_, err := schema.Up(ctx, openDB(t, bundle.url))
		require.NoError(t, err)
		require.Equal(t, "sha256:"+strings.Repeat("0", 64), recorded(t, bundle.conn)[2],
			"a later up must not launder a changed file")
	})

	t.Run("ReplacesTheRecordOfAMigrationItRan", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		tamper(t, bundle.conn, 2)

		db := openDB(t, bundle.url)
		provider, err := schema.NewProvider(db)
		require.NoError(t, err)
		ran := []*goose.MigrationResult{{Source: &goose.Source{Type: goose.TypeSQL, Version: 2}, Direction: "up"}}
		require.NoError(t, schema.RecordChecksums(ctx, db, provider, ran))

		sums, err := schema.Checksums()
		require.NoError(t, err)
		for _, s := range sums {
			if s.Version == 2 {
				require.Equal(t, s.Sum, recorded(t, bundle.conn)[2])
			}
		}
	})

	t.Run("SkipsADatabaseWithoutChecksums", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		db := openDB(t, bundle.url)
		provider, err := schema.NewProvider(db)
		require.NoError(t, err)
		_, err = provider.DownTo(ctx, 4)
		require.NoError(t, err)
		require.NoError(t, schema.RecordChecksums(ctx, db, provider, nil))

		_, err = schema.Up(ctx, db)
		require.NoError(t, err)
		require.Len(t, recorded(t, bundle.conn), len(provider.ListSources()))
	})
}
