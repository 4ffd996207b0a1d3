"""The instance's texts (core/instance_settings.py): only what is given changes, rules keep their ids,
nothing invalid is written."""

from __future__ import annotations

from typing import Any

import pytest

from fediverse_biz.core import instance_settings
from fediverse_biz.core.instance_settings import InstanceChanges, InstanceSettingError
from fediverse_biz.db.database import Database


async def stored(db: Database) -> dict[str, object]:
    return await instance_settings.load(db.pool, (*instance_settings.PUBLIC_KEYS, "last_rule_id"))


async def test_only_the_given_settings_change(db: Database) -> None:
    await instance_settings.update(
        db.pool,
        InstanceChanges(title="Anvil Guild", description="Forges.\n\nMore.", contact_email="a@guild.example"),
    )
    changed = await instance_settings.update(db.pool, InstanceChanges(contact_email=" team@guild.example "))
    assert changed == {"contact_email": "team@guild.example"}
    assert await stored(db) == {
        "title": "Anvil Guild", "description": "Forges.\n\nMore.", "contact_email": "team@guild.example",
    }  # fmt: skip


async def test_rules_keep_their_ids_and_new_ones_never_reuse_one(db: Database) -> None:
    lines = ["1. Be civil", "", "- No spam", "Post in English"]  # bullets and numbers are the file's formatting
    first = await instance_settings.update(db.pool, InstanceChanges(rules=lines))
    assert first["rules"] == [
        {"id": "1", "text": "Be civil", "hint": ""},
        {"id": "2", "text": "No spam", "hint": ""},
        {"id": "3", "text": "Post in English", "hint": ""},
    ]
    # the last rule goes, a new one comes, the order changes: kept texts keep their ids, 3 is not given again
    lines = ["No spam", "Offers in #offers", "Be civil"]
    second = await instance_settings.update(db.pool, InstanceChanges(rules=lines))
    assert [(r["id"], r["text"]) for r in second["rules"]] == [("2", lines[0]), ("4", lines[1]), ("1", lines[2])]
    assert instance_settings.rules_of((await stored(db))["rules"]) == second["rules"]


async def test_rules_written_before_ids_are_numbered_by_position_and_kept(db: Database) -> None:
    legacy = ["Be kind", {"text": "No spam"}]
    await db.pool.execute("INSERT INTO instance_settings (key, value) VALUES ('rules', $1)", legacy)
    changed = await instance_settings.update(db.pool, InstanceChanges(rules=["No spam", "Be brief"]))
    assert [(r["id"], r["text"]) for r in changed["rules"]] == [("2", "No spam"), ("3", "Be brief")]


async def test_an_empty_value_removes_the_setting(db: Database) -> None:
    await instance_settings.update(
        db.pool, InstanceChanges(title="T", contact_email="a@b.example", rules=["R"], privacy_policy="# P")
    )
    changed = await instance_settings.update(
        db.pool, InstanceChanges(title="", contact_email="", rules=["", "  "], privacy_policy="\n")
    )
    assert changed == {"title": None, "contact_email": None, "rules": None, "privacy_policy": None}
    assert await stored(db) == {"last_rule_id": 1}  # ids stay used


async def test_the_same_text_again_keeps_its_updated_at(db: Database) -> None:
    await instance_settings.update(db.pool, InstanceChanges(privacy_policy="# Policy"))
    before = await instance_settings.document(db.pool, "privacy_policy")
    await instance_settings.update(db.pool, InstanceChanges(privacy_policy="# Policy\n"))  # same once cleaned
    assert await instance_settings.document(db.pool, "privacy_policy") == before
    await instance_settings.update(db.pool, InstanceChanges(privacy_policy="# Policy, revised"))
    after = await instance_settings.document(db.pool, "privacy_policy")
    assert before is not None and after is not None
    assert after.text == "# Policy, revised" and after.updated_at > before.updated_at


@pytest.mark.parametrize(
    ("given", "setting", "message"),
    [
        ({"contact_email": "not an address"}, "contact_email", "invalid contact email address"),
        ({"title": "T" * 201}, "title", "at most 200"),
        ({"rules": ["ok", "x" * 301]}, "rules", "rule 2 is too long"),
        ({"rules": [f"rule {n}" for n in range(101)]}, "rules", "too many rules"),
        ({"privacy_policy": "p" * 200_001}, "privacy_policy", "privacy policy is too long"),
    ],
)
async def test_invalid_values_name_their_setting_and_write_nothing(
    db: Database, given: dict[str, Any], setting: str, message: str
) -> None:
    # a valid description comes along: nothing is written when any value is invalid
    with pytest.raises(InstanceSettingError, match=message) as raised:
        await instance_settings.update(db.pool, InstanceChanges(description="Written?", **given))
    assert raised.value.setting == setting
    assert await stored(db) == {}


def test_the_short_description_is_the_first_paragraph_on_one_line() -> None:
    assert instance_settings.first_paragraph("\n\n  Machine builders\n of the region.\n\nWe meet monthly.") == (
        "Machine builders of the region."
    )
    assert instance_settings.first_paragraph("") == ""
