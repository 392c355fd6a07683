package articles_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/fault"
)

type doFunc func(ctx context.Context, b *testBundle, actor uuid.UUID, id uuid.UUID, version int32, note string) (articles.Article, error)

func transitionDo(pick func(*articles.Service) func(context.Context, uuid.UUID, articles.TransitionRequest, *authz.DoOpts) (articles.Article, error)) doFunc {
	return func(ctx context.Context, b *testBundle, actor, id uuid.UUID, version int32, note string) (articles.Article, error) {
		return pick(b.svc)(ctx, actor, articles.TransitionRequest{ID: id, ExpectedVersion: version, Note: note}, nil)
	}
}

// actionCases describes, per state-changing action, a state it works from,
// who may do it, who lacks the capability, who has the capability but is
// refused by the policy (and why), and a state it cannot start from.
type actionCase struct {
	name        string
	from        articles.State
	ok          func(*testBundle) uuid.UUID
	noCap       func(*testBundle) uuid.UUID
	denied      func(*testing.T, *testBundle) (articles.Article, uuid.UUID)
	deniedCode  string
	illegalFrom articles.State
	do          doFunc
}

func actionCases() []actionCase {
	return []actionCase{
		{
			name: "Edit", from: articles.StateDraft,
			ok: func(b *testBundle) uuid.UUID { return b.alice }, noCap: func(b *testBundle) uuid.UUID { return b.pat },
			denied: deniedTo(articles.StateDraft, (*testBundle).bobID), deniedCode: articles.CodeNotAuthor,
			illegalFrom: articles.StatePublished,
			do: func(ctx context.Context, b *testBundle, actor, id uuid.UUID, version int32, note string) (articles.Article, error) {
				return b.svc.Edit(ctx, actor, articles.EditRequest{ID: id, ExpectedVersion: version, Title: ptr("Edited" + note)}, nil)
			},
		},
		{
			name: "Submit", from: articles.StateDraft,
			ok: func(b *testBundle) uuid.UUID { return b.alice }, noCap: func(b *testBundle) uuid.UUID { return b.erin },
			denied: deniedTo(articles.StateDraft, (*testBundle).bobID), deniedCode: articles.CodeNotAuthor,
			illegalFrom: articles.StateApproved,
			do: transitionDo(func(s *articles.Service) func(context.Context, uuid.UUID, articles.TransitionRequest, *authz.DoOpts) (articles.Article, error) {
				return s.Submit
			}),
		},
		{
			name: "RequestChanges", from: articles.StateInReview,
			ok: func(b *testBundle) uuid.UUID { return b.erin }, noCap: func(b *testBundle) uuid.UUID { return b.bob },
			denied: ownBySneaky(articles.StateInReview), deniedCode: articles.CodeOwnArticle,
			illegalFrom: articles.StateDraft,
			do: transitionDo(func(s *articles.Service) func(context.Context, uuid.UUID, articles.TransitionRequest, *authz.DoOpts) (articles.Article, error) {
				return s.RequestChanges
			}),
		},
		{
			name: "Approve", from: articles.StateInReview,
			ok: func(b *testBundle) uuid.UUID { return b.erin }, noCap: func(b *testBundle) uuid.UUID { return b.pat },
			denied: ownBySneaky(articles.StateInReview), deniedCode: articles.CodeOwnArticle,
			illegalFrom: articles.StatePublished,
			do: transitionDo(func(s *articles.Service) func(context.Context, uuid.UUID, articles.TransitionRequest, *authz.DoOpts) (articles.Article, error) {
				return s.Approve
			}),
		},
		{
			name: "Withdraw", from: articles.StateApproved,
			ok: func(b *testBundle) uuid.UUID { return b.erin }, noCap: func(b *testBundle) uuid.UUID { return b.alice },
			denied: ownBySneaky(articles.StateApproved), deniedCode: articles.CodeOwnArticle,
			illegalFrom: articles.StateInReview,
			do: transitionDo(func(s *articles.Service) func(context.Context, uuid.UUID, articles.TransitionRequest, *authz.DoOpts) (articles.Article, error) {
				return s.Withdraw
			}),
		},
		{
			name: "Publish", from: articles.StateApproved,
			ok: func(b *testBundle) uuid.UUID { return b.pat }, noCap: func(b *testBundle) uuid.UUID { return b.erin },
			denied: incompleteApproved, deniedCode: articles.CodeIncompleteMetadata,
			illegalFrom: articles.StateInReview,
			do: transitionDo(func(s *articles.Service) func(context.Context, uuid.UUID, articles.TransitionRequest, *authz.DoOpts) (articles.Article, error) {
				return s.Publish
			}),
		},
		{
			name: "Archive", from: articles.StateDraft,
			ok: func(b *testBundle) uuid.UUID { return b.alice }, noCap: func(b *testBundle) uuid.UUID { return b.erin },
			denied: deniedTo(articles.StateDraft, (*testBundle).bobID), deniedCode: articles.CodeNotAuthor,
			illegalFrom: articles.StateApproved,
			do: transitionDo(func(s *articles.Service) func(context.Context, uuid.UUID, articles.TransitionRequest, *authz.DoOpts) (articles.Article, error) {
				return s.Archive
			}),
		},
	}
}

func (b *testBundle) bobID() uuid.UUID { return b.bob }

// deniedTo: an article by alice in state, and an actor the policy refuses.
func deniedTo(state articles.State, actor func(*testBundle) uuid.UUID) func(*testing.T, *testBundle) (articles.Article, uuid.UUID) {
	return func(t *testing.T, b *testBundle) (articles.Article, uuid.UUID) {
		return b.inState(t, state), actor(b)
	}
}

// ownBySneaky: an article by sneaky (author and editor) in state, and
// sneaky, who may review but never their own.
func ownBySneaky(state articles.State) func(*testing.T, *testBundle) (articles.Article, uuid.UUID) {
	return func(t *testing.T, b *testBundle) (articles.Article, uuid.UUID) {
		return b.inStateBy(t, b.sneaky, state), b.sneaky
	}
}

// incompleteApproved: an approved article without slug or summary, and a
// publisher.
func incompleteApproved(t *testing.T, b *testBundle) (articles.Article, uuid.UUID) {
	ctx := context.Background()
	a, err := b.svc.Create(ctx, b.alice, articles.CreateRequest{Title: "Incomplete"}, nil)
	require.NoError(t, err)
	a, err = b.svc.Submit(ctx, b.alice, articles.TransitionRequest{ID: a.ID}, nil)
	require.NoError(t, err)
	a, err = b.svc.Approve(ctx, b.erin, articles.TransitionRequest{ID: a.ID}, nil)
	require.NoError(t, err)
	return a, b.pat
}

// TestActionsPerLayer drives every state-changing action into every layer
// and checks the layer, the code, and that nothing changed.
func TestActionsPerLayer(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)

	for _, tc := range actionCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			refused := func(t *testing.T, a articles.Article, err error, layer fault.Layer, code string) {
				t.Helper()
				n := b.logLen(t, a.ID)
				bulwarktest.RequireLayer(t, err, layer, code)
				require.Equal(t, a, b.get(t, a.ID), "the row changed")
				require.Equal(t, n, b.logLen(t, a.ID), "the log changed")
			}

			t.Run("Allowed", func(t *testing.T) {
				a := b.inState(t, tc.from)
				got, err := tc.do(ctx, b, tc.ok(b), a.ID, a.Version, "")
				require.NoError(t, err)
				require.Equal(t, a.Version+1, got.Version)
				rec := b.records.lastFor(a.ID)
				require.Equal(t, authz.OutcomeAllowed, rec.Outcome)
				require.Equal(t, a.ID.String(), rec.Target)
			})
			t.Run("MissingCapability", func(t *testing.T) {
				a := b.inState(t, tc.from)
				_, err := tc.do(ctx, b, tc.noCap(b), a.ID, 0, "")
				refused(t, a, err, fault.LayerPermission, fault.CodeMissingCapability)
				rec := b.records.lastFor(a.ID)
				require.Equal(t, authz.OutcomeDenied, rec.Outcome)
				require.Equal(t, fault.LayerPermission, rec.Layer)
			})
			t.Run("UnknownPrincipal", func(t *testing.T) {
				a := b.inState(t, tc.from)
				_, err := tc.do(ctx, b, uuid.New(), a.ID, 0, "")
				refused(t, a, err, fault.LayerPermission, authz.CodeUnknownPrincipal)
				require.NotErrorIs(t, err, fault.ErrNotFound, "an unknown principal is a permission failure only")
				require.Equal(t, 403, fault.HTTPStatus(err))
			})
			t.Run("PolicyDenial", func(t *testing.T) {
				a, actor := tc.denied(t, b)
				_, err := tc.do(ctx, b, actor, a.ID, 0, "")
				refused(t, a, err, fault.LayerPolicy, tc.deniedCode)
				require.Equal(t, authz.OutcomeDenied, b.records.lastFor(a.ID).Outcome)
			})
			t.Run("StaleVersion", func(t *testing.T) {
				a := b.inState(t, tc.from)
				_, err := tc.do(ctx, b, tc.ok(b), a.ID, a.Version-1, "")
				refused(t, a, err, fault.LayerConflict, fault.CodeStaleVersion)
				require.True(t, fault.IsRetryable(err))
				require.Equal(t, 409, fault.HTTPStatus(err))
			})
			t.Run("IllegalTransition", func(t *testing.T) {
				// Through the gate the policy refuses first: the request is
				// invalid intent, not a defect.
				a := b.inState(t, tc.illegalFrom)
				_, err := tc.do(ctx, b, tc.ok(b), a.ID, 0, "")
				if tc.name == "Edit" {
					// Only the author edits, and only a draft.
					refused(t, a, err, fault.LayerPolicy, articles.CodeWrongState)
					return
				}
				refused(t, a, err, fault.LayerPolicy, articles.CodeWrongState)
				require.Equal(t, 422, fault.HTTPStatus(err))
			})
			t.Run("UnknownID", func(t *testing.T) {
				_, err := tc.do(ctx, b, tc.ok(b), uuid.New(), 0, "")
				bulwarktest.RequireLayer(t, err, fault.LayerNotFound, fault.CodeNotFound)
				require.Equal(t, 404, fault.HTTPStatus(err))
			})
			t.Run("MalformedInput", func(t *testing.T) {
				_, err := tc.do(ctx, b, tc.ok(b), uuid.Nil, 0, "")
				bulwarktest.RequireLayer(t, err, fault.LayerInvalid, articles.CodeMissingID)
				require.Equal(t, 400, fault.HTTPStatus(err))
				a := b.inState(t, tc.from)
				_, err = tc.do(ctx, b, tc.ok(b), a.ID, -1, "")
				refused(t, a, err, fault.LayerInvalid, fault.CodeInvalidInput)
				_, err = tc.do(ctx, b, tc.ok(b), a.ID, 0, "bad\x00text")
				refused(t, a, err, fault.LayerInvalid, fault.CodeInvalidText)
				// Validation runs before the principal is even loaded.
				_, err = tc.do(ctx, b, uuid.New(), uuid.Nil, 0, "")
				bulwarktest.RequireLayer(t, err, fault.LayerInvalid, articles.CodeMissingID)
			})
		})
	}
}

func TestOwnArticleIsNeverReviewed(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)

	a, err := b.svc.Create(ctx, b.sneaky, articles.CreateRequest{Title: "Mine"}, nil)
	require.NoError(t, err)
	a, err = b.svc.Submit(ctx, b.sneaky, articles.TransitionRequest{ID: a.ID}, nil)
	require.NoError(t, err)
	for _, do := range []func(context.Context, uuid.UUID, articles.TransitionRequest, *authz.DoOpts) (articles.Article, error){
		b.svc.Approve, b.svc.RequestChanges,
	} {
		_, err = do(ctx, b.sneaky, articles.TransitionRequest{ID: a.ID}, nil)
		bulwarktest.RequireLayer(t, err, fault.LayerPolicy, articles.CodeOwnArticle)
	}
	require.Equal(t, a, b.get(t, a.ID))

	// Withdrawing one's own approved article: someone else approved it.
	a, err = b.svc.Approve(ctx, b.erin, articles.TransitionRequest{ID: a.ID}, nil)
	require.NoError(t, err)
	_, err = b.svc.Withdraw(ctx, b.sneaky, articles.TransitionRequest{ID: a.ID}, nil)
	bulwarktest.RequireLayer(t, err, fault.LayerPolicy, articles.CodeOwnArticle)
}

func TestPublishNeedsCompleteMetadata(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)

	a, err := b.svc.Create(ctx, b.alice, articles.CreateRequest{Title: "No slug"}, nil)
	require.NoError(t, err)
	a, err = b.svc.Submit(ctx, b.alice, articles.TransitionRequest{ID: a.ID}, nil)
	require.NoError(t, err)
	a, err = b.svc.Approve(ctx, b.erin, articles.TransitionRequest{ID: a.ID}, nil)
	require.NoError(t, err)
	_, err = b.svc.Publish(ctx, b.pat, articles.TransitionRequest{ID: a.ID}, nil)
	bulwarktest.RequireLayer(t, err, fault.LayerPolicy, articles.CodeIncompleteMetadata)
	require.Contains(t, err.Error(), "slug, summary")
	require.Equal(t, a, b.get(t, a.ID))
}

func TestArchivePolicy(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)

	// A draft: its author or an admin, not another author.
	d := b.inState(t, articles.StateDraft)
	_, err := b.svc.Archive(ctx, b.bob, articles.TransitionRequest{ID: d.ID}, nil)
	bulwarktest.RequireLayer(t, err, fault.LayerPolicy, articles.CodeNotAuthor)
	_, err = b.svc.Archive(ctx, b.admin, articles.TransitionRequest{ID: d.ID}, nil)
	require.NoError(t, err)

	// A published article: a publisher or an admin, not its author.
	p := b.inState(t, articles.StatePublished)
	_, err = b.svc.Archive(ctx, b.alice, articles.TransitionRequest{ID: p.ID}, nil)
	bulwarktest.RequireLayer(t, err, fault.LayerPolicy, articles.CodeNeedsPublisher)
	_, err = b.svc.Archive(ctx, b.pat, articles.TransitionRequest{ID: p.ID}, nil)
	require.NoError(t, err)
	p = b.inState(t, articles.StatePublished)
	_, err = b.svc.Archive(ctx, b.admin, articles.TransitionRequest{ID: p.ID}, nil)
	require.NoError(t, err)
}

func TestCreate(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)

	a, err := b.svc.Create(ctx, b.alice, articles.CreateRequest{Title: "Hello", Body: "World", IdemKey: "c-1"}, nil)
	require.NoError(t, err)
	require.Equal(t, b.alice, a.AuthorID)
	again, err := b.svc.Create(ctx, b.alice, articles.CreateRequest{Title: "Hello", Body: "World", IdemKey: "c-1"}, nil)
	require.NoError(t, err)
	require.Equal(t, a, again, "a retried request with the same key applies once")
	_, err = b.svc.Create(ctx, b.alice, articles.CreateRequest{Title: "Other", IdemKey: "c-1"}, nil)
	bulwarktest.RequireLayer(t, err, fault.LayerConflict, fault.CodeIdempotencyKeyReused)
	require.False(t, fault.IsRetryable(err))

	_, err = b.svc.Create(ctx, b.erin, articles.CreateRequest{Title: "x"}, nil)
	bulwarktest.RequireLayer(t, err, fault.LayerPermission, fault.CodeMissingCapability)

	for name, tc := range map[string]struct {
		req  articles.CreateRequest
		code string
	}{
		"EmptyTitle":     {articles.CreateRequest{Title: " "}, fault.CodeInvalidInput},
		"LongTitle":      {articles.CreateRequest{Title: strings.Repeat("é", 301)}, fault.CodeTooLong},
		"NULTitle":       {articles.CreateRequest{Title: "a\x00"}, fault.CodeInvalidText},
		"BadUTF8Body":    {articles.CreateRequest{Title: "t", Body: "\xff"}, fault.CodeInvalidText},
		"HugeBody":       {articles.CreateRequest{Title: "t", Body: strings.Repeat("b", articles.MaxBodyBytes+1)}, fault.CodeTooLong},
		"ControlInTitle": {articles.CreateRequest{Title: "a\x1bb"}, fault.CodeInvalidInput},
		"LongIdemKey":    {articles.CreateRequest{Title: "t", IdemKey: strings.Repeat("k", 201)}, fault.CodeTooLong},
	} {
		_, err := b.svc.Create(ctx, b.alice, tc.req, nil)
		bulwarktest.RequireLayer(t, err, fault.LayerInvalid, tc.code)
		_ = name
	}
	// 300 characters of two bytes each are 300 characters, not 600.
	_, err = b.svc.Create(ctx, b.alice, articles.CreateRequest{Title: strings.Repeat("é", 300)}, nil)
	require.NoError(t, err)
}

func TestEditValidation(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	a := b.inState(t, articles.StateDraft)
	for name, req := range map[string]articles.EditRequest{
		"SlugFormat":  {Slug: ptr("Not A Slug")},
		"SlugLength":  {Slug: ptr(strings.Repeat("a", 121))},
		"SummaryNUL":  {Summary: ptr("x\x00")},
		"SummaryLong": {Summary: ptr(strings.Repeat("s", 1001))},
		"BodyHuge":    {Body: ptr(strings.Repeat("b", articles.MaxBodyBytes+1))},
	} {
		req.ID = a.ID
		_, err := b.svc.Edit(ctx, b.alice, req, nil)
		require.ErrorIs(t, err, fault.ErrInvalid, name)
	}
	require.Equal(t, a, b.get(t, a.ID))
}

func TestGetAndList(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)

	draft := b.inState(t, articles.StateDraft)
	published := b.inState(t, articles.StatePublished)

	got, err := b.svc.Get(ctx, b.nobody, published.ID)
	require.NoError(t, err)
	require.Equal(t, published, got)
	// A draft nobody may see answers exactly as a missing article does:
	// the answer does not reveal that it exists. The observer sees the
	// refusal, with its reason.
	_, hiddenErr := b.svc.Get(ctx, b.nobody, draft.ID)
	bulwarktest.RequireLayer(t, hiddenErr, fault.LayerNotFound, fault.CodeNotFound)
	require.NotErrorIs(t, hiddenErr, fault.ErrPolicy)
	rec := b.records.lastFor(draft.ID)
	require.True(t, rec.Concealed)
	require.Equal(t, authz.OutcomeDenied, rec.Outcome)
	require.Equal(t, fault.LayerPolicy, rec.Layer)
	require.Equal(t, articles.CodeNotVisible, rec.Code)
	require.ErrorIs(t, rec.Err, fault.ErrPolicy)
	missing := uuid.New()
	_, missingErr := b.svc.Get(ctx, b.nobody, missing)
	bulwarktest.RequireLayer(t, missingErr, fault.LayerNotFound, fault.CodeNotFound)
	require.False(t, b.records.lastFor(missing).Concealed)
	require.Equal(t, missingErr, hiddenErr, "a hidden article and a missing one answer alike")
	require.Equal(t, 404, fault.HTTPStatus(hiddenErr))
	_, err = b.svc.Get(ctx, b.alice, draft.ID)
	require.NoError(t, err)
	_, err = b.svc.Get(ctx, b.erin, draft.ID)
	require.NoError(t, err)
	// Whatever the source: a held row the policy refuses is looked at on
	// the primary, and the refusal still answers not found; a source the
	// gate lacks (no replica here) reads the primary.
	_, err = b.svc.GetFrom(ctx, b.nobody, draft.ID, &authz.DoOpts{Snapshot: authz.Held(draft)})
	require.Equal(t, missingErr, err)
	got, err = b.svc.GetFrom(ctx, b.alice, draft.ID, &authz.DoOpts{Snapshot: authz.FromReplica})
	require.NoError(t, err)
	require.Equal(t, draft, got)
	_, err = b.svc.Get(ctx, b.nobody, uuid.Nil)
	bulwarktest.RequireLayer(t, err, fault.LayerInvalid, articles.CodeMissingID)
	_, err = b.svc.Get(ctx, uuid.New(), published.ID)
	bulwarktest.RequireLayer(t, err, fault.LayerPermission, authz.CodeUnknownPrincipal)

	for range 4 {
		b.inState(t, articles.StatePublished)
	}
	var ids []uuid.UUID
	req := articles.ListRequest{State: articles.StatePublished, Limit: 2}
	for {
		page, err := b.svc.List(ctx, b.nobody, req)
		require.NoError(t, err)
		for _, a := range page.Articles {
			ids = append(ids, a.ID)
		}
		if page.Next == nil {
			break
		}
		req.After = page.Next
	}
	require.Len(t, ids, 5)

	_, err = b.svc.List(ctx, b.nobody, articles.ListRequest{State: articles.StateDraft})
	bulwarktest.RequireLayer(t, err, fault.LayerPolicy, articles.CodeNotVisible)
	page, err := b.svc.List(ctx, b.erin, articles.ListRequest{State: articles.StateDraft})
	require.NoError(t, err)
	require.Len(t, page.Articles, 1)
	_, err = b.svc.List(ctx, b.erin, articles.ListRequest{State: "deleted"})
	bulwarktest.RequireLayer(t, err, fault.LayerInvalid, "unknown_state")
	_, err = b.svc.List(ctx, b.erin, articles.ListRequest{State: articles.StateDraft, Limit: 1000})
	bulwarktest.RequireLayer(t, err, fault.LayerInvalid, fault.CodeInvalidInput)
}

func TestPublishRefusesATakenSlug(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	first := b.inState(t, articles.StatePublished)
	second := b.inState(t, articles.StateDraft)
	second, err := b.svc.Edit(ctx, b.alice, articles.EditRequest{ID: second.ID, Slug: first.Slug}, nil)
	require.NoError(t, err, "a draft may share a slug")
	second, err = b.svc.Submit(ctx, b.alice, articles.TransitionRequest{ID: second.ID}, nil)
	require.NoError(t, err)
	second, err = b.svc.Approve(ctx, b.erin, articles.TransitionRequest{ID: second.ID}, nil)
	require.NoError(t, err)
	_, err = b.svc.Publish(ctx, b.pat, articles.TransitionRequest{ID: second.ID}, nil)
	bulwarktest.RequireLayer(t, err, fault.LayerPolicy, articles.CodeSlugTaken)
	require.Equal(t, 422, fault.HTTPStatus(err), "a collision is the request's problem, not a defect")
	require.Equal(t, second, b.get(t, second.ID))
}
