package authz_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/db"
)

func TestHTTPStatus(t *testing.T) {
	t.Parallel()

	layered := func(layer authz.Layer, code string) error {
		return &authz.Error{Layer: layer, Code: code, Reason: "test"}
	}

	for _, tt := range []struct {
		name string
		err  error
		want int
	}{
		{"Conflict", layered(authz.LayerConflict, db.CodeStaleVersion), http.StatusConflict},
		{"ConflictNotRetryable", layered(authz.LayerConflict, db.CodeIdempotencyKeyReused), http.StatusConflict},
		{"ContextCanceled", context.Canceled, http.StatusInternalServerError},
		{"Denied", authz.Denied(authz.Deny("not_author", "only the author")), http.StatusUnprocessableEntity},
		{"Invalid", authz.Invalid("title_missing", "a title is required"), http.StatusBadRequest},
		{"Invariant", layered(authz.LayerInvariant, db.CodeIllegalTransition), http.StatusInternalServerError},
		{"Nil", nil, http.StatusOK},
		{"NotFound", layered(authz.LayerNotFound, db.CodeNotFound), http.StatusNotFound},
		{"Permission", layered(authz.LayerPermission, db.CodeMissingCapability), http.StatusForbidden},
		{"Policy", layered(authz.LayerPolicy, "not_draft"), http.StatusUnprocessableEntity},
		{"Unlayered", errors.New("connection reset"), http.StatusInternalServerError},
		{"UnknownLayer", layered("mystery", "x"), http.StatusInternalServerError},
		{"Wrapped", fmt.Errorf("submit article: %w", layered(authz.LayerNotFound, db.CodeNotFound)), http.StatusNotFound},
		{"WrappedUnlayered", fmt.Errorf("load: %w", context.DeadlineExceeded), http.StatusInternalServerError},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			require.Equal(t, tt.want, authz.HTTPStatus(tt.err))
		})
	}
}

func TestIsRetryable(t *testing.T) {
	t.Parallel()

	conflict := func(code string) error {
		return &authz.Error{Layer: authz.LayerConflict, Code: code}
	}

	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"Deadlock", conflict(db.CodeDeadlock), true},
		{"IdempotencyKeyReused", conflict(db.CodeIdempotencyKeyReused), false},
		{"Invariant", &authz.Error{Layer: authz.LayerInvariant, Code: db.CodeIllegalTransition}, false},
		{"NameTaken", conflict(db.CodeNameTaken), false},
		{"Nil", nil, false},
		{"Permission", &authz.Error{Layer: authz.LayerPermission, Code: db.CodeMissingCapability}, false},
		{"Policy", authz.Denied(authz.Deny("not_draft", "only a draft")), false},
		{"SerializationFailure", conflict(db.CodeSerializationFailure), true},
		{"StaleVersion", conflict(db.CodeStaleVersion), true},
		{"Unlayered", errors.New("connection reset"), false},
		{"Wrapped", fmt.Errorf("retry: %w", conflict(db.CodeStaleVersion)), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			require.Equal(t, tt.want, authz.IsRetryable(tt.err))
		})
	}
}

func TestErrorConstructors(t *testing.T) {
	t.Parallel()

	t.Run("Denied", func(t *testing.T) {
		t.Parallel()

		d := authz.Deny("not_draft", "only a draft can be submitted")
		require.False(t, d.Allowed)
		err := authz.Denied(d)
		require.Equal(t, &authz.Error{Layer: authz.LayerPolicy, Code: "not_draft", Reason: "only a draft can be submitted"}, err)
		require.ErrorIs(t, err, authz.ErrPolicy)
		require.NotErrorIs(t, err, authz.ErrPermission)
		require.Equal(t, "bulwark: policy (not_draft): only a draft can be submitted", err.Error())
		require.True(t, authz.Allow().Allowed)
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()

		err := authz.Invalid("title_missing", "a title is required")
		require.Equal(t, &authz.Error{Layer: authz.LayerInvalid, Code: "title_missing", Reason: "a title is required"}, err)
		require.ErrorIs(t, err, authz.ErrInvalid)
		require.ErrorIs(t, err, db.ErrInvalid, "authz re-exports db's sentinels")
	})

	t.Run("SentinelsAreDBs", func(t *testing.T) {
		t.Parallel()

		require.Same(t, db.ErrConflict, authz.ErrConflict)
		require.Same(t, db.ErrInvariant, authz.ErrInvariant)
		require.Same(t, db.ErrNotFound, authz.ErrNotFound)
		require.Same(t, db.ErrPermission, authz.ErrPermission)
		require.Same(t, db.ErrPolicy, authz.ErrPolicy)
	})
}
