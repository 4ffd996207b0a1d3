-- Foundation: time-sortable ids, actors (local and remote), local users, organization ownership.

-- 64-bit ids like Mastodon's: milliseconds since the epoch in the high 48 bits, a sequence in the
-- low 16. Sortable by creation time, so clients can page with max_id/since_id on the id alone.
CREATE SEQUENCE id_sequence;

CREATE FUNCTION id_at(ts timestamptz) RETURNS bigint LANGUAGE sql VOLATILE AS $$
    SELECT (floor(extract(epoch FROM ts) * 1000)::bigint << 16) | (nextval('id_sequence') % 65536)
$$;

CREATE FUNCTION next_id() RETURNS bigint LANGUAGE sql VOLATILE AS $$
    SELECT id_at(clock_timestamp())
$$;

CREATE TABLE actors (
    id                 bigint PRIMARY KEY DEFAULT next_id(),
    username           text NOT NULL,
    domain             text,                      -- NULL for local actors
    actor_type         text NOT NULL DEFAULT 'Person'
                       CHECK (actor_type IN ('Person', 'Organization', 'Group', 'Application', 'Service')),
    display_name       text NOT NULL DEFAULT '',
    note               text NOT NULL DEFAULT '',  -- HTML (rendered for local, sanitised for remote)
    note_source        text NOT NULL DEFAULT '',  -- what a local member typed
    avatar_url         text,
    header_url         text,
    fields             jsonb NOT NULL DEFAULT '[]',  -- [{name, value (HTML), verified_at}]
    locked             boolean NOT NULL DEFAULT false,
    discoverable       boolean NOT NULL DEFAULT true,
    indexable          boolean NOT NULL DEFAULT true,
    bot                boolean NOT NULL DEFAULT false,
    is_instance_actor  boolean NOT NULL DEFAULT false,
    uri                text NOT NULL,             -- the ActivityPub id
    url                text,                      -- the HTML profile page
    inbox_url          text,
    shared_inbox_url   text,
    outbox_url         text,
    followers_url      text,
    following_url      text,
    featured_url       text,
    key_id             text,
    public_key_pem     text,
    private_key_pem    text,                      -- local actors only
    also_known_as      jsonb NOT NULL DEFAULT '[]',
    moved_to_actor_id  bigint REFERENCES actors (id) ON DELETE SET NULL,
    extra              jsonb NOT NULL DEFAULT '{}', -- structured data we keep but do not index
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    fetched_at         timestamptz,               -- remote: when the document was last fetched
    suspended_at       timestamptz,
    CHECK ((domain IS NULL) = (private_key_pem IS NOT NULL) OR is_instance_actor)
);
-- One namespace per domain, case-insensitive (Mastodon's rule: @Alice and @alice are one account).
CREATE UNIQUE INDEX actors_handle ON actors (lower(username), coalesce(domain, ''));
CREATE UNIQUE INDEX actors_uri ON actors (uri);
CREATE INDEX actors_key_id ON actors (key_id);
CREATE INDEX actors_domain ON actors (domain) WHERE domain IS NOT NULL;

CREATE TABLE users (
    id             bigint PRIMARY KEY DEFAULT next_id(),
    actor_id       bigint NOT NULL UNIQUE REFERENCES actors (id) ON DELETE CASCADE,
    email          text NOT NULL,
    password_hash  text NOT NULL,
    role           text NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'moderator', 'member')),
    approved       boolean NOT NULL DEFAULT true,
    disabled       boolean NOT NULL DEFAULT false,
    locale         text NOT NULL DEFAULT 'en',
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_login_at  timestamptz
);
CREATE UNIQUE INDEX users_email ON users (lower(email));

-- Who may act for an organization actor. The owner is set by `create-org`; the rest of the
-- team model (invitations, approval) builds on this table.
CREATE TABLE organization_members (
    organization_id  bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    user_id          bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role             text NOT NULL CHECK (role IN ('owner', 'manager', 'editor', 'contributor')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX organization_members_user ON organization_members (user_id);

-- Instance-wide values that must survive restarts (e.g. the secret when kept in the database).
CREATE TABLE instance_settings (
    key    text PRIMARY KEY,
    value  jsonb NOT NULL
);
