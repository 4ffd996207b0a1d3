"""The instance's own texts: title, description, contact address, rules and privacy policy.

They live in `instance_settings` (one jsonb value and its `updated_at` per key), are written by the
operator (`fediverse-biz set-instance`), and read by the instance documents of the client API and by
`/about` and `/privacy-policy`. A key that is absent means "not published": readers fall back to
defaults (the domain as title) or say so, never invent a text.

Rules keep their ids across edits, as Mastodon's rule rows do: an unchanged text keeps its id, a new
one gets the next id never used before, so a client that cached rule 3 never sees another text under 3.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import asyncpg

from fediverse_biz.core.accounts import AccountError, validate_email
from fediverse_biz.core.errors import DomainError
from fediverse_biz.text.sanitize import sanitize_plain

TITLE: Final = "title"
SHORT_DESCRIPTION: Final = "short_description"
DESCRIPTION: Final = "description"
CONTACT_EMAIL: Final = "contact_email"
SOURCE_URL: Final = "source_url"
LANGUAGES: Final = "languages"
RULES: Final = "rules"
PRIVACY_POLICY: Final = "privacy_policy"
_LAST_RULE_ID: Final = "last_rule_id"  # the highest rule id ever given, so no id is reused
# What the instance documents and pages read.
PUBLIC_KEYS: Final = (
    TITLE, SHORT_DESCRIPTION, DESCRIPTION, CONTACT_EMAIL, SOURCE_URL, LANGUAGES, RULES, PRIVACY_POLICY,
)  # fmt: skip

MAX_TITLE: Final = 200
MAX_DESCRIPTION: Final = 20_000
MAX_RULES: Final = 100
MAX_RULE: Final = 300  # Mastodon's Rule::TEXT_SIZE_LIMIT
MAX_PRIVACY_POLICY: Final = 200_000
# One rule a line; a leading bullet or number is the file's formatting, not the rule (lists number them).
_LIST_MARKER = re.compile(r"^(?:[-*\u2022]|\d{1,3}[.)])\s+")
# C0 controls other than tab and line breaks, DEL, C1 controls: never meant in an operator's text.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_UPDATE_LOCK: Final = 0x696E_7374  # serialises updates, so two edits of the rules cannot give one id twice


class InstanceSettingError(DomainError):
    """A value the operator gave cannot be published; `setting` names it."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message, 422)
        self.setting = setting


@dataclass(frozen=True)
class InstanceChanges:
    """What to change; None leaves a setting as it is, an empty text removes it (back to the default)."""

    title: str | None = None
    description: str | None = None
    contact_email: str | None = None
    rules: Sequence[str] | None = None
    privacy_policy: str | None = None


@dataclass(frozen=True)
class Document:
    """A published long text and when it last changed."""

    text: str
    updated_at: datetime


def rules_of(value: Any) -> list[dict[str, str]]:
    """The rules as stored, as Mastodon Rule entities. Rows written before rules had ids (plain texts,
    or objects without `id`) are numbered by position."""
    if not isinstance(value, list):
        return []
    rules = []
    for number, rule in enumerate(value, start=1):
        if isinstance(rule, Mapping):
            text, hint, rule_id = str(rule.get("text") or ""), str(rule.get("hint") or ""), rule.get("id")
        else:
            text, hint, rule_id = str(rule), "", None
        if text:
            rules.append({"id": str(rule_id or number), "text": text, "hint": hint})
    return rules


def first_paragraph(text: str) -> str:
    """The description's first paragraph on one line: what Mastodon calls the short description."""
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        line = " ".join(paragraph.split())
        if line:
            return line
    return ""


def _long_text(setting: str, text: str, limit: int) -> str:
    cleaned = _CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if len(cleaned) > limit:
        name = setting.replace("_", " ")
        raise InstanceSettingError(setting, f"the {name} is too long ({len(cleaned)} characters, at most {limit})")
    return cleaned


def _title(text: str) -> str:
    title = sanitize_plain(text, len(text))
    if len(title) > MAX_TITLE:
        raise InstanceSettingError(TITLE, f"the title is too long ({len(title)} characters, at most {MAX_TITLE})")
    return title


def _contact_email(text: str) -> str:
    if not text.strip():
        return ""
    try:
        return validate_email(text)
    except AccountError:
        raise InstanceSettingError(CONTACT_EMAIL, f"invalid contact email address {text.strip()!r}") from None


def _rule_texts(lines: Sequence[str]) -> list[str]:
    texts: list[str] = []
    for line in lines:
        text = _LIST_MARKER.sub("", sanitize_plain(line, len(line)))
        if not text:
            continue
        if len(text) > MAX_RULE:
            raise InstanceSettingError(
                RULES, f"rule {len(texts) + 1} is too long ({len(text)} characters, at most {MAX_RULE})"
            )
        texts.append(text)
    if len(texts) > MAX_RULES:
        raise InstanceSettingError(RULES, f"too many rules ({len(texts)}, at most {MAX_RULES})")
    return texts


def _number(rule_id: str) -> int:
    try:
        return int(rule_id)
    except ValueError:  # not one of ours: it cannot collide with the numbers we give
        return 0


def _numbered(texts: list[str], current: list[dict[str, str]], last_id: int) -> tuple[list[dict[str, str]], int]:
    """`texts` as rules, each unchanged text keeping its id (first come, first kept), new ones numbered on."""
    free: dict[str, list[str]] = {}
    for rule in current:
        free.setdefault(rule["text"], []).append(rule["id"])
    last_id = max([last_id, *(_number(r["id"]) for r in current)])
    rules = []
    for text in texts:
        kept = free.get(text)
        if kept:
            rule_id = kept.pop(0)
        else:
            last_id += 1
            rule_id = str(last_id)
        rules.append({"id": rule_id, "text": text, "hint": ""})
    return rules, last_id


def _checked(changes: InstanceChanges) -> dict[str, Any]:
    """The new value of every key the changes touch (None: remove it), after every check passed."""
    values: dict[str, Any] = {}
    if changes.title is not None:
        values[TITLE] = _title(changes.title) or None
    if changes.description is not None:
        values[DESCRIPTION] = _long_text(DESCRIPTION, changes.description, MAX_DESCRIPTION) or None
    if changes.contact_email is not None:
        values[CONTACT_EMAIL] = _contact_email(changes.contact_email) or None
    if changes.rules is not None:
        values[RULES] = _rule_texts(changes.rules)  # numbered in the transaction
    if changes.privacy_policy is not None:
        values[PRIVACY_POLICY] = _long_text(PRIVACY_POLICY, changes.privacy_policy, MAX_PRIVACY_POLICY) or None
    return values


async def _write(conn: asyncpg.Connection, key: str, value: Any) -> None:
    if value is None:
        await conn.execute("DELETE FROM instance_settings WHERE key = $1", key)
        return
    # Writing the same text again does not move updated_at: "last updated" means the text changed.
    await conn.execute(
        """INSERT INTO instance_settings (key, value, updated_at) VALUES ($1, $2, now())
           ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
            WHERE instance_settings.value IS DISTINCT FROM EXCLUDED.value""",
        key,
        value,
    )


async def update(pool: asyncpg.Pool, changes: InstanceChanges) -> dict[str, Any]:
    """Apply `changes` in one transaction; nothing is written unless every value is valid.

    Returns the new value of each setting changed (None for one removed; the rules as entities).
    Raises InstanceSettingError naming the first invalid setting.
    """
    values = _checked(changes)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _UPDATE_LOCK)
        if RULES in values:
            stored = await conn.fetch(
                "SELECT key, value FROM instance_settings WHERE key = ANY($1::text[])", [RULES, _LAST_RULE_ID]
            )
            found = {row["key"]: row["value"] for row in stored}
            last_id = found.get(_LAST_RULE_ID)
            rules, last_id = _numbered(
                values[RULES], rules_of(found.get(RULES)), last_id if isinstance(last_id, int) else 0
            )
            values[RULES] = rules or None
            await _write(conn, _LAST_RULE_ID, last_id)
        for key, value in values.items():
            await _write(conn, key, value)
    return values


async def load(conn: asyncpg.Pool | asyncpg.Connection, keys: Sequence[str] = PUBLIC_KEYS) -> dict[str, Any]:
    rows = await conn.fetch("SELECT key, value FROM instance_settings WHERE key = ANY($1::text[])", list(keys))
    return {row["key"]: row["value"] for row in rows}


async def document(conn: asyncpg.Pool | asyncpg.Connection, key: str) -> Document | None:
    """The description or the privacy policy with its time, or None when it is not published."""
    row = await conn.fetchrow("SELECT value, updated_at FROM instance_settings WHERE key = $1", key)
    if row is None or not isinstance(row["value"], str) or not row["value"].strip():
        return None
    return Document(row["value"], row["updated_at"])


async def instance_created_at(conn: asyncpg.Pool | asyncpg.Connection) -> datetime | None:
    """When this server was set up (its instance actor was created)."""
    created: datetime | None = await conn.fetchval("SELECT created_at FROM actors WHERE is_instance_actor LIMIT 1")
    return created
