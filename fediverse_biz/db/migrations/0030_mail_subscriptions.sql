-- E-mail updates of an organization (business/mail_subscriptions.py, docs/mail.md). One row per address
-- and organization, double opt-in: `confirmed_at` stays NULL until the link of the confirmation mail is
-- followed, and nothing but that mail is sent before. The consent is recorded as given: the words shown
-- beside the checkbox, when, and on which page. Only the SHA-256 of the confirmation token is kept.
-- Unsubscribing deletes the row (the address is gone); so does deleting the organization (cascade).
CREATE TABLE mail_subscriptions (
    id                  bigint PRIMARY KEY DEFAULT next_id(),
    actor_id            bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    email               text NOT NULL,
    frequency           text NOT NULL DEFAULT 'immediate' CHECK (frequency IN ('immediate', 'daily', 'weekly')),
    consent_text        text NOT NULL,
    consent_page        text NOT NULL,
    consented_at        timestamptz NOT NULL DEFAULT now(),
    confirm_token_hash  text,
    confirm_sent_at     timestamptz,
    confirmed_at        timestamptz,
    last_digest_at      timestamptz,  -- the end of the period the last digest covered (daily, weekly)
    UNIQUE (actor_id, email)
);
CREATE INDEX mail_subscriptions_confirmed ON mail_subscriptions (actor_id) WHERE confirmed_at IS NOT NULL;

-- Confirmation mails sent, by the SHA-256 of the address, for the per-address limit: one address cannot
-- be flooded with confirmations from many booths. Rows older than a day are pruned when one is added.
CREATE TABLE mail_confirmations_sent (
    email_hash  text NOT NULL,
    sent_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mail_confirmations_sent_hash ON mail_confirmations_sent (email_hash, sent_at);
