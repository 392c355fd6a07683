package fault_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/fault"
)

func TestError(t *testing.T) {
	t.Parallel()

	t.Run("MatchesOnlyItsLayersSentinel", func(t *testing.T) {
		t.Parallel()

		for _, layer := range fault.Layers() {
			err := fmt.Errorf("act: %w", &fault.Error{Layer: layer, Code: "c", Reason: "r"})
			for _, other := range fault.Layers() {
				if other == layer {
					require.ErrorIs(t, err, other.Sentinel())
				} else {
					require.NotErrorIs(t, err, other.Sentinel(), "%s matches %s", layer, other)
				}
			}
			require.Equal(t, layer, fault.LayerOf(err))
		}
	})

	t.Run("UnknownLayerMatchesNoSentinel", func(t *testing.T) {
		t.Parallel()

		err := &fault.Error{Layer: "mystery", Code: "x"}
		for _, layer := range fault.Layers() {
			require.NotErrorIs(t, err, layer.Sentinel())
		}
		require.False(t, errors.Is(err, nil))
	})

	t.Run("Message", func(t *testing.T) {
		t.Parallel()

		err := &fault.Error{Layer: fault.LayerPolicy, Code: "not_draft", Reason: "only a draft can be submitted"}
		require.Equal(t, "bulwark: policy (not_draft): only a draft can be submitted", err.Error())
	})

	t.Run("UnwrapsToItsCause", func(t *testing.T) {
		t.Parallel()

		err := fmt.Errorf("publish: %w", &fault.Error{Layer: fault.LayerUnavailable, Code: fault.CodeRetriesExhausted, Cause: context.DeadlineExceeded})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorIs(t, err, fault.ErrUnavailable)
		require.Empty(t, fault.LayerOf(context.DeadlineExceeded))
	})
}

func TestIsRetryable(t *testing.T) {
	t.Parallel()

	conflict := func(code string, final bool) error {
		return &fault.Error{Layer: fault.LayerConflict, Code: code, Final: final}
	}

	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"Deadlock", conflict(fault.CodeDeadlock, false), true},
		{"FinalConflict", conflict(fault.CodeIdempotencyKeyReused, true), false},
		{"FinalElsewhereIsFinal", &fault.Error{Layer: fault.LayerInvariant, Code: fault.CodeIllegalTransition}, false},
		{"Invalid", &fault.Error{Layer: fault.LayerInvalid, Code: fault.CodeInvalidInput}, false},
		{"NameTaken", conflict(fault.CodeNameTaken, true), false},
		{"Nil", nil, false},
		{"NotFound", &fault.Error{Layer: fault.LayerNotFound, Code: fault.CodeNotFound}, false},
		{"Permission", &fault.Error{Layer: fault.LayerPermission, Code: fault.CodeMissingCapability}, false},
		{"Policy", &fault.Error{Layer: fault.LayerPolicy, Code: "not_draft"}, false},
		{"SerializationFailure", conflict(fault.CodeSerializationFailure, false), true},
		{"StaleVersion", conflict(fault.CodeStaleVersion, false), true},
		{"Unavailable", &fault.Error{Layer: fault.LayerUnavailable, Code: fault.CodeRetriesExhausted}, true},
		{"UnavailableFinal", &fault.Error{Layer: fault.LayerUnavailable, Code: fault.CodeRetriesExhausted, Final: true}, false},
		{"UnknownLayer", &fault.Error{Layer: "mystery", Code: "x"}, false},
		{"Unlayered", errors.New("connection reset"), false},
		{"Wrapped", fmt.Errorf("retry: %w", conflict(fault.CodeStaleVersion, false)), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			require.Equal(t, tt.want, fault.IsRetryable(tt.err))
		})
	}
}

func TestHTTPStatus(t *testing.T) {
	t.Parallel()

	layered := func(layer fault.Layer, code string) error {
		return &fault.Error{Layer: layer, Code: code, Reason: "test"}
	}

	for _, tt := range []struct {
		name string
		err  error
		want int
	}{
		{"Conflict", layered(fault.LayerConflict, fault.CodeStaleVersion), http.StatusConflict},
		{"ConflictFinal", &fault.Error{Layer: fault.LayerConflict, Code: fault.CodeIdempotencyKeyReused, Final: true}, http.StatusConflict},
		{"ContextCanceled", context.Canceled, http.StatusInternalServerError},
		{"Invalid", layered(fault.LayerInvalid, "title_missing"), http.StatusBadRequest},
		{"Invariant", layered(fault.LayerInvariant, fault.CodeIllegalTransition), http.StatusInternalServerError},
		{"Nil", nil, http.StatusOK},
		{"NotFound", layered(fault.LayerNotFound, fault.CodeNotFound), http.StatusNotFound},
		{"Permission", layered(fault.LayerPermission, fault.CodeMissingCapability), http.StatusForbidden},
		{"Policy", layered(fault.LayerPolicy, "not_draft"), http.StatusUnprocessableEntity},
		{"Unavailable", layered(fault.LayerUnavailable, fault.CodeRetriesExhausted), http.StatusServiceUnavailable},
		{"Unlayered", errors.New("connection reset"), http.StatusInternalServerError},
		{"UnknownLayer", layered("mystery", "x"), http.StatusInternalServerError},
		{"Wrapped", fmt.Errorf("submit article: %w", layered(fault.LayerNotFound, fault.CodeNotFound)), http.StatusNotFound},
		{"WrappedUnlayered", fmt.Errorf("load: %w", context.DeadlineExceeded), http.StatusInternalServerError},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			require.Equal(t, tt.want, fault.HTTPStatus(tt.err))
		})
	}
}
