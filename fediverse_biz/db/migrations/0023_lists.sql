-- Lists (core/lists.py): an account's named sets of accounts it follows, with Mastodon's replies policy
-- and `exclusive` flag. A list's timeline is read from statuses at request time, so it needs no feed.
CREATE TABLE lists (
    id              bigint PRIMARY KEY DEFAULT next_id(),
    actor_id        bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    title           text NOT NULL,
    replies_policy  text NOT NULL DEFAULT 'list' CHECK (replies_policy IN ('followed', 'list', 'none')),
    exclusive       boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lists_owner ON lists (actor_id, id);

CREATE TABLE list_accounts (
    list_id   bigint NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    actor_id  bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    PRIMARY KEY (list_id, actor_id)
);
CREATE INDEX list_accounts_member ON list_accounts (actor_id);

-- Only followed accounts may be members (Mastodon ties each membership to its follow): whichever path
-- ends a follow (unfollow, block, an Undo from the network, a removal from followers), the membership
-- goes with it.
CREATE FUNCTION list_accounts_follow_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM list_accounts la USING lists l
     WHERE l.id = la.list_id AND l.actor_id = OLD.actor_id AND la.actor_id = OLD.target_actor_id;
    RETURN NULL;
END $$;
CREATE TRIGGER list_accounts_follow_gone AFTER DELETE ON follows
    FOR EACH ROW EXECUTE FUNCTION list_accounts_follow_gone();
