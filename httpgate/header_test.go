package httpgate_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/fault"
	"github.com/bulwarkdb/bulwark/httpgate"
)

func requestWith(name string, values ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	for _, v := range values {
		r.Header.Add(name, v)
	}
	return r
}

func requireInvalid(t *testing.T, err error, code string) {
	t.Helper()
	var e *fault.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, fault.LayerInvalid, e.Layer)
	require.Equal(t, code, e.Code)
	require.ErrorIs(t, err, fault.ErrInvalid)
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()

	t.Run("Reads", func(t *testing.T) {
		t.Parallel()

		for header, want := range map[string]string{
			"8e03978e-40d5-43e8":     "8e03978e-40d5-43e8",
			` request-7f3a `:         "request-7f3a",
			`"8e03978e-40d5"`:        "8e03978e-40d5",
			`"say \"hi\" \\ there"`:  `say "hi" \ there`,
			strings.Repeat("k", 200): strings.Repeat("k", 200),
			"schlüssel-ü":            "schlüssel-ü",
		} {
			key, err := httpgate.IdempotencyKey(requestWith(httpgate.HeaderIdempotencyKey, header))
			require.NoError(t, err, header)
			require.Equal(t, want, key)
		}
		key, err := httpgate.IdempotencyKey(requestWith(httpgate.HeaderIdempotencyKey))
		require.NoError(t, err)
		require.Empty(t, key, "no header, no key")
	})

	t.Run("RefusesMalformed", func(t *testing.T) {
		t.Parallel()

		for _, header := range []string{
			"", `""`, `"unterminated`, `"bad \n escape"`, `"bad \x escape"`, `"a"b"`, "tab\there",
			strings.Repeat("k", 201), "\x7f", "bad\xffutf8",
		} {
			_, err := httpgate.IdempotencyKey(requestWith(httpgate.HeaderIdempotencyKey, header))
			requireInvalid(t, err, httpgate.CodeInvalidIdempotencyKey)
		}
		_, err := httpgate.IdempotencyKey(requestWith(httpgate.HeaderIdempotencyKey, "a", "b"))
		requireInvalid(t, err, httpgate.CodeInvalidIdempotencyKey)
	})
}

func TestIfMatch(t *testing.T) {
	t.Parallel()

	t.Run("Reads", func(t *testing.T) {
		t.Parallel()

		for header, want := range map[string]int32{`"3"`: 3, ` "12" `: 12, "*": 0, `"2147483647"`: 2147483647} {
			v, err := httpgate.IfMatch(requestWith(httpgate.HeaderIfMatch, header))
			require.NoError(t, err, header)
			require.Equal(t, want, v)
		}
		v, err := httpgate.IfMatch(requestWith(httpgate.HeaderIfMatch))
		require.NoError(t, err)
		require.Zero(t, v)
	})

	t.Run("RefusesWhatNoVersionMatches", func(t *testing.T) {
		t.Parallel()

		for _, header := range []string{
			`W/"3"`, `"3", "4"`, `3`, `"0"`, `"-1"`, `"+3"`, `"03"`, `"2147483648"`, `"abc"`, `""`, `"`, "",
		} {
			_, err := httpgate.IfMatch(requestWith(httpgate.HeaderIfMatch, header))
			requireInvalid(t, err, httpgate.CodeInvalidIfMatch)
		}
		_, err := httpgate.IfMatch(requestWith(httpgate.HeaderIfMatch, `"3"`, `"4"`))
		requireInvalid(t, err, httpgate.CodeInvalidIfMatch)
	})

	t.Run("RoundTripsETag", func(t *testing.T) {
		t.Parallel()

		w := httptest.NewRecorder()
		httpgate.SetETag(w, 7)
		require.Equal(t, `"7"`, w.Header().Get("ETag"))
		v, err := httpgate.IfMatch(requestWith(httpgate.HeaderIfMatch, httpgate.ETag(7)))
		require.NoError(t, err)
		require.EqualValues(t, 7, v)
	})
}

func TestCorrelate(t *testing.T) {
	t.Parallel()

	seen := ""
	h := httpgate.Correlate(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		seen = authz.CorrelationID(r.Context())
	}))
	serve := func(header string) string {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if header != "" {
			r.Header.Set(httpgate.HeaderRequestID, header)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		require.Equal(t, seen, w.Header().Get(httpgate.HeaderRequestID), "the response echoes the id")
		return seen
	}

	require.Equal(t, "req-7f3a:1/2", serve("req-7f3a:1/2"), "a plain token is taken over")
	for _, bad := range []string{"", "two words", "drop'table", strings.Repeat("x", 201), "ünïcode"} {
		id := serve(bad)
		require.NotEqual(t, bad, id)
		require.Len(t, id, 36, "a new UUID for %q", bad)
	}
	require.NotEqual(t, serve(""), serve(""), "each request gets its own")

	// Under a trace, the trace id is the correlation id: the handler, the
	// audit log and the response agree on it.
	traceID, err := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	require.NoError(t, err)
	spanID, err := trace.SpanIDFromHex("00f067aa0ba902b7")
	require.NoError(t, err)
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled})
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r = r.WithContext(trace.ContextWithSpanContext(r.Context(), sc))
	r.Header.Set(httpgate.HeaderRequestID, "req-7f3a")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", seen)
	require.Equal(t, seen, w.Header().Get(httpgate.HeaderRequestID))
}
