-- Verified links of remote accounts (business/verified_links.py). A peer's `verified_at` is never read
-- from its documents: like Mastodon, every server checks the rel="me" links of the profiles it stores
-- itself, in a job, and keeps what it found.

-- The pages links lead to, as last fetched: the rel="me" hrefs found on each (absolute, case-folded,
-- at most 100), none when the fetch failed. A remote profile's link is not fetched again while its
-- row is younger than a day (verified_links.CACHE_FOR); older rows are deleted by the job.
CREATE TABLE link_checks (
    url        text PRIMARY KEY,
    checked_at timestamptz NOT NULL DEFAULT now(),
    rel_me     text[] NOT NULL DEFAULT '{}' CHECK (cardinality(rel_me) <= 100)
);
CREATE INDEX link_checks_checked_at ON link_checks (checked_at);

-- One page at a time per host, across every worker process: a lease taken before a fetch and given
-- back after it (no connection is held while fetching); a crashed worker's lease runs out by itself.
CREATE TABLE link_check_hosts (
    host       text PRIMARY KEY,
    busy_until timestamptz NOT NULL
);

-- A peer's profile fields replace the stored ones on every receipt of its actor document. An entry
-- whose value is unchanged keeps the verified_at we found; any other has none (whatever the document
-- says), so a changed link loses its mark at once. Mastodon keeps verified_at by value the same way
-- (Account#fields_attributes=).
CREATE FUNCTION fields_keeping_verification(stored jsonb, received jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(jsonb_agg(
               CASE WHEN jsonb_typeof(n.entry) <> 'object' THEN n.entry
                    WHEN kept.verified_at IS NULL THEN n.entry - 'verified_at'
                    ELSE n.entry || jsonb_build_object('verified_at', kept.verified_at) END
               ORDER BY n.ord), '[]'::jsonb)
      FROM jsonb_array_elements(CASE WHEN jsonb_typeof(received) = 'array' THEN received ELSE '[]' END)
           WITH ORDINALITY AS n (entry, ord)
      LEFT JOIN LATERAL (
          SELECT o.entry -> 'verified_at' AS verified_at
            FROM jsonb_array_elements(CASE WHEN jsonb_typeof(stored) = 'array' THEN stored ELSE '[]' END) AS o (entry)
           WHERE jsonb_typeof(o.entry) = 'object' AND o.entry ->> 'value' = n.entry ->> 'value'
             AND jsonb_typeof(o.entry -> 'verified_at') = 'string'
           LIMIT 1
      ) AS kept ON true
$$;
