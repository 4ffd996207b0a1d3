-- home_feed without foreign keys (docs/benchmarks.md). Each feed row carried two foreign-key
-- checks, 2,000 per post by an author with 1,000 local followers: 5 of the ~17 ms of PostgreSQL work per
-- post, measured with the same INSERT with and without them. Rows are only ever written next to a status
-- that exists (the fan-out runs in the transaction that creates the status; a follow's backfill selects
-- existing statuses), and what the keys' ON DELETE CASCADE did is done by the triggers below, one
-- statement per deleting statement. What the keys also prevented, a feed row left behind by a delete
-- racing a concurrent backfill or fan-out, is harmless: a timeline page skips ids it cannot load
-- (core/hydrate.py). Mastodon keeps home feeds in Redis sorted sets (app/lib/feed_manager.rb), with no
-- referential integrity at all.
ALTER TABLE home_feed DROP CONSTRAINT home_feed_actor_id_fkey, DROP CONSTRAINT home_feed_status_id_fkey;

-- One function for both triggers: the argument names the home_feed column that held the deleted rows' ids.
CREATE FUNCTION home_feed_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DELETE FROM home_feed h USING gone WHERE h.%I = gone.id', TG_ARGV[0]);
    RETURN NULL;
END $$;

-- Statement-level, with the deleted rows as a transition table: deleting an account's 10,000 statuses is
-- one DELETE here, not 10,000. They also fire for rows removed by other keys' ON DELETE CASCADE.
CREATE TRIGGER home_feed_statuses_deleted AFTER DELETE ON statuses
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION home_feed_forget('status_id');
CREATE TRIGGER home_feed_readers_deleted AFTER DELETE ON actors
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION home_feed_forget('actor_id');
