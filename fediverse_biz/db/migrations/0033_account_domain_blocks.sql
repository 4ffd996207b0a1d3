-- A user's own domain blocks (Mastodon's AccountDomainBlock): what one account chose not to see, unlike
-- domain_blocks, the instance's moderation. `domain` is host[:port] as actors.domain spells it.
CREATE TABLE account_domain_blocks (
    id          bigint PRIMARY KEY DEFAULT next_id(),
    actor_id    bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    domain      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (actor_id, domain)
);
CREATE INDEX account_domain_blocks_by_domain ON account_domain_blocks (domain);
