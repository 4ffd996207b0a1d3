-- Job offers and business opportunities (business/offers.py, docs/offers.md).
--
-- One row per status that is an offer, local or remote: the board index. The structured values are
-- also kept in statuses.extra->'offer', from which the post renders to ActivityPub and to the client
-- API; this table exists so the boards filter, sort and expire with indexes. Both are written in the
-- same transaction by business/offers.py. Every value is validated in Python first (remote values
-- that break a rule are dropped); the CHECKs repeat the cheap part of those rules so no other writer
-- can store what the boards and the renderers do not expect.
CREATE TABLE offers (
    status_id        bigint PRIMARY KEY REFERENCES statuses (id) ON DELETE CASCADE,
    kind             text NOT NULL CHECK (kind IN ('job', 'opportunity')),
    title            text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description      text NOT NULL DEFAULT '' CHECK (length(description) <= 5000),
    location         text CHECK (length(location) <= 200),
    remote           boolean NOT NULL DEFAULT false,
    -- schema.org JobPosting employmentType values (Google's list), jobs only
    employment_type  text CHECK (employment_type IN ('FULL_TIME', 'PART_TIME', 'CONTRACTOR', 'TEMPORARY',
                                                     'INTERN', 'VOLUNTEER', 'PER_DIEM', 'OTHER')),
    salary_min       numeric(14, 2) CHECK (salary_min >= 0),
    salary_max       numeric(14, 2) CHECK (salary_max >= 0),
    currency         text CHECK (currency ~ '^[A-Z]{3}$'),               -- ISO 4217
    apply_url        text CHECK (apply_url ~ '^https?://' AND length(apply_url) <= 2000),
    apply_email      text CHECK (length(apply_email) <= 254),
    direction        text CHECK (direction IN ('offer', 'request')),      -- opportunities only
    sector           text CHECK (sector ~ '^[A-U]$'),                     -- NACE Rev. 2 section
    region           text CHECK (region ~ '^[A-Z]{2}(-[A-Z0-9]{1,3})?$'), -- ISO 3166-1 alpha-2 or 3166-2
    budget           numeric(14, 2) CHECK (budget >= 0),
    quantity         numeric(14, 2) CHECK (quantity > 0),
    valid_through    timestamptz,                                         -- NULL: never expires
    local            boolean NOT NULL,
    hall_id          bigint,                                              -- business.communities.hall_of
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (salary_min IS NULL OR salary_max IS NULL OR salary_min <= salary_max),
    CHECK ((kind = 'opportunity') = (direction IS NOT NULL)),
    CHECK (kind = 'job' OR employment_type IS NULL)
);

-- The boards: one kind, newest first (status ids are time-sortable), optionally narrowed by sector,
-- region (a country code also finds its subdivisions: `region LIKE 'DE%'`, hence pattern ops) or hall.
-- Expired rows are filtered at read time (valid_through < now() cannot be an index predicate), with
-- the valid_through index serving the clean-up and the expiry check.
CREATE INDEX offers_board ON offers (kind, status_id DESC);
CREATE INDEX offers_board_sector ON offers (kind, sector, status_id DESC) WHERE sector IS NOT NULL;
CREATE INDEX offers_board_region ON offers (kind, region text_pattern_ops) WHERE region IS NOT NULL;
CREATE INDEX offers_hall ON offers (hall_id, status_id DESC) WHERE hall_id IS NOT NULL;
CREATE INDEX offers_valid_through ON offers (valid_through) WHERE valid_through IS NOT NULL;
