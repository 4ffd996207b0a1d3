-- Filters (core/filters.py), Mastodon's v2 model: a filter has a title, the contexts it applies in, an
-- action (warn: the status carries the match; hide: the status is left out) and an optional expiry; it
-- matches by keywords and by chosen statuses. The v1 API shows each keyword as a filter of its own.
CREATE TABLE filters (
    id             bigint PRIMARY KEY DEFAULT next_id(),
    actor_id       bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    title          text NOT NULL,
    context        text[] NOT NULL,
    filter_action  text NOT NULL DEFAULT 'warn' CHECK (filter_action IN ('warn', 'hide')),
    expires_at     timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX filters_owner ON filters (actor_id, id);

CREATE TABLE filter_keywords (
    id          bigint PRIMARY KEY DEFAULT next_id(),
    filter_id   bigint NOT NULL REFERENCES filters (id) ON DELETE CASCADE,
    keyword     text NOT NULL,
    whole_word  boolean NOT NULL DEFAULT true
);
CREATE INDEX filter_keywords_filter ON filter_keywords (filter_id, id);

CREATE TABLE filter_statuses (
    id          bigint PRIMARY KEY DEFAULT next_id(),
    filter_id   bigint NOT NULL REFERENCES filters (id) ON DELETE CASCADE,
    status_id   bigint NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    UNIQUE (filter_id, status_id)
);
