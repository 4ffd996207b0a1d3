-- A body shared by many jobs (docs/benchmarks.md): a post to 500 shared inboxes was 500 delivery
-- jobs each carrying the same 3.5 kB activity, so the POST that created them wrote and PostgreSQL parsed
-- 1.75 MB of jsonb. A large fan-out now stores the exact bytes to send once, here, and its jobs name the
-- row ({"body_id": id}). Rows no job names any more are deleted by the workers' periodic purge
-- (federation/jobs.py, purge_expired).
CREATE TABLE job_bodies (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
