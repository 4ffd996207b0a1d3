-- Signed-in browsers (core/browser_sessions.py): one row per sign-in, found by the SHA-256 of the random
-- token its cookie carries (the token itself is never stored), listed on the member's sessions page and
-- revocable there one by one; changing the password revokes the others. Rows past expiry or revoked are
-- kept a day so a stale cookie is recognised as ended, then pruned at the next sign-in. `acting_actor_id`
-- is whom the browser's back-office pages act as (web/acting.py): NULL is the person's own account.
CREATE TABLE browser_sessions (
    id            bigint PRIMARY KEY DEFAULT next_id(),
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash    text NOT NULL UNIQUE,
    remembered    boolean NOT NULL,
    user_agent    text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    acting_actor_id  bigint REFERENCES actors (id) ON DELETE SET NULL
);
CREATE INDEX browser_sessions_user ON browser_sessions (user_id, created_at DESC);
