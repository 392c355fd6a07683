package httpgate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/fault"
	"github.com/bulwarkdb/bulwark/httpgate"
)

// answer writes err for a request carrying header and returns the
// response and its decoded problem.
func answer(t *testing.T, err error, header http.Header, opts *httpgate.ProblemOpts) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/articles/1/publish", nil)
	for k, vs := range header {
		r.Header[k] = vs
	}
	r = r.WithContext(authz.WithCorrelationID(r.Context(), "req-42"))
	w := httptest.NewRecorder()
	httpgate.WriteError(w, r, err, opts)
	var body map[string]any
	require.NoError(t, json.NewDecoder(w.Body).Decode(&body))
	return w, body
}

func TestWriteError(t *testing.T) {
	t.Parallel()

	stale := &fault.Error{Layer: fault.LayerConflict, Code: fault.CodeStaleVersion, Reason: "article x is at version 4, not 3"}

	t.Run("EveryLayerHasItsStatusTypeAndTitle", func(t *testing.T) {
		t.Parallel()

		for _, tc := range []struct {
			err    *fault.Error
			status int
			title  string
		}{
			{authz.Invalid(fault.CodeTooLong, "title is longer than 300 characters"), 400, "Invalid request"},
			{&fault.Error{Layer: fault.LayerPermission, Code: fault.CodeMissingCapability, Reason: "principal alice lacks capability article.publish"}, 403, "Permission denied"},
			{&fault.Error{Layer: fault.LayerNotFound, Code: fault.CodeNotFound, Reason: "no article"}, 404, "Not found"},
			{stale, 409, "Conflict"},
			{authz.Denied(authz.Deny("wrong_state", "cannot publish an article that is draft")), 422, "Refused by policy"},
		} {
			res, body := answer(t, fmt.Errorf("publish article: %w", tc.err), nil, nil)
			require.Equal(t, tc.status, res.Code, tc.err.Code)
			require.Equal(t, httpgate.ContentType, res.Header().Get("Content-Type"))
			require.Equal(t, "urn:bulwark:problem:"+string(tc.err.Layer)+"/"+tc.err.Code, body["type"])
			require.Equal(t, tc.title, body["title"])
			require.EqualValues(t, tc.status, body["status"])
			require.Equal(t, tc.err.Reason, body["detail"])
			require.Equal(t, string(tc.err.Layer), body["layer"])
			require.Equal(t, tc.err.Code, body["code"])
			require.Equal(t, tc.err.Retryable(), body["retryable"])
			require.Equal(t, "req-42", body["correlation_id"])
		}
	})

	t.Run("RetryableConflictSaysRetryAfter", func(t *testing.T) {
		t.Parallel()

		res, body := answer(t, stale, nil, &httpgate.ProblemOpts{RetryAfter: 1500 * time.Millisecond})
		require.Equal(t, http.StatusConflict, res.Code)
		require.Equal(t, "2", res.Header().Get("Retry-After"), "rounded up to whole seconds")
		require.Equal(t, true, body["retryable"])

		res, _ = answer(t, stale, nil, nil)
		require.Equal(t, "1", res.Header().Get("Retry-After"))
	})

	t.Run("ConflictARetryMeetsAgainHasNoRetryAfter", func(t *testing.T) {
		t.Parallel()

		reused := &fault.Error{Layer: fault.LayerConflict, Code: fault.CodeIdempotencyKeyReused, Final: true, Reason: "idempotency key reused with different arguments"}
		res, body := answer(t, reused, nil, nil)
		require.Equal(t, http.StatusConflict, res.Code)
		require.Empty(t, res.Header().Get("Retry-After"))
		require.Equal(t, false, body["retryable"])
	})

	t.Run("StaleVersionPinnedByIfMatchIs412", func(t *testing.T) {
		t.Parallel()

		res, body := answer(t, stale, http.Header{"If-Match": {`"3"`}}, nil)
		require.Equal(t, http.StatusPreconditionFailed, res.Code)
		require.Empty(t, res.Header().Get("Retry-After"), "the same request fails again")
		require.Equal(t, "Precondition failed", body["title"])
		require.Equal(t, "urn:bulwark:problem:conflict/stale_version", body["type"])
		require.Equal(t, false, body["retryable"])

		// If-Match: * pins no version: a lost race stays a 409.
		res, _ = answer(t, stale, http.Header{"If-Match": {"*"}}, nil)
		require.Equal(t, http.StatusConflict, res.Code)
	})

	t.Run("InvariantHidesItsReason", func(t *testing.T) {
		t.Parallel()

		err := &fault.Error{Layer: fault.LayerInvariant, Code: fault.CodeIntegrity, SQLState: "23514",
			Reason: "the database refused the change: constraint article_title_length"}
		res, body := answer(t, err, nil, nil)
		require.Equal(t, http.StatusInternalServerError, res.Code)
		require.Equal(t, "urn:bulwark:problem:invariant/integrity_violation", body["type"])
		require.NotContains(t, body["detail"], "article_title_length")
		require.Contains(t, body["detail"], "correlation id")
	})

	t.Run("UnavailableIs503AndHidesItsReason", func(t *testing.T) {
		t.Parallel()

		err := &fault.Error{Layer: fault.LayerUnavailable, Code: fault.CodeRetriesExhausted,
			Reason: "dial tcp 10.0.0.7:5432: connection refused", Cause: errors.New("dial tcp 10.0.0.7:5432: connection refused")}
		res, body := answer(t, fmt.Errorf("publish article: %w", err), nil, nil)
		require.Equal(t, http.StatusServiceUnavailable, res.Code)
		require.Equal(t, "1", res.Header().Get("Retry-After"))
		require.Equal(t, "urn:bulwark:problem:unavailable/retries_exhausted", body["type"])
		require.Equal(t, "Service unavailable", body["title"])
		require.Equal(t, "unavailable", body["layer"])
		require.Equal(t, true, body["retryable"])
		require.NotContains(t, body["detail"], "10.0.0.7")
		require.Contains(t, body["detail"], "try again later")
	})

	t.Run("UnlayeredErrorIsInternal", func(t *testing.T) {
		t.Parallel()

		res, body := answer(t, fmt.Errorf("load article: %w", errors.New(`dial tcp 10.0.0.7:5432: connection refused`)), nil,
			&httpgate.ProblemOpts{TypeBase: "https://api.example.com/problems/"})
		require.Equal(t, http.StatusInternalServerError, res.Code)
		require.Equal(t, "https://api.example.com/problems/internal", body["type"])
		require.Equal(t, "internal", body["code"])
		require.NotContains(t, body["detail"], "10.0.0.7")
		require.Equal(t, false, body["retryable"])
		require.Nil(t, body["layer"])
	})

	t.Run("NoCorrelationIDNoMember", func(t *testing.T) {
		t.Parallel()

		r := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(context.Background())
		p := httpgate.NewProblem(r, stale, nil)
		b, err := json.Marshal(p)
		require.NoError(t, err)
		require.NotContains(t, string(b), "correlation_id")
	})
}
