-- A remote hall's members lead us to their servers (federation/hall_members.py): at most one waiting
-- member pull per hall, keyed by the hall's actor URI in the payload. Following the hall again, or a
-- pull re-arming itself, adds nothing while one is queued (a running or retrying pull has attempts > 0).
CREATE UNIQUE INDEX jobs_one_hall_member_pull ON jobs ((payload ->> 'hall')) WHERE kind = 'pull_hall_members' AND attempts = 0;
