package bulwarktest_test

import (
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/bulwarktest"
)

// Checked at compile time: a PanicTB goes wherever a testing.TB does.
var _ testing.TB = (*bulwarktest.PanicTB)(nil)

func TestPanicTB(t *testing.T) {
	t.Parallel()

	// panics returns what f panicked with, or nil.
	panics := func(f func()) (failure any) {
		defer func() { failure = recover() }()
		f()
		return nil
	}

	t.Run("FailuresPanicWithTheirMessage", func(t *testing.T) {
		t.Parallel()

		tb := bulwarktest.NewPanicTB()
		defer tb.Close()
		for _, f := range []func(){
			func() { tb.Error("boom ", 1) },
			func() { tb.Errorf("boom %d", 1) },
			func() { tb.Fatal("boom ", 1) },
			func() { tb.Fatalf("boom %d", 1) },
		} {
			require.Equal(t, "bulwarktest: boom 1", panics(f))
		}
		require.NotNil(t, panics(tb.Fail))
		require.NotNil(t, panics(tb.FailNow))
		require.False(t, tb.Failed())
	})

	t.Run("RequireFailurePanics", func(t *testing.T) {
		t.Parallel()

		tb := bulwarktest.NewPanicTB()
		defer tb.Close()
		failure := panics(func() { require.Equal(tb, 1, 2, "one is not two") })
		require.Contains(t, fmt.Sprint(failure), "one is not two")
	})

	t.Run("NeverSkips", func(t *testing.T) {
		t.Parallel()

		tb := bulwarktest.NewPanicTB()
		defer tb.Close()
		require.Contains(t, fmt.Sprint(panics(func() { tb.Skip("not now") })), "cannot skip: not now")
		require.Contains(t, fmt.Sprint(panics(func() { tb.Skipf("not %s", "now") })), "cannot skip: not now")
		require.NotNil(t, panics(tb.SkipNow))
		require.False(t, tb.Skipped())
	})

	t.Run("CloseRunsCleanupsLastFirst", func(t *testing.T) {
		t.Parallel()

		tb := bulwarktest.NewPanicTB()
		var order []int
		tb.Cleanup(func() { order = append(order, 1) })
		tb.Cleanup(func() {
			order = append(order, 2)
			tb.Cleanup(func() { order = append(order, 3) }) // registered while closing
		})
		ctx := tb.Context()
		require.NoError(t, ctx.Err())
		tb.Close()
		require.Equal(t, []int{2, 3, 1}, order)
		require.Error(t, ctx.Err(), "Close cancels the context")
	})

	t.Run("CloseRunsEveryCleanupThenPanics", func(t *testing.T) {
		t.Parallel()

		tb := bulwarktest.NewPanicTB()
		ran := false
		tb.Cleanup(func() { ran = true })
		tb.Cleanup(func() { tb.Fatal("cleanup failed") })
		require.Equal(t, "bulwarktest: cleanup failed", panics(tb.Close))
		require.True(t, ran)
	})

	t.Run("CloseUndoesSetenvChdirAndTempDir", func(t *testing.T) {
		// Not parallel: the environment and the working directory are the
		// process's.
		const key = "BULWARKTEST_PANIC_TB_PROBE"
		require.NoError(t, os.Unsetenv(key))

		tb := bulwarktest.NewPanicTB()
		tb.Setenv(key, "a")
		tb.Setenv(key, "b")
		require.Equal(t, "b", os.Getenv(key))
		dir := tb.TempDir()
		require.DirExists(t, dir)
		artifacts := tb.ArtifactDir()
		require.DirExists(t, artifacts)
		wd, err := os.Getwd()
		require.NoError(t, err)
		tb.Chdir(artifacts)
		tb.Chdir(dir)
		now, err := os.Getwd()
		require.NoError(t, err)
		require.Equal(t, dir, now)
		tb.Close()

		now, err = os.Getwd()
		require.NoError(t, err)
		require.Equal(t, wd, now)
		_, set := os.LookupEnv(key)
		require.False(t, set)
		require.NoDirExists(t, dir)
		require.NoDirExists(t, artifacts)
	})

	t.Run("LogsNowhereByDefault", func(t *testing.T) {
		t.Parallel()

		tb := bulwarktest.NewPanicTB()
		defer tb.Close()
		if os.Getenv("BULWARK_DEBUG") == "" {
			require.Equal(t, io.Discard, tb.Output())
		}
		tb.Log("quiet")
		tb.Logf("quiet %d", 1)
		tb.Attr("key", "value")
		tb.Helper()
		require.Equal(t, "PanicTB", tb.Name())
	})
}
