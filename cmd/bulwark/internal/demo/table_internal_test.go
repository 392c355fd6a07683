package demo

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestPrintTable(t *testing.T) {
	t.Parallel()

	steps := []step{
		{Who: "pat ×16", Tried: "publish one article, 16 at once", Layer: "1 ok, 15 conflict", Code: "stale_version",
			Reason: "the log shows 1 publish transition", Pass: true},
		{Who: "migration", Tried: "ALTER TABLE app.articles DISABLE TRIGGER bulwark_10_boundary; then bulwark verify, which reads the catalogs",
			Layer: "drift", Code: "verify: exit 1",
			Reason: "guard_triggers app.articles.bulwark_10_boundary: disabled: it does not fire; " +
				"fix: ALTER TABLE app.articles ENABLE TRIGGER bulwark_10_boundary; " + strings.Repeat("q", 130),
			Pass: false},
	}
	var out bytes.Buffer
	printTable(&out, steps, false)
	s := out.String()
	for line := range strings.Lines(s) {
		require.LessOrEqual(t, utf8.RuneCountInString(strings.TrimRight(line, "\n")), 80, "%q", line)
	}
	require.Contains(t, s, "→ 1 ok, 15 conflict · stale_version")
	require.Contains(t, s, "→ drift · verify: exit 1")
	require.Regexp(t, `(?m)^1  pat ×16    publish one article, 16 at once +ok$`, s)
	require.Regexp(t, `(?m)^2  migration  ALTER TABLE .* +FAIL$`, s)
	// Every word of the reason survives the wrapping, in order.
	joined := strings.Join(strings.Fields(s), " ")
	require.Contains(t, joined, "ENABLE TRIGGER bulwark_10_boundary;")
	require.Equal(t, 130, strings.Count(s, "q"), "a word longer than a line is broken, not cut")
}

func TestWrap(t *testing.T) {
	t.Parallel()

	require.Equal(t, []string{""}, wrap("", 10))
	require.Equal(t, []string{"one two", "three"}, wrap("one two three", 8))
	require.Equal(t, []string{"abcd", "efgh", "ij k"}, wrap("abcdefghij k", 4))
}
