-- Polls (core/polls.py). A poll is part of its status: its options, counts, end time and flags live in
-- statuses.extra -> 'poll', for local polls and remote Questions alike, so a timeline page renders it
-- without another query. The votes cast here or received for our polls are rows of their own.
CREATE TABLE poll_votes (
    id         bigint PRIMARY KEY DEFAULT next_id(),
    status_id  bigint NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    actor_id   bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    choice     smallint NOT NULL CHECK (choice >= 0),
    uri        text UNIQUE,  -- the remote voter's Note id; NULL for a vote cast here
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (status_id, actor_id, choice)
);
-- The viewer's own votes on a page of statuses (api/entities.py PAGE_FACTS).
CREATE INDEX poll_votes_by_actor ON poll_votes (actor_id, status_id);

-- Votes on a local poll are announced to its audience by one Update(Question) a few seconds later, not one
-- per vote (federation/polls.py): at most one waiting `poll_update` job per poll.
CREATE UNIQUE INDEX jobs_one_poll_update ON jobs ((payload ->> 'status_id')) WHERE kind = 'poll_update' AND attempts = 0;
