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

-- Schedules the publication of an article. The article row is locked so
-- that concurrent schedulers of one article queue; the partial unique
-- index refuses a second pending schedule in any case (a conflict: the
-- world moved).
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
    PERFORM bulwark.idempotency_complete(p_actor, p_idem_key, pg_catalog.to_jsonb(v_schedule));
    PERFORM bulwark.boundary_leave(v_boundary);
    RETURN v_schedule;
END;
$$;
-- +goose StatementEnd

-- Moves a pending schedule to another time. The token changes, so the job
-- queued for the old time finds itself stale and does nothing.
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

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA app FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    app.article_schedule_publish(uuid, uuid, timestamptz, text),
    app.article_schedule_move(uuid, uuid, integer, timestamptz, text),
    app.article_schedule_end(uuid, uuid, integer, uuid, text, text, text, text, text)
TO bulwark_app, bulwark_jobs;

GRANT SELECT ON app.article_schedules TO bulwark_app, bulwark_jobs;

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
DROP FUNCTION app.article_schedule_lock(uuid);
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
