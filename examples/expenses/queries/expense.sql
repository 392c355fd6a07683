-- Queries of the expense machine (expenses.claims), for sqlc: reads, and one
-- call per typed wrapper. Scaffolded by `bulwark new` from expense.json.
-- Queries only read or call the wrappers: sqlc vet refuses a write of the
-- guarded schemas.

-- name: ExpenseApprove :one
SELECT * FROM expenses.expense_approve(
    p_actor            => @actor::uuid,
    p_id               => @id::uuid,
    p_expected_version => @expected_version::integer,
    p_idem_key         => sqlc.narg('idem_key')::text
);

-- name: ExpenseCreate :one
SELECT * FROM expenses.expense_create(
    p_actor        => @actor::uuid,
    p_amount_cents => @amount_cents::bigint,
    p_description  => @description::text,
    p_idem_key     => sqlc.narg('idem_key')::text
);

-- name: ExpenseEdit :one
SELECT * FROM expenses.expense_edit(
    p_actor            => @actor::uuid,
    p_id               => @id::uuid,
    p_expected_version => @expected_version::integer,
    p_amount_cents     => sqlc.narg('amount_cents')::bigint,
    p_description      => sqlc.narg('description')::text,
    p_idem_key         => sqlc.narg('idem_key')::text
);

-- name: ExpenseGetByID :one
SELECT *
FROM expenses.claims
WHERE id = @id::uuid;

-- ExpenseListByState pages through one state in creation order. Pass the
-- last row's created_at and id to get the next page (keyset pagination:
-- stable under concurrent inserts, no OFFSET scans).
-- name: ExpenseListByState :many
SELECT *
FROM expenses.claims
WHERE state = @state::text
  AND (created_at, id) > (@after_created_at::timestamptz, @after_id::uuid)
ORDER BY created_at, id
LIMIT @max_rows::integer;

-- name: ExpensePay :one
SELECT * FROM expenses.expense_pay(
    p_actor            => @actor::uuid,
    p_id               => @id::uuid,
    p_expected_version => @expected_version::integer,
    p_idem_key         => sqlc.narg('idem_key')::text
);

-- name: ExpenseReject :one
SELECT * FROM expenses.expense_reject(
    p_actor            => @actor::uuid,
    p_id               => @id::uuid,
    p_expected_version => @expected_version::integer,
    p_note             => sqlc.narg('note')::text,
    p_idem_key         => sqlc.narg('idem_key')::text
);

-- name: ExpenseSubmit :one
SELECT * FROM expenses.expense_submit(
    p_actor            => @actor::uuid,
    p_id               => @id::uuid,
    p_expected_version => @expected_version::integer,
    p_idem_key         => sqlc.narg('idem_key')::text
);
