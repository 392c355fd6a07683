package pgtest

import (
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

func TestSchemaHash(t *testing.T) {
	t.Parallel()

	hash := func(fsys fstest.MapFS) string {
		t.Helper()
		h, err := schemaHash(fsys)
		require.NoError(t, err)
		return h
	}
	base := fstest.MapFS{
		"00001_a.sql": {Data: []byte("CREATE TABLE a ();")},
		"00002_b.sql": {Data: []byte("CREATE TABLE b ();")},
	}

	t.Run("IsShortAndStable", func(t *testing.T) {
		t.Parallel()

		require.Len(t, hash(base), 12)
		require.Equal(t, hash(base), hash(base))
	})

	t.Run("ChangesWithContent", func(t *testing.T) {
		t.Parallel()

		changed := fstest.MapFS{
			"00001_a.sql": base["00001_a.sql"],
			"00002_b.sql": {Data: []byte("CREATE TABLE b (id integer);")},
		}
		require.NotEqual(t, hash(base), hash(changed))
	})

	t.Run("ChangesWithNames", func(t *testing.T) {
		t.Parallel()

		renamed := fstest.MapFS{
			"00001_a.sql": base["00001_a.sql"],
			"00003_b.sql": base["00002_b.sql"],
		}
		require.NotEqual(t, hash(base), hash(renamed))
	})
}
