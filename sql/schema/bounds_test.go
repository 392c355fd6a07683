package schema_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/internal/pgtest"
)

// TestInputBounds attacks the text bounds of issue 9: lookalike principal
// names, bidi controls in titles, and an oversize note bound for the
// append-only log. Each is refused with a class-22 SQLSTATE before any
// work, and nothing is written.
func TestInputBounds(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)

	count := func(sql string, args ...any) int {
		var n int
		require.NoError(t, conn.QueryRow(ctx, sql, args...).Scan(&n))
		return n
	}
	var alice string
	require.NoError(t, conn.QueryRow(ctx,
		`SELECT bulwark.principal_create(bulwark.principal_id('bootstrap'), 'human', 'alice')`).Scan(&alice))
	_, err = conn.Exec(ctx, `SELECT bulwark.role_grant(bulwark.principal_id('bootstrap'), $1, 'admin')`, alice)
	require.NoError(t, err)
	principals := count(`SELECT count(*) FROM bulwark.principals`)
	logRows := count(`SELECT count(*) FROM bulwark.transition_log`)

	for name, tc := range map[string]struct {
		name, state string
	}{
		"ZeroWidthSpace":  {"alice\u200b", "22023"},
		"CyrillicA":       {"\u0430lice", "22023"},
		"BidiOverride":    {"ali\u202ece", "22023"},
		"SoftHyphen":      {"al\u00adice", "22023"},
		"TooLong":         {strings.Repeat("a", 201), "22001"},
		"FullwidthFolded": {"\uff41lice", "23505"}, // NFKC makes it alice: taken
	} {
		_, err := conn.Exec(ctx, `SELECT bulwark.principal_create(bulwark.principal_id('bootstrap'), 'human', $1)`, tc.name)
		require.Equal(t, tc.state, sqlState(err), name)
	}
	require.Equal(t, principals, count(`SELECT count(*) FROM bulwark.principals`))

	// The table refuses what the API refuses, whoever writes.
	_, err = conn.Exec(ctx, `BEGIN; SELECT bulwark.maintenance_begin('bounds test: a lookalike');
		INSERT INTO bulwark.principals (kind, name) VALUES ('human', 'alice'||chr(8203)); COMMIT`)
	require.Equal(t, "23514", sqlState(err))
	_, err = conn.Exec(ctx, `ROLLBACK`)
	require.NoError(t, err)

	_, err = conn.Exec(ctx, `SELECT app.article_create($1, $2, '', NULL)`, alice, "Evil \u202etxt.exe")
	require.Equal(t, "22023", sqlState(err))
	var id string
	var version int
	require.NoError(t, conn.QueryRow(ctx, `SELECT id, version FROM app.article_create($1, 'Fine', '', NULL)`, alice).Scan(&id, &version))
	require.NoError(t, conn.QueryRow(ctx, `SELECT version FROM app.article_submit($1, $2, $3, NULL)`, alice, id, version).Scan(&version))
	before := count(`SELECT count(*) FROM bulwark.transition_log`)
	_, err = conn.Exec(ctx, `SELECT app.article_request_changes($1, $2, $3, repeat('x', 20000000), NULL)`, alice, id, version)
	require.Equal(t, "22001", sqlState(err))
	require.Equal(t, before, count(`SELECT count(*) FROM bulwark.transition_log`))
	require.Greater(t, before, logRows)
	require.Zero(t, count(`SELECT count(*) FROM bulwark.transition_log WHERE char_length(note) > 2000`))
}
