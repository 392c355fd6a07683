package auditlog

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultLimit is the page size of [List] when [ListOpts].Limit is 0.
const DefaultLimit = 100

// MaxLimit is the largest page [List] returns.
const MaxLimit = 10000

// ListOpts are options for [List]. A nil *ListOpts means defaults.
type ListOpts struct {
	// After returns entries with a greater id: 0 for the first page, a
	// Page's Next for the following one.
	After int64
	// Limit is the page size, 1 to MaxLimit. Default DefaultLimit.
	Limit int
}

// Page is one page of entries, oldest first.
type Page struct {
	Entries []Entry
	// Next is the After of the following page, or 0 when this page was
	// the last one.
	Next int64
}

// List returns the first page of entries matching f after opts.After. A
// negative After or a Limit out of range is an error before any query.
// The page is read from one snapshot: an entry whose transaction commits
// later with a lower id than the page's last one is not on a later page
// ([Follow] waits for such transactions).
func List(ctx context.Context, conn Conn, f Filter, opts *ListOpts) (*Page, error) {
	if opts == nil {
		opts = &ListOpts{}
	}
	limit := opts.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	if limit < 1 || limit > MaxLimit {
		return nil, fmt.Errorf("auditlog: a page holds 1 to %d entries, not %d", MaxLimit, limit)
	}
	if opts.After < 0 {
		return nil, fmt.Errorf("auditlog: after must be a log id (0 or more), not %d", opts.After)
	}
	page := &Page{}
	err := readTx(ctx, conn, "the log", func(tx pgx.Tx) error {
		// One more than asked tells whether another page follows.
		entries, err := selectEntries(ctx, tx, f, opts.After, 0, limit+1)
		if err != nil {
			return err
		}
		if len(entries) > limit {
			entries = entries[:limit]
			page.Next = entries[limit-1].ID
		}
		page.Entries = entries
		return nil
	})
	return page, err
}

// ResolveActor returns the id of the principal s names: s itself when it is
// a UUID, otherwise the principal of that name. An unknown name is
// [ErrUnknownActor].
func ResolveActor(ctx context.Context, conn Conn, s string) (uuid.UUID, error) {
	if id, err := uuid.Parse(s); err == nil {
		return id, nil
	}
	var id uuid.UUID
	err := readTx(ctx, conn, "principals", func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT p.id FROM bulwark.principals AS p WHERE p.name = $1`, s).Scan(&id)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, fmt.Errorf("%w: %q", ErrUnknownActor, s)
	}
	return id, err
}

// readTx runs fn in a read-only transaction and wraps its failure as a
// [*ReadError] of what (or [ErrNotInstalled]). pgx.ErrNoRows stays
// visible to errors.Is.
func readTx(ctx context.Context, conn Conn, what string, fn func(tx pgx.Tx) error) error {
	tx, err := conn.BeginTx(ctx, readOnly)
	if err != nil {
		return &ReadError{What: what, Cause: err}
	}
	// Read-only: rolling back loses nothing, and works after a failure.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(tx); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (pgErr.Code == pgerrcode.UndefinedTable || pgErr.Code == pgerrcode.InvalidSchemaName) {
			return fmt.Errorf("%w: %w", ErrNotInstalled, err)
		}
		return &ReadError{What: what, Cause: err}
	}
	return nil
}
