"""Extension points: where core tells the layers above it that something happened.

Layers import one way (docs/architecture.md, "Layers"): core knows nothing of federation or business,
yet a local post must be rendered as ActivityPub and fanned out, a like in a local hall must be relayed,
following a remote hall schedules a pull of its directory, and new profile links must be checked. So
core calls the hooks named here, inside the domain operation's transaction (a hook's jobs and rows
commit or roll back with the operation), and the modules above register on them at start-up:
`fediverse_biz/assembly.py` builds the registry once, and `create_app` and the CLI install it.

Calling a hook before a registry is installed is a programming error, not a silent no-op: a post that
quietly did not federate would be the worst kind of bug.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from fediverse_biz.core.hydrate import StatusBundle
from fediverse_biz.urls import LocalUrls

Actor = Mapping[str, Any]
StatusHook = Callable[[asyncpg.Connection, LocalUrls, StatusBundle], Awaitable[object]]
"""(conn, urls, bundle): a local status was published, edited, is being deleted, boosted or unboosted."""
ActivityHook = Callable[[asyncpg.Connection, Actor, Actor, dict[str, Any]], Awaitable[object]]
"""(conn, sender, target, activity): a local actor sends one activity to one actor (Follow, Like, Undo…)."""
ActorActivityHook = Callable[[asyncpg.Connection, Actor, dict[str, Any]], Awaitable[object]]
"""(conn, actor, activity): an activity about the actor itself (its Delete) goes out."""
FollowHook = Callable[[asyncpg.Connection, Actor, Actor], Awaitable[object]]
"""(conn, follower, target): a local account asked to follow a remote one."""
ActorIdHook = Callable[[asyncpg.Connection, int], Awaitable[object]]
"""(conn, actor_id): a local actor's profile links changed."""
PollVoteHook = Callable[[asyncpg.Connection, Actor, Actor, Sequence[tuple[int, int]]], Awaitable[object]]
"""(conn, voter, status, votes): a local account voted on a poll; votes are (poll_votes id, choice)."""


@dataclass
class Hooks:
    """Every extension point, each a list of callables run in registration order."""

    status_published: list[StatusHook] = field(default_factory=list)
    status_edited: list[StatusHook] = field(default_factory=list)
    # Before the row is deleted: the audience is computed from it.
    status_deleting: list[StatusHook] = field(default_factory=list)
    status_boosted: list[StatusHook] = field(default_factory=list)
    boost_withdrawn: list[StatusHook] = field(default_factory=list)
    activity_sent: list[ActivityHook] = field(default_factory=list)
    account_deleted: list[ActorActivityHook] = field(default_factory=list)
    remote_follow_requested: list[FollowHook] = field(default_factory=list)
    profile_links_changed: list[ActorIdHook] = field(default_factory=list)
    poll_voted: list[PollVoteHook] = field(default_factory=list)


class HooksNotInstalled(RuntimeError):
    pass


_installed: Hooks | None = None


def install(hooks: Hooks) -> None:
    """Make `hooks` the registry core calls; the process's assembly does this once at start-up."""
    global _installed
    _installed = hooks


def installed() -> Hooks:
    if _installed is None:
        raise HooksNotInstalled("no extension points installed: build them with fediverse_biz.assembly")
    return _installed


async def _run(hooks: Sequence[Callable[..., Awaitable[object]]], *args: Any) -> None:
    for hook in hooks:
        await hook(*args)


async def status_published(conn: asyncpg.Connection, urls: LocalUrls, bundle: StatusBundle) -> None:
    await _run(installed().status_published, conn, urls, bundle)


async def status_edited(conn: asyncpg.Connection, urls: LocalUrls, bundle: StatusBundle) -> None:
    await _run(installed().status_edited, conn, urls, bundle)


async def status_deleting(conn: asyncpg.Connection, urls: LocalUrls, bundle: StatusBundle) -> None:
    await _run(installed().status_deleting, conn, urls, bundle)


async def status_boosted(conn: asyncpg.Connection, urls: LocalUrls, boost: StatusBundle) -> None:
    await _run(installed().status_boosted, conn, urls, boost)


async def boost_withdrawn(conn: asyncpg.Connection, urls: LocalUrls, boost: StatusBundle) -> None:
    await _run(installed().boost_withdrawn, conn, urls, boost)


async def activity_sent(conn: asyncpg.Connection, sender: Actor, target: Actor, activity: dict[str, Any]) -> None:
    await _run(installed().activity_sent, conn, sender, target, activity)


async def account_deleted(conn: asyncpg.Connection, actor: Actor, deletion: dict[str, Any]) -> None:
    await _run(installed().account_deleted, conn, actor, deletion)


async def remote_follow_requested(conn: asyncpg.Connection, follower: Actor, target: Actor) -> None:
    await _run(installed().remote_follow_requested, conn, follower, target)


async def profile_links_changed(conn: asyncpg.Connection, actor_id: int) -> None:
    await _run(installed().profile_links_changed, conn, actor_id)


async def poll_voted(conn: asyncpg.Connection, voter: Actor, status: Actor, votes: Sequence[tuple[int, int]]) -> None:
    await _run(installed().poll_voted, conn, voter, status, votes)
