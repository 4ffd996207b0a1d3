-- Teams that run an organization: invitations, the review of held posts, and the audit log
-- (business/teams.py, business/approvals.py, business/audit.py; docs/teams.md).

-- An invitation link `/invitations/{token}`: the token is shown once and stored as its SHA-256, so a
-- leaked table lets nobody join. Single use (accepted_at), limited life (expires_at).
CREATE TABLE organization_invitations (
    id                   bigint PRIMARY KEY DEFAULT next_id(),
    organization_id      bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    token_hash           text NOT NULL UNIQUE,
    role                 text NOT NULL CHECK (role IN ('owner', 'manager', 'editor', 'contributor')),
    created_by_user_id   bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    expires_at           timestamptz NOT NULL,
    accepted_at          timestamptz,
    accepted_by_user_id  bigint REFERENCES users (id) ON DELETE SET NULL,
    revoked_at           timestamptz
);
CREATE INDEX organization_invitations_org ON organization_invitations (organization_id, id DESC);

-- The review of a held post. `approval_state` itself is on statuses (0002); who decided, when and
-- why is kept here so the reason survives for the author and the audit.
ALTER TABLE statuses
    ADD COLUMN reviewed_by_user_id  bigint REFERENCES users (id) ON DELETE SET NULL,
    ADD COLUMN reviewed_at          timestamptz,
    ADD COLUMN rejection_reason     text;

-- Who did what on behalf of an organization. The acting user is kept by id and, because users
-- can be deleted, by name too: the log must still say who it was.
CREATE TABLE organization_audit_log (
    id               bigint PRIMARY KEY DEFAULT next_id(),
    organization_id  bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    user_id          bigint REFERENCES users (id) ON DELETE SET NULL,
    username         text NOT NULL,
    action           text NOT NULL,
    target           text,
    details          jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX organization_audit_log_org ON organization_audit_log (organization_id, id DESC);
