-- Contributors on other servers (docs/teams.md, FEDERATION.md "Submissions from remote contributors"):
-- an organization accepts a remote account, whose direct messages to it marked #submission become
-- held posts of the organization, reviewed in the same queue as its local contributors' posts.

-- Who is accepted, by whom, and the audience the organization publishes their submissions to (the
-- organization decides it, never the submission).
CREATE TABLE organization_remote_contributors (
    organization_id   bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    actor_id          bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    visibility        text NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'unlisted', 'private')),
    added_by_user_id  bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, actor_id)
);
CREATE INDEX organization_remote_contributors_actor ON organization_remote_contributors (actor_id);

-- A held post of an organization that a remote contributor sent: who, and which of their objects it
-- was. One submission per object, however often and under whatever activity id it is delivered.
-- status_id follows the post through approval: business/approvals.py moves every single-column
-- reference to statuses(id) to the published id.
CREATE TABLE organization_submissions (
    status_id        bigint PRIMARY KEY REFERENCES statuses (id) ON DELETE CASCADE,
    organization_id  bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    actor_id         bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    object_uri       text NOT NULL UNIQUE,
    object_url       text,
    activity_uri     text NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX organization_submissions_actor ON organization_submissions (actor_id);
