-- The article domain's lost races: which of its unique constraints a
-- concurrent writer can take first, and what the loser is told. The kit
-- knows none of them; the error mapper reads these declarations.

-- +goose Up
SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '5min';
SET LOCAL ROLE bulwark_owner;

-- Two publishers of one slug raced: the retry meets the publish policy's
-- slug check on fresh state, which answers with its own reason.
SELECT bulwark.declare_conflict('app.articles', 'article_slug_published_unique', 'slug_taken', true,
    'another published article took the slug');
-- Two schedulers raced: the retry re-reads, and the policy then says the
-- article is already scheduled.
SELECT bulwark.declare_conflict('app.article_schedules', 'article_schedule_one_pending', 'already_scheduled', true,
    'the article already has a pending scheduled publication');

RESET ROLE;

-- +goose Down
SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '5min';
SET LOCAL ROLE bulwark_owner;

SELECT bulwark.undeclare_conflict('app.article_schedules', 'article_schedule_one_pending');
SELECT bulwark.undeclare_conflict('app.articles', 'article_slug_published_unique');

RESET ROLE;
