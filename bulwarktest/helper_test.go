package bulwarktest_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/bulwarktest"
)

// requireFails runs f with a PanicTB and requires that f fails it with a
// message that contains want: the way to test that a helper of this
// package fails its test when it should.
func requireFails(t *testing.T, want string, f func(tb testing.TB)) {
	t.Helper()
	var failure any
	func() {
		tb := bulwarktest.NewPanicTB()
		defer func() { failure = recover() }()
		defer tb.Close()
		f(tb)
	}()
	require.NotNil(t, failure, "the helper did not fail; want %q", want)
	require.Contains(t, fmt.Sprint(failure), want)
}
