-- Scheduled publication of articles, and the service principals that run
-- background jobs. A schedule is guarded data like the article itself: at
-- most one pending schedule per article, enforced here rather than by the
-- job queue's unique options, and changed only by transition functions.

-- +goose Up
-- Fail fast rather than queue behind a long transaction and block every
-- session that then queues behind this migration's locks.
SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '5min';
SET LOCAL ROLE bulwark_owner;

SELECT bulwark.declare_capability('article.schedule', 'End a scheduled publication: cancel it, or record how it ended.');

-- Its endings act on the job's token, not on a version the caller saw (the
-- job holds none): versions are pinned where a rule says so (move).
SELECT bulwark.declare_machine('article_schedule', 'pending', ARRAY['pending', 'done', 'cancelled', 'failed'], p_pins_versions => false);
-- Scheduling a publication is publishing, later: it needs the same
-- capability.
SELECT bulwark.declare_action('article_schedule', 'schedule', 'create', 'article.publish');
SELECT bulwark.declare_action('article_schedule', 'move', 'update', 'article.publish');
SELECT bulwark.declare_transition('article_schedule', 'complete', 'pending', 'done', 'article.schedule');
SELECT bulwark.declare_transition('article_schedule', 'cancel', 'pending', 'cancelled', 'article.schedule');
SELECT bulwark.declare_transition('article_schedule', 'fail', 'pending', 'failed', 'article.schedule');

SELECT bulwark.declare_role('publisher', ARRAY['article.schedule']);
SELECT bulwark.declare_role('admin', ARRAY['article.schedule']);
-- Service roles, one per job, each with only what its job needs. The
-- scheduler publishes (article.publish) and records outcomes
-- (article.schedule) under two roles, so that publishing can be revoked
-- while the outcome can still be recorded.
SELECT bulwark.declare_role('scheduler', ARRAY['article.publish']);
SELECT bulwark.declare_role('schedule_runner', ARRAY['article.schedule']);
SELECT bulwark.declare_role('retention', ARRAY['article.archive']);

-- Each acts only from a job runner's session (a member of bulwark_jobs).
SELECT bulwark.declare_principal('service', 'scheduler', ARRAY['scheduler', 'schedule_runner'], 'bulwark_jobs');
SELECT bulwark.declare_principal('service', 'retention', ARRAY['retention'], 'bulwark_jobs');

CREATE TABLE app.article_schedules (
    id             uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    article_id     uuid NOT NULL REFERENCES app.articles (id),
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by     uuid NOT NULL REFERENCES bulwark.principals (id),
    outcome_code   text,
    outcome_layer  text,
    outcome_reason text,
    publish_at     timestamptz NOT NULL,
    state          text NOT NULL DEFAULT 'pending',
    token          uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    updated_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    version        integer NOT NULL DEFAULT 1,
    CONSTRAINT article_schedule_outcome_recorded CHECK (
        (state IN ('pending', 'done', 'cancelled')) = (outcome_layer IS NULL)
    ),
    CONSTRAINT article_schedule_outcome_layer CHECK (
        outcome_layer IN ('invalid', 'permission', 'policy', 'conflict', 'invariant', 'not_found', 'unavailable')
    ),
    CONSTRAINT article_schedule_outcome_length CHECK (
        pg_catalog.char_length(outcome_code) <= 100 AND pg_catalog.char_length(outcome_reason) <= 2000
    ),
    CONSTRAINT article_schedule_version_positive CHECK (version > 0)
);

COMMENT ON TABLE app.article_schedules IS 'Scheduled publications. At most one pending per article; change them only through the app.article_schedule_* functions.';
COMMENT ON COLUMN app.article_schedules.token IS 'Changes on every reschedule: a queued job whose token no longer matches is stale and does nothing.';
COMMENT ON COLUMN app.article_schedules.outcome_layer IS 'For a failed schedule, the layer that refused the publication (permission, policy, invariant, invalid, not_found, conflict), or unavailable when retries ran out on errors that name no layer.';

-- The invariant the job queue's unique options cannot guarantee: a second
-- pending schedule for one article is refused, whoever inserts it.
CREATE UNIQUE INDEX article_schedule_one_pending ON app.article_schedules (article_id) WHERE state = 'pending';
CREATE INDEX article_schedule_due ON app.article_schedules (publish_at) WHERE state = 'pending';

SELECT bulwark.guard('app.article_schedules', 'article_schedule', 'state');

-- A schedule that ended is a record: frozen. Identity never changes.
-- +goose StatementBegin
SELECT bulwark.declare_function('app.trg_article_schedule_frozen()', $fn$
CREATE FUNCTION app.trg_article_schedule_frozen()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.id IS DISTINCT FROM OLD.id
       OR NEW.article_id IS DISTINCT FROM OLD.article_id
       OR NEW.created_by IS DISTINCT FROM OLD.created_by
       OR NEW.created_at IS DISTINCT FROM OLD.created_at THEN
        PERFORM bulwark.raise('BWI02', pg_catalog.format('schedule %s: id, article, creator and creation time never change', OLD.id));
    END IF;
    IF OLD.state <> 'pending' THEN
        PERFORM bulwark.raise('BWI02', pg_catalog.format('schedule %s is %s and frozen', OLD.id, OLD.state));
    END IF;
    RETURN NEW;
END;
$$
$fn$);
-- +goose StatementEnd

CREATE TRIGGER article_schedule_frozen
BEFORE UPDATE ON app.article_schedules
FOR EACH ROW EXECUTE FUNCTION app.trg_article_schedule_frozen();


------------------------------------------------------------------------------
-- The schedule's River job. Only the kit queues it: the schedule functions
-- below insert River's job row themselves, in their own transaction, through
-- app.article_schedule_enqueue; the application roles hold nothing in
-- schema river. Job runners (bulwark_jobs) can write River's tables, so the
-- worker believes a job only when this ledger, which nobody but the owner
-- writes, names it with the same schedule and token.
------------------------------------------------------------------------------

CREATE TABLE app.article_schedule_jobs (
    job_id      bigint PRIMARY KEY,
    schedule_id uuid NOT NULL REFERENCES app.article_schedules (id),
    token       uuid NOT NULL,
    queued_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    reason      text NOT NULL,
    CONSTRAINT article_schedule_job_reason_length CHECK (pg_catalog.char_length(reason) <= 200)
);

COMMENT ON TABLE app.article_schedule_jobs IS 'Every River job the kit queued for a schedule (written only by app.article_schedule_enqueue). A job it does not name, or names with other arguments, was not queued by the kit and does nothing.';
COMMENT ON COLUMN app.article_schedule_jobs.reason IS 'Why the job was queued: schedule, move, or requeue and what happened to the job before it.';

CREATE INDEX article_schedule_job_schedule ON app.article_schedule_jobs (schedule_id, token);

-- Written only by the engine (app.article_schedule_enqueue runs as
-- bulwark_engine); a direct write by the owner is refused and logged.
GRANT SELECT, INSERT ON app.article_schedule_jobs TO bulwark_engine;
SELECT bulwark.protect('app.article_schedule_jobs', 'audited');

-- The live job of a schedule's time (its token), if any: one the ledger
-- names, still of the kit's kind, arguments and queue, in a state River will
-- work, and not pushed far past the schedule's time. Anything else (deleted,
-- cancelled or discarded, rewritten, parked) is no job, and the reconciler
-- queues another. 15 minutes is far beyond any retry backoff of the worker.
-- +goose StatementBegin
SELECT bulwark.declare_function('app.article_schedule_live_job(uuid, uuid)', $fn$
CREATE FUNCTION app.article_schedule_live_job(p_id uuid, p_token uuid)
RETURNS bigint
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (
        SELECT j.id
        FROM app.article_schedule_jobs AS l
        JOIN app.article_schedules AS s ON s.id = l.schedule_id
        JOIN river.river_job AS j ON j.id = l.job_id
        WHERE l.schedule_id = p_id
          AND l.token = p_token
          AND j.kind = 'bulwark.scheduled_publish'
          AND j.args = pg_catalog.jsonb_build_object('schedule_id', p_id, 'token', p_token)
          AND j.queue = 'default'
          AND j.state IN ('available', 'retryable', 'running', 'scheduled')
          AND j.scheduled_at <= GREATEST(s.publish_at, pg_catalog.now()) + interval '15 minutes'
        ORDER BY j.id DESC
        LIMIT 1
    );
END;
$$
$fn$, ARRAY['bulwark_jobs']);
-- +goose StatementEnd

-- Queues the River job that publishes p_schedule at its time, unless a live
-- one exists for its token, and records it in the ledger; returns the job's
-- id. The columns are River's (v0.51, schema version 8) as its own insert
-- fills them: a job due later waits as 'scheduled', which River's leader
-- makes available at its time. No NOTIFY: the runners poll. Not callable by
-- any application role: only the engine's after rules and the reconciler reach it.
-- +goose StatementBegin
SELECT bulwark.declare_function('app.article_schedule_enqueue(app.article_schedules, text)', $fn$
CREATE FUNCTION app.article_schedule_enqueue(p_schedule app.article_schedules, p_reason text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_job bigint := app.article_schedule_live_job(p_schedule.id, p_schedule.token);
BEGIN
    IF v_job IS NOT NULL THEN
        RETURN v_job;
    END IF;
    INSERT INTO river.river_job (args, kind, max_attempts, priority, queue, scheduled_at, state)
    VALUES (
        pg_catalog.jsonb_build_object('schedule_id', p_schedule.id, 'token', p_schedule.token),
        'bulwark.scheduled_publish',
        -- With the worker's short conflict backoff, about eight minutes of
        -- retries; the last attempt records the failure on the schedule.
        25,
        1,
        'default',
        p_schedule.publish_at,
        CASE WHEN p_schedule.publish_at <= pg_catalog.now() THEN 'available' ELSE 'scheduled' END::river.river_job_state
    )
    RETURNING id INTO v_job;
    INSERT INTO app.article_schedule_jobs (job_id, schedule_id, token, reason)
    VALUES (v_job, p_schedule.id, p_schedule.token, pg_catalog.left(p_reason, 200));
    RETURN v_job;
END;
$$
$fn$);
-- +goose StatementEnd



-- Locks the article to be scheduled, so that concurrent schedulers of one
-- article queue (the partial unique index refuses a second pending schedule
-- in any case: a conflict), and says whether it is approved. Runs inside the
-- engine, as bulwark_engine.
-- +goose StatementBegin
SELECT bulwark.declare_function('app.article_lock_approved(uuid)', $fn$
CREATE FUNCTION app.article_lock_approved(p_id uuid)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_state text;
BEGIN
    SELECT a.state INTO v_state FROM app.articles AS a WHERE a.id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM bulwark.raise('BWN01', pg_catalog.format('no article %s', p_id));
    END IF;
    RETURN v_state = 'approved';
END;
$$
$fn$);
-- +goose StatementEnd


-- schedule
SELECT bulwark.declare_arg_check('article_schedule', 'schedule',
    $$p_args ->> 'article_id' IS NOT NULL AND p_args ->> 'publish_at' IS NOT NULL$$, '22004',
    $$'an article id and a publication time are required'$$);
SELECT bulwark.declare_check('article_schedule', 'schedule',
    $$app.article_lock_approved((p_args ->> 'article_id')::uuid)$$, 'BWI03',
    $$pg_catalog.format('article %s is not approved: only an approved article is scheduled for publication', p_args ->> 'article_id')$$);
SELECT bulwark.declare_set('article_schedule', 'schedule', 'article_id', $$(p_args ->> 'article_id')::uuid$$);
SELECT bulwark.declare_set('article_schedule', 'schedule', 'created_by', 'p_actor');
SELECT bulwark.declare_set('article_schedule', 'schedule', 'publish_at', $$(p_args ->> 'publish_at')::timestamptz$$);
-- The schedule's job, queued in the same transaction (a replay returns
-- before this and queues nothing).
SELECT bulwark.declare_after('article_schedule', 'schedule', $$PERFORM app.article_schedule_enqueue(r, 'schedule')$$);

-- move: a new time and a new token, so the job queued for the old time
-- finds itself stale and does nothing.
SELECT bulwark.declare_arg_check('article_schedule', 'move',
    $$p_args ->> 'publish_at' IS NOT NULL AND p_expected_version IS NOT NULL$$, '22004',
    $$'a publication time and an expected version are required'$$);
SELECT bulwark.declare_check('article_schedule', 'move', $$r.state = 'pending'$$, 'BWI02',
    $$pg_catalog.format('schedule %s is %s and frozen', r.id, r.state)$$);
SELECT bulwark.declare_set('article_schedule', 'move', 'publish_at', $$(p_args ->> 'publish_at')::timestamptz$$);
SELECT bulwark.declare_set('article_schedule', 'move', 'token', 'pg_catalog.gen_random_uuid()');
-- The job queued for the old time finds a new token and does nothing.
SELECT bulwark.declare_after('article_schedule', 'move', $$PERFORM app.article_schedule_enqueue(r, 'move')$$);

-- complete, cancel, fail: only the job queued for the schedule (its token)
-- completes or fails it; a failure records the refusing layer and why.
SELECT bulwark.declare_arg_check('article_schedule', 'complete', $$p_args ->> 'token' IS NOT NULL$$, '22023',
    $$'completing a schedule needs its token'$$);
SELECT bulwark.declare_arg_check('article_schedule', 'fail', $$p_args ->> 'token' IS NOT NULL$$, '22023',
    $$'failing a schedule needs its token'$$);
SELECT bulwark.declare_arg_check('article_schedule', 'complete', $$p_args ->> 'layer' IS NULL$$, '22023',
    $$'only a failed schedule records a refusing layer'$$);
SELECT bulwark.declare_arg_check('article_schedule', 'cancel', $$p_args ->> 'layer' IS NULL$$, '22023',
    $$'only a failed schedule records a refusing layer'$$);
SELECT bulwark.declare_arg_check('article_schedule', 'fail',
    $$p_args ->> 'layer' IN ('invalid', 'permission', 'policy', 'conflict', 'invariant', 'not_found', 'unavailable')$$, '22023',
    $$'a failed schedule records the refusing layer: invalid, permission, policy, conflict, invariant, not_found or unavailable'$$);
SELECT bulwark.declare_arg_check('article_schedule', 'fail', $$pg_catalog.char_length(p_args ->> 'code') <= 100$$, '22001',
    $$'an outcome code has at most 100 characters'$$);
SELECT bulwark.declare_check('article_schedule', 'complete', $$r.token = (p_args ->> 'token')::uuid$$, 'BWC01',
    $$pg_catalog.format('schedule %s was moved since this job was queued', r.id)$$);
SELECT bulwark.declare_check('article_schedule', 'fail', $$r.token = (p_args ->> 'token')::uuid$$, 'BWC01',
    $$pg_catalog.format('schedule %s was moved since this job was queued', r.id)$$);
SELECT bulwark.declare_check('article_schedule', 'cancel', $$r.token = (p_args ->> 'token')::uuid$$, 'BWC01',
    $$pg_catalog.format('schedule %s was moved since this job was queued', r.id)$$);
-- A schedule is done only when its article was published.
SELECT bulwark.declare_check('article_schedule', 'complete',
    $$EXISTS (SELECT FROM app.articles AS a WHERE a.id = r.article_id AND a.state = 'published')$$, 'BWI03',
    $$pg_catalog.format('schedule %s: its article is not published', r.id)$$);
SELECT bulwark.declare_set('article_schedule', 'fail', 'outcome_layer', $$p_args ->> 'layer'$$);
SELECT bulwark.declare_set('article_schedule', 'fail', 'outcome_code', $$p_args ->> 'code'$$);
SELECT bulwark.declare_set('article_schedule', 'fail', 'outcome_reason', 'p_note');
SELECT bulwark.declare_set('article_schedule', NULL, 'updated_at', 'pg_catalog.now()');

------------------------------------------------------------------------------
-- The SQL API
------------------------------------------------------------------------------

-- +goose StatementBegin
CREATE FUNCTION app.article_schedule_publish(p_actor uuid, p_article_id uuid, p_publish_at timestamptz, p_idem_key text)
RETURNS app.article_schedules LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN app.article_schedule_apply('schedule', p_actor, NULL, NULL, p_idem_key,
        pg_catalog.jsonb_build_object('article_id', p_article_id, 'publish_at', p_publish_at));
END
$$;
-- +goose StatementEnd
SELECT bulwark.declare_api('app.article_schedule_publish(uuid, uuid, timestamptz, text)', 'article_schedule', 'schedule');

-- +goose StatementBegin
CREATE FUNCTION app.article_schedule_move(p_actor uuid, p_id uuid, p_expected_version integer, p_publish_at timestamptz, p_idem_key text)
RETURNS app.article_schedules LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN app.article_schedule_apply('move', p_actor, p_id, p_expected_version, p_idem_key,
        pg_catalog.jsonb_build_object('publish_at', p_publish_at));
END
$$;
-- +goose StatementEnd
SELECT bulwark.declare_api('app.article_schedule_move(uuid, uuid, integer, timestamptz, text)', 'article_schedule', 'move');

-- Ends a pending schedule: complete (published), cancel, or fail (with the
-- layer, code and reason that refused the publication; the reason is the
-- log row's note, at most 2000 characters).
-- +goose StatementBegin
CREATE FUNCTION app.article_schedule_end(
    p_actor uuid,
    p_id uuid,
    p_expected_version integer,
    p_token uuid,
    p_transition text,
    p_outcome_layer text,
    p_outcome_code text,
    p_outcome_reason text,
    p_idem_key text
)
RETURNS app.article_schedules LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN app.article_schedule_apply(
        CASE WHEN p_transition IN ('complete', 'cancel', 'fail') THEN p_transition ELSE 'end:' || coalesce(p_transition, 'NULL') END,
        p_actor, p_id, p_expected_version, p_idem_key,
        pg_catalog.jsonb_build_object('token', p_token, 'layer', p_outcome_layer, 'code', p_outcome_code),
        p_outcome_reason);
END
$$;
-- +goose StatementEnd
SELECT bulwark.declare_api('app.article_schedule_end(uuid, uuid, integer, uuid, text, text, text, text, text)', 'article_schedule', 'complete');

-- Keeps a pending schedule's job alive: the reconciler's call, for a
-- schedule that has no live job (app.article_schedule_live_job) because its
-- job vanished, was cancelled or discarded by someone other than the kit, or
-- was altered. Everything is checked again under the schedule's lock; with a
-- live job it changes nothing. A job is requeued at most three times for
-- one schedule time (token): when the fourth is lost too, the schedule fails
-- as unavailable (outcome code job_lost), with what happened to its last job
-- as the reason.
-- +goose StatementBegin
CREATE FUNCTION app.article_schedule_requeue(p_actor uuid, p_id uuid, p_token uuid)
RETURNS app.article_schedules
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_schedule app.article_schedules;
    v_queued   integer;
    v_last     bigint;
    v_state    text;
    v_reason   text;
BEGIN
    PERFORM bulwark.require_capability(p_actor, 'article.schedule');
    IF p_token IS NULL THEN
        PERFORM bulwark.raise('22004', 'requeueing a schedule needs its token');
    END IF;
    IF p_id IS NULL THEN
        PERFORM bulwark.raise('22004', 'a schedule id is required');
    END IF;
    SELECT * INTO v_schedule FROM app.article_schedules AS s WHERE s.id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM bulwark.raise('BWN01', pg_catalog.format('no schedule %s', p_id));
    END IF;
    IF v_schedule.state <> 'pending' THEN
        PERFORM bulwark.raise('BWI02', pg_catalog.format('schedule %s is %s and frozen', p_id, v_schedule.state));
    END IF;
    IF v_schedule.token <> p_token THEN
        PERFORM bulwark.raise('BWC01', pg_catalog.format('schedule %s was moved since it was found without a job', p_id));
    END IF;
    IF app.article_schedule_live_job(p_id, p_token) IS NOT NULL THEN
        RETURN v_schedule;
    END IF;

    SELECT pg_catalog.count(*), pg_catalog.max(l.job_id) INTO v_queued, v_last
    FROM app.article_schedule_jobs AS l
    WHERE l.schedule_id = p_id AND l.token = p_token;
    SELECT j.state::text INTO v_state FROM river.river_job AS j WHERE j.id = v_last;
    v_reason := CASE
        WHEN v_last IS NULL THEN 'no job was queued'
        WHEN v_state IS NULL THEN pg_catalog.format('job %s vanished', v_last)
        WHEN v_state IN ('cancelled', 'completed', 'discarded') THEN pg_catalog.format('job %s was %s', v_last, v_state)
        ELSE pg_catalog.format('job %s was altered', v_last)
    END;

    IF v_queued > 3 THEN
        v_schedule := app.article_schedule_end(
            p_actor, p_id, v_schedule.version, p_token, 'fail', 'unavailable', 'job_lost',
            pg_catalog.format('its job was lost %s times; last: %s', v_queued, v_reason), NULL);
    ELSE
        PERFORM app.article_schedule_enqueue(v_schedule, 'requeue: ' || v_reason);
    END IF;
    RETURN v_schedule;
END;
$$;
-- +goose StatementEnd

-- Only job runners keep jobs alive; nobody but the owner queues them.
GRANT EXECUTE ON FUNCTION app.article_schedule_requeue(uuid, uuid, uuid) TO bulwark_jobs;

GRANT SELECT ON app.article_schedules TO bulwark_app, bulwark_jobs;
GRANT SELECT ON app.article_schedule_jobs TO bulwark_jobs;

-- What the job roles may execute outside the typed API, declared so that
-- bulwark verify can tell it from a door nobody declared
-- (bulwark.callable_functions).
SELECT bulwark.declare_callable('app.article_schedule_live_job(uuid, uuid)', NULL,
    'The reconciler''s read: a pending schedule''s live River job, if any.');
SELECT bulwark.declare_callable('app.article_schedule_requeue(uuid, uuid, uuid)', 'article.schedule',
    'The reconciler''s call: queues a lost job again, or fails the schedule; checks article.schedule itself.');

RESET ROLE;

-- +goose Down
SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '5min';
SET LOCAL ROLE bulwark_owner;

SELECT bulwark.undeclare_callable('app.article_schedule_requeue(uuid, uuid, uuid)');
SELECT bulwark.undeclare_callable('app.article_schedule_live_job(uuid, uuid)');
SELECT bulwark.unguard('app.article_schedules');
-- The functions use the table's row type, so they go first.
DROP FUNCTION app.article_schedule_requeue(uuid, uuid, uuid);
DROP FUNCTION app.article_schedule_end(uuid, uuid, integer, uuid, text, text, text, text, text);
DROP FUNCTION app.article_schedule_move(uuid, uuid, integer, timestamptz, text);
DROP FUNCTION app.article_schedule_publish(uuid, uuid, timestamptz, text);
SELECT bulwark.undeclare_function('app.article_schedule_enqueue(app.article_schedules, text)');
SELECT bulwark.undeclare_function('app.article_schedule_live_job(uuid, uuid)');
SELECT bulwark.undeclare_function('app.article_lock_approved(uuid)');
DROP TABLE app.article_schedule_jobs;
DROP TABLE app.article_schedules;
SELECT bulwark.undeclare_function('app.trg_article_schedule_frozen()');

SELECT bulwark.undeclare_machine('article_schedule');

-- +goose StatementBegin
DO $down$
BEGIN
    PERFORM bulwark.maintenance_begin('migration articles/00002_article_schedules down: remove schedules and job principals');
    DELETE FROM bulwark.idempotency_keys
    WHERE actor_id IN (SELECT id FROM bulwark.principals WHERE name IN ('scheduler', 'retention'));
    DELETE FROM bulwark.principal_roles
    WHERE role IN ('scheduler', 'schedule_runner', 'retention')
       OR principal_id IN (SELECT id FROM bulwark.principals WHERE name IN ('scheduler', 'retention'));
    DELETE FROM bulwark.principals WHERE name IN ('scheduler', 'retention');
    DELETE FROM bulwark.role_capabilities WHERE capability = 'article.schedule' OR role IN ('scheduler', 'schedule_runner', 'retention');
    DELETE FROM bulwark.roles WHERE name IN ('scheduler', 'schedule_runner', 'retention');
    DELETE FROM bulwark.capabilities WHERE name = 'article.schedule';
    PERFORM bulwark.maintenance_end();
END
$down$;
-- +goose StatementEnd


RESET ROLE;
