-- Structured company profiles (business/organizations.py, docs/organizations.md).
--
-- One row per Organization actor, local or remote: local rows are edited by the organization's owners
-- and managers, remote rows are parsed from the schema.org properties of the actor document. Every
-- value is validated in Python before it gets here; the CHECKs repeat the cheap part of those rules so
-- that no other writer can store what the directory filters and the federation code do not expect.
CREATE TABLE organization_profiles (
    actor_id             bigint PRIMARY KEY REFERENCES actors (id) ON DELETE CASCADE,
    legal_name           text CHECK (length(legal_name) <= 200),
    sector               text CHECK (sector ~ '^[A-U]$'),           -- NACE Rev. 2 section (= ISIC Rev. 4)
    country              text CHECK (country ~ '^[A-Z]{2}$'),       -- ISO 3166-1 alpha-2
    region               text CHECK (length(region) <= 100),
    city                 text CHECK (length(city) <= 100),
    website              text CHECK (website ~ '^https?://' AND length(website) <= 255),
    website_verified_at  timestamptz,                                -- rel="me" link back (verified_links.py)
    size_band            text CHECK (size_band IN ('1-9', '10-49', '50-249', '250+')),
    founded_year         smallint CHECK (founded_year BETWEEN 1 AND 9999),
    languages            text[] NOT NULL DEFAULT '{}',              -- ISO 639-1, lower case
    contact_email        text CHECK (length(contact_email) <= 254),
    registration_id      text CHECK (length(registration_id) <= 64),
    vat_id               text CHECK (vat_id ~ '^[A-Z]{2}[A-Z0-9]{2,18}$'),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (cardinality(languages) <= 20)
);

-- The directory filters by sector and country, alone or together (business/directory.py). Both are
-- small code lists, so two b-tree indexes cover every combination without a third.
CREATE INDEX organization_profiles_sector ON organization_profiles (sector, country) WHERE sector IS NOT NULL;
CREATE INDEX organization_profiles_country ON organization_profiles (country) WHERE country IS NOT NULL;
