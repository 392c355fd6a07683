-- Reads of app.articles and calls of the article transition functions. No
-- query here writes a table: the sqlc vet rule in sqlc.yaml refuses one.

-- name: ArticleApprove :one
SELECT * FROM app.article_approve(
    p_actor            => @actor::uuid,
    p_id               => @id::uuid,
    p_expected_version => @expected_version::integer,
    p_idem_key         => sqlc.narg('idem_key')::text
);

-- name: ArticleArchive :one
SELECT * FROM app.article_archive(
    p_actor            => @actor::uuid,
    p_id               => @id::uuid,
    p_expected_version => @expected_version::integer,
    p_idem_key         => sqlc.narg('idem_key')::text
);

-- name: ArticleCreate :one
SELECT * FROM app.article_create(
    p_actor    => @actor::uuid,
    p_title    => @title::text,
    p_body     => @body::text,
    p_idem_key => sqlc.narg('idem_key')::text
);

-- name: ArticleEdit :one
SELECT * FROM app.article_edit(
    p_actor            => @actor::uuid,
    p_id               => @id::uuid,
    p_expected_version => @expected_version::integer,
    p_title            => sqlc.narg('title')::text,
    p_slug             => sqlc.narg('slug')::text,
    p_summary          => sqlc.narg('summary')::text,
    p_body             => sqlc.narg('body')::text,
    p_idem_key         => sqlc.narg('idem_key')::text
);

-- name: ArticleGetByID :one
SELECT *
FROM app.articles
WHERE id = @id::uuid;

-- ArticleListByState pages through one state in creation order. Pass the
-- last row's created_at and id to get the next page (keyset pagination:
-- stable under concurrent inserts, no OFFSET scans).
-- name: ArticleListByState :many
SELECT *
FROM app.articles
WHERE state = @state::text
  AND (created_at, id) > (@after_created_at::timestamptz, @after_id::uuid)
ORDER BY created_at, id
LIMIT @max_rows::integer;

-- name: ArticlePublish :one
SELECT * FROM app.article_publish(
    p_actor            => @actor::uuid,
    p_id               => @id::uuid,
    p_expected_version => @expected_version::integer,
    p_idem_key         => sqlc.narg('idem_key')::text
);

-- name: ArticleRequestChanges :one
SELECT * FROM app.article_request_changes(
    p_actor            => @actor::uuid,
    p_id               => @id::uuid,
    p_expected_version => @expected_version::integer,
    p_note             => sqlc.narg('note')::text,
    p_idem_key         => sqlc.narg('idem_key')::text
);

-- name: ArticleSubmit :one
SELECT * FROM app.article_submit(
    p_actor            => @actor::uuid,
    p_id               => @id::uuid,
    p_expected_version => @expected_version::integer,
    p_idem_key         => sqlc.narg('idem_key')::text
);

-- name: ArticleWithdraw :one
SELECT * FROM app.article_withdraw(
    p_actor            => @actor::uuid,
    p_id               => @id::uuid,
    p_expected_version => @expected_version::integer,
    p_idem_key         => sqlc.narg('idem_key')::text
);

-- ArticleListPublishedBefore pages through published articles older than a
-- cut-off, oldest first: the retention job's work list.
-- name: ArticleListPublishedBefore :many
SELECT *
FROM app.articles
WHERE state = 'published'
  AND published_at < @published_before::timestamptz
ORDER BY published_at, id
LIMIT @max_rows::integer;

-- ArticleSlugTaken reports whether another published article uses slug:
-- the publish policy's context (the unique index is the last line).
-- name: ArticleSlugTaken :one
SELECT EXISTS (
    SELECT
    FROM app.articles
    WHERE state = 'published'
      AND slug = sqlc.narg('slug')::text
      AND id <> @id::uuid
)::boolean AS taken;

-- ArticleGetForPublish reads the publish policy's snapshot in one round
-- trip: the article, and whether another published article holds its slug
-- (the unique index is the last line).
-- name: ArticleGetForPublish :one
SELECT
    sqlc.embed(a),
    EXISTS (
        SELECT
        FROM app.articles AS o
        WHERE o.state = 'published'
          AND o.slug = a.slug
          AND o.id <> a.id
    )::boolean AS slug_taken
FROM app.articles AS a
WHERE a.id = @id::uuid;
