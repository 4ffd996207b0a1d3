-- The directory finds what its search box promises, and learns the accounts of the servers we meet
-- (business/directory.py, federation/directory_pull.py, docs/organizations.md).

-- Full text over what a visitor reads in a directory entry: name and handle first, then the bio, then
-- the profile fields (their names and values only; the company facts are mirrored there). The 'simple'
-- configuration (no stemming, no stop words) finds any language as typed; the default parser skips
-- HTML tags, so markup never matches. Generated, so every writer of `actors` keeps it true.
ALTER TABLE actors ADD COLUMN directory_document tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', display_name || ' ' || username), 'A')
    || setweight(to_tsvector('simple', note), 'B')
    || setweight(to_tsvector('simple', jsonb_path_query_array(fields, '$[*].name')), 'C')
    || setweight(to_tsvector('simple', jsonb_path_query_array(fields, '$[*].value')), 'C')
) STORED;
CREATE INDEX actors_directory_document ON actors USING gin (directory_document);

-- The company facts that are words: legal name and places.
ALTER TABLE organization_profiles ADD COLUMN directory_document tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', coalesce(legal_name, '')), 'A')
    || setweight(to_tsvector('simple', coalesce(city, '') || ' ' || coalesce(region, '')), 'C')
) STORED;
CREATE INDEX organization_profiles_directory_document ON organization_profiles USING gin (directory_document);

-- Names are also matched as substrings and by similarity (a typo, part of a word): trigram indexes.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX actors_display_name_trgm ON actors USING gin (display_name gin_trgm_ops);
CREATE INDEX actors_username_trgm ON actors USING gin (username gin_trgm_ops);
CREATE INDEX organization_profiles_legal_name_trgm ON organization_profiles USING gin (legal_name gin_trgm_ops);

-- Servers whose public directory we pull (federation/directory_pull.py): one row per host, made when
-- the first actor of that host is stored. `origin` is scheme://host[:port] as the actor's id gave it.
CREATE TABLE directory_sources (
    host          text PRIMARY KEY,
    origin        text NOT NULL,
    first_met_at  timestamptz NOT NULL DEFAULT now(),
    pulled_at     timestamptz,
    last_outcome  text CHECK (length(last_outcome) <= 300)
);

-- At most one waiting pull per host: meeting a host again, or a pull re-arming itself, adds nothing
-- while one is queued (a running or retrying pull has attempts > 0 and does not count).
CREATE UNIQUE INDEX jobs_one_directory_pull ON jobs (host) WHERE kind = 'pull_directory' AND attempts = 0;
