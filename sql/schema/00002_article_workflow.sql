-- The reference domain: the article workflow in schema app, put behind the
-- boundary with the core's declarations and bulwark.guard().

-- +goose Up
-- Fail fast rather than queue behind a long transaction and block every
-- session that then queues behind this migration's locks.
SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '5min';
CREATE SCHEMA app AUTHORIZATION bulwark_owner;

SET LOCAL ROLE bulwark_owner;

REVOKE ALL ON SCHEMA app FROM PUBLIC;
GRANT USAGE ON SCHEMA app TO bulwark_app, bulwark_jobs;

COMMENT ON SCHEMA app IS 'The reference domain: the article workflow.';

SELECT bulwark.declare_machine('article', 'draft', ARRAY['draft', 'in_review', 'approved', 'published', 'archived']);
SELECT bulwark.declare_transition('article', 'submit', 'draft', 'in_review');
SELECT bulwark.declare_transition('article', 'request_changes', 'in_review', 'draft');
SELECT bulwark.declare_transition('article', 'approve', 'in_review', 'approved');
SELECT bulwark.declare_transition('article', 'withdraw', 'approved', 'draft');
SELECT bulwark.declare_transition('article', 'publish', 'approved', 'published');
SELECT bulwark.declare_transition('article', 'archive', 'published', 'archived');
SELECT bulwark.declare_transition('article', 'archive', 'draft', 'archived');

SELECT bulwark.declare_capability('article.create', 'Create an article.');
SELECT bulwark.declare_capability('article.edit', 'Edit an article''s content.');
SELECT bulwark.declare_capability('article.submit', 'Submit an article for review.');
SELECT bulwark.declare_capability('article.review', 'Review an article: request changes, approve or withdraw an approval.');
SELECT bulwark.declare_capability('article.publish', 'Publish an article.');
SELECT bulwark.declare_capability('article.archive', 'Archive an article.');

SELECT bulwark.declare_role('author', ARRAY['article.create', 'article.edit', 'article.submit', 'article.archive']);
SELECT bulwark.declare_role('editor', ARRAY['article.review']);
SELECT bulwark.declare_role('publisher', ARRAY['article.publish', 'article.archive']);
SELECT bulwark.declare_role('admin', ARRAY[
    'article.create', 'article.edit', 'article.submit', 'article.review', 'article.publish', 'article.archive'
]);

CREATE TABLE app.articles (
    id           uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    approved_by  uuid REFERENCES bulwark.principals (id),
    author_id    uuid NOT NULL REFERENCES bulwark.principals (id),
    body         text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    published_at timestamptz,
    slug         text,
    state        text NOT NULL DEFAULT 'draft',
    summary      text,
    title        text NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    version      integer NOT NULL DEFAULT 1,
    CONSTRAINT article_title_length CHECK (pg_catalog.char_length(title) <= 300),
    CONSTRAINT article_slug_format CHECK (
        pg_catalog.char_length(slug) <= 120
        AND slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'
    ),
    CONSTRAINT article_summary_length CHECK (pg_catalog.char_length(summary) <= 1000),
    CONSTRAINT article_body_size CHECK (pg_catalog.octet_length(body) <= 1048576),
    CONSTRAINT article_approver_not_author CHECK (approved_by IS DISTINCT FROM author_id),
    CONSTRAINT article_approved_has_approver CHECK (
        state NOT IN ('approved', 'published') OR approved_by IS NOT NULL
    ),
    CONSTRAINT article_published_complete CHECK (
        state <> 'published' OR (
            pg_catalog.btrim(title) <> ''
            AND coalesce(slug, '') <> ''
            AND pg_catalog.btrim(coalesce(summary, '')) <> ''
            AND published_at IS NOT NULL
        )
    ),
    CONSTRAINT article_version_positive CHECK (version > 0)
);

COMMENT ON TABLE app.articles IS 'Articles, guarded by the article state machine: change them only through the app.article_* functions.';
COMMENT ON COLUMN app.articles.state IS 'draft, in_review, approved, published or archived.';
COMMENT ON COLUMN app.articles.version IS 'Optimistic-concurrency token: bumped by trigger on every update.';
COMMENT ON COLUMN app.articles.approved_by IS 'The reviewer who approved; never the author.';

CREATE UNIQUE INDEX article_slug_published_unique ON app.articles (slug) WHERE state = 'published';
CREATE INDEX article_state_created ON app.articles (state, created_at, id);
CREATE INDEX article_author ON app.articles (author_id);

-- Published content and archived records are frozen, and identity columns
-- never change, whoever writes (maintenance included).
-- +goose StatementBegin
CREATE FUNCTION app.trg_article_frozen()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.id IS DISTINCT FROM OLD.id
       OR NEW.author_id IS DISTINCT FROM OLD.author_id
       OR NEW.created_at IS DISTINCT FROM OLD.created_at THEN
        PERFORM bulwark.raise('BWI02', pg_catalog.format('article %s: id, author and creation time never change', OLD.id));
    END IF;
    IF OLD.state = 'archived' THEN
        PERFORM bulwark.raise('BWI02', pg_catalog.format('article %s is archived and frozen', OLD.id));
    END IF;
    IF OLD.state = 'published' AND (
        NEW.title IS DISTINCT FROM OLD.title
        OR NEW.slug IS DISTINCT FROM OLD.slug
        OR NEW.summary IS DISTINCT FROM OLD.summary
        OR NEW.body IS DISTINCT FROM OLD.body
        OR NEW.published_at IS DISTINCT FROM OLD.published_at
    ) THEN
        PERFORM bulwark.raise('BWI02', pg_catalog.format('article %s is published: its content is frozen', OLD.id));
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER article_frozen
BEFORE UPDATE ON app.articles
FOR EACH ROW EXECUTE FUNCTION app.trg_article_frozen();

SELECT bulwark.guard('app.articles', 'article', 'state');

------------------------------------------------------------------------------
-- Input validation shared by the API functions (invalid input: class 22)
------------------------------------------------------------------------------

-- +goose StatementBegin
CREATE FUNCTION app.article_check_content(p_title text, p_slug text, p_summary text, p_body text)
RETURNS void
LANGUAGE plpgsql

SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pg_catalog.char_length(p_title) > 300 THEN
        PERFORM bulwark.raise('22001', 'title is longer than 300 characters');
    END IF;
    IF p_title ~ '[\x01-\x08\x0B\x0C\x0E-\x1F\x7F]' OR p_summary ~ '[\x01-\x08\x0B\x0C\x0E-\x1F\x7F]' THEN
        PERFORM bulwark.raise('22023', 'title and summary must not contain control characters');
    END IF;
    IF pg_catalog.char_length(p_slug) > 120 THEN
        PERFORM bulwark.raise('22001', 'slug is longer than 120 characters');
    END IF;
    IF p_slug !~ '^[a-z0-9]+(-[a-z0-9]+)*$' THEN
        PERFORM bulwark.raise('22023', 'slug must be lower-case words of a-z and 0-9 joined by single hyphens');
    END IF;
    IF pg_catalog.char_length(p_summary) > 1000 THEN
        PERFORM bulwark.raise('22001', 'summary is longer than 1000 characters');
    END IF;
    IF pg_catalog.octet_length(p_body) > 1048576 THEN
        PERFORM bulwark.raise('22001', 'body is larger than 1 MiB');
    END IF;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION app.article_check_key_args(p_id uuid, p_expected_version integer)
RETURNS void
LANGUAGE plpgsql

SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_id IS NULL THEN
        PERFORM bulwark.raise('22004', 'an article id is required');
    END IF;
    IF p_expected_version IS NULL OR p_expected_version < 1 THEN
        PERFORM bulwark.raise('22023', 'an expected version (1 or more) is required');
    END IF;
END;
$$;
-- +goose StatementEnd

-- Locks the article for the rest of the transaction: concurrent transitions
-- of one article queue here, so the version check below sees the latest row.
-- +goose StatementBegin
CREATE FUNCTION app.article_lock(p_id uuid)
RETURNS app.articles
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_article app.articles;
BEGIN
    SELECT * INTO v_article FROM app.articles AS a WHERE a.id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM bulwark.raise('BWN01', pg_catalog.format('no article %s', p_id));
    END IF;
    RETURN v_article;
END;
$$;
-- +goose StatementEnd

-- The state-changing transitions share one body; the public functions below
-- fix the transition and its capability. Checks run in the documented order:
-- capability, existence, idempotency, version, transition, preconditions.
-- +goose StatementBegin
CREATE FUNCTION app.article_apply(
    p_actor uuid,
    p_id uuid,
    p_expected_version integer,
    p_idem_key text,
    p_transition text,
    p_capability text,
    p_note text
)
RETURNS app.articles
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_boundary text := bulwark.boundary_enter();
    v_article  app.articles;
    v_replay  jsonb;
    v_to      text;
BEGIN
    PERFORM bulwark.require_capability(p_actor, p_capability);
    PERFORM app.article_check_key_args(p_id, p_expected_version);
    IF pg_catalog.char_length(p_note) > 2000 THEN
        PERFORM bulwark.raise('22001', 'note is longer than 2000 characters');
    END IF;
    v_article := app.article_lock(p_id);
    v_replay := bulwark.idempotency_claim(p_actor, p_idem_key, pg_catalog.jsonb_build_object(
        'fn', 'article_' || p_transition,
        'id', p_id,
        'note', p_note));
    IF v_replay IS NOT NULL THEN
        PERFORM bulwark.boundary_leave(v_boundary);
        RETURN pg_catalog.jsonb_populate_record(NULL::app.articles, v_replay);
    END IF;
    PERFORM bulwark.require_version('article', v_article.id, v_article.version, p_expected_version);
    v_to := bulwark.transition_target('article', p_transition, v_article.state);
    IF v_to = 'approved' AND v_article.author_id = p_actor THEN
        PERFORM bulwark.raise('BWI05', pg_catalog.format('article %s: the author cannot approve their own article', p_id));
    END IF;
    IF v_to = 'published' THEN
        IF pg_catalog.btrim(v_article.title) = ''
           OR coalesce(v_article.slug, '') = ''
           OR pg_catalog.btrim(coalesce(v_article.summary, '')) = '' THEN
            PERFORM bulwark.raise('BWI03', pg_catalog.format('article %s needs a title, slug and summary to be published', p_id));
        END IF;
        -- The unique index is the last line under a race; this gives the
        -- common case a clear error.
        IF EXISTS (
            SELECT FROM app.articles AS a
            WHERE a.state = 'published' AND a.slug = v_article.slug AND a.id <> p_id
        ) THEN
            PERFORM bulwark.raise('BWI03', pg_catalog.format('slug %s is already used by a published article', v_article.slug));
        END IF;
    END IF;

    PERFORM bulwark.transition_begin(p_actor, p_transition, p_idem_key, p_note);
    UPDATE app.articles AS a
    SET state = v_to,
        approved_by = CASE
            WHEN v_to = 'approved' THEN p_actor
            WHEN v_to = 'draft' THEN NULL
            ELSE a.approved_by
        END,
        published_at = CASE WHEN v_to = 'published' THEN pg_catalog.now() ELSE a.published_at END,
        updated_at = pg_catalog.now()
    WHERE a.id = p_id
    RETURNING a.* INTO v_article;
    PERFORM bulwark.transition_end();
    PERFORM bulwark.idempotency_complete(p_actor, p_idem_key, pg_catalog.to_jsonb(v_article));
    PERFORM bulwark.boundary_leave(v_boundary);
    RETURN v_article;
END;
$$;
-- +goose StatementEnd

------------------------------------------------------------------------------
-- The SQL API
------------------------------------------------------------------------------

-- +goose StatementBegin
CREATE FUNCTION app.article_create(p_actor uuid, p_title text, p_body text, p_idem_key text)
RETURNS app.articles
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_boundary text := bulwark.boundary_enter();
    v_article app.articles;
    v_replay  jsonb;
BEGIN
    PERFORM bulwark.require_capability(p_actor, 'article.create');
    IF p_title IS NULL OR pg_catalog.btrim(p_title) = '' THEN
        PERFORM bulwark.raise('22023', 'an article needs a title');
    END IF;
    PERFORM app.article_check_content(p_title, NULL, NULL, p_body);
    v_replay := bulwark.idempotency_claim(p_actor, p_idem_key, pg_catalog.jsonb_build_object(
        'fn', 'article_create',
        'title', p_title,
        'body_sha256', pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(coalesce(p_body, ''), 'UTF8')), 'hex')));
    IF v_replay IS NOT NULL THEN
        PERFORM bulwark.boundary_leave(v_boundary);
        RETURN pg_catalog.jsonb_populate_record(NULL::app.articles, v_replay);
    END IF;
    PERFORM bulwark.transition_begin(p_actor, 'create', p_idem_key, NULL);
    INSERT INTO app.articles (author_id, title, body, state)
    VALUES (p_actor, p_title, coalesce(p_body, ''), 'draft')
    RETURNING * INTO v_article;
    PERFORM bulwark.transition_end();
    PERFORM bulwark.idempotency_complete(p_actor, p_idem_key, pg_catalog.to_jsonb(v_article));
    PERFORM bulwark.boundary_leave(v_boundary);
    RETURN v_article;
END;
$$;
-- +goose StatementEnd

-- NULL for a content argument keeps the current value. Only a draft can be
-- edited: content under review, approved or published is what the reviewer
-- saw, so changing it would void the review.
-- +goose StatementBegin
CREATE FUNCTION app.article_edit(
    p_actor uuid,
    p_id uuid,
    p_expected_version integer,
    p_title text,
    p_slug text,
    p_summary text,
    p_body text,
    p_idem_key text
)
RETURNS app.articles
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_boundary text := bulwark.boundary_enter();
    v_article app.articles;
    v_replay  jsonb;
BEGIN
    PERFORM bulwark.require_capability(p_actor, 'article.edit');
    PERFORM app.article_check_key_args(p_id, p_expected_version);
    PERFORM app.article_check_content(p_title, p_slug, p_summary, p_body);
    v_article := app.article_lock(p_id);
    v_replay := bulwark.idempotency_claim(p_actor, p_idem_key, pg_catalog.jsonb_build_object(
        'fn', 'article_edit',
        'id', p_id,
        'title', p_title,
        'slug', p_slug,
        'summary', p_summary,
        'body_sha256', pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(coalesce(p_body, ''), 'UTF8')), 'hex'),
        'body_null', p_body IS NULL));
    IF v_replay IS NOT NULL THEN
        PERFORM bulwark.boundary_leave(v_boundary);
        RETURN pg_catalog.jsonb_populate_record(NULL::app.articles, v_replay);
    END IF;
    PERFORM bulwark.require_version('article', v_article.id, v_article.version, p_expected_version);
    IF v_article.state <> 'draft' THEN
        PERFORM bulwark.raise(
            'BWI02',
            pg_catalog.format('article %s is %s: only a draft can be edited', p_id, v_article.state),
            pg_catalog.format('state=%s', v_article.state));
    END IF;
    PERFORM bulwark.transition_begin(p_actor, 'edit', p_idem_key, NULL);
    UPDATE app.articles AS a
    SET title = coalesce(p_title, a.title),
        slug = coalesce(p_slug, a.slug),
        summary = coalesce(p_summary, a.summary),
        body = coalesce(p_body, a.body),
        updated_at = pg_catalog.now()
    WHERE a.id = p_id
    RETURNING a.* INTO v_article;
    PERFORM bulwark.transition_end();
    PERFORM bulwark.idempotency_complete(p_actor, p_idem_key, pg_catalog.to_jsonb(v_article));
    PERFORM bulwark.boundary_leave(v_boundary);
    RETURN v_article;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION app.article_submit(p_actor uuid, p_id uuid, p_expected_version integer, p_idem_key text)
RETURNS app.articles
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM app.article_apply(p_actor, p_id, p_expected_version, p_idem_key, 'submit', 'article.submit', NULL) $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION app.article_request_changes(p_actor uuid, p_id uuid, p_expected_version integer, p_note text, p_idem_key text)
RETURNS app.articles
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM app.article_apply(p_actor, p_id, p_expected_version, p_idem_key, 'request_changes', 'article.review', p_note) $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION app.article_approve(p_actor uuid, p_id uuid, p_expected_version integer, p_idem_key text)
RETURNS app.articles
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM app.article_apply(p_actor, p_id, p_expected_version, p_idem_key, 'approve', 'article.review', NULL) $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION app.article_withdraw(p_actor uuid, p_id uuid, p_expected_version integer, p_idem_key text)
RETURNS app.articles
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM app.article_apply(p_actor, p_id, p_expected_version, p_idem_key, 'withdraw', 'article.review', NULL) $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION app.article_publish(p_actor uuid, p_id uuid, p_expected_version integer, p_idem_key text)
RETURNS app.articles
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM app.article_apply(p_actor, p_id, p_expected_version, p_idem_key, 'publish', 'article.publish', NULL) $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION app.article_archive(p_actor uuid, p_id uuid, p_expected_version integer, p_idem_key text)
RETURNS app.articles
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM app.article_apply(p_actor, p_id, p_expected_version, p_idem_key, 'archive', 'article.archive', NULL) $$;
-- +goose StatementEnd

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA app FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    app.article_create(uuid, text, text, text),
    app.article_edit(uuid, uuid, integer, text, text, text, text, text),
    app.article_submit(uuid, uuid, integer, text),
    app.article_request_changes(uuid, uuid, integer, text, text),
    app.article_approve(uuid, uuid, integer, text),
    app.article_withdraw(uuid, uuid, integer, text),
    app.article_publish(uuid, uuid, integer, text),
    app.article_archive(uuid, uuid, integer, text)
TO bulwark_app, bulwark_jobs;

GRANT SELECT ON app.articles TO bulwark_app, bulwark_jobs;

RESET ROLE;

-- +goose Down
SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '5min';
SET LOCAL ROLE bulwark_owner;

SELECT bulwark.unguard('app.articles');
DROP SCHEMA app CASCADE;

-- +goose StatementBegin
DO $down$
BEGIN
    PERFORM bulwark.maintenance_begin('migration 00002_article_workflow down: remove the article domain');
    DELETE FROM bulwark.principal_roles WHERE role IN ('author', 'editor', 'publisher');
    DELETE FROM bulwark.role_capabilities WHERE capability LIKE 'article.%';
    DELETE FROM bulwark.roles WHERE name IN ('author', 'editor', 'publisher');
    DELETE FROM bulwark.capabilities WHERE name LIKE 'article.%';
    PERFORM bulwark.maintenance_end();
END
$down$;
-- +goose StatementEnd

SELECT bulwark.undeclare_machine('article');

RESET ROLE;
