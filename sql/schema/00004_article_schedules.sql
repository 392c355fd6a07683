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

SELECT bulwark.declare_machine('article_schedule', 'pending', ARRAY['pending', 'done', 'cancelled', 'failed']);
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

-- Locks the article to be scheduled, so that concurrent schedulers of one
-- article queue (the partial unique index refuses a second pending schedule
-- in any case: a conflict), and says whether it is approved. Runs inside the
-- engine, as bulwark_engine.
-- +goose StatementBegin
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
$$;
-- +goose StatementEnd

REVOKE EXECUTE ON FUNCTION app.article_lock_approved(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.article_lock_approved(uuid) TO bulwark_engine;

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

-- move: a new time and a new token, so the job queued for the old time
-- finds itself stale and does nothing.
SELECT bulwark.declare_arg_check('article_schedule', 'move',
    $$p_args ->> 'publish_at' IS NOT NULL AND p_expected_version IS NOT NULL$$, '22004',
    $$'a publication time and an expected version are required'$$);
SELECT bulwark.declare_check('article_schedule', 'move', $$r.state = 'pending'$$, 'BWI02',
    $$pg_catalog.format('schedule %s is %s and frozen', r.id, r.state)$$);
SELECT bulwark.declare_set('article_schedule', 'move', 'publish_at', $$(p_args ->> 'publish_at')::timestamptz$$);
SELECT bulwark.declare_set('article_schedule', 'move', 'token', 'pg_catalog.gen_random_uuid()');

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

RESET ROLE;

-- +goose Down
SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '5min';
SET LOCAL ROLE bulwark_owner;

SELECT bulwark.unguard('app.article_schedules');
-- The functions use the table's row type, so they go first.
DROP FUNCTION app.article_schedule_end(uuid, uuid, integer, uuid, text, text, text, text, text);
DROP FUNCTION app.article_schedule_move(uuid, uuid, integer, timestamptz, text);
DROP FUNCTION app.article_schedule_publish(uuid, uuid, timestamptz, text);
DROP FUNCTION app.article_lock_approved(uuid);
DROP TABLE app.article_schedules;
DROP FUNCTION app.trg_article_schedule_frozen();

SELECT bulwark.undeclare_machine('article_schedule');

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


RESET ROLE;
