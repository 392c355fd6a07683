-- The article domain's functions that the job roles may execute outside
-- its typed API, declared so that bulwark verify can tell them from a door
-- nobody declared (bulwark.callable_functions).

-- +goose Up
SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '5min';
SET LOCAL ROLE bulwark_owner;

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

RESET ROLE;
