package bench_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/cmd/bulwark/internal/bench"
)

// articleMachine is the article workflow as migration 00002 declares it,
// plus the edit of a draft, as the bench reads it from the database.
var articleMachine = bench.NewMachine(
	bench.Step{Name: "submit", From: "draft", To: "in_review"},
	bench.Step{Name: "request_changes", From: "in_review", To: "draft"},
	bench.Step{Name: "approve", From: "in_review", To: "approved"},
	bench.Step{Name: "withdraw", From: "approved", To: "draft"},
	bench.Step{Name: "publish", From: "approved", To: "published"},
	bench.Step{Name: "archive", From: "published", To: "archived"},
	bench.Step{Name: "archive", From: "draft", To: "archived"},
	bench.Step{Name: "edit", From: "draft", To: "draft"},
)

func TestMachineCheck(t *testing.T) {
	t.Parallel()

	article := uuid.New()
	// claim is the success of request key: step name from from to to,
	// decided on version fromVersion, committed at seq, leaving version
	// fromVersion+1 as a guarded row would.
	claim := func(key string, seq int64, name, from, to string, fromVersion int32) bench.Claim {
		return bench.Claim{
			Step:        bench.Step{Name: name, From: from, To: to},
			Article:     article,
			FromVersion: fromVersion,
			Key:         key,
			Seq:         seq,
			Version:     fromVersion + 1,
		}
	}
	start := bench.Snapshot{State: "draft", Version: 2}
	// legal is submit, approve, publish from a draft at version 2.
	legal := func() []bench.Claim {
		return []bench.Claim{
			claim("a", 10, "submit", "draft", "in_review", 2),
			claim("b", 11, "approve", "in_review", "approved", 3),
			claim("c", 12, "publish", "approved", "published", 4),
		}
	}
	published := bench.Snapshot{State: "published", Version: 5}

	t.Run("AcceptsLegalChain", func(t *testing.T) {
		t.Parallel()

		got := articleMachine.Check(bench.History{Initial: start, Final: published, Claims: legal()})
		require.Zero(t, got.Total(), "%+v", got)
	})

	t.Run("AcceptsNoClaims", func(t *testing.T) {
		t.Parallel()

		got := articleMachine.Check(bench.History{Initial: start, Final: start})
		require.Zero(t, got.Total(), "%+v", got)
	})

	t.Run("AcceptsRetryAnsweredWithTheOriginal", func(t *testing.T) {
		t.Parallel()

		claims := append(legal(), claim("b", 11, "approve", "in_review", "approved", 3))
		got := articleMachine.Check(bench.History{Initial: start, Final: published, Claims: claims})
		require.Zero(t, got.Total(), "%+v", got)
	})

	t.Run("FlagsAppliedTwice", func(t *testing.T) {
		t.Parallel()

		// A retried edit that the naive path applied again.
		claims := []bench.Claim{
			claim("e", 1, "edit", "draft", "draft", 2),
			claim("e", 2, "edit", "draft", "draft", 2),
		}
		claims[1].Version = 4
		got := articleMachine.Check(bench.History{Initial: start, Final: bench.Snapshot{State: "draft", Version: 4}, Claims: claims})
		require.Equal(t, bench.Violations{AppliedTwice: 1, LostUpdate: 1}, got)
	})

	t.Run("FlagsFinalState", func(t *testing.T) {
		t.Parallel()

		// A write no client was told about: the article moved on.
		got := articleMachine.Check(bench.History{Initial: start, Final: bench.Snapshot{State: "archived", Version: 6}, Claims: legal()})
		require.Equal(t, bench.Violations{FinalState: 1}, got)
	})

	t.Run("FlagsIllegalTransition", func(t *testing.T) {
		t.Parallel()

		claims := []bench.Claim{claim("p", 1, "publish", "draft", "published", 2)}
		got := articleMachine.Check(bench.History{Initial: start, Final: bench.Snapshot{State: "published", Version: 3}, Claims: claims})
		require.Equal(t, bench.Violations{IllegalTransition: 1}, got)
	})

	t.Run("FlagsLostUpdate", func(t *testing.T) {
		t.Parallel()

		// Two submits decided on version 2; the second was applied after
		// a request for changes it never saw. Every state matches.
		claims := []bench.Claim{
			claim("a", 1, "submit", "draft", "in_review", 2),
			claim("b", 2, "request_changes", "in_review", "draft", 3),
			claim("c", 3, "submit", "draft", "in_review", 2),
		}
		claims[2].Version = 5
		got := articleMachine.Check(bench.History{Initial: start, Final: bench.Snapshot{State: "in_review", Version: 5}, Claims: claims})
		require.Equal(t, bench.Violations{LostUpdate: 1}, got)
	})

	t.Run("FlagsSharedCommit", func(t *testing.T) {
		t.Parallel()

		claims := append(legal(), claim("other", 11, "approve", "in_review", "approved", 3))
		got := articleMachine.Check(bench.History{Initial: start, Final: published, Claims: claims})
		require.Equal(t, bench.Violations{SharedCommit: 1}, got)
	})

	t.Run("FlagsUnrecorded", func(t *testing.T) {
		t.Parallel()

		claims := append(legal(), claim("ghost", 0, "archive", "published", "archived", 5))
		got := articleMachine.Check(bench.History{Initial: start, Final: published, Claims: claims})
		require.Equal(t, bench.Violations{Unrecorded: 1}, got)
	})

	t.Run("FlagsWrongState", func(t *testing.T) {
		t.Parallel()

		// Approve and request changes raced on version 3 of an article in
		// review, and both were told they won: the request for changes
		// moved an approved article to draft.
		claims := []bench.Claim{
			claim("a", 1, "submit", "draft", "in_review", 2),
			claim("b", 2, "approve", "in_review", "approved", 3),
			claim("c", 3, "request_changes", "in_review", "draft", 3),
		}
		claims[2].Version = 5
		got := articleMachine.Check(bench.History{Initial: start, Final: bench.Snapshot{State: "draft", Version: 5}, Claims: claims})
		require.Equal(t, bench.Violations{LostUpdate: 1, WrongState: 1}, got)
	})

	t.Run("OrdersByCommitNotByArrival", func(t *testing.T) {
		t.Parallel()

		claims := legal()
		claims[0], claims[2] = claims[2], claims[0]
		got := articleMachine.Check(bench.History{Initial: start, Final: published, Claims: claims})
		require.Zero(t, got.Total(), "%+v", got)
	})
}

func TestViolationsTotal(t *testing.T) {
	t.Parallel()

	v := bench.Violations{AppliedTwice: 1, FinalState: 2, IllegalTransition: 3, LostUpdate: 4, SharedCommit: 5, Unrecorded: 6, WrongState: 7}
	require.Equal(t, 28, v.Total())
	require.Equal(t, 56, v.Add(v).Total())
}
