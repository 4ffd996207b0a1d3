-- The social core: statuses and their parts, the follow graph, interactions, feeds, notifications,
-- OAuth, media, background jobs, remote hosts and the inbox log.

-- ---- statuses ----------------------------------------------------------------------------------
CREATE TABLE statuses (
    id                    bigint PRIMARY KEY DEFAULT next_id(),
    uri                   text NOT NULL,                  -- ActivityPub id
    url                   text,                           -- HTML permalink
    actor_id              bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    local                 boolean NOT NULL,
    object_type           text NOT NULL DEFAULT 'Note'
                          CHECK (object_type IN ('Note', 'Article', 'Page', 'Question', 'Announce')),
    visibility            text NOT NULL
                          CHECK (visibility IN ('public', 'unlisted', 'private', 'direct')),
    content               text NOT NULL DEFAULT '',       -- HTML (rendered or sanitised)
    source_text           text,                           -- what a local author typed
    spoiler_text          text NOT NULL DEFAULT '',
    sensitive             boolean NOT NULL DEFAULT false,
    language              text,
    title                 text,                           -- Article/Page name
    in_reply_to_id        bigint REFERENCES statuses (id) ON DELETE SET NULL,
    in_reply_to_uri       text,                           -- kept while the parent is unknown
    in_reply_to_actor_id  bigint REFERENCES actors (id) ON DELETE SET NULL,
    reblog_of_id          bigint REFERENCES statuses (id) ON DELETE CASCADE,  -- a boost is a status too
    conversation_uri      text,                           -- AP context/conversation
    published_at          timestamptz NOT NULL DEFAULT now(),
    edited_at             timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    application_id        bigint,                         -- the OAuth app it was posted with
    created_by_user_id    bigint REFERENCES users (id) ON DELETE SET NULL,  -- staff member acting for an org
    approval_state        text NOT NULL DEFAULT 'published'
                          CHECK (approval_state IN ('published', 'pending', 'rejected')),
    replies_count         integer NOT NULL DEFAULT 0,
    reblogs_count         integer NOT NULL DEFAULT 0,
    favourites_count      integer NOT NULL DEFAULT 0,
    ap_to                 jsonb NOT NULL DEFAULT '[]',    -- addressing as received/sent
    ap_cc                 jsonb NOT NULL DEFAULT '[]',
    extra                 jsonb NOT NULL DEFAULT '{}'     -- structured extensions (job offers, polls...)
);
CREATE UNIQUE INDEX statuses_uri ON statuses (uri);
CREATE INDEX statuses_actor ON statuses (actor_id, id DESC);
CREATE INDEX statuses_reply ON statuses (in_reply_to_id) WHERE in_reply_to_id IS NOT NULL;
CREATE INDEX statuses_reply_uri ON statuses (in_reply_to_uri) WHERE in_reply_to_id IS NULL AND in_reply_to_uri IS NOT NULL;
CREATE INDEX statuses_reblog ON statuses (reblog_of_id, actor_id) WHERE reblog_of_id IS NOT NULL;
CREATE INDEX statuses_public ON statuses (id DESC)
    WHERE visibility = 'public' AND reblog_of_id IS NULL AND approval_state = 'published';
CREATE INDEX statuses_public_local ON statuses (id DESC)
    WHERE visibility = 'public' AND reblog_of_id IS NULL AND approval_state = 'published' AND local;
CREATE INDEX statuses_pending ON statuses (actor_id, id) WHERE approval_state = 'pending';

-- Deleted objects: a later Update/Announce of one is ignored and its URI answers 410 Gone.
CREATE TABLE tombstones (
    uri         text PRIMARY KEY,
    actor_id    bigint REFERENCES actors (id) ON DELETE CASCADE,
    deleted_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE status_edits (
    id            bigint PRIMARY KEY DEFAULT next_id(),
    status_id     bigint NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    content       text NOT NULL,
    spoiler_text  text NOT NULL DEFAULT '',
    sensitive     boolean NOT NULL DEFAULT false,
    media_ids     bigint[] NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX status_edits_status ON status_edits (status_id, id);

CREATE TABLE status_mentions (
    status_id  bigint NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    actor_id   bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    PRIMARY KEY (status_id, actor_id)
);
CREATE INDEX status_mentions_actor ON status_mentions (actor_id, status_id DESC);

CREATE TABLE tags (
    id          bigint PRIMARY KEY DEFAULT next_id(),
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX tags_name ON tags (lower(name));

CREATE TABLE status_tags (
    status_id  bigint NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    tag_id     bigint NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (status_id, tag_id)
);
CREATE INDEX status_tags_tag ON status_tags (tag_id, status_id DESC);

CREATE TABLE media_attachments (
    id                  bigint PRIMARY KEY DEFAULT next_id(),
    actor_id            bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    status_id           bigint REFERENCES statuses (id) ON DELETE SET NULL,
    position            integer NOT NULL DEFAULT 0,
    media_type          text NOT NULL DEFAULT 'image'
                        CHECK (media_type IN ('image', 'gifv', 'video', 'audio', 'unknown')),
    content_type        text,
    file_path           text,              -- local file, relative to the media directory
    preview_path        text,
    remote_url          text,              -- for remote media (not copied)
    preview_remote_url  text,
    description         text NOT NULL DEFAULT '',
    blurhash            text,
    meta                jsonb NOT NULL DEFAULT '{}',
    file_size           bigint,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX media_status ON media_attachments (status_id, position) WHERE status_id IS NOT NULL;

-- ---- the follow graph and interactions ---------------------------------------------------------
CREATE TABLE follows (
    id               bigint PRIMARY KEY DEFAULT next_id(),
    actor_id         bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,  -- the follower
    target_actor_id  bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    uri              text,                -- the Follow activity's id
    show_reblogs     boolean NOT NULL DEFAULT true,
    notify           boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (actor_id, target_actor_id)
);
CREATE INDEX follows_target ON follows (target_actor_id, actor_id);

CREATE TABLE follow_requests (
    id               bigint PRIMARY KEY DEFAULT next_id(),
    actor_id         bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    target_actor_id  bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    uri              text,
    show_reblogs     boolean NOT NULL DEFAULT true,
    notify           boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (actor_id, target_actor_id)
);
CREATE INDEX follow_requests_target ON follow_requests (target_actor_id, id DESC);

CREATE TABLE blocks (
    id               bigint PRIMARY KEY DEFAULT next_id(),
    actor_id         bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    target_actor_id  bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    uri              text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (actor_id, target_actor_id)
);
CREATE INDEX blocks_target ON blocks (target_actor_id, actor_id);

CREATE TABLE mutes (
    id                  bigint PRIMARY KEY DEFAULT next_id(),
    actor_id            bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    target_actor_id     bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    hide_notifications  boolean NOT NULL DEFAULT true,
    expires_at          timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (actor_id, target_actor_id)
);

CREATE TABLE favourites (
    id          bigint PRIMARY KEY DEFAULT next_id(),
    actor_id    bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    status_id   bigint NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    uri         text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (actor_id, status_id)
);
CREATE INDEX favourites_status ON favourites (status_id, id DESC);

CREATE TABLE bookmarks (
    id          bigint PRIMARY KEY DEFAULT next_id(),
    actor_id    bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    status_id   bigint NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (actor_id, status_id)
);

CREATE TABLE pinned_statuses (
    id          bigint PRIMARY KEY DEFAULT next_id(),
    actor_id    bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    status_id   bigint NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (actor_id, status_id)
);

-- Instance-wide moderation of whole domains.
CREATE TABLE domain_blocks (
    domain        text PRIMARY KEY,
    severity      text NOT NULL DEFAULT 'suspend' CHECK (severity IN ('silence', 'suspend')),
    reject_media  boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- ---- feeds, notifications, markers ------------------------------------------------------------
-- The home feed is written when a status arrives (fan-out on write), so reading it is one index scan.
CREATE TABLE home_feed (
    actor_id   bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    status_id  bigint NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    PRIMARY KEY (actor_id, status_id)
);
CREATE INDEX home_feed_status ON home_feed (status_id);

CREATE TABLE notifications (
    id             bigint PRIMARY KEY DEFAULT next_id(),
    actor_id       bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,   -- recipient
    from_actor_id  bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    type           text NOT NULL CHECK (type IN ('mention', 'status', 'reblog', 'follow', 'follow_request',
                                                 'favourite', 'poll', 'update', 'admin.sign_up',
                                                 'admin.report', 'moderation_warning')),
    status_id      bigint REFERENCES statuses (id) ON DELETE CASCADE,
    extra          jsonb NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_recipient ON notifications (actor_id, id DESC);
CREATE UNIQUE INDEX notifications_once ON notifications (actor_id, from_actor_id, type, coalesce(status_id, 0))
    WHERE type IN ('favourite', 'reblog', 'follow', 'follow_request', 'mention');

CREATE TABLE markers (
    actor_id      bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    timeline      text NOT NULL CHECK (timeline IN ('home', 'notifications')),
    last_read_id  bigint NOT NULL,
    version       integer NOT NULL DEFAULT 1,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor_id, timeline)
);

-- ---- OAuth -------------------------------------------------------------------------------------
CREATE TABLE oauth_apps (
    id             bigint PRIMARY KEY DEFAULT next_id(),
    name           text NOT NULL,
    website        text,
    redirect_uris  text[] NOT NULL,
    scopes         text NOT NULL DEFAULT 'read',
    client_id      text NOT NULL UNIQUE,
    client_secret  text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE oauth_codes (
    code_hash              text PRIMARY KEY,   -- sha256 of the code: a leaked table grants nothing
    app_id                 bigint NOT NULL REFERENCES oauth_apps (id) ON DELETE CASCADE,
    user_id                bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    actor_id               bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    scopes                 text NOT NULL,
    redirect_uri           text NOT NULL,
    code_challenge         text,
    code_challenge_method  text,
    expires_at             timestamptz NOT NULL,
    used_at                timestamptz
);

CREATE TABLE oauth_tokens (
    id            bigint PRIMARY KEY DEFAULT next_id(),
    token_hash    text NOT NULL UNIQUE,       -- sha256 of the bearer token
    app_id        bigint REFERENCES oauth_apps (id) ON DELETE CASCADE,
    user_id       bigint REFERENCES users (id) ON DELETE CASCADE,    -- NULL for client_credentials
    actor_id      bigint REFERENCES actors (id) ON DELETE CASCADE,   -- who the token acts as
    scopes        text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz,
    code_hash     text
);
CREATE INDEX oauth_tokens_user ON oauth_tokens (user_id);
-- OAuth: remember which authorization code a token came from, so that a second use of the code can
-- revoke the tokens it issued (RFC 6749 §4.1.2: "If an authorization code is used more than once ...
-- the authorization server SHOULD revoke (when possible) all tokens previously issued based on that
-- authorization code").
CREATE INDEX oauth_tokens_code ON oauth_tokens (code_hash) WHERE code_hash IS NOT NULL;

-- Expired codes are purged by age; used ones are kept a day so that reuse is still detected.
CREATE INDEX oauth_codes_expires ON oauth_codes (expires_at);

-- Idempotency-Key on POST /api/v1/statuses: the same key from the same account returns the same status.
CREATE TABLE idempotency_keys (
    actor_id    bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    key         text NOT NULL,
    status_id   bigint REFERENCES statuses (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor_id, key)
);

-- ---- background jobs ---------------------------------------------------------------------------
-- Claimed with FOR UPDATE SKIP LOCKED and leased (locked_until): a worker killed mid-job loses
-- nothing, its lease runs out and another worker takes the job again.
CREATE TABLE jobs (
    id            bigint PRIMARY KEY DEFAULT next_id(),
    kind          text NOT NULL,
    payload       jsonb NOT NULL DEFAULT '{}',
    host          text,                   -- remote host, for per-host concurrency and circuit breaking
    attempts      integer NOT NULL DEFAULT 0,
    run_at        timestamptz NOT NULL DEFAULT now(),
    locked_until  timestamptz,
    locked_by     text,
    last_error    text,
    give_up_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_due ON jobs (run_at, id);
CREATE INDEX jobs_host ON jobs (host) WHERE host IS NOT NULL;
-- The job queue's claim (jobs/queue.py, docs/jobs.md) counts each host's leased jobs to enforce the
-- per-host limit across all workers. Leased rows are few (at most the workers' total concurrency, plus
-- expired leases of crashed workers until they are reclaimed), so a partial index keeps that count
-- independent of the size of the backlog.
CREATE INDEX jobs_leased ON jobs (host) WHERE locked_until IS NOT NULL;

-- What we know about each remote host's health (delivery circuit breaker, "unavailable" marking).
CREATE TABLE remote_hosts (
    host                  text PRIMARY KEY,
    failures              integer NOT NULL DEFAULT 0,
    first_failure_at      timestamptz,
    last_failure_at       timestamptz,
    last_success_at       timestamptz,
    circuit_open_until    timestamptz,
    unavailable_since     timestamptz,
    software              text
);

-- ---- the inbox log -----------------------------------------------------------------------------
-- Every accepted activity, deduplicated on its id; a job applies its side effects.
CREATE TABLE inbox_activities (
    id             bigint PRIMARY KEY DEFAULT next_id(),
    activity_id    text NOT NULL UNIQUE,
    activity_type  text NOT NULL,
    actor_uri      text NOT NULL,
    payload        jsonb NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    processed_at   timestamptz,
    error          text
);

CREATE TABLE reports (
    id                bigint PRIMARY KEY DEFAULT next_id(),
    reporter_actor_id bigint REFERENCES actors (id) ON DELETE SET NULL,
    target_actor_id   bigint REFERENCES actors (id) ON DELETE CASCADE,
    status_ids        bigint[] NOT NULL DEFAULT '{}',
    comment           text NOT NULL DEFAULT '',
    uri               text,
    forwarded         boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    resolved_at       timestamptz
);
