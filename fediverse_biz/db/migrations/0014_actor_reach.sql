-- Where a local actor's data went: every remote inbox that was sent anything of the actor's (its own
-- deliveries, and a local hall's relays of its posts) or whose server fetched the actor or one of its
-- posts with a signed GET. Followers are not all of them: servers that got the posts through a hall,
-- a mention or a boost, or only looked the account up, keep a copy too. Account deletion sends
-- Delete(actor) to every inbox here as well as to the follow graph (core/account_deletion.py), then
-- drops the actor's rows. Written once per fan-out and per new fetcher (core/reach.py, federation/fetch_reach.py).
CREATE TABLE actor_reach (
    actor_id       bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    inbox          text NOT NULL,             -- a shared inbox when the receiver has one
    first_seen_at  timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor_id, inbox)
);
