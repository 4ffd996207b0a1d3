"""Waiting for effects that land in another server's database (deliveries are asynchronous by design)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


async def eventually(check: Callable[[], Awaitable[Any]], what: str, within: float = 30.0) -> Any:
    """Poll until `check` returns something truthy; there is no event here to wait on, the effect is
    written by another server's worker."""
    try:
        async with asyncio.timeout(within):
            while not (result := await check()):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            return result
    except TimeoutError:
        raise AssertionError(f"timed out waiting for: {what}") from None
