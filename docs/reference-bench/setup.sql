-- The reference design of issue 10, beside the engine, for pgbench
-- (see run.sh and docs/benchmarks.md, "The issue's reference design").
-- For a scratch cluster only: run as a superuser on a database migrated
-- with the example lines (`bulwark migrate up --with-examples`). Makes:
--   refbench_app        a login in bulwark_app (no password: the scratch
--                       cluster's trust authentication), as the clients;
--                       cluster-wide, so made once per cluster
--   bench.articles      an unguarded copy of app.articles (same columns,
--                       checks and indexes; none of bulwark's triggers and
--                       no foreign keys)
--   bench.cast          32 clients' rows: an author, an editor and one
--                       article each, in both tables
--   bench.plain(...)    "a plain enforced transition function with lock,
--                       version, idempotency key, state-machine check and
--                       audit row" (issue 10), writing bench.articles
-- It is a yardstick, not a design: no capability, no stored result, no
-- request hash, no chained or contextual audit row, no boundary. Drop the
-- database (and the role, once no database uses it) when done.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'refbench_app') THEN
        CREATE ROLE refbench_app LOGIN IN ROLE bulwark_app;
    END IF;
END
$$;
CREATE SCHEMA bench;
GRANT USAGE ON SCHEMA bench TO refbench_app;

CREATE TABLE bench.articles (LIKE app.articles INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
GRANT SELECT, INSERT, UPDATE ON bench.articles TO refbench_app;

CREATE TABLE bench.cast (n integer PRIMARY KEY, author uuid NOT NULL, editor uuid NOT NULL, article uuid NOT NULL);
GRANT SELECT ON bench.cast TO refbench_app;

CREATE TABLE bench.keys (
    actor_id   uuid NOT NULL,
    key        text NOT NULL,
    entity_id  uuid NOT NULL,
    version    integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor_id, key)
);
CREATE TABLE bench.log (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity_id       uuid NOT NULL,
    actor_id        uuid NOT NULL,
    transition      text NOT NULL,
    from_state      text NOT NULL,
    to_state        text NOT NULL,
    idempotency_key text,
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON bench.log (entity_id, id);

CREATE FUNCTION bench.plain(p_action text, p_actor uuid, p_id uuid, p_expected integer, p_key text)
RETURNS bench.articles
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r      bench.articles;
    k      bench.keys;
    v_from text;
    v_to   text;
BEGIN
    SELECT * INTO r FROM bench.articles AS a WHERE a.id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'BWN01';
    END IF;
    SELECT * INTO k FROM bench.keys AS x WHERE x.actor_id = p_actor AND x.key = p_key;
    IF FOUND THEN
        SELECT * INTO r FROM bench.articles AS a WHERE a.id = k.entity_id;
        RETURN r;
    END IF;
    IF r.version <> p_expected THEN
        RAISE EXCEPTION USING ERRCODE = 'BWC01';
    END IF;
    v_to := CASE
        WHEN p_action = 'submit' AND r.state = 'draft' THEN 'in_review'
        WHEN p_action = 'request_changes' AND r.state = 'in_review' THEN 'draft'
    END;
    IF v_to IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'BWI01';
    END IF;
    v_from := r.state;
    UPDATE bench.articles AS a
    SET state = v_to,
        approved_by = CASE WHEN v_to = 'draft' THEN NULL ELSE a.approved_by END,
        updated_at = now(),
        version = a.version + 1
    WHERE a.id = p_id
    RETURNING * INTO r;
    INSERT INTO bench.log (entity_id, actor_id, transition, from_state, to_state, idempotency_key)
    VALUES (p_id, p_actor, p_action, v_from, v_to, p_key);
    INSERT INTO bench.keys (actor_id, key, entity_id, version) VALUES (p_actor, p_key, p_id, r.version);
    RETURN r;
END
$$;
REVOKE EXECUTE ON FUNCTION bench.plain(text, uuid, uuid, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bench.plain(text, uuid, uuid, integer, text) TO refbench_app;

-- The cast, through the kit's own functions.
DO $$
DECLARE
    boot uuid;
    a    uuid;
    e    uuid;
    art  app.articles;
BEGIN
    SELECT p.id INTO boot FROM bulwark.principals AS p WHERE p.name = 'bootstrap';
    FOR i IN 1..32 LOOP
        a := bulwark.principal_create(boot, 'human', 'refbench-author-' || i);
        PERFORM bulwark.role_grant(boot, a, 'author');
        e := bulwark.principal_create(boot, 'human', 'refbench-editor-' || i);
        PERFORM bulwark.role_grant(boot, e, 'editor');
        art := app.article_create(a, 'Title ' || i, repeat('body text ', 20), NULL);
        INSERT INTO bench.articles SELECT * FROM app.articles AS x WHERE x.id = art.id;
        INSERT INTO bench.cast VALUES (i, a, e, art.id);
    END LOOP;
END
$$;
