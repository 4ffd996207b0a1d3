-- Direct conversations as the client API shows them (core/conversations.py): one row per local account
-- and set of other participants, like Mastodon's account_conversations, with the direct statuses that
-- belong to it. The latest status is read from conversation_statuses rather than stored, so deleting a
-- status (the cascade below) never leaves a conversation pointing at a status that is gone.
CREATE TABLE account_conversations (
    id               bigint PRIMARY KEY DEFAULT next_id(),
    actor_id         bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    participant_ids  bigint[] NOT NULL,  -- the others, sorted: the author and the mentioned, less actor_id
    unread           boolean NOT NULL DEFAULT false,
    UNIQUE (actor_id, participant_ids)
);

CREATE TABLE conversation_statuses (
    conversation_id  bigint NOT NULL REFERENCES account_conversations (id) ON DELETE CASCADE,
    status_id        bigint NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    PRIMARY KEY (conversation_id, status_id)
);
CREATE INDEX conversation_statuses_status ON conversation_statuses (status_id);
