-- Private notes one account keeps about another (Mastodon's AccountNote), shown only to their author.
CREATE TABLE account_notes (
    actor_id         bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    target_actor_id  bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    comment          text NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor_id, target_actor_id)
);
