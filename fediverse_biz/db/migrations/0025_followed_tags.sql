-- Followed hashtags (core/tag_follows.py): public posts with a hashtag an account follows enter its home
-- feed (core/distribution.py), local and remote alike, as Mastodon's TagFollow.
CREATE TABLE tag_follows (
    id          bigint PRIMARY KEY DEFAULT next_id(),
    actor_id    bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    tag_id      bigint NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (actor_id, tag_id)
);
CREATE INDEX tag_follows_tag ON tag_follows (tag_id, actor_id);
