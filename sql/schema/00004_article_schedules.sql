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

SELECT bulwark.declare_machine('article_schedule', 'pending', ARRAY['pending', 'done', 'cancelled', 'failed']);
SELECT bulwark.declare_transition('article_schedule', 'complete', 'pending', 'done');
SELECT bulwark.declare_transition('article_schedule', 'cancel', 'pending', 'cancelled');
SELECT bulwark.declare_transition('article_schedule', 'fail', 'pending', 'failed');

SELECT bulwark.declare_capability('article.schedule', 'End a scheduled publication: cancel it, or record how it ended.');

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

-- A schedule that ended is a record: frozen. Identity never changes.
-- +goose StatementBegin
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
$$;
-- +goose StatementEnd

CREATE TRIGGER article_schedule_frozen
BEFORE UPDATE ON app.article_schedules
FOR EACH ROW EXECUTE FUNCTION app.trg_article_schedule_frozen();

SELECT bulwark.guard('app.article_schedules', 'article_schedule', 'state');

-- +goose StatementBegin
CREATE FUNCTION app.article_schedule_lock(p_id uuid)
RETURNS app.article_schedules
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_schedule app.article_schedules;
BEGIN
    IF p_id IS NULL THEN
        PERFORM bulwark.raise('22004', 'a schedule id is required');
    END IF;
    SELECT * INTO v_schedule FROM app.article_schedules AS s WHERE s.id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM bulwark.raise('BWN01', pg_catalog.format('no schedule %s', p_id));
    END IF;
    RETURN v_schedule;
END;
$$;
-- +goose StatementEnd

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

-- The live job of a schedule's time (its token), if any: one the ledger
-- names, still of the kit's kind, arguments and queue, in a state River will
-- work, and not pushed far past the schedule's time. Anything else (deleted,
-- cancelled or discarded, rewritten, parked) is no job, and the reconciler
-- queues another. 15 minutes is far beyond any retry backoff of the worker.
-- +goose StatementBegin
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
$$;
-- +goose StatementEnd

-- Queues the River job that publishes p_schedule at its time, unless a live
-- one exists for its token, and records it in the ledger; returns the job's
-- id. The columns are River's (v0.51, schema version 8) as its own insert
-- fills them: a job due later waits as 'scheduled', which River's leader
-- makes available at its time. No NOTIFY: the runners poll. Not callable by
-- any application role: only the schedule functions reach it, as the owner.
-- +goose StatementBegin
CREATE FUNCTION app.article_schedule_enqueue(p_schedule app.article_schedules, p_reason text)
RETURNS bigint
LANGUAGE plpgsql
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
$$;
-- +goose StatementEnd

-- Schedules the publication of an article. The article row is locked so
-- that concurrent schedulers of one article queue; the partial unique
-- index refuses a second pending schedule in any case (a conflict: the
-- world moved). The schedule's job is queued in the same transaction.
-- +goose StatementBegin
CREATE FUNCTION app.article_schedule_publish(p_actor uuid, p_article_id uuid, p_publish_at timestamptz, p_idem_key text)
RETURNS app.article_schedules
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_boundary text := bulwark.boundary_enter();
    v_article  app.articles;
    v_schedule app.article_schedules;
    v_replay   jsonb;
BEGIN
    -- Scheduling a publication is publishing, later: it needs the same
    -- capability.
    PERFORM bulwark.require_capability(p_actor, 'article.publish');
    IF p_article_id IS NULL OR p_publish_at IS NULL THEN
        PERFORM bulwark.raise('22004', 'an article id and a publication time are required');
    END IF;
    v_article := app.article_lock(p_article_id);
    v_replay := bulwark.idempotency_claim(p_actor, p_idem_key, pg_catalog.jsonb_build_object(
        'fn', 'article_schedule_publish', 'article_id', p_article_id, 'publish_at', p_publish_at));
    IF v_replay IS NOT NULL THEN
        PERFORM bulwark.boundary_leave(v_boundary);
        RETURN pg_catalog.jsonb_populate_record(NULL::app.article_schedules, v_replay);
    END IF;
    IF v_article.state <> 'approved' THEN
        PERFORM bulwark.raise(
            'BWI03',
            pg_catalog.format('article %s is %s: only an approved article is scheduled for publication', p_article_id, v_article.state));
    END IF;
    PERFORM bulwark.transition_begin(p_actor, 'schedule', p_idem_key, NULL);
    INSERT INTO app.article_schedules (article_id, created_by, publish_at, state)
    VALUES (p_article_id, p_actor, p_publish_at, 'pending')
    RETURNING * INTO v_schedule;
    PERFORM bulwark.transition_end();
    PERFORM app.article_schedule_enqueue(v_schedule, 'schedule');
    PERFORM bulwark.idempotency_complete(p_actor, p_idem_key, pg_catalog.to_jsonb(v_schedule));
    PERFORM bulwark.boundary_leave(v_boundary);
    RETURN v_schedule;
END;
$$;
-- +goose StatementEnd

-- Moves a pending schedule to another time, queueing a job for it. The
-- token changes, so the job queued for the old time finds itself stale and
-- does nothing.
-- +goose StatementBegin
CREATE FUNCTION app.article_schedule_move(p_actor uuid, p_id uuid, p_expected_version integer, p_publish_at timestamptz, p_idem_key text)
RETURNS app.article_schedules
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_boundary text := bulwark.boundary_enter();
    v_schedule app.article_schedules;
    v_replay   jsonb;
BEGIN
    PERFORM bulwark.require_capability(p_actor, 'article.publish');
    IF p_publish_at IS NULL OR p_expected_version IS NULL THEN
        PERFORM bulwark.raise('22004', 'a publication time and an expected version are required');
    END IF;
    v_schedule := app.article_schedule_lock(p_id);
    v_replay := bulwark.idempotency_claim(p_actor, p_idem_key, pg_catalog.jsonb_build_object(
        'fn', 'article_schedule_move', 'id', p_id, 'publish_at', p_publish_at));
    IF v_replay IS NOT NULL THEN
        PERFORM bulwark.boundary_leave(v_boundary);
        RETURN pg_catalog.jsonb_populate_record(NULL::app.article_schedules, v_replay);
    END IF;
    PERFORM bulwark.require_version('schedule', p_id, v_schedule.version, p_expected_version);
    IF v_schedule.state <> 'pending' THEN
        PERFORM bulwark.raise('BWI02', pg_catalog.format('schedule %s is %s and frozen', p_id, v_schedule.state));
    END IF;
    PERFORM bulwark.transition_begin(p_actor, 'move', p_idem_key, NULL);
    UPDATE app.article_schedules AS s
    SET publish_at = p_publish_at,
        token = pg_catalog.gen_random_uuid(),
        updated_at = pg_catalog.now()
    WHERE s.id = p_id
    RETURNING s.* INTO v_schedule;
    PERFORM bulwark.transition_end();
    -- The job queued for the old time finds a new token and does nothing.
    PERFORM app.article_schedule_enqueue(v_schedule, 'move');
    PERFORM bulwark.idempotency_complete(p_actor, p_idem_key, pg_catalog.to_jsonb(v_schedule));
    PERFORM bulwark.boundary_leave(v_boundary);
    RETURN v_schedule;
END;
$$;
-- +goose StatementEnd

-- Ends a pending schedule: complete (published), cancel, or fail (with the
-- layer, code and reason that refused the publication). A job must present
-- the schedule's current token, so a stale job cannot end a moved schedule.
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
RETURNS app.article_schedules
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_boundary text := bulwark.boundary_enter();
    v_schedule app.article_schedules;
    v_replay   jsonb;
    v_to       text;
BEGIN
    PERFORM bulwark.require_capability(p_actor, 'article.schedule');
    IF p_transition IS NULL OR p_transition NOT IN ('complete', 'cancel', 'fail') THEN
        PERFORM bulwark.raise('22023', 'a schedule ends by complete, cancel or fail');
    END IF;
    IF (p_transition = 'fail') <> (p_outcome_layer IS NOT NULL) THEN
        PERFORM bulwark.raise('22023', 'a failed schedule records the refusing layer; no other ending does');
    END IF;
    IF p_outcome_layer NOT IN ('invalid', 'permission', 'policy', 'conflict', 'invariant', 'not_found', 'unavailable') THEN
        PERFORM bulwark.raise('22023', pg_catalog.format('unknown outcome layer %s', p_outcome_layer));
    END IF;
    -- Only the job that was queued for the schedule completes or fails it.
    IF p_transition IN ('complete', 'fail') AND p_token IS NULL THEN
        PERFORM bulwark.raise('22023', 'completing or failing a schedule needs its token');
    END IF;
    v_schedule := app.article_schedule_lock(p_id);
    v_replay := bulwark.idempotency_claim(p_actor, p_idem_key, pg_catalog.jsonb_build_object(
        'fn', 'article_schedule_end', 'id', p_id, 'token', p_token,
        'transition', p_transition, 'layer', p_outcome_layer, 'code', p_outcome_code, 'reason', p_outcome_reason));
    IF v_replay IS NOT NULL THEN
        PERFORM bulwark.boundary_leave(v_boundary);
        RETURN pg_catalog.jsonb_populate_record(NULL::app.article_schedules, v_replay);
    END IF;
    PERFORM bulwark.require_version('schedule', p_id, v_schedule.version, p_expected_version);
    IF p_token IS NOT NULL AND v_schedule.token <> p_token THEN
        PERFORM bulwark.raise('BWC01', pg_catalog.format('schedule %s was moved since this job was queued', p_id));
    END IF;
    v_to := bulwark.transition_target('article_schedule', p_transition, v_schedule.state);
    -- A schedule is done only when its article was published.
    IF p_transition = 'complete' AND NOT EXISTS (
        SELECT FROM app.articles AS a WHERE a.id = v_schedule.article_id AND a.state = 'published'
    ) THEN
        PERFORM bulwark.raise('BWI03', pg_catalog.format('schedule %s: its article is not published', p_id));
    END IF;
    PERFORM bulwark.transition_begin(p_actor, p_transition, p_idem_key, p_outcome_reason);
    UPDATE app.article_schedules AS s
    SET state = v_to,
        outcome_layer = p_outcome_layer,
        outcome_code = pg_catalog.left(p_outcome_code, 100),
        outcome_reason = pg_catalog.left(p_outcome_reason, 2000),
        updated_at = pg_catalog.now()
    WHERE s.id = p_id
    RETURNING s.* INTO v_schedule;
    PERFORM bulwark.transition_end();
    PERFORM bulwark.idempotency_complete(p_actor, p_idem_key, pg_catalog.to_jsonb(v_schedule));
    PERFORM bulwark.boundary_leave(v_boundary);
    RETURN v_schedule;
END;
$$;
-- +goose StatementEnd

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
    v_boundary text := bulwark.boundary_enter();
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
    v_schedule := app.article_schedule_lock(p_id);
    IF v_schedule.state <> 'pending' THEN
        PERFORM bulwark.raise('BWI02', pg_catalog.format('schedule %s is %s and frozen', p_id, v_schedule.state));
    END IF;
    IF v_schedule.token <> p_token THEN
        PERFORM bulwark.raise('BWC01', pg_catalog.format('schedule %s was moved since it was found without a job', p_id));
    END IF;
    IF app.article_schedule_live_job(p_id, p_token) IS NOT NULL THEN
        PERFORM bulwark.boundary_leave(v_boundary);
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
    PERFORM bulwark.boundary_leave(v_boundary);
    RETURN v_schedule;
END;
$$;
-- +goose StatementEnd

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA app FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    app.article_schedule_publish(uuid, uuid, timestamptz, text),
    app.article_schedule_move(uuid, uuid, integer, timestamptz, text),
    app.article_schedule_end(uuid, uuid, integer, uuid, text, text, text, text, text)
TO bulwark_app, bulwark_jobs;
-- Only job runners keep jobs alive; nobody but the owner queues them.
GRANT EXECUTE ON FUNCTION
    app.article_schedule_live_job(uuid, uuid),
    app.article_schedule_requeue(uuid, uuid, uuid)
TO bulwark_jobs;

GRANT SELECT ON app.article_schedules TO bulwark_app, bulwark_jobs;
GRANT SELECT ON app.article_schedule_jobs TO bulwark_jobs;

RESET ROLE;

-- +goose Down
SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '5min';
SET LOCAL ROLE bulwark_owner;

SELECT bulwark.unguard('app.article_schedules');
-- The functions use the table's row type, so they go first.
DROP FUNCTION app.article_schedule_requeue(uuid, uuid, uuid);
DROP FUNCTION app.article_schedule_end(uuid, uuid, integer, uuid, text, text, text, text, text);
DROP FUNCTION app.article_schedule_move(uuid, uuid, integer, timestamptz, text);
DROP FUNCTION app.article_schedule_publish(uuid, uuid, timestamptz, text);
DROP FUNCTION app.article_schedule_enqueue(app.article_schedules, text);
DROP FUNCTION app.article_schedule_live_job(uuid, uuid);
DROP FUNCTION app.article_schedule_lock(uuid);
DROP TABLE app.article_schedule_jobs;
DROP TABLE app.article_schedules;
DROP FUNCTION app.trg_article_schedule_frozen();

-- +goose StatementBegin
DO $down$
BEGIN
    PERFORM bulwark.maintenance_begin('migration 00004_article_schedules down: remove schedules and job principals');
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

SELECT bulwark.undeclare_machine('article_schedule');

RESET ROLE;
