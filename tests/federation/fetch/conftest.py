"""Fixtures for the SSRF-safe client tests (net/fetch.py), against real aiohttp servers on 127.0.0.1
playing misbehaving peers.

No test talks to anything but 127.0.0.1: host names go through a fake resolver (or `localhost`), and
every socket aiohttp opens is checked to go to 127.0.0.1 (fixture `connected`), so even a broken address
check cannot make a test reach a private network.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohappyeyeballs
import aiohttp
import pytest

from fediverse_biz.net.fetch import create_session
from tests.support import fetch_peer
from tests.support.fetch_peer import LOOPBACK_ONLY, Peer, SessionFactory


@pytest.fixture(autouse=True)
def connected(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every address a test's sessions open a socket to; anything but 127.0.0.1 fails the test first.

    This wraps the one place aiohttp turns resolved addresses into sockets, so it sees what the address
    checks let through, and stops a broken check from ever reaching a real private network.
    """
    addresses: list[str] = []
    original = aiohappyeyeballs.start_connection

    async def start_connection(addr_infos: Sequence[Any], *args: Any, **kwargs: Any) -> socket.socket:
        targets = [info[4][0] for info in addr_infos]
        addresses.extend(targets)
        if any(target != "127.0.0.1" for target in targets):
            raise AssertionError(f"test tried to connect to {targets}")
        return await original(addr_infos, *args, **kwargs)

    monkeypatch.setattr(aiohappyeyeballs, "start_connection", start_connection)
    return addresses


peer = fetch_peer.peer  # the fixture: a running Peer


@pytest.fixture
async def sessions(peer: Peer) -> AsyncIterator[SessionFactory]:
    """create_session() for the test, closed afterwards (before the peer stops)."""
    made: list[aiohttp.ClientSession] = []

    def make(allowed: tuple[str, ...] = LOOPBACK_ONLY, **kwargs: Any) -> aiohttp.ClientSession:
        session = create_session(allowed, user_agent="fediverse_biz-tests", **kwargs)
        made.append(session)
        return session

    yield make
    for session in made:
        await session.close()
