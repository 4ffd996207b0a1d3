-- Counters shown on every account entity (statuses, followers, following, last status day), kept by
-- triggers so every writer — the client API, the inbox, approvals, deletions — keeps them right in its
-- own transaction. Before this, each page of statuses recounted every author's statuses and follows:
-- on a 1,000,000-status database that was most of the home timeline's cost
-- (docs/benchmarks.md). Mastodon keeps the same figures in its account_stats table, apart from accounts,
-- for the same reason we do: a busy account's counters change often, and updating the wide actors row
-- each time would churn it.
--
-- statuses_count counts published statuses that are not boosts (what api/entities.py always showed).
-- last_status_at only moves forward, as on Mastodon: deleting the newest status leaves it.
--
-- Bulk loads may switch triggers off (session_replication_role = replica) and call
-- actor_stats_recount() afterwards, as bench/home_timeline.py does for its million statuses.
CREATE TABLE actor_stats (
    actor_id         bigint PRIMARY KEY REFERENCES actors (id) ON DELETE CASCADE,
    statuses_count   bigint NOT NULL DEFAULT 0,
    followers_count  bigint NOT NULL DEFAULT 0,
    following_count  bigint NOT NULL DEFAULT 0,
    last_status_at   timestamptz
);

-- Adds to one actor's counters, creating its row if needed. An actor gone in the same transaction (an
-- account deletion cascading to its statuses and follows) is skipped: its row went with it.
CREATE FUNCTION actor_stats_add(actor bigint, statuses bigint, followers bigint, following bigint,
                                last_at timestamptz) RETURNS void LANGUAGE sql AS $$
    INSERT INTO actor_stats AS st (actor_id, statuses_count, followers_count, following_count, last_status_at)
    SELECT actor, greatest(statuses, 0), greatest(followers, 0), greatest(following, 0), last_at
     WHERE EXISTS (SELECT 1 FROM actors WHERE id = actor)
    ON CONFLICT (actor_id) DO UPDATE SET
        statuses_count  = greatest(st.statuses_count + statuses, 0),
        followers_count = greatest(st.followers_count + followers, 0),
        following_count = greatest(st.following_count + following, 0),
        last_status_at  = greatest(st.last_status_at, EXCLUDED.last_status_at);
$$;

-- Statuses: row-level constraint triggers deferred to commit. Run at the INSERT itself, the counter
-- update would hold the author's row lock through the rest of the transaction — for a post, through its
-- fan-out to every follower's home feed — and an author's concurrent posts (an organization's staff,
-- several clients, a busy remote account's deliveries) would queue behind each other.
CREATE FUNCTION actor_stats_status_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was boolean := TG_OP <> 'INSERT' AND OLD.reblog_of_id IS NULL AND OLD.approval_state = 'published';
    counted boolean := TG_OP <> 'DELETE' AND NEW.reblog_of_id IS NULL AND NEW.approval_state = 'published';
BEGIN
    IF counted AND NOT was THEN
        PERFORM actor_stats_add(NEW.actor_id, 1, 0, 0, NEW.published_at);
    ELSIF was AND NOT counted THEN
        PERFORM actor_stats_add(OLD.actor_id, -1, 0, 0, NULL);
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER actor_stats_status_inserted AFTER INSERT ON statuses
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.reblog_of_id IS NULL AND NEW.approval_state = 'published')
    EXECUTE FUNCTION actor_stats_status_changed();
CREATE CONSTRAINT TRIGGER actor_stats_status_deleted AFTER DELETE ON statuses
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.reblog_of_id IS NULL AND OLD.approval_state = 'published')
    EXECUTE FUNCTION actor_stats_status_changed();
-- The favourite, reply and boost counters on statuses change all the time: the WHEN clause keeps those
-- updates from calling anything. A held post (business/approvals.py) counts once it is published.
CREATE CONSTRAINT TRIGGER actor_stats_status_state_changed AFTER UPDATE ON statuses
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.approval_state IS DISTINCT FROM NEW.approval_state)  -- actor_id and reblog_of_id never change
    EXECUTE FUNCTION actor_stats_status_changed();

-- Follows: both sides of each follow, per statement. Follow transactions are short, so the rows are
-- updated at once; they are locked in actor id order so that A following B while B follows A, in two
-- transactions, cannot deadlock.
CREATE FUNCTION actor_stats_follows_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    sign bigint := CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END;
    d record;
BEGIN
    FOR d IN
        SELECT actor_id, sum(followers)::bigint AS followers, sum(following)::bigint AS following
          FROM (SELECT target_actor_id AS actor_id, 1 AS followers, 0 AS following FROM changed
                UNION ALL
                SELECT actor_id, 0, 1 FROM changed) u
         GROUP BY actor_id ORDER BY actor_id
    LOOP
        PERFORM actor_stats_add(d.actor_id, 0, sign * d.followers, sign * d.following, NULL);
    END LOOP;
    RETURN NULL;
END $$;

-- One function for both triggers: each names its transition table `changed`.
CREATE TRIGGER actor_stats_follows_inserted AFTER INSERT ON follows
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION actor_stats_follows_changed();
CREATE TRIGGER actor_stats_follows_deleted AFTER DELETE ON follows
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION actor_stats_follows_changed();

-- Every counter recomputed from the tables: after a bulk load with triggers off, or as a repair.
CREATE FUNCTION actor_stats_recount() RETURNS void LANGUAGE sql AS $$
    INSERT INTO actor_stats AS st (actor_id, statuses_count, followers_count, following_count, last_status_at)
    SELECT a.id, coalesce(s.n, 0), coalesce(fr.n, 0), coalesce(fg.n, 0), s.last_at
      FROM actors a
      LEFT JOIN (SELECT actor_id, count(*) AS n, max(published_at) AS last_at FROM statuses
                  WHERE reblog_of_id IS NULL AND approval_state = 'published' GROUP BY actor_id) s
             ON s.actor_id = a.id
      LEFT JOIN (SELECT target_actor_id, count(*) AS n FROM follows GROUP BY target_actor_id) fr
             ON fr.target_actor_id = a.id
      LEFT JOIN (SELECT actor_id, count(*) AS n FROM follows GROUP BY actor_id) fg ON fg.actor_id = a.id
    ON CONFLICT (actor_id) DO UPDATE SET
        statuses_count = EXCLUDED.statuses_count, followers_count = EXCLUDED.followers_count,
        following_count = EXCLUDED.following_count,
        last_status_at = greatest(st.last_status_at, EXCLUDED.last_status_at);
$$;

SELECT actor_stats_recount();
