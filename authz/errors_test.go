package authz_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/fault"
)

func TestErrorConstructors(t *testing.T) {
	t.Parallel()

	t.Run("Denied", func(t *testing.T) {
		t.Parallel()

		d := authz.Deny("not_draft", "only a draft can be submitted")
		require.False(t, d.Allowed)
		err := authz.Denied(d)
		require.Equal(t, &fault.Error{Layer: fault.LayerPolicy, Code: "not_draft", Reason: "only a draft can be submitted"}, err)
		require.ErrorIs(t, err, fault.ErrPolicy)
		require.NotErrorIs(t, err, fault.ErrPermission)
		require.Equal(t, "bulwark: policy (not_draft): only a draft can be submitted", err.Error())
		require.True(t, authz.Allow().Allowed)
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()

		err := authz.Invalid("title_missing", "a title is required")
		require.Equal(t, &fault.Error{Layer: fault.LayerInvalid, Code: "title_missing", Reason: "a title is required"}, err)
		require.ErrorIs(t, err, fault.ErrInvalid)
		require.False(t, err.Retryable())
	})
}
