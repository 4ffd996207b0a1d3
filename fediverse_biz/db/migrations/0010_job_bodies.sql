-- A body shared by many jobs (docs/benchmarks.md): a post to 500 shared inboxes is 500 delivery jobs,
-- and if each carried the same 3.5 kB activity, the POST that created them would write, and PostgreSQL
-- parse, 1.75 MB of jsonb. A large fan-out stores the exact bytes to send once, here, and its jobs name the
-- row ({"body_id": id}). Rows no job names any more are deleted by the workers' periodic purge
-- (jobs/queue.py, purge_expired).
CREATE TABLE job_bodies (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
