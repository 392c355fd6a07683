package authz

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bulwarkdb/bulwark/db"
)

// The gate's own statements (the correlation id, the idempotency key
// check) cost no round trip of their own: they travel in one pgx batch with
// the first statement the action's LoadFunc or ActFunc sends. A batch is one
// round trip, and its statements run in one implicit transaction, so the
// correlation id set by the first is in force for the second.

// batcher is a connection that also sends batches: a *pgxpool.Pool (which
// holds one connection for the batch), a *pgxpool.Conn or a pgx.Tx.
type batcher interface {
	db.DBTX
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// rider is a statement of the gate's that rides with the first statement
// of an action: its SQL and arguments as the generated query builds them,
// and how to read its result.
type rider struct {
	args []any
	read func(br pgx.BatchResults) error
	sql  string
}

// capture is a db.DBTX that records the statement a generated query would
// send, and sends nothing: it lets the gate queue sqlc's statements (SQL in
// sql/queries, arguments as sqlc orders them) into a batch of its own.
type capture struct {
	args []any
	sql  string
}

var errCaptured = errors.New("authz: statement captured, not sent")

func (c *capture) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	c.sql, c.args = sql, args
	return pgconn.CommandTag{}, errCaptured
}

func (c *capture) Query(_ context.Context, sql string, args ...any) (pgx.Rows, error) {
	c.sql, c.args = sql, args
	return nil, errCaptured
}

func (c *capture) QueryRow(_ context.Context, sql string, args ...any) pgx.Row {
	c.sql, c.args = sql, args
	return errRow{err: errCaptured}
}

// setCorrelationRider sets bulwark.correlation_id for the rest of the
// (implicit or explicit) transaction.
func setCorrelationRider(ctx context.Context, q *db.Queries, id string) rider {
	var c capture
	_ = q.SetCorrelationID(ctx, &c, id)
	return rider{sql: c.sql, args: c.args, read: func(br pgx.BatchResults) error {
		_, err := br.Exec()
		return err
	}}
}

// keyUsedRider asks whether the actor used the key; used receives the
// answer.
func keyUsedRider(ctx context.Context, q *db.Queries, params db.IdempotencyKeyUsedParams, used *bool) rider {
	var c capture
	_, _ = q.IdempotencyKeyUsed(ctx, &c, params)
	return rider{sql: c.sql, args: c.args, read: func(br pgx.BatchResults) error {
		return br.QueryRow().Scan(used)
	}}
}

// pipelined is a db.DBTX that sends its first statement in one batch with
// its riders, queued before it, and later statements straight to conn.
// With oneCall, a second statement is refused without being sent.
type pipelined struct {
	conn    batcher
	name    string // the action, for the one-call error
	oneCall bool
	riders  []rider
	sent    bool
}

// errSecondCall reports an ActFunc that made a second database call in an
// action that declared one (OneCall): a defect in the action.
var errSecondCall = errors.New("authz: a one-call action made a second database call; its first has committed (set OneCall only for an ActFunc that makes exactly one call)")

// first sends the riders and the statement in one batch, reads the
// riders' results, and returns the batch, positioned at the statement's.
func (p *pipelined) first(ctx context.Context, sql string, args []any) (pgx.BatchResults, error) {
	p.sent = true
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(p.riders)+1)}
	for _, r := range p.riders {
		b.Queue(r.sql, r.args...)
	}
	b.Queue(sql, args...)
	br := p.conn.SendBatch(ctx, b)
	for _, r := range p.riders {
		if err := r.read(br); err != nil {
			return nil, errors.Join(err, br.Close())
		}
	}
	p.riders = nil
	return br, nil
}

// flush sends the riders alone, if the action sent no statement of its own
// (an action without LoadFunc that ends before acting).
func (p *pipelined) flush(ctx context.Context) error {
	if p.sent || len(p.riders) == 0 {
		return nil
	}
	p.sent = true
	b := &pgx.Batch{}
	for _, r := range p.riders {
		b.Queue(r.sql, r.args...)
	}
	br := p.conn.SendBatch(ctx, b)
	for _, r := range p.riders {
		if err := r.read(br); err != nil {
			return errors.Join(err, br.Close())
		}
	}
	p.riders = nil
	return br.Close()
}

func (p *pipelined) again() error {
	if p.oneCall {
		return fmt.Errorf("action %s: %w", p.name, errSecondCall)
	}
	return nil
}

func (p *pipelined) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if p.sent {
		if err := p.again(); err != nil {
			return pgconn.CommandTag{}, err
		}
		return p.conn.Exec(ctx, sql, args...)
	}
	br, err := p.first(ctx, sql, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	return tag, errors.Join(err, br.Close())
}

func (p *pipelined) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if p.sent {
		if err := p.again(); err != nil {
			return nil, err
		}
		return p.conn.Query(ctx, sql, args...)
	}
	br, err := p.first(ctx, sql, args)
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		return nil, errors.Join(err, br.Close())
	}
	return &batchRows{Rows: rows, br: br}, nil
}

func (p *pipelined) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if p.sent {
		if err := p.again(); err != nil {
			return errRow{err: err}
		}
		return p.conn.QueryRow(ctx, sql, args...)
	}
	br, err := p.first(ctx, sql, args)
	if err != nil {
		return errRow{err: err}
	}
	return &batchRow{br: br}
}

// batchRow is the row of a batch's last statement; Scan closes the batch.
type batchRow struct{ br pgx.BatchResults }

func (r *batchRow) Scan(dest ...any) error {
	err := r.br.QueryRow().Scan(dest...)
	if closeErr := r.br.Close(); err == nil {
		err = closeErr
	}
	return err
}

// batchRows are the rows of a batch's last statement; Close closes the
// batch.
type batchRows struct {
	pgx.Rows
	br pgx.BatchResults
}

func (r *batchRows) Close() {
	r.Rows.Close()
	_ = r.br.Close()
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
