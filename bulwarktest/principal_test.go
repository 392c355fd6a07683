package bulwarktest_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
)

func TestPrincipal(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	type testBundle struct {
		admin *pgxpool.Pool
		q     *db.Queries
	}

	setup := func(t *testing.T) *testBundle {
		t.Helper()
		return &testBundle{admin: bulwarktest.DB(t), q: db.New()}
	}

	capabilities := func(t *testing.T, b *testBundle, id uuid.UUID) []string {
		t.Helper()
		caps, err := b.q.PrincipalCapabilities(ctx, b.admin, id)
		require.NoError(t, err)
		return caps
	}

	t.Run("CreatesAHumanWithRoles", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		id := bulwarktest.Principal(t, b.admin, "nora", "note_writer")

		p, err := b.q.PrincipalGetByID(ctx, b.admin, id)
		require.NoError(t, err)
		require.Equal(t, "nora", p.Name)
		require.Equal(t, "human", p.Kind)
		require.NotNil(t, p.DbRole)
		require.Equal(t, bulwarktest.RoleApp, *p.DbRole)
		require.Equal(t, []string{"note.create", "note.publish"}, capabilities(t, b, id))
		require.Equal(t, id, bulwarktest.PrincipalID(t, b.admin, "nora"))

		// Made through the core's functions: logged as the bootstrap
		// principal's acts.
		var logged int
		require.NoError(t, b.admin.QueryRow(ctx, `
			SELECT count(*) FROM bulwark.transition_log
			WHERE entity_id = $1 AND actor_id = (SELECT id FROM bulwark.principals WHERE name = 'bootstrap')`, id,
		).Scan(&logged))
		require.Positive(t, logged)
	})

	t.Run("CreatesOneWithoutRoles", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		require.Empty(t, capabilities(t, b, bulwarktest.Principal(t, b.admin, bulwarktest.UniqueName("reader"))))
	})

	t.Run("DeclaresAServicePrincipal", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		id := bulwarktest.ServicePrincipal(t, b.admin, "note_bot", bulwarktest.RoleJobs, "note_writer")
		p, err := b.q.PrincipalGetByID(ctx, b.admin, id)
		require.NoError(t, err)
		require.Equal(t, "service", p.Kind)
		require.NotNil(t, p.DbRole)
		require.Equal(t, bulwarktest.RoleJobs, *p.DbRole)
		require.Equal(t, []string{"note.create", "note.publish"}, capabilities(t, b, id))
	})

	t.Run("GrantsAndRevokes", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		id := bulwarktest.Principal(t, b.admin, bulwarktest.UniqueName("writer"))
		bulwarktest.Grant(t, b.admin, id, "note_writer")
		require.Equal(t, []string{"note.create", "note.publish"}, capabilities(t, b, id))
		bulwarktest.Revoke(t, b.admin, id, "note_writer")
		require.Empty(t, capabilities(t, b, id))
	})

	t.Run("DeclaresARole", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		role := bulwarktest.UniqueName("note_creator")
		bulwarktest.Role(t, b.admin, role, "note.create")
		id := bulwarktest.Principal(t, b.admin, bulwarktest.UniqueName("creator"), role)
		require.Equal(t, []string{"note.create"}, capabilities(t, b, id))
	})

	t.Run("FailsForAnUndeclaredRole", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		requireFails(t, "grant", func(tb testing.TB) {
			bulwarktest.Principal(tb, b.admin, bulwarktest.UniqueName("x"), "no_such_role")
		})
		requireFails(t, "declare role", func(tb testing.TB) {
			bulwarktest.Role(tb, b.admin, bulwarktest.UniqueName("role"), "no.such_capability")
		})
	})

	t.Run("FailsForATakenName", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		name := bulwarktest.UniqueName("twin")
		bulwarktest.Principal(t, b.admin, name)
		requireFails(t, "create principal", func(tb testing.TB) {
			bulwarktest.Principal(tb, b.admin, name)
		})
	})

	t.Run("FailsOnAnApplicationLogin", func(t *testing.T) {
		t.Parallel()

		// bootstrap acts only from the migration role's session.
		app := bulwarktest.Pool(t, bulwarktest.LoginAs(t, bulwarktest.NewDatabase(t), bulwarktest.RoleApp), nil)
		requireFails(t, "create principal", func(tb testing.TB) {
			bulwarktest.Principal(tb, app, bulwarktest.UniqueName("x"))
		})
	})

	t.Run("FailsForAMissingPrincipal", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		requireFails(t, "find principal", func(tb testing.TB) {
			bulwarktest.PrincipalID(tb, b.admin, "nobody_at_all")
		})
	})
}

func TestUniqueName(t *testing.T) {
	t.Parallel()

	seen := map[string]bool{}
	for range 100 {
		name := bulwarktest.UniqueName("p")
		require.False(t, seen[name], name)
		seen[name] = true
	}
}
