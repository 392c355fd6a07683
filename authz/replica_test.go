package authz_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/fault"
	"github.com/bulwarkdb/bulwark/internal/pgtest"
)

// reviewTransition is a reviewer's move of an article in review (approve
// or request changes), built with authz.Transition.
func reviewTransition(name string, call func(ctx context.Context, q *db.Queries, conn db.DBTX, c authz.Call[db.AppArticle, articleRequest]) (db.AppArticle, error)) *authz.Action[db.AppArticle, articleRequest, db.AppArticle] {
	q := db.New()
	return authz.Transition("test."+name, "article.review", q.ArticleGetByID,
		func(p *authz.Principal, a db.AppArticle, _ articleRequest) authz.Decision {
			if a.AuthorID == p.ID {
				return authz.Deny("own_article", "nobody reviews their own article")
			}
			if a.State != "in_review" {
				return authz.Deny("not_in_review", "only an article in review is reviewed")
			}
			return authz.Allow()
		},
		func(ctx context.Context, conn db.DBTX, c authz.Call[db.AppArticle, articleRequest]) (db.AppArticle, error) {
			return call(ctx, q, conn, c)
		})
}

func approveTransition() *authz.Action[db.AppArticle, articleRequest, db.AppArticle] {
	return reviewTransition("approve", func(ctx context.Context, q *db.Queries, conn db.DBTX, c authz.Call[db.AppArticle, articleRequest]) (db.AppArticle, error) {
		return q.ArticleApprove(ctx, conn, db.ArticleApproveParams{Actor: c.Actor(), ID: c.Snapshot.ID, ExpectedVersion: c.Snapshot.Version, IdemKey: c.IdemKey()})
	})
}

func requestChangesTransition() *authz.Action[db.AppArticle, articleRequest, db.AppArticle] {
	return reviewTransition("request_changes", func(ctx context.Context, q *db.Queries, conn db.DBTX, c authz.Call[db.AppArticle, articleRequest]) (db.AppArticle, error) {
		return q.ArticleRequestChanges(ctx, conn, db.ArticleRequestChangesParams{Actor: c.Actor(), ID: c.Snapshot.ID, ExpectedVersion: c.Snapshot.Version, IdemKey: c.IdemKey()})
	})
}

// TestReplicaSnapshots runs the gate on a real streaming replica (a second
// cluster made with pg_basebackup from the first) whose replay is paused:
// every snapshot it serves is stale. A stale snapshot that the policy
// allows ends as a conflict and changes nothing; the retry decides again
// on the primary's row and succeeds; a stale snapshot that the policy
// refuses is read again from the primary, so no refusal rests on it. The
// transition log, replayed against the state machine, shows no violation.
func TestReplicaSnapshots(t *testing.T) {
	ctx := context.Background()
	pair := pgtest.NewReplicaPair(t)
	primary := newPool(t, pair.PrimaryURL, nil)
	replica := newPool(t, pair.ReplicaURL, nil)
	q := db.New()
	author := bulwarktest.Principal(t, primary, bulwarktest.UniqueName("author"), "author")
	editor := bulwarktest.Principal(t, primary, bulwarktest.UniqueName("editor"), "editor")
	grants := startGrants(t, primary, nil)
	rec := &recorder{}
	gate := authz.NewGate(primary, grants, &authz.GateOpts{Observer: rec, Replica: replica, Snapshots: authz.FromReplica})
	retry := &authz.DoOpts{Retry: &authz.RetryOpts{BaseDelay: 1, MaxDelay: 2}}

	draft := func() db.AppArticle {
		a, err := q.ArticleCreate(ctx, primary, db.ArticleCreateParams{Actor: author, Title: "A title", Body: "Body."})
		require.NoError(t, err)
		return a
	}
	readReplica := func(id uuid.UUID) db.AppArticle {
		a, err := q.ArticleGetByID(ctx, replica, id)
		require.NoError(t, err)
		return a
	}

	t.Run("StaleAllowIsAConflictRetryIsRight", func(t *testing.T) {
		a := draft()
		pair.WaitReplayed(t)
		pair.PauseReplay(t)
		defer pair.ResumeReplay(t)
		// The author retitles it on the primary; the replica keeps v1.
		title := "Retitled"
		a2, err := q.ArticleEdit(ctx, primary, db.ArticleEditParams{Actor: author, ID: a.ID, ExpectedVersion: a.Version, Title: &title})
		require.NoError(t, err)
		require.Equal(t, a.Version, readReplica(a.ID).Version, "the replica is stale")

		_, err = authz.Do(ctx, gate, author, submitTransition(), articleRequest{ID: a.ID, Key: "stale-1"}, nil)
		bulwarktest.RequireLayer(t, err, fault.LayerConflict, fault.CodeStaleVersion)
		require.True(t, fault.IsRetryable(err))
		require.Equal(t, a2, getOn(t, primary, a.ID), "the stale decision wrote nothing")

		got, err := authz.Do(ctx, gate, author, submitTransition(), articleRequest{ID: a.ID, Key: "stale-2"}, retry)
		require.NoError(t, err)
		require.Equal(t, "in_review", got.State)
		require.Equal(t, a2.Version+1, got.Version)
		require.Equal(t, "Retitled", got.Title, "decided on, and applied to, the fresh row")
	})

	t.Run("StaleRefusalIsDecidedAgainOnThePrimary", func(t *testing.T) {
		a := draft()
		pair.WaitReplayed(t)
		pair.PauseReplay(t)
		defer pair.ResumeReplay(t)
		a2, err := q.ArticleSubmit(ctx, primary, db.ArticleSubmitParams{Actor: author, ID: a.ID, ExpectedVersion: a.Version})
		require.NoError(t, err)
		require.Equal(t, "draft", readReplica(a.ID).State, "the replica says draft")

		// The replica's draft would make the policy refuse; the gate
		// looks again on the primary, where the article is in review.
		got, err := authz.Do(ctx, gate, editor, approveTransition(), articleRequest{ID: a.ID}, nil)
		require.NoError(t, err)
		require.Equal(t, "approved", got.State)
		require.Equal(t, a2.Version+1, got.Version)

		// A refusal that the primary confirms stands (this draft is not
		// on the replica at all: the primary answers).
		_, err = authz.Do(ctx, gate, editor, approveTransition(), articleRequest{ID: draft().ID}, nil)
		bulwarktest.RequireLayer(t, err, fault.LayerPolicy, "not_in_review")
	})

	t.Run("ConcurrentStaleClientsBreakNothing", func(t *testing.T) {
		const articles, rounds = 6, 4
		ids := make([]uuid.UUID, articles)
		for i := range ids {
			ids[i] = draft().ID
		}
		pair.WaitReplayed(t)
		pair.PauseReplay(t)
		defer pair.ResumeReplay(t)
		before := conflicts(rec)

		// Each article goes round submit, request changes: every first
		// attempt after the first round decides on the replica's stale
		// draft, meets a conflict, and its retry decides on the primary.
		var wg sync.WaitGroup
		errs := make([]error, articles)
		for i, id := range ids {
			wg.Go(func() {
				for r := range rounds {
					if _, err := authz.Do(ctx, gate, author, submitTransition(), articleRequest{ID: id, Key: fmt.Sprintf("submit-%s-%d", id, r)}, retry); err != nil {
						errs[i] = fmt.Errorf("round %d submit: %w", r, err)
						return
					}
					if _, err := authz.Do(ctx, gate, editor, requestChangesTransition(), articleRequest{ID: id, Key: fmt.Sprintf("changes-%s-%d", id, r)}, retry); err != nil {
						errs[i] = fmt.Errorf("round %d request changes: %w", r, err)
						return
					}
				}
			})
		}
		wg.Wait()
		for i, err := range errs {
			require.NoError(t, err, "article %d", i)
		}
		require.Positive(t, conflicts(rec)-before, "stale snapshots met the version check")

		for _, id := range ids {
			a := getOn(t, primary, id)
			require.Equal(t, "draft", a.State)
			require.Equal(t, int32(1+2*rounds), a.Version, "every transition applied exactly once")
			entries, err := q.TransitionLogByEntity(ctx, primary, id)
			require.NoError(t, err)
			require.Len(t, entries, 1+2*rounds)
			for i, e := range entries[1:] {
				prev := entries[i]
				require.Equal(t, *prev.ToState, *e.FromState, "the log chains: %s after %s", e.Transition, prev.Transition)
				want := "submit"
				if i%2 == 1 {
					want = "request_changes"
				}
				require.Equal(t, want, e.Transition)
			}
		}
	})
}

// conflicts counts the recorded stale-version conflicts.
func conflicts(r *recorder) int {
	n := 0
	for _, rec := range r.all() {
		if rec.Code == fault.CodeStaleVersion {
			n++
		}
	}
	return n
}

func getOn(t *testing.T, conn db.DBTX, id uuid.UUID) db.AppArticle {
	t.Helper()
	a, err := db.New().ArticleGetByID(context.Background(), conn, id)
	require.NoError(t, err)
	return a
}
