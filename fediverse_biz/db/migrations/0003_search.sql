-- Search (api/search.py, core/search.py): full text over statuses, prefix lookups of handles and tags.

-- The 'simple' configuration: no stemming or stop words, so any language and business vocabulary
-- (product names, SKUs) is found as typed. HTML tags in `content` are not indexed by the default
-- parser's configurations, so markup never matches. The expression must stay identical to
-- core.search.STATUS_DOCUMENT for the planner to use this index.
CREATE INDEX statuses_search ON statuses
    USING gin (to_tsvector('simple', spoiler_text || ' ' || content))
    WHERE reblog_of_id IS NULL;

-- Prefix matches (`LIKE 'abc%'`) need pattern ops under a non-C collation.
CREATE INDEX actors_search_username ON actors (lower(username) text_pattern_ops);
CREATE INDEX tags_search_name ON tags (lower(name) text_pattern_ops);
