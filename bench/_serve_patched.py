"""Diagnostic launcher, used only with `python -m bench.run --patch-nodelay`: `fediverse-biz serve` exactly
as shipped, except that its listening socket gets TCP_NODELAY (accepted sockets inherit it on Linux).

Why: cli._bind creates the socket as socket(AF_INET, SOCK_STREAM) — protocol 0 — and asyncio only sets
TCP_NODELAY on sockets whose proto is IPPROTO_TCP (asyncio.base_events._set_nodelay), so on a keep-alive
connection a response written in two parts waits for the client's delayed ACK, ~40 ms. This launcher
shows what the server does without that stall; it changes nothing else.
"""

from __future__ import annotations

import socket

from fediverse_biz import cli

_shipped_bind = cli._bind


def _bind_nodelay(host: str, port: int) -> socket.socket:
    sock = _shipped_bind(host, port)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


if __name__ == "__main__":
    cli._bind = _bind_nodelay
    cli.main()
