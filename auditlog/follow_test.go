package auditlog_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/auditlog"
	"github.com/bulwarkdb/bulwark/authz"
)

// follower runs Follow in the background and records what it hands over
// and how many polls it finished.
type follower struct {
	cancel  context.CancelFunc
	done    chan error
	entries chan auditlog.Entry
	exited  chan struct{}
	mu      sync.Mutex
	polls   int
	polled  chan struct{}
}

func follow(t *testing.T, b *testBundle, f auditlog.Filter, opts *auditlog.FollowOpts) *follower {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	fl := &follower{cancel: cancel, done: make(chan error, 1), entries: make(chan auditlog.Entry, 100), exited: make(chan struct{}), polled: make(chan struct{}, 1)}
	opts.PollInterval = 10 * time.Millisecond
	auditlog.SetAfterPoll(opts, func() {
		fl.mu.Lock()
		fl.polls++
		fl.mu.Unlock()
		select {
		case fl.polled <- struct{}{}:
		default:
		}
	})
	go func() {
		defer close(fl.exited)
		fl.done <- auditlog.Follow(ctx, b.app, f, opts, func(e auditlog.Entry) error {
			fl.entries <- e
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-fl.exited
		// Canceled is how a follow ends; anything else went wrong. An empty
		// done means a wait above already reported how it ended.
		select {
		case err := <-fl.done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("follow ended: %v", err)
			}
		default:
		}
	})
	return fl
}

// waitPolls returns once the follower finished n more polls.
func (fl *follower) waitPolls(t *testing.T, n int) {
	t.Helper()
	fl.mu.Lock()
	target := fl.polls + n
	fl.mu.Unlock()
	for {
		fl.mu.Lock()
		reached := fl.polls >= target
		fl.mu.Unlock()
		if reached {
			return
		}
		select {
		case <-fl.polled:
		case err := <-fl.done:
			t.Fatalf("follow ended: %v", err)
		case <-time.After(time.Minute): // a hang guard, not a measurement
			t.Fatal("the follower stopped polling")
		}
	}
}

// next returns the next entry handed over.
func (fl *follower) next(t *testing.T) auditlog.Entry {
	t.Helper()
	select {
	case e := <-fl.entries:
		return e
	case err := <-fl.done:
		t.Fatalf("follow ended: %v", err)
	case <-time.After(time.Minute): // a hang guard, not a measurement
		t.Fatal("no entry came")
	}
	return auditlog.Entry{}
}

func (fl *follower) requireNothing(t *testing.T) {
	t.Helper()
	select {
	case e := <-fl.entries:
		t.Fatalf("handed over entry %d (%s) too early", e.ID, e.Transition)
	default:
	}
}

func TestFollow(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("HistoryThenNewEntriesInOrder", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		a := b.article(t, articles.StateInReview) // create, edit, submit
		fl := follow(t, b, auditlog.Filter{Entity: a.ID}, &auditlog.FollowOpts{})
		for _, want := range []string{"create", "edit", "submit"} {
			require.Equal(t, want, fl.next(t).Transition)
		}
		_, err := b.svc.Approve(ctx, b.erin, articles.TransitionRequest{ID: a.ID}, nil)
		require.NoError(t, err)
		_, err = b.svc.Publish(ctx, b.pat, articles.TransitionRequest{ID: a.ID}, nil)
		require.NoError(t, err)
		require.Equal(t, "approve", fl.next(t).Transition)
		require.Equal(t, "publish", fl.next(t).Transition)
		fl.waitPolls(t, 2)
		fl.requireNothing(t)
	})

	t.Run("FromEndSkipsHistory", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		a := b.article(t, articles.StateDraft)
		fl := follow(t, b, auditlog.Filter{Machine: "article"}, &auditlog.FollowOpts{FromEnd: true})
		fl.waitPolls(t, 1)
		_, err := b.svc.Submit(ctx, b.alice, articles.TransitionRequest{ID: a.ID}, nil)
		require.NoError(t, err)
		e := fl.next(t)
		require.Equal(t, "submit", e.Transition, "the first entry is the new one")
	})

	t.Run("WaitsForTransactionsThatMayCommitAnEarlierID", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		first := b.article(t, articles.StateDraft)
		second := b.article(t, articles.StateDraft)
		fl := follow(t, b, auditlog.Filter{Machine: "article"}, &auditlog.FollowOpts{FromEnd: true})
		fl.waitPolls(t, 1)

		// first's submit draws its log id, then waits uncommitted while
		// second's submit draws a later id and commits.
		tx, err := b.app.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		_, err = b.svc.Submit(ctx, b.alice, articles.TransitionRequest{ID: first.ID}, &authz.DoOpts{Tx: tx})
		require.NoError(t, err)
		_, err = b.svc.Submit(ctx, b.alice, articles.TransitionRequest{ID: second.ID}, nil)
		require.NoError(t, err)

		// Polls that see second's row, with first's transaction running,
		// must not hand it over: the cursor would pass first's id.
		fl.waitPolls(t, 3)
		fl.requireNothing(t)

		require.NoError(t, tx.Commit(ctx))
		e1, e2 := fl.next(t), fl.next(t)
		require.Equal(t, first.ID, *e1.EntityID)
		require.Equal(t, second.ID, *e2.EntityID)
		require.Less(t, e1.ID, e2.ID)
	})

	t.Run("CallbackErrorStops", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		b.article(t, articles.StateDraft)
		stop := errors.New("enough")
		calls := 0
		err := auditlog.Follow(ctx, b.app, auditlog.Filter{}, &auditlog.FollowOpts{PollInterval: time.Millisecond}, func(auditlog.Entry) error {
			calls++
			return stop
		})
		require.ErrorIs(t, err, stop)
		require.Equal(t, 1, calls)
	})

	t.Run("CancelEnds", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err := auditlog.Follow(cctx, b.app, auditlog.Filter{}, nil, func(auditlog.Entry) error { return nil })
		require.ErrorIs(t, err, context.Canceled)
	})
}
