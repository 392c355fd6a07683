package auditlog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// FollowOpts are options for [Follow]. A nil *FollowOpts means defaults.
type FollowOpts struct {
	// After is where following starts: entries with a greater id. 0 with
	// FromEnd false starts at the beginning of the log.
	After int64
	// BatchSize bounds the entries read per query. Default 500.
	BatchSize int
	// FromEnd starts after the last entry visible when Follow starts,
	// ignoring After: only what is written from then on.
	FromEnd bool
	// PollInterval is the pause between polls. Default 1s.
	PollInterval time.Duration

	// afterPoll, when set (by tests), is called after each poll.
	afterPoll func()
}

// horizon is a range of ids (cursor, upTo] that is settled once every
// transaction running when it was seen has ended: once a snapshot's xmin
// reaches xmax.
type horizon struct {
	upTo int64
	xmax uint64
}

// Follow hands every entry matching f to fn, oldest first, then keeps
// polling and hands over new ones as they settle, until ctx is done (it
// then returns ctx's error) or fn or a read fails (it returns that error).
// No entry is handed over twice or skipped, even when transactions commit
// out of id order: see the package documentation, "Following".
func Follow(ctx context.Context, conn Conn, f Filter, opts *FollowOpts, fn func(Entry) error) error {
	if opts == nil {
		opts = &FollowOpts{}
	}
	batch, interval := opts.BatchSize, opts.PollInterval
	if batch <= 0 {
		batch = 500
	}
	if interval <= 0 {
		interval = time.Second
	}
	if opts.After < 0 {
		return fmt.Errorf("auditlog: after must be a log id (0 or more), not %d", opts.After)
	}
	cursor, fromEnd := opts.After, opts.FromEnd
	var pending *horizon
	for {
		err := readTx(ctx, conn, "the log", func(tx pgx.Tx) error {
			// The transaction's snapshot: xmin is the oldest transaction
			// still running, xmax the first not yet started; maxID the last
			// id this snapshot sees.
			var xminText, xmaxText string
			var maxID int64
			if err := tx.QueryRow(ctx, `
				SELECT pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())::text,
				       pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot())::text,
				       coalesce((SELECT max(l.id) FROM bulwark.transition_log AS l), 0)`).Scan(&xminText, &xmaxText, &maxID); err != nil {
				return err
			}
			xmin, err := strconv.ParseUint(xminText, 10, 64)
			if err != nil {
				return err
			}
			xmax, err := strconv.ParseUint(xmaxText, 10, 64)
			if err != nil {
				return err
			}
			if fromEnd {
				cursor, fromEnd = maxID, false
				return nil
			}
			emit := func(upTo int64) error {
				for cursor < upTo {
					entries, err := selectEntries(ctx, tx, f, cursor, upTo, batch)
					if err != nil {
						return err
					}
					for _, e := range entries {
						if err := fn(e); err != nil {
							return &callbackError{err: err}
						}
					}
					if len(entries) < batch {
						break
					}
					cursor = entries[len(entries)-1].ID
				}
				cursor = upTo
				return nil
			}
			if pending != nil && xmin >= pending.xmax {
				if err := emit(pending.upTo); err != nil {
					return err
				}
				pending = nil
			}
			if pending == nil && maxID > cursor {
				if xmin == xmax {
					// Nothing was running: every id up to maxID is final.
					return emit(maxID)
				}
				pending = &horizon{upTo: maxID, xmax: xmax}
			}
			return nil
		})
		if err != nil {
			var cb *callbackError
			if errors.As(err, &cb) {
				return cb.err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		if opts.afterPoll != nil {
			opts.afterPoll()
		}
		timer := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
}

// callbackError carries fn's error out of the read transaction unwrapped.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }
func (e *callbackError) Unwrap() error { return e.err }
