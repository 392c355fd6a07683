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

SELECT bulwark.declare_machine('article', 'draft', ARRAY['draft', 'in_review', 'approved', 'published', 'archived']);
SELECT bulwark.declare_transition('article', 'submit', 'draft', 'in_review', 'article.submit');
SELECT bulwark.declare_transition('article', 'request_changes', 'in_review', 'draft', 'article.review');
SELECT bulwark.declare_transition('article', 'approve', 'in_review', 'approved', 'article.review');
SELECT bulwark.declare_transition('article', 'withdraw', 'approved', 'draft', 'article.review');
SELECT bulwark.declare_transition('article', 'publish', 'approved', 'published', 'article.publish');
SELECT bulwark.declare_transition('article', 'archive', 'published', 'archived', 'article.archive');
SELECT bulwark.declare_transition('article', 'archive', 'draft', 'archived');
SELECT bulwark.declare_action('article', 'create', 'create', 'article.create');
SELECT bulwark.declare_action('article', 'edit', 'update', 'article.edit');

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
    -- No control characters and no bidi controls (U+202A-U+202E,
    -- U+2066-U+2069) in what readers see as a line of text.
    CONSTRAINT article_title_text CHECK (title !~ '[\x01-\x1F\x7F\u202A-\u202E\u2066-\u2069]'),
    CONSTRAINT article_summary_text CHECK (summary !~ '[\x01-\x08\x0B\x0C\x0E-\x1F\x7F\u202A-\u202E\u2066-\u2069]'),
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

SELECT bulwark.guard('app.articles', 'article', 'state');

-- Published content and archived records are frozen, and identity columns
-- never change, whoever writes (maintenance included).
-- It runs inside the engine's writes, so the engine owns it
-- (bulwark.declare_function): no owner login can rewrite it to run as the
-- engine.
-- +goose StatementBegin
SELECT bulwark.declare_function('app.trg_article_frozen()', $fn$
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
$$
$fn$);
-- +goose StatementEnd

-- WHEN keeps the common write (a draft or a review moving on) from calling
-- the function at all; the function tests the same again. Every condition
-- on which the function refuses must imply this WHEN: a refusal added there
-- needs its condition added here.
CREATE TRIGGER article_frozen
BEFORE UPDATE ON app.articles
FOR EACH ROW
WHEN (OLD.state IN ('published', 'archived')
      OR NEW.id IS DISTINCT FROM OLD.id
      OR NEW.author_id IS DISTINCT FROM OLD.author_id
      OR NEW.created_at IS DISTINCT FROM OLD.created_at)
EXECUTE FUNCTION app.trg_article_frozen();


------------------------------------------------------------------------------
-- The rules of each action, in the documented order of their checks
------------------------------------------------------------------------------

-- Arguments (before any lock): malformed input is class 22. (Every change
-- of an article pins the version its caller decided on: the engine's own
-- check, since the machine pins versions.)
SELECT bulwark.declare_arg_check('article', 'create', $$pg_catalog.btrim(coalesce(p_args ->> 'title', '')) <> ''$$,
    '22023', $$'an article needs a title'$$);
SELECT bulwark.declare_arg_check('article', 'create', $$pg_catalog.char_length(p_args ->> 'title') <= 300$$, '22001', $$'title is longer than 300 characters'$$);
SELECT bulwark.declare_arg_check('article', 'create', $$(p_args ->> 'title') !~ '[\x01-\x1F\x7F\u202A-\u202E\u2066-\u2069]'$$, '22023', $$'title must not contain control or bidirectional formatting characters'$$);
SELECT bulwark.declare_arg_check('article', 'create', $$pg_catalog.octet_length(p_args ->> 'body') <= 1048576$$, '22001', $$'body is larger than 1 MiB'$$);
SELECT bulwark.declare_arg_check('article', 'edit', $$pg_catalog.char_length(p_args ->> 'title') <= 300$$, '22001', $$'title is longer than 300 characters'$$);
SELECT bulwark.declare_arg_check('article', 'edit', $$(p_args ->> 'title') !~ '[\x01-\x1F\x7F\u202A-\u202E\u2066-\u2069]'$$, '22023', $$'title must not contain control or bidirectional formatting characters'$$);
SELECT bulwark.declare_arg_check('article', 'edit', $$pg_catalog.char_length(p_args ->> 'slug') <= 120$$, '22001', $$'slug is longer than 120 characters'$$);
SELECT bulwark.declare_arg_check('article', 'edit', $$(p_args ->> 'slug') ~ '^[a-z0-9]+(-[a-z0-9]+)*$'$$, '22023', $$'slug must be lower-case words of a-z and 0-9 joined by single hyphens'$$);
SELECT bulwark.declare_arg_check('article', 'edit', $$pg_catalog.char_length(p_args ->> 'summary') <= 1000$$, '22001', $$'summary is longer than 1000 characters'$$);
SELECT bulwark.declare_arg_check('article', 'edit', $$(p_args ->> 'summary') !~ '[\x01-\x08\x0B\x0C\x0E-\x1F\x7F\u202A-\u202E\u2066-\u2069]'$$, '22023', $$'summary must not contain control or bidirectional formatting characters'$$);
SELECT bulwark.declare_arg_check('article', 'edit', $$pg_catalog.octet_length(p_args ->> 'body') <= 1048576$$, '22001', $$'body is larger than 1 MiB'$$);

-- Preconditions on the locked row.
SELECT bulwark.declare_check('article', 'edit', $$r.state = 'draft'$$, 'BWI02',
    $$pg_catalog.format('article %s is %s: only a draft can be edited', r.id, r.state)$$);
SELECT bulwark.declare_check('article', 'approve', $$r.author_id <> p_actor$$, 'BWI05',
    $$pg_catalog.format('article %s: the author cannot approve their own article', r.id)$$);
SELECT bulwark.declare_check('article', 'publish',
    $$pg_catalog.btrim(r.title) <> '' AND coalesce(r.slug, '') <> '' AND pg_catalog.btrim(coalesce(r.summary, '')) <> ''$$, 'BWI03',
    $$pg_catalog.format('article %s needs a title, slug and summary to be published', r.id)$$);
-- The unique index is the last line under a race; this gives the common
-- case a clear error.
SELECT bulwark.declare_check('article', 'publish',
    $$NOT EXISTS (SELECT FROM app.articles AS o WHERE o.state = 'published' AND o.slug = r.slug AND o.id <> r.id)$$, 'BWI03',
    $$pg_catalog.format('slug %s is already used by a published article', r.slug)$$);

-- What each action writes.
SELECT bulwark.declare_set('article', 'create', 'author_id', 'p_actor');
SELECT bulwark.declare_set('article', 'create', 'title', $$p_args ->> 'title'$$);
SELECT bulwark.declare_set('article', 'create', 'body', $$coalesce(p_args ->> 'body', '')$$);
SELECT bulwark.declare_set('article', NULL, 'updated_at', 'pg_catalog.now()');
SELECT bulwark.declare_set('article', NULL, 'approved_by', $$CASE WHEN v_to = 'approved' THEN p_actor WHEN v_to = 'draft' THEN NULL ELSE r.approved_by END$$);
SELECT bulwark.declare_set('article', 'publish', 'published_at', 'pg_catalog.now()');
SELECT bulwark.declare_set('article', 'edit', 'title', $$coalesce(p_args ->> 'title', r.title)$$);
SELECT bulwark.declare_set('article', 'edit', 'slug', $$coalesce(p_args ->> 'slug', r.slug)$$);
SELECT bulwark.declare_set('article', 'edit', 'summary', $$coalesce(p_args ->> 'summary', r.summary)$$);
SELECT bulwark.declare_set('article', 'edit', 'body', $$coalesce(p_args ->> 'body', r.body)$$);

------------------------------------------------------------------------------
-- The SQL API: typed wrappers of the engine, one per action (what sqlc calls)
------------------------------------------------------------------------------

-- +goose StatementBegin
CREATE FUNCTION app.article_create(p_actor uuid, p_title text, p_body text, p_idem_key text)
RETURNS app.articles LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN app.article_apply('create', p_actor, NULL, NULL, p_idem_key, pg_catalog.jsonb_build_object('title', p_title, 'body', p_body)); END $$;
-- +goose StatementEnd
SELECT bulwark.declare_api('app.article_create(uuid, text, text, text)', 'article', 'create');

-- NULL for a content argument keeps the current value. Only a draft can be
-- edited: content under review, approved or published is what the reviewer
-- saw, so changing it would void the review.
-- +goose StatementBegin
CREATE FUNCTION app.article_edit(
    p_actor uuid, p_id uuid, p_expected_version integer, p_title text, p_slug text, p_summary text, p_body text, p_idem_key text
)
RETURNS app.articles LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN app.article_apply('edit', p_actor, p_id, p_expected_version, p_idem_key,
        pg_catalog.jsonb_build_object('title', p_title, 'slug', p_slug, 'summary', p_summary, 'body', p_body));
END
$$;
-- +goose StatementEnd
SELECT bulwark.declare_api('app.article_edit(uuid, uuid, integer, text, text, text, text, text)', 'article', 'edit');

-- +goose StatementBegin
CREATE FUNCTION app.article_submit(p_actor uuid, p_id uuid, p_expected_version integer, p_idem_key text)
RETURNS app.articles LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN app.article_apply('submit', p_actor, p_id, p_expected_version, p_idem_key); END $$;
-- +goose StatementEnd
SELECT bulwark.declare_api('app.article_submit(uuid, uuid, integer, text)', 'article', 'submit');

-- +goose StatementBegin
CREATE FUNCTION app.article_request_changes(p_actor uuid, p_id uuid, p_expected_version integer, p_note text, p_idem_key text)
RETURNS app.articles LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN app.article_apply('request_changes', p_actor, p_id, p_expected_version, p_idem_key, NULL, p_note); END $$;
-- +goose StatementEnd
SELECT bulwark.declare_api('app.article_request_changes(uuid, uuid, integer, text, text)', 'article', 'request_changes');

-- +goose StatementBegin
CREATE FUNCTION app.article_approve(p_actor uuid, p_id uuid, p_expected_version integer, p_idem_key text)
RETURNS app.articles LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN app.article_apply('approve', p_actor, p_id, p_expected_version, p_idem_key); END $$;
-- +goose StatementEnd
SELECT bulwark.declare_api('app.article_approve(uuid, uuid, integer, text)', 'article', 'approve');

-- +goose StatementBegin
CREATE FUNCTION app.article_withdraw(p_actor uuid, p_id uuid, p_expected_version integer, p_idem_key text)
RETURNS app.articles LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN app.article_apply('withdraw', p_actor, p_id, p_expected_version, p_idem_key); END $$;
-- +goose StatementEnd
SELECT bulwark.declare_api('app.article_withdraw(uuid, uuid, integer, text)', 'article', 'withdraw');

-- +goose StatementBegin
CREATE FUNCTION app.article_publish(p_actor uuid, p_id uuid, p_expected_version integer, p_idem_key text)
RETURNS app.articles LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN app.article_apply('publish', p_actor, p_id, p_expected_version, p_idem_key); END $$;
-- +goose StatementEnd
SELECT bulwark.declare_api('app.article_publish(uuid, uuid, integer, text)', 'article', 'publish');

-- +goose StatementBegin
CREATE FUNCTION app.article_archive(p_actor uuid, p_id uuid, p_expected_version integer, p_idem_key text)
RETURNS app.articles LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN app.article_apply('archive', p_actor, p_id, p_expected_version, p_idem_key); END $$;
-- +goose StatementEnd
SELECT bulwark.declare_api('app.article_archive(uuid, uuid, integer, text)', 'article', 'archive');

RESET ROLE;

-- +goose Down
SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '5min';
SET LOCAL ROLE bulwark_owner;

SELECT bulwark.unguard('app.articles');
DROP SCHEMA app CASCADE;

SELECT bulwark.undeclare_machine('article');

-- +goose StatementBegin
DO $down$
BEGIN
    PERFORM bulwark.maintenance_begin('migration articles/00001_article_workflow down: remove the article domain');
    DELETE FROM bulwark.principal_roles WHERE role IN ('author', 'editor', 'publisher');
    DELETE FROM bulwark.role_capabilities WHERE capability LIKE 'article.%';
    DELETE FROM bulwark.roles WHERE name IN ('author', 'editor', 'publisher');
    DELETE FROM bulwark.capabilities WHERE name LIKE 'article.%';
    PERFORM bulwark.maintenance_end();
END
$down$;
-- +goose StatementEnd


RESET ROLE;
