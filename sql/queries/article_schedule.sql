-- Scheduled publications: reads and calls of the schedule functions.

-- name: ArticleScheduleEnd :one
SELECT * FROM app.article_schedule_end(
    p_actor            => @actor::uuid,
    p_id               => @id::uuid,
    p_expected_version => sqlc.narg('expected_version')::integer,
    p_token            => sqlc.narg('token')::uuid,
    p_transition       => @transition::text,
    p_outcome_layer    => sqlc.narg('outcome_layer')::text,
    p_outcome_code     => sqlc.narg('outcome_code')::text,
    p_outcome_reason   => sqlc.narg('outcome_reason')::text,
    p_idem_key         => sqlc.narg('idem_key')::text
);

-- name: ArticleScheduleGetByID :one
SELECT *
FROM app.article_schedules
WHERE id = @id::uuid;

-- name: ArticleScheduleGetPending :many
SELECT *
FROM app.article_schedules
WHERE article_id = @article_id::uuid
  AND state = 'pending';

-- name: ArticleScheduleJobGetByJobID :one
SELECT *
FROM app.article_schedule_jobs
WHERE job_id = @job_id::bigint;

-- name: ArticleScheduleListWithoutJob :many
-- Pending schedules that have no live job of the kit: the reconciler's
-- work list, oldest time first.
SELECT *
FROM app.article_schedules AS s
WHERE s.state = 'pending'
  AND app.article_schedule_live_job(s.id, s.token) IS NULL
ORDER BY s.publish_at, s.id
LIMIT @max_rows::integer;

-- name: ArticleScheduleMove :one
SELECT * FROM app.article_schedule_move(
    p_actor            => @actor::uuid,
    p_id               => @id::uuid,
    p_expected_version => @expected_version::integer,
    p_publish_at       => @publish_at::timestamptz,
    p_idem_key         => sqlc.narg('idem_key')::text
);

-- name: ArticleSchedulePublish :one
SELECT * FROM app.article_schedule_publish(
    p_actor      => @actor::uuid,
    p_article_id => @article_id::uuid,
    p_publish_at => @publish_at::timestamptz,
    p_idem_key   => sqlc.narg('idem_key')::text
);

-- name: ArticleScheduleRequeue :one
SELECT * FROM app.article_schedule_requeue(
    p_actor => @actor::uuid,
    p_id    => @id::uuid,
    p_token => @token::uuid
);

-- ArticleGetForSchedule reads the schedule policy's snapshot in one round
-- trip: the article, and the time of its pending schedule, if it has one
-- (the partial unique index keeps at most one).
-- name: ArticleGetForSchedule :one
SELECT
    sqlc.embed(a),
    s.publish_at AS pending_at
FROM app.articles AS a
LEFT JOIN app.article_schedules AS s
    ON s.article_id = a.id
   AND s.state = 'pending'
WHERE a.id = @id::uuid;

-- ArticleScheduleGetByJobID reads what a scheduled-publish job acts on in
-- one round trip: the ledger's record of the job (only the schedule
-- functions write it) and its schedule as it is now.
-- name: ArticleScheduleGetByJobID :one
SELECT
    j.schedule_id AS queued_schedule_id,
    j.token AS queued_token,
    sqlc.embed(s)
FROM app.article_schedule_jobs AS j
JOIN app.article_schedules AS s ON s.id = j.schedule_id
WHERE j.job_id = @job_id::bigint;
