package auditlog

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Conn is what the package reads through: a *pgx.Conn or a *pgxpool.Pool.
// Each call runs in a READ ONLY transaction of its own.
type Conn interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// readOnly is the transaction every read runs in: one snapshot for all of
// a call's statements, and no way to write.
var readOnly = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}

// Entry is one row of bulwark.transition_log, with the acting principal's
// name. Its JSON form is one line of `bulwark log --format json`.
type Entry struct {
	ID             int64      `json:"id"`
	ActorID        *uuid.UUID `json:"actor_id"`
	ActorName      *string    `json:"actor_name"`
	At             time.Time  `json:"at"`
	CorrelationID  *string    `json:"correlation_id"`
	DBUser         string     `json:"db_user"`
	EntityID       *uuid.UUID `json:"entity_id"`
	FromState      *string    `json:"from_state"`
	IdempotencyKey *string    `json:"idempotency_key"`
	Machine        string     `json:"machine"`
	Note           *string    `json:"note"`
	ToState        *string    `json:"to_state"`
	Transition     string     `json:"transition"`
}

// Filter selects entries. Zero fields select everything; set fields must
// all match.
type Filter struct {
	// Actor is the acting principal (see [ResolveActor]).
	Actor uuid.UUID
	// CorrelationID is the request's correlation id.
	CorrelationID string
	// Entity is the entity's id.
	Entity uuid.UUID
	// Machine is the machine, such as "article", or a core table's log
	// name, such as "bulwark.principal" or "bulwark.maintenance".
	Machine string
	// Since keeps entries at or after it.
	Since time.Time
	// Transition is the action or transition, such as "publish" or
	// "maintenance_update".
	Transition string
	// Until keeps entries before it.
	Until time.Time
}

// where returns the filter's SQL condition over l (the log) with its
// arguments appended to args, starting at placeholder len(args)+1.
func (f Filter) where(args []any) (string, []any) {
	conds := []string{"true"}
	add := func(sql string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(sql, len(args)))
	}
	if f.Actor != uuid.Nil {
		add("l.actor_id = $%d", f.Actor)
	}
	if f.CorrelationID != "" {
		add("l.correlation_id = $%d", f.CorrelationID)
	}
	if f.Entity != uuid.Nil {
		add("l.entity_id = $%d", f.Entity)
	}
	if f.Machine != "" {
		add("l.machine = $%d", f.Machine)
	}
	if !f.Since.IsZero() {
		add("l.at >= $%d", f.Since)
	}
	if f.Transition != "" {
		add("l.transition = $%d", f.Transition)
	}
	if !f.Until.IsZero() {
		add("l.at < $%d", f.Until)
	}
	return strings.Join(conds, " AND "), args
}

// selectEntries reads the filtered entries with after < id <= upTo (0: no
// upper bound), oldest first, at most limit.
func selectEntries(ctx context.Context, tx pgx.Tx, f Filter, after, upTo int64, limit int) ([]Entry, error) {
	args := []any{after, limit}
	bound := ""
	if upTo > 0 {
		args = append(args, upTo)
		bound = " AND l.id <= $3"
	}
	cond, args := f.where(args)
	rows, err := tx.Query(ctx, `
		SELECT l.id, l.actor_id, p.name, l.at, l.correlation_id, l.db_user, l.entity_id, l.from_state,
		       l.idempotency_key, l.machine, l.note, l.to_state, l.transition
		FROM bulwark.transition_log AS l
		LEFT JOIN bulwark.principals AS p ON p.id = l.actor_id
		WHERE l.id > $1`+bound+` AND `+cond+`
		ORDER BY l.id
		LIMIT $2`, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Entry, error) {
		var e Entry
		err := row.Scan(&e.ID, &e.ActorID, &e.ActorName, &e.At, &e.CorrelationID, &e.DBUser, &e.EntityID, &e.FromState,
			&e.IdempotencyKey, &e.Machine, &e.Note, &e.ToState, &e.Transition)
		return e, err
	})
}
