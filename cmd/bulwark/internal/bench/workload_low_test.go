package bench

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestNextOwn(t *testing.T) {
	t.Parallel()

	// Two clients with two articles each, authors and reviewers of their
	// own, as fill makes them.
	const clients, articles = 2, 2
	w := &workload{own: make([][]*slot, clients)}
	owner := make(map[uuid.UUID]int)
	for c := range clients {
		author, reviewer := uuid.New(), uuid.New()
		for range articles {
			sl := &slot{author: author, reviewer: reviewer, article: uuid.New(), cur: Snapshot{State: stateDraft, Version: 2}}
			owner[sl.article] = c
			w.own[c] = append(w.own[c], sl)
		}
	}

	t.Run("PingPongsEachClientsOwnArticles", func(t *testing.T) {
		t.Parallel()

		for c := range clients {
			// Every article goes draft, in_review, draft, in_review: two
			// rounds over the client's articles each.
			for n := range 4 * articles {
				req, err := w.nextOwn(c, n, "k")
				require.NoError(t, err)
				require.Equal(t, c, owner[req.article], "client %d got another client's article", c)
				sl := req.slot
				require.Equal(t, sl.article, req.article)
				require.Equal(t, sl.cur.Version, req.expected, "the request is pinned to the version last seen")
				switch sl.cur.State {
				case stateDraft:
					require.Equal(t, "submit", req.action.Name)
					require.Equal(t, sl.author, req.actor)
				case stateInReview:
					require.Equal(t, "request_changes", req.action.Name)
					require.Equal(t, sl.reviewer, req.actor)
					require.NotEqual(t, sl.author, req.actor, "nobody reviews their own article")
				}
				// As if the transition succeeded.
				sl.observe(req.article, Snapshot{State: req.action.To, Version: req.expected + 1})
			}
			for _, sl := range w.own[c] {
				require.Equal(t, Snapshot{State: stateDraft, Version: 6}, sl.cur)
			}
		}
	})

	t.Run("RefusesAStateOutsideTheLoop", func(t *testing.T) {
		t.Parallel()

		other := &workload{own: [][]*slot{{{article: uuid.New(), cur: Snapshot{State: stateApproved, Version: 3}}}}}
		_, err := other.nextOwn(0, 0, "k")
		require.Error(t, err)
	})
}
