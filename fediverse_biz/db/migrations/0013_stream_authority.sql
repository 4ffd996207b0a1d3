-- Open streams must end when the token they were opened with stops being valid. A stream's token is
-- checked when the stream opens (core.oauth.find_token); afterwards these triggers tell every web
-- process's streaming hub (api/streaming_hub.py, LISTEN on the events channel) that the validity of
-- some tokens may have changed, and the hub re-checks the streams concerned — one query per message,
-- none per event — and closes those whose token no longer passes find_token's rule.
--
-- Triggers rather than a call in each code path, because the changes come from everywhere: /oauth/revoke,
-- a reused authorization code, team changes (business/teams.py), account deletion and what it cascades
-- to, the rejection of a sign-up, an operator suspending or disabling an account with an UPDATE. Each
-- NOTIFY is sent from the transaction of the change and delivered only at its commit: a rolled-back
-- change closes nothing, and an event committed after the change reaches the hub after the message.
--
-- The message names ids only: {"kind": "authority", "<key>": [id]}, the key saying which streams to
-- re-check: "tokens" (streams opened with that token), "users" (every stream of that login),
-- "actors" (every stream acting as that account). The WHEN clauses keep the frequent updates (a
-- token's last_used_at, remote actors refreshed by federation) from calling anything.
CREATE FUNCTION stream_authority_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- TG_ARGV: the message key, and the column of the changed row that holds the id.
    PERFORM pg_notify('fb_events', json_build_object(
        'kind', 'authority', TG_ARGV[0], json_build_array(to_jsonb(OLD) -> TG_ARGV[1]))::text);
    RETURN NULL;
END $$;

-- Tokens: revoked, or deleted (account deletion; cascades from users, apps and actors). App tokens
-- (no user) cannot stream.
CREATE TRIGGER stream_authority_token_revoked AFTER UPDATE OF revoked_at ON oauth_tokens
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL AND OLD.user_id IS NOT NULL)
    EXECUTE FUNCTION stream_authority_changed('tokens', 'id');
CREATE TRIGGER stream_authority_token_deleted AFTER DELETE ON oauth_tokens
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND OLD.user_id IS NOT NULL)
    EXECUTE FUNCTION stream_authority_changed('tokens', 'id');

-- Team members: removed, or given another role. Every role may read today (docs/teams.md), so a role
-- change re-checks and keeps the streams; it is sent so that the re-check is the one place to change
-- should a role ever lose the right to read.
CREATE TRIGGER stream_authority_member_removed AFTER DELETE ON organization_members
    FOR EACH ROW EXECUTE FUNCTION stream_authority_changed('users', 'user_id');
CREATE TRIGGER stream_authority_member_changed AFTER UPDATE ON organization_members
    FOR EACH ROW WHEN (OLD.role IS DISTINCT FROM NEW.role OR OLD.organization_id <> NEW.organization_id
                       OR OLD.user_id <> NEW.user_id)
    EXECUTE FUNCTION stream_authority_changed('users', 'user_id');

-- Logins: disabled, unapproved, deleted.
CREATE TRIGGER stream_authority_user_changed AFTER UPDATE OF disabled, approved ON users
    FOR EACH ROW WHEN ((NEW.disabled AND NOT OLD.disabled) OR (OLD.approved AND NOT NEW.approved))
    EXECUTE FUNCTION stream_authority_changed('users', 'id');
CREATE TRIGGER stream_authority_user_deleted AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION stream_authority_changed('users', 'id');

-- Local accounts: suspended (account deletion leaves a suspended row; an operator may suspend), deleted.
CREATE TRIGGER stream_authority_actor_suspended AFTER UPDATE OF suspended_at ON actors
    FOR EACH ROW WHEN (OLD.suspended_at IS NULL AND NEW.suspended_at IS NOT NULL AND NEW.domain IS NULL)
    EXECUTE FUNCTION stream_authority_changed('actors', 'id');
CREATE TRIGGER stream_authority_actor_deleted AFTER DELETE ON actors
    FOR EACH ROW WHEN (OLD.domain IS NULL)
    EXECUTE FUNCTION stream_authority_changed('actors', 'id');
