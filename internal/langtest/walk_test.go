package langtest_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/authz"
)

// TestArticleWalk walks one article through every transition of the
// workflow, through the article service (gate, generated queries,
// transition functions), and checks that the audit log names each step.
func TestArticleWalk(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	w := newWorld(t)

	a, err := w.svc.Create(ctx, w.alice, articles.CreateRequest{Title: "Über Sprachen", Body: "Text.", IdemKey: "walk-create"}, nil)
	require.NoError(t, err)
	require.Equal(t, string(articles.StateDraft), a.State)

	a, err = w.svc.Edit(ctx, w.alice, articles.EditRequest{
		ID: a.ID, ExpectedVersion: a.Version, Slug: ptr("ueber-sprachen"), Summary: ptr("Eine Zusammenfassung."),
	}, nil)
	require.NoError(t, err)
	require.Equal(t, "ueber-sprachen", *a.Slug)

	type transition = func(context.Context, uuid.UUID, articles.TransitionRequest, *authz.DoOpts) (articles.Article, error)
	steps := []struct {
		name  string
		do    transition
		actor uuid.UUID
		state articles.State
	}{
		{"submit", w.svc.Submit, w.alice, articles.StateInReview},
		{"request_changes", w.svc.RequestChanges, w.erin, articles.StateDraft},
		{"submit", w.svc.Submit, w.alice, articles.StateInReview},
		{"approve", w.svc.Approve, w.erin, articles.StateApproved},
		{"withdraw", w.svc.Withdraw, w.erin, articles.StateDraft},
		{"submit", w.svc.Submit, w.alice, articles.StateInReview},
		{"approve", w.svc.Approve, w.erin, articles.StateApproved},
		{"publish", w.svc.Publish, w.pat, articles.StatePublished},
		{"archive", w.svc.Archive, w.pat, articles.StateArchived},
	}
	for i, step := range steps {
		before := a.Version
		req := articles.TransitionRequest{ID: a.ID, ExpectedVersion: a.Version, IdemKey: "walk-" + step.name + "-" + uuid.NewString()}
		if step.name == "request_changes" {
			req.Note = "Bitte kürzer."
		}
		a, err = step.do(ctx, step.actor, req, nil)
		require.NoError(t, err, "step %d: %s", i, step.name)
		require.Equal(t, string(step.state), a.State, "step %d: %s", i, step.name)
		require.Equal(t, before+1, a.Version, "step %d: %s", i, step.name)

		// A retry with the same key replays the result and changes
		// nothing.
		again, err := step.do(ctx, step.actor, req, nil)
		require.NoError(t, err, "replay of step %d: %s", i, step.name)
		require.Equal(t, a.ID, again.ID, "replay of step %d: %s", i, step.name)
		require.Equal(t, a.State, again.State, "replay of step %d: %s", i, step.name)
		require.Equal(t, a.Version, again.Version, "replay of step %d: %s", i, step.name)
	}
	require.NotNil(t, a.PublishedAt)
	require.NotNil(t, a.ApprovedBy)
	require.Equal(t, w.erin, *a.ApprovedBy)

	entries, err := w.q.TransitionLogByEntity(ctx, w.pool, a.ID)
	require.NoError(t, err)
	var transitions []string
	for _, e := range entries {
		transitions = append(transitions, e.Transition)
		require.NotNil(t, e.ActorID, "every step names its actor: %+v", e)
		require.NotNil(t, e.CorrelationID, "every step carries the gate's correlation id: %+v", e)
	}
	want := []string{"create", "edit"}
	for _, step := range steps {
		want = append(want, step.name)
	}
	require.Equal(t, want, transitions)
}
