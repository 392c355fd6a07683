-- A team's own domain, as a team writes it in its own migrations: notes
-- that are written and then published, behind the boundary. The tests of
-- package bulwarktest migrate it beside the kit's, as a team would.

-- +goose Up
-- +goose StatementBegin
CREATE SCHEMA notes AUTHORIZATION bulwark_owner;
SET LOCAL ROLE bulwark_owner;
SELECT bulwark.declare_capability('note.create', 'Write a note.');
SELECT bulwark.declare_capability('note.publish', 'Publish a note.');
SELECT bulwark.declare_role('note_writer', ARRAY['note.create', 'note.publish']);
SELECT bulwark.declare_machine('note', 'draft', ARRAY['draft', 'published']);
SELECT bulwark.declare_action('note', 'create', 'create', 'note.create');
SELECT bulwark.declare_transition('note', 'publish', 'draft', 'published', 'note.publish');
CREATE TABLE notes.notes (
    id      uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    body    text NOT NULL,
    state   text NOT NULL DEFAULT 'draft',
    version integer NOT NULL DEFAULT 1,
    CONSTRAINT note_body_length CHECK (pg_catalog.char_length(body) BETWEEN 1 AND 200)
);
COMMENT ON TABLE notes.notes IS 'Notes: written as drafts, then published.';
SELECT bulwark.guard('notes.notes', 'note', 'state');
SELECT bulwark.declare_set('note', 'create', 'body', $$p_args ->> 'body'$$);

CREATE FUNCTION notes.note_create(p_actor uuid, p_body text, p_idem_key text)
RETURNS notes.notes LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN notes.note_apply('create', p_actor, NULL, NULL, p_idem_key,
    pg_catalog.jsonb_build_object('body', p_body)); END $$;
SELECT bulwark.declare_api('notes.note_create(uuid, text, text)', 'note', 'create');

CREATE FUNCTION notes.note_publish(p_actor uuid, p_id uuid, p_expected_version integer, p_idem_key text)
RETURNS notes.notes LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN notes.note_apply('publish', p_actor, p_id, p_expected_version, p_idem_key); END $$;
SELECT bulwark.declare_api('notes.note_publish(uuid, uuid, integer, text)', 'note', 'publish');
RESET ROLE;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP SCHEMA notes CASCADE;
SELECT bulwark.undeclare_machine('note');
-- +goose StatementEnd
