"""Simulated remote servers on loopback, in their own process so their work never shares a core's
event loop with the load generator:

- actor hosts: `GET /users/{name}` serves an actor document with that actor's RSA public key, for the
  inbox benchmark's senders (the server under test fetches them to verify signatures);
- receivers: one aiohttp application listening on many ports, each port a distinct "host" with a shared
  inbox, that VERIFIES every delivery's signature with the sender's public key (`activitypub.signatures`)
  and records when it did, for the fan-out benchmark;
- a control port: set the public keys receivers trust, reset and read their counters.

Times are `time.monotonic()` (CLOCK_MONOTONIC, the same clock in every process on the machine).

    python -m bench.peers --spec SPEC.json --ready READY.json [--max-seconds 3600]

`Peers` is the orchestrator's handle on that process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from fediverse_biz.activitypub.signatures import SignatureError, verify_request

from ._server import spawn
from ._util import listening_socket, run_async

AS2 = "application/activity+json"
REPO = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 120.0  # seconds: 500 listening sockets come up in well under one


@dataclass
class ActorSpec:
    host: int  # index into the actor hosts
    username: str
    public_pem: str


def actor_document(base: str, username: str, public_pem: str) -> dict[str, Any]:
    """A Mastodon-shaped actor (as tests/support/peers.py serves them)."""
    uri = f"{base}/users/{username}"
    return {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": uri,
        "type": "Person",
        "preferredUsername": username,
        "name": username.title(),
        "inbox": f"{uri}/inbox",
        "outbox": f"{uri}/outbox",
        "followers": f"{uri}/followers",
        "following": f"{uri}/following",
        "endpoints": {"sharedInbox": f"{base}/inbox"},
        "manuallyApprovesFollowers": False,
        "publicKey": {"id": f"{uri}#main-key", "owner": uri, "publicKeyPem": public_pem},
    }


# ---- the peers process ---------------------------------------------------------------------------
@dataclass
class ReceiverState:
    keys: dict[str, str] = field(default_factory=dict)  # keyId -> PEM the receivers trust
    total: int = 0
    verified_times: list[float] = field(default_factory=list)
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)
    hosts: set[int] = field(default_factory=set)  # ports that verified at least one delivery
    activity_ids: set[str] = field(default_factory=set)
    sample_body: bytes = b""
    actor_gets: int = 0

    def reset(self) -> None:
        """Forget every delivery seen so far (the trusted keys stay)."""
        self.total = 0
        self.verified_times = []
        self.rejected = 0
        self.reasons = []
        self.hosts = set()
        self.activity_ids = set()
        self.sample_body = b""
        self.actor_gets = 0

    def stats(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "verified": len(self.verified_times),
            "rejected": self.rejected,
            "reasons": self.reasons[:5],
            "hosts": len(self.hosts),
            "activity_ids": len(self.activity_ids),
            "times": self.verified_times,
            "sample_body": self.sample_body.decode("utf-8", "replace"),
            "actor_gets": self.actor_gets,
        }


def _receiver_app(state: ReceiverState) -> web.Application:
    async def lookup(key_id: str) -> str | None:
        return state.keys.get(key_id)

    async def receive(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        state.total += 1
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        port = int(sockname[1]) if sockname else 0
        try:
            await verify_request(
                request.method,
                request.rel_url.raw_path,
                request.rel_url.raw_query_string,
                request.headers,
                body,
                lookup,
                authority=f"127.0.0.1:{port}",
                scheme="http",
            )
        except SignatureError as exc:
            state.rejected += 1
            if len(state.reasons) < 5:
                state.reasons.append(str(exc))
            return web.json_response({"error": str(exc)}, status=401)
        state.verified_times.append(time.monotonic())
        state.hosts.add(port)
        try:
            state.activity_ids.add(str(json.loads(body).get("id")))
        except (ValueError, AttributeError):
            pass
        if not state.sample_body:
            state.sample_body = body
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/{tail:.*}", receive)
    return app


def _actor_app(base_for_port: dict[int, str], docs: dict[tuple[int, str], dict[str, Any]],
               state: ReceiverState) -> web.Application:
    async def serve_actor(request: web.Request) -> web.StreamResponse:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        port = int(sockname[1]) if sockname else 0
        doc = docs.get((port, request.match_info["name"]))
        if doc is None:
            return web.json_response({"error": "not found"}, status=404)
        state.actor_gets += 1
        return web.Response(body=json.dumps(doc).encode(), content_type=AS2)

    async def accept(request: web.Request) -> web.StreamResponse:
        await request.read()
        return web.Response(status=202)

    app = web.Application()
    app.router.add_get("/users/{name}", serve_actor)
    app.router.add_post("/{tail:.*}", accept)
    return app


def _control_app(state: ReceiverState) -> web.Application:
    async def set_keys(request: web.Request) -> web.StreamResponse:
        state.keys.update(await request.json())
        return web.json_response({"keys": len(state.keys)})

    async def reset(request: web.Request) -> web.StreamResponse:
        state.reset()
        return web.json_response({})

    async def stats(request: web.Request) -> web.StreamResponse:
        return web.json_response(state.stats())

    app = web.Application()
    app.router.add_post("/keys", set_keys)
    app.router.add_post("/reset", reset)
    app.router.add_get("/stats", stats)
    return app


async def _serve(spec: dict[str, Any], ready: Path, max_seconds: float) -> None:
    state = ReceiverState()
    runners: list[web.AppRunner] = []

    async def site(app: web.Application, count: int) -> list[int]:
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        runners.append(runner)
        ports = []
        for _ in range(count):
            sock = listening_socket()
            await web.SockSite(runner, sock).start()
            ports.append(int(sock.getsockname()[1]))
        return ports

    actors = [ActorSpec(**a) for a in spec["actors"]]
    docs: dict[tuple[int, str], dict[str, Any]] = {}
    base_for_port: dict[int, str] = {}
    actor_ports = await site(_actor_app(base_for_port, docs, state), int(spec["actor_hosts"]))
    for port in actor_ports:
        base_for_port[port] = f"http://127.0.0.1:{port}"
    for actor in actors:
        port = actor_ports[actor.host]
        docs[(port, actor.username)] = actor_document(base_for_port[port], actor.username, actor.public_pem)
    receiver_ports = await site(_receiver_app(state), int(spec["receivers"]))
    control_port = (await site(_control_app(state), 1))[0]

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tmp = ready.with_suffix(".tmp")
    tmp.write_text(json.dumps({"control": control_port, "actor_hosts": actor_ports, "receivers": receiver_ports}))
    tmp.rename(ready)
    parent = os.getppid()
    deadline = time.monotonic() + max_seconds
    # Bounded: stop on a signal, when the orchestrator is gone, or after max_seconds at the latest.
    while not stop.is_set() and os.getppid() == parent and time.monotonic() < deadline:
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            pass
    for runner in runners:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--ready", type=Path, required=True)
    parser.add_argument("--max-seconds", type=float, default=3600.0)
    args = parser.parse_args()
    run_async(_serve(json.loads(args.spec.read_text()), args.ready, args.max_seconds))


# ---- the orchestrator's handle -------------------------------------------------------------------
@dataclass
class Peers:
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    control: str = ""
    actor_hosts: list[int] = field(default_factory=list)
    receivers: list[int] = field(default_factory=list)
    _http: aiohttp.ClientSession | None = None

    async def start(self, actors: list[ActorSpec], actor_hosts: int, receivers: int) -> Peers:
        self.workdir.mkdir(parents=True, exist_ok=True)
        spec = self.workdir / "peers-spec.json"
        ready = self.workdir / "peers-ready.json"
        ready.unlink(missing_ok=True)
        spec.write_text(
            json.dumps(
                {
                    "actors": [a.__dict__ for a in actors],
                    "actor_hosts": actor_hosts,
                    "receivers": receivers,
                }
            )
        )
        self.proc = spawn(
            [sys.executable, "-m", "bench.peers", "--spec", str(spec), "--ready", str(ready)],
            self.workdir / "peers.log", cwd=REPO,
        )
        deadline = time.monotonic() + READY_TIMEOUT
        while not ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"peers did not start; see {self.workdir / 'peers.log'}")
            await asyncio.sleep(0.05)
        info = json.loads(ready.read_text())
        self.control = f"http://127.0.0.1:{info['control']}"
        self.actor_hosts = info["actor_hosts"]
        self.receivers = info["receivers"]
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(proc.wait, 30)
            except subprocess.TimeoutExpired:
                proc.kill()

    def actor_base(self, host: int) -> str:
        return f"http://127.0.0.1:{self.actor_hosts[host]}"

    async def trust(self, keys: dict[str, str]) -> None:
        assert self._http is not None
        async with self._http.post(f"{self.control}/keys", json=keys) as resp:
            resp.raise_for_status()

    async def reset(self) -> None:
        assert self._http is not None
        async with self._http.post(f"{self.control}/reset") as resp:
            resp.raise_for_status()

    async def stats(self) -> dict[str, Any]:
        assert self._http is not None
        async with self._http.get(f"{self.control}/stats") as resp:
            resp.raise_for_status()
            data: dict[str, Any] = await resp.json()
            return data


if __name__ == "__main__":
    main()
