-- What a report is about, as Mastodon's Report entity states it: a category and, for a violation, the
-- instance rules broken (ids of the rules in instance_settings).
ALTER TABLE reports
    ADD COLUMN category text NOT NULL DEFAULT 'other' CHECK (category IN ('spam', 'legal', 'violation', 'other')),
    ADD COLUMN rule_ids bigint[] NOT NULL DEFAULT '{}';
