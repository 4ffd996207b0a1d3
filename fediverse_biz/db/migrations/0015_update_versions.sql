-- An Update is a new version of an object. Peers (Mastodon among them, for profiles and for edits made
-- within one second) may send two different Updates under one activity id; keyed on the id alone the
-- inbox kept only the first and the newer version was lost. An Update is now kept once per version of
-- its object: `object_digest` is a SHA-256 of the embedded object (federation/inbox.py), '' for every
-- other activity, which stays deduplicated on its id alone. Which version wins is the handlers' rule,
-- "newer `updated` wins" (federation/inbound/dispatch.py, core/remote_statuses.py), whatever the order of arrival.
ALTER TABLE inbox_activities ADD COLUMN object_digest text NOT NULL DEFAULT '';
ALTER TABLE inbox_activities DROP CONSTRAINT inbox_activities_activity_id_key;
ALTER TABLE inbox_activities ADD CONSTRAINT inbox_activities_activity_version_key UNIQUE (activity_id, object_digest);

-- The `updated` of the last actor document applied from an Update of that actor: an Update whose
-- document is older (delivered late, or out of order) changes nothing. NULL when the peer's documents
-- carry no `updated` (Mastodon's do not; Lemmy's and ours do).
ALTER TABLE actors ADD COLUMN document_updated_at timestamptz;
