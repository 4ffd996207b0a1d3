"""The inbox schemas accept what real servers send and refuse garbage with a short, precise message.

Real payloads: tests/fixtures/federation/<server>/*.json (sources in SOURCES.md there).
"""

from __future__ import annotations

import copy
import re
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from fediverse_biz.activitypub.context import ACTIVITYSTREAMS, CONTEXT, SECURITY_V1, load_context
from fediverse_biz.activitypub.validation import (
    MAX_DEPTH,
    SCHEMA_DIR,
    SchemaError,
    validate_activity,
    validate_actor,
    validate_object,
)
from fediverse_biz.package_data import schema_files
from tests.support.json_schemas import load, registry_of, schema_refs

FIXTURE_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "federation"
FIXTURES = sorted(FIXTURE_DIR.glob("*/*.json"))
SERVERS = ("mastodon", "gotosocial", "pleroma", "misskey", "lemmy")
ACTOR_TYPES = {"Person", "Organization", "Service", "Application", "Group"}
POST_TYPES = {"Note", "Article", "Page", "Question"}

ALICE = "https://social.example/users/alice"
BOB = "https://other.example/users/bob"


def fixture(name: str) -> Any:
    return load(FIXTURE_DIR / name)


def kind_of(doc: dict[str, Any]) -> str:
    kind = doc["type"]
    return "actor" if kind in ACTOR_TYPES else "object" if kind in POST_TYPES else "activity"


VALIDATE = {"activity": validate_activity, "actor": validate_actor, "object": validate_object}


def follow(**changes: object) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": f"{ALICE}#follows/1", "type": "Follow", "actor": ALICE, "object": BOB}
    doc.update(changes)
    return doc


def create_note(**changes: object) -> dict[str, Any]:
    note: dict[str, Any] = {"id": f"{ALICE}/statuses/1", "type": "Note", "attributedTo": ALICE, "content": "<p>hi</p>"}
    note.update(changes)
    return {"id": f"{ALICE}/statuses/1/activity", "type": "Create", "actor": ALICE, "object": note}


def nested(depth: int) -> dict[str, Any]:
    junk: dict[str, Any] = {"leaf": True}
    for _ in range(depth):
        junk = {"x": [junk]}
    return junk


# -- real payloads --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_every_real_payload_is_accepted(path: Path) -> None:
    doc = load(path)

    VALIDATE[kind_of(doc)](doc)


@pytest.mark.parametrize("server", SERVERS)
def test_each_server_has_an_actor_and_a_create_note(server: str) -> None:
    docs = [load(path) for path in FIXTURE_DIR.glob(f"{server}/*.json")]

    assert any(kind_of(doc) == "actor" for doc in docs)
    assert any(doc["type"] == "Create" and doc["object"]["type"] == "Note" for doc in docs)


def test_the_fixtures_cover_every_activity_we_handle() -> None:
    types = {load(path)["type"] for path in FIXTURES}

    assert types >= {
        "Create", "Update", "Delete", "Follow", "Accept", "Like", "Announce", "Undo", "Block", "Flag",
        "Move", "Add", "EmojiReact",
    }  # fmt: skip


def test_embedded_posts_pass_the_object_check_on_their_own() -> None:
    embedded = [
        doc["object"]
        for doc in map(load, FIXTURES)
        if doc["type"] in {"Create", "Update", "Announce"}
        and isinstance(doc["object"], dict)
        and doc["object"]["type"] in POST_TYPES
    ]

    assert len(embedded) >= 8
    for post in embedded:
        validate_object(post)


def test_the_actor_embedded_in_update_passes_the_actor_check() -> None:
    validate_actor(fixture("mastodon/update_person.json")["object"])
    validate_actor(fixture("gotosocial/update_person.json")["object"])


def test_misskey_extensions_and_gotosocial_single_string_addressing_are_accepted() -> None:
    note = fixture("misskey/note_quote.json")
    create = fixture("gotosocial/create_note.json")

    assert note["_misskey_quote"].startswith("https://")
    assert isinstance(create["to"], str)
    validate_object(note)
    validate_activity(create)


def test_a_lone_tag_object_and_null_content_are_tolerated() -> None:
    # GoToSocial sends a single tag as an object; Misskey renders a text-less note as content null.
    validate_activity(create_note(tag={"type": "Hashtag", "name": "#fair", "href": "https://social.example/tags/fair"}))
    validate_activity(create_note(content=None))


# -- garbage --------------------------------------------------------------------------------------

HOSTILE: list[tuple[str, object, str]] = [
    ("top-level array", [follow()], "activity: must be an object"),
    ("top-level string", "Follow", "activity: must be an object"),
    ("top-level null", None, "activity: must be an object"),
    ("missing actor", {k: v for k, v in follow().items() if k != "actor"}, "activity.actor: required"),
    ("missing id", {k: v for k, v in follow().items() if k != "id"}, "activity.id: required"),
    ("missing type", {k: v for k, v in follow().items() if k != "type"}, "activity.type: required"),
    ("javascript id", follow(id="javascript:alert(1)"), "activity.id: not an absolute http(s) URI"),
    ("data id", follow(id="data:text/html,<script>alert(1)</script>"), "activity.id: not an absolute http(s) URI"),
    ("relative id", follow(id="/users/alice#follows/1"), "activity.id: not an absolute http(s) URI"),
    ("id with userinfo", follow(id="https://social.example@evil.example/1"),
     "activity.id: not an absolute http(s) URI"),
    ("id with a newline", follow(id=f"{ALICE}#follows/1\n"), "activity.id: not an absolute http(s) URI"),
    ("id not a string", follow(id=42), "activity.id: must be a string"),
    ("overlong id", follow(id="https://social.example/" + "a" * 2100), "activity.id: longer than 2048 characters"),
    ("type a number", follow(type=5), "activity.type: must be a string or a list"),
    ("type an empty list", follow(type=[]), "activity.type: must not be empty"),
    ("actor a javascript URI", follow(actor="javascript:alert(1)"), "activity.actor: not an absolute http(s) URI"),
    ("actor object without id", follow(actor={"type": "Person"}), "activity.actor.id: required"),
    ("object a number", follow(object=5), "activity.object: must be a string, an object or a list"),
    ("object an empty list", follow(type="Flag", object=[]), "activity.object: must not be empty"),
    ("object list with junk", follow(type="Flag", object=[BOB, 7]),
     "activity.object[1]: must be a string or an object"),
    ("Follow without object", {k: v for k, v in follow().items() if k != "object"}, "activity.object: required"),
    ("Move without target", follow(type="Move", object=ALICE), "activity.target: required"),
    ("embedded note without id", create_note(id=None) | {"object": {"type": "Note", "attributedTo": ALICE}},
     "activity.object.id: required"),
    ("note without author", {**create_note(), "object": {"id": f"{ALICE}/statuses/1", "type": "Note"}},
     "activity.object.attributedTo: required"),
    ("note with a numeric author", create_note(attributedTo=5),
     "activity.object.attributedTo: must be a string, an object or a list"),
    ("Update with an actor stub", follow(type="Update", object={"id": ALICE, "type": "Person"}),
     "activity.object.inbox: required"),
    ("Undo of a Follow with no actor",
     follow(type="Undo", object={"id": f"{ALICE}#f/1", "type": "Follow", "object": BOB}),
     "activity.object.actor: required"),
    ("to a number", follow(to=5), "activity.to: must be a string, an object or a list"),
    ("to with a number inside", follow(to=[BOB, 5]), "activity.to[1]: must be a string or an object"),
    ("tag a number", create_note() | {"tag": 5}, "activity.tag: must be an object, a list or null"),
    ("deeply nested junk", follow(junk=nested(200)), f"activity: nested deeper than {MAX_DEPTH} levels"),
]  # fmt: skip


@pytest.mark.parametrize(("doc", "message"), [case[1:] for case in HOSTILE], ids=[case[0] for case in HOSTILE])
def test_garbage_is_refused_with_a_short_message(doc: object, message: str) -> None:
    with pytest.raises(SchemaError) as refused:
        validate_activity(doc)

    assert str(refused.value) == message


def test_schema_error_is_a_value_error() -> None:
    # The inbox maps ValueError subclasses to 422 without knowing about schemas.
    assert issubclass(SchemaError, ValueError)


def test_a_thousand_addressees_pass_but_ten_thousand_do_not() -> None:
    # Decision: 1000 entries at most in to/cc/bto/bcc/audience. Real servers address collections
    # (followers, as:Public) plus mentioned actors; 10k fits in a 1 MB body and would cost 10k lookups.
    many = [f"https://other.example/users/u{n}" for n in range(10_000)]

    validate_activity(follow(to=many[:1000], cc=many[:1000]))
    with pytest.raises(SchemaError, match=r"^activity\.to: more than 1000 items$"):
        validate_activity(follow(to=many))


def test_a_chain_of_nested_activities_deeper_than_the_cap_is_refused_without_recursing() -> None:
    doc: dict[str, Any] = follow()
    for n in range(5_000):
        doc = {"id": f"{ALICE}#undo/{n}", "type": "Undo", "actor": ALICE, "object": doc}

    with pytest.raises(SchemaError, match="nested deeper"):
        validate_activity(doc)


def test_nesting_just_under_the_cap_is_checked_normally() -> None:
    validate_activity(follow(junk=nested((MAX_DEPTH - 3) // 2)))


def test_a_valid_document_is_not_modified() -> None:
    doc = fixture("lemmy/announce_create_page.json")
    before = copy.deepcopy(doc)

    validate_activity(doc)

    assert doc == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"type": "Note"}, "actor.type: not an accepted value"),
        ({"inbox": None}, "actor.inbox: must be a string"),
        ({"inbox": "ftp://mastodon.example.org/inbox"}, "actor.inbox: not an absolute http(s) URI"),
        ({"publicKey": {"id": "http://mastodon.example.org/users/admin#main-key"}}, "actor.publicKey.owner: required"),
        ({"preferredUsername": ""}, "actor.preferredUsername: must not be empty"),
    ],
)
def test_broken_actor_documents_are_refused(change: dict[str, Any], message: str) -> None:
    actor = fixture("mastodon/person.json") | change

    with pytest.raises(SchemaError) as refused:
        validate_actor(actor)

    assert str(refused.value) == message


def test_an_actor_without_a_key_or_with_a_non_pem_key_is_refused() -> None:
    actor = fixture("lemmy/person.json")
    no_key = {name: value for name, value in actor.items() if name != "publicKey"}
    bad_key = actor | {"publicKey": actor["publicKey"] | {"publicKeyPem": "not a key"}}

    with pytest.raises(SchemaError, match=r"^actor\.publicKey: required$"):
        validate_actor(no_key)
    with pytest.raises(SchemaError, match=r"^actor\.publicKey\.publicKeyPem: malformed$"):
        validate_actor(bad_key)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"type": "Person"}, "object.type: not an accepted value"),
        ({"attributedTo": []}, "object.attributedTo: must not be empty"),
        ({"content": 5}, "object.content: must be a string or null"),
        ({"inReplyTo": "javascript:alert(1)"}, "object.inReplyTo: not an absolute http(s) URI"),
    ],
)
def test_broken_posts_are_refused(change: dict[str, Any], message: str) -> None:
    post = fixture("mastodon/note_media_blurhash.json") | change

    with pytest.raises(SchemaError) as refused:
        validate_object(post)

    assert str(refused.value) == message


# -- the schema files themselves ------------------------------------------------------------------

AS_SCHEMAS = schema_files(SCHEMA_DIR)


@pytest.mark.parametrize("path", AS_SCHEMAS, ids=lambda path: path.name)
def test_each_inbox_schema_is_valid_and_its_refs_resolve(path: Traversable) -> None:
    schema = load(path)
    resolver = registry_of(AS_SCHEMAS).resolver(base_uri=path.name)

    Draft202012Validator.check_schema(schema)
    for ref in schema_refs(schema):
        assert resolver.lookup(ref).contents is not None, ref


# -- JSON-LD contexts (shipped with validation: nothing in the inbox path fetches a context) ------


def test_our_context_starts_with_activitystreams_and_security() -> None:
    assert CONTEXT[:2] == [ACTIVITYSTREAMS, SECURITY_V1]
    assert CONTEXT[2]["schema"] == "http://schema.org#"  # Mastodon's (wrong) mapping, kept on purpose
    assert CONTEXT[2]["focalPoint"] == {"@container": "@list", "@id": "toot:focalPoint"}


def test_every_prefix_in_our_context_is_defined() -> None:
    terms = CONTEXT[2]
    known_prefixes = set(terms) | set(load_context(ACTIVITYSTREAMS)["@context"])
    iris = [value if isinstance(value, str) else value["@id"] for value in terms.values()]

    for iri in iris:
        prefix = iri.split(":", 1)[0]
        assert prefix in known_prefixes or re.match(r"^https?$", prefix), iri


def test_shipped_contexts_are_served_without_the_network() -> None:
    activitystreams = load_context(ACTIVITYSTREAMS)
    security = load_context(SECURITY_V1)

    assert activitystreams["@context"]["as"] == "https://www.w3.org/ns/activitystreams#"
    assert activitystreams["@context"]["sharedInbox"] == {"@id": "as:sharedInbox", "@type": "@id"}
    assert security["@context"]["publicKeyPem"] == "sec:publicKeyPem"
    assert load_context("http://www.w3.org/ns/activitystreams#") == activitystreams


def test_load_context_returns_a_copy_and_refuses_unknown_urls() -> None:
    load_context(ACTIVITYSTREAMS)["@context"]["as"] = "tampered"

    assert load_context(ACTIVITYSTREAMS)["@context"]["as"] == "https://www.w3.org/ns/activitystreams#"
    with pytest.raises(KeyError):
        load_context("https://evil.example/context.jsonld")
