"""Serving an aiohttp app on 127.0.0.1 for a test: the simulated peers, inboxes and websites."""

from __future__ import annotations

from aiohttp import web


async def listen(runner: web.AppRunner, port: int = 0) -> int:
    """Set up `runner` and serve it on 127.0.0.1 (any free port unless one is given); returns the port."""
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, reuse_address=True).start()
    return int(runner.addresses[0][1])
