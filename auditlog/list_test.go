package auditlog_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/auditlog"
	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/bulwarktest"
)

func ids(entries []auditlog.Entry) []int64 {
	out := make([]int64, len(entries))
	for i, e := range entries {
		out[i] = e.ID
	}
	return out
}

func TestList(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("FiltersCombine", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		a := b.article(t, articles.StatePublished)
		other := b.article(t, articles.StateInReview)

		page, err := auditlog.List(ctx, b.app, auditlog.Filter{Entity: a.ID}, nil)
		require.NoError(t, err)
		var transitions []string
		for _, e := range page.Entries {
			transitions = append(transitions, e.Transition)
			require.Equal(t, a.ID, *e.EntityID)
			require.Equal(t, "article", e.Machine)
		}
		require.Equal(t, []string{"create", "edit", "submit", "approve", "publish"}, transitions)
		require.Zero(t, page.Next, "one page holds it all")
		require.Equal(t, "alice", *page.Entries[0].ActorName, "the actor's name comes along")
		require.Nil(t, page.Entries[0].FromState)
		require.Equal(t, "draft", *page.Entries[0].ToState)

		erin, err := auditlog.ResolveActor(ctx, b.app, "erin")
		require.NoError(t, err)
		require.Equal(t, b.erin, erin)
		page, err = auditlog.List(ctx, b.app, auditlog.Filter{Actor: erin, Machine: "article"}, nil)
		require.NoError(t, err)
		require.Len(t, page.Entries, 1, "erin approved one article")
		require.Equal(t, "approve", page.Entries[0].Transition)

		page, err = auditlog.List(ctx, b.app, auditlog.Filter{Machine: "article", Transition: "submit"}, nil)
		require.NoError(t, err)
		require.Len(t, page.Entries, 2)
		page, err = auditlog.List(ctx, b.app, auditlog.Filter{Entity: other.ID, Transition: "submit"}, nil)
		require.NoError(t, err)
		require.Len(t, page.Entries, 1)

		_, err = auditlog.List(ctx, b.app, auditlog.Filter{Machine: "bulwark.principal"}, nil)
		require.NoError(t, err)
		page, err = auditlog.List(ctx, b.app, auditlog.Filter{Machine: "no_such_machine"}, nil)
		require.NoError(t, err)
		require.Empty(t, page.Entries)
	})

	t.Run("CorrelationID", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		a := b.article(t, articles.StateDraft)
		_, err := b.svc.Submit(authz.WithCorrelationID(ctx, "req-log-1"), b.alice, articles.TransitionRequest{ID: a.ID}, nil)
		require.NoError(t, err)
		page, err := auditlog.List(ctx, b.app, auditlog.Filter{CorrelationID: "req-log-1"}, nil)
		require.NoError(t, err)
		require.Len(t, page.Entries, 1)
		require.Equal(t, "submit", page.Entries[0].Transition)
		require.Equal(t, "req-log-1", *page.Entries[0].CorrelationID)
	})

	t.Run("TimeRange", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		a := b.article(t, articles.StatePublished)
		all, err := auditlog.List(ctx, b.app, auditlog.Filter{Entity: a.ID}, nil)
		require.NoError(t, err)
		require.Len(t, all.Entries, 5)
		// at is the clock at each write, in id order for one entity.
		since, until := all.Entries[1].At, all.Entries[4].At
		page, err := auditlog.List(ctx, b.app, auditlog.Filter{Entity: a.ID, Since: since, Until: until}, nil)
		require.NoError(t, err)
		require.Equal(t, ids(all.Entries[1:4]), ids(page.Entries), "since is inclusive, until exclusive")
	})

	t.Run("KeysetPages", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		for range 3 {
			b.article(t, articles.StateApproved)
		}
		all, err := auditlog.List(ctx, b.app, auditlog.Filter{Machine: "article"}, nil)
		require.NoError(t, err)
		require.Len(t, all.Entries, 12)

		var got []int64
		after := int64(0)
		pages := 0
		for {
			page, err := auditlog.List(ctx, b.app, auditlog.Filter{Machine: "article"}, &auditlog.ListOpts{After: after, Limit: 5})
			require.NoError(t, err)
			pages++
			got = append(got, ids(page.Entries)...)
			if page.Next == 0 {
				break
			}
			require.Equal(t, page.Entries[len(page.Entries)-1].ID, page.Next)
			after = page.Next
		}
		require.Equal(t, 3, pages, "5 + 5 + 2")
		require.Equal(t, ids(all.Entries), got, "every entry once, in order")

		// A page that ends exactly at the last entry says so.
		page, err := auditlog.List(ctx, b.app, auditlog.Filter{Machine: "article"}, &auditlog.ListOpts{Limit: 12})
		require.NoError(t, err)
		require.Len(t, page.Entries, 12)
		require.Zero(t, page.Next)
	})

	t.Run("RefusesBadPages", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		for _, opts := range []*auditlog.ListOpts{{Limit: -1}, {Limit: auditlog.MaxLimit + 1}, {After: -1}} {
			_, err := auditlog.List(ctx, b.app, auditlog.Filter{}, opts)
			require.Error(t, err)
		}
	})

	t.Run("UnknownActor", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		_, err := auditlog.ResolveActor(ctx, b.app, "mallory")
		require.ErrorIs(t, err, auditlog.ErrUnknownActor)
		id := uuid.New()
		got, err := auditlog.ResolveActor(ctx, b.app, id.String())
		require.NoError(t, err)
		require.Equal(t, id, got, "an id is taken as it is")
	})

	t.Run("NotInstalled", func(t *testing.T) {
		t.Parallel()

		p := pool(t, bulwarktest.EmptyDatabase(t))
		_, err := auditlog.List(ctx, p, auditlog.Filter{}, nil)
		require.ErrorIs(t, err, auditlog.ErrNotInstalled)
		_, err = auditlog.Check(ctx, p, nil)
		require.ErrorIs(t, err, auditlog.ErrNotInstalled)
	})
}
