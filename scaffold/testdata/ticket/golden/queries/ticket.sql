-- Queries of the ticket machine (help_desk.tickets), for sqlc: reads, and one
-- call per typed wrapper. Scaffolded by `bulwark new` from declaration.json.
-- Queries only read or call the wrappers: sqlc vet refuses a write of the
-- guarded schemas.

-- name: TicketClose :one
SELECT * FROM help_desk.ticket_close(
    p_actor            => @actor::uuid,
    p_id               => @id::uuid,
    p_expected_version => @expected_version::integer,
    p_idem_key         => sqlc.narg('idem_key')::text
);

-- name: TicketGetByID :one
SELECT *
FROM help_desk.tickets
WHERE id = @id::uuid;

-- TicketListByState pages through one state in creation order. Pass the
-- last row's created_at and id to get the next page (keyset pagination:
-- stable under concurrent inserts, no OFFSET scans).
-- name: TicketListByState :many
SELECT *
FROM help_desk.tickets
WHERE state = @state::text
  AND (created_at, id) > (@after_created_at::timestamptz, @after_id::uuid)
ORDER BY created_at, id
LIMIT @max_rows::integer;

-- name: TicketOpen :one
SELECT * FROM help_desk.ticket_open(
    p_actor    => @actor::uuid,
    p_subject  => @subject::text,
    p_payload  => sqlc.narg('payload')::jsonb,
    p_idem_key => sqlc.narg('idem_key')::text
);

-- name: TicketWait :one
SELECT * FROM help_desk.ticket_wait(
    p_actor            => @actor::uuid,
    p_id               => @id::uuid,
    p_expected_version => @expected_version::integer,
    p_note             => sqlc.narg('note')::text,
    p_idem_key         => sqlc.narg('idem_key')::text
);
