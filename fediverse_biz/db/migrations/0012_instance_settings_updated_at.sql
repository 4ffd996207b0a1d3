-- When each instance setting last changed. Mastodon's privacy policy and extended description carry an
-- `updated_at` (clients show "last updated"), and the operator edits each setting on its own
-- (`fediverse-biz set-instance`), so the time belongs to the row, not to the table.
ALTER TABLE instance_settings ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
