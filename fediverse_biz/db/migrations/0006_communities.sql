-- Communities ("halls"): FEP-1b12 Group actors at /c/{name}.
-- business/communities.py owns the hall tables; federation/group_relay.py and federation/inbound/groups.py
-- the relay;
-- docs/communities.md explains both.

-- One row per local hall. The Group actor itself (name, keys, avatar, header, `locked`) is in `actors`;
-- `membership` is mirrored into actors.locked so that a Follow is held exactly like a locked account's.
CREATE TABLE communities (
    actor_id            bigint PRIMARY KEY REFERENCES actors (id) ON DELETE CASCADE,
    title               text NOT NULL CHECK (length(title) BETWEEN 1 AND 100),
    description         text NOT NULL DEFAULT '' CHECK (length(description) <= 5000),
    sector              text CHECK (sector ~ '^[A-U]$'),           -- NACE Rev. 2 section, as organizations
    region              text CHECK (length(region) <= 100),
    rules               text[] NOT NULL DEFAULT '{}' CHECK (cardinality(rules) <= 20),
    membership          text NOT NULL DEFAULT 'open' CHECK (membership IN ('open', 'approval')),
    created_by_user_id  bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX communities_sector ON communities (sector) WHERE sector IS NOT NULL;

-- The hall's moderators: local accounts (people or organizations), listed in the Group's `attributedTo`
-- collection (FEP-1b12 "Moderation"). A hall always keeps at least one (business/communities.py).
CREATE TABLE community_moderators (
    community_id      bigint NOT NULL REFERENCES communities (actor_id) ON DELETE CASCADE,
    actor_id          bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    added_by_user_id  bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, actor_id)
);
CREATE INDEX community_moderators_actor ON community_moderators (actor_id);

-- Banned members (local or remote). A ban is also a `blocks` row from the hall, so a new Follow is
-- answered with Reject by the inbox's existing rule; this table keeps the reason and the moderator.
CREATE TABLE community_bans (
    community_id       bigint NOT NULL REFERENCES communities (actor_id) ON DELETE CASCADE,
    actor_id           bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    reason             text NOT NULL DEFAULT '' CHECK (length(reason) <= 1000),
    banned_by_user_id  bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, actor_id)
);

-- The Group a post belongs to, local hall or remote group (Lemmy community, another server's hall):
-- set when a local hall accepts a post, when a member here posts to a group, and when a followed group
-- announces a post. `business.communities.hall_of(status_row)` reads it.
ALTER TABLE statuses ADD COLUMN community_id bigint REFERENCES actors (id) ON DELETE SET NULL;
CREATE INDEX statuses_community ON statuses (community_id, id DESC) WHERE community_id IS NOT NULL;

-- What a local hall relayed: one row per received activity (unique, so a re-run relays nothing twice),
-- with the Announce exactly as sent. It is the hall's outbox (FEP-1b12: the group SHOULD add the
-- Announce to its outbox) and tells a later Delete which hall must relay it, after the post is gone.
CREATE TABLE community_announces (
    id             bigint PRIMARY KEY DEFAULT next_id(),
    community_id   bigint NOT NULL REFERENCES communities (actor_id) ON DELETE CASCADE,
    activity_uri   text NOT NULL,           -- the wrapped activity's id
    activity_type  text NOT NULL,           -- Create, Update, Delete, Like, Undo
    object_uri     text,                    -- the post it concerns
    status_id      bigint REFERENCES statuses (id) ON DELETE SET NULL,
    announce       jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (community_id, activity_uri)
);
CREATE INDEX community_announces_object ON community_announces (object_uri) WHERE object_uri IS NOT NULL;
CREATE INDEX community_announces_outbox ON community_announces (community_id, id DESC);
