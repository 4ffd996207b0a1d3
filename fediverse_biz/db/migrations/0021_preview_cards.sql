-- Link preview cards (core/cards.py): one card per URL, shared by every status that links it, as
-- Mastodon's preview_cards and preview_cards_statuses. Refreshed when older than two weeks.
CREATE TABLE preview_cards (
    id               bigint PRIMARY KEY DEFAULT next_id(),
    url              text NOT NULL UNIQUE CHECK (length(url) <= 2048),
    card_type        text NOT NULL CHECK (card_type IN ('link', 'photo', 'video', 'rich')),
    title            text NOT NULL DEFAULT '',
    description      text NOT NULL DEFAULT '',
    author_name      text NOT NULL DEFAULT '',
    author_url       text NOT NULL DEFAULT '',
    provider_name    text NOT NULL DEFAULT '',
    provider_url     text NOT NULL DEFAULT '',
    html             text NOT NULL DEFAULT '',
    width            integer NOT NULL DEFAULT 0 CHECK (width >= 0),
    height           integer NOT NULL DEFAULT 0 CHECK (height >= 0),
    embed_url        text NOT NULL DEFAULT '',
    image_path       text,
    image_width      integer,
    image_height     integer,
    blurhash         text,
    fetched_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE status_preview_cards (
    status_id        bigint PRIMARY KEY REFERENCES statuses (id) ON DELETE CASCADE,
    card_id          bigint NOT NULL REFERENCES preview_cards (id) ON DELETE CASCADE
);
CREATE INDEX status_preview_cards_card ON status_preview_cards (card_id);
