package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// TxBeginner starts transactions: a *pgxpool.Pool, a *pgx.Conn, or a pgx.Tx
// (which starts a savepoint).
type TxBeginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// WithTx runs fn in a transaction on b and commits when fn returns nil. It
// rolls back when fn returns an error or panics (the panic is re-raised).
// Errors from fn are returned unchanged; errors of Begin and Commit pass
// through [InterpretError] so a serialization failure at commit is a
// conflict.
func WithTx(ctx context.Context, b TxBeginner, fn func(tx pgx.Tx) error) (err error) {
	tx, err := b.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", InterpretError(err))
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			panic(p)
		}
		if err != nil {
			// The rollback's own error adds nothing: the transaction is
			// gone either way.
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(ctx); err != nil {
		if errors.Is(err, pgx.ErrTxClosed) {
			return err
		}
		return fmt.Errorf("commit: %w", InterpretError(err))
	}
	return nil
}
