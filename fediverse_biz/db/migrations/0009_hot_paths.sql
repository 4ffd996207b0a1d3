-- Indexes and settings for the hot paths the benchmarks found (docs/benchmarks.md).

-- Two claims instead of one (jobs/queue.py): jobs with a host keep the locked, per-host-limited
-- claim; local jobs (host NULL) are taken straight by index. Each side gets a partial index over its
-- due order, so neither scans the other's backlog: at 10,000 queued inbox jobs the single claim took
-- 11-26 ms and claims ran one at a time.
CREATE INDEX jobs_local_due ON jobs (run_at, id) WHERE host IS NULL;
CREATE INDEX jobs_remote_due ON jobs (run_at, id) WHERE host IS NOT NULL;
DROP INDEX jobs_due;

-- The queue is a small table with a large turnover: every job is inserted, updated at least once and
-- deleted. With the default thresholds (20 % of the table) a burst leaves thousands of dead rows at the
-- head of the claim's index scan and the planner working from counts of a table that no longer exists;
-- vacuum and analyze it after every thousand changed rows instead.
ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
                      autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 1000);

-- Local actors by profile URL: peers address and mention local accounts and halls by `url` (/@name) as
-- well as by `uri`, and every inbox Create asks whether it names a local hall or account. Without this,
-- `uri = ANY(..) OR url = ANY(..)` read the whole actors table (0.55 ms per Create with 200 actors).
CREATE INDEX actors_local_url ON actors (url) WHERE domain IS NULL;
