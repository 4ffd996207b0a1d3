"""Scale-out on one PostgreSQL: two `serve` processes and a `fediverse-biz worker`, one DATABASE_URL, one
data directory, acting as one instance. Real processes, as an operator runs them behind a proxy."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import httpx

from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support import cli_processes, factories
from tests.support.cli_processes import START_WITHIN, Process, cli_env, client, free_port, healthy, until
from tests.support.images import png
from tests.support.inbox import FakeInbox
from tests.support.streaming import sse

DELIVERED_WITHIN = 30.0

processes = cli_processes.processes  # the fixture: every process a test starts is gone after it


async def password_token(http: httpx.AsyncClient, username: str, password: str) -> str:
    app = await http.post(
        "/api/v1/apps",
        data={"client_name": "scale-out", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": "read write"},
    )
    assert app.status_code == 200, app.text
    token = await http.post("/oauth/token", data={
        "grant_type": "password", "username": username, "password": password, "scope": "read write",
        "client_id": app.json()["client_id"], "client_secret": app.json()["client_secret"],
    })
    assert token.status_code == 200, token.text
    return str(token.json()["access_token"])


def creates_of(receiver: FakeInbox, status_uri: str) -> list[dict[str, Any]]:
    return [r.activity for r in receiver.received
            if r.activity.get("type") == "Create" and r.activity.get("object", {}).get("id") == status_uri]


async def test_two_web_processes_and_a_worker_act_as_one_instance(
    db: Database, dsn: str, tmp_path: Path, processes: list[Process]
) -> None:
    port_a, port_b = free_port(), free_port()
    domain = f"127.0.0.1:{port_a}"  # the public name; B is reached on its own port, as a proxy would
    env = cli_env(
        tmp_path / "data", None,
        DATABASE_URL=dsn,
        FEDIVERSE_BIZ_DOMAIN=domain,
        FEDIVERSE_BIZ_WORKERS="0",  # jobs are the worker process's
        FEDIVERSE_BIZ_ALLOW_PRIVATE_ADDRESSES="127.0.0.0/8",
        FEDIVERSE_BIZ_ENABLE_PASSWORD_GRANT="true",
        FEDIVERSE_BIZ_DB_POOL_MIN="1",
        FEDIVERSE_BIZ_DB_POOL_MAX="4",
    )
    logs = tmp_path / "logs"
    logs.mkdir()

    # a member whose posts a remote follower receives (its inbox is a loopback receiver)
    alice = await factories.local_actor(db.pool, LocalUrls(f"http://{domain}"), "alice")
    receiver = await FakeInbox(public_keys={alice["key_id"]: alice["public_key_pem"]}).start()
    try:
        follower = await db.pool.fetchval(
            """INSERT INTO actors (username, domain, uri, url, inbox_url, shared_inbox_url, followers_url, key_id,
                                   public_key_pem)
               VALUES ('far', $1, $2, $2, $3, $4, $2 || '/followers', $2 || '#main-key', 'unused') RETURNING id""",
            receiver.host, receiver.url("/users/far"), receiver.url("/users/far/inbox"), receiver.url("/inbox"),
        )
        await db.pool.execute("INSERT INTO follows (actor_id, target_actor_id) VALUES ($1, $2)", follower, alice["id"])

        # when two web processes start together on one database and one data directory
        a = Process("serve-a", ["serve", "--port", str(port_a)], env, logs)
        processes.append(a)
        b = Process("serve-b", ["serve", "--port", str(port_b)], env, logs)
        processes.append(b)
        async with client(port_a, domain) as http_a, client(port_b, domain) as http_b:
            await until(lambda: healthy(http_a), "serve A", START_WITHIN, a)
            await until(lambda: healthy(http_b), "serve B", START_WITHIN, b)
            token = await password_token(http_a, "alice", factories.PASSWORD)
            auth = {"Authorization": f"Bearer {token}"}

            async with sse(http_b, "user", token) as stream_b:
                # a picture uploaded through A is served by B, byte for byte
                upload = await http_a.post("/api/v2/media", headers=auth,
                                           files={"file": ("square.png", png((40, 40)), "image/png")})
                assert upload.status_code == 200, upload.text
                media = upload.json()
                for key in ("url", "preview_url"):
                    assert media[key].startswith(f"http://{domain}/media/"), media
                    path = media[key].removeprefix(f"http://{domain}")
                    from_a, from_b = await http_a.get(path), await http_b.get(path)
                    assert from_a.status_code == from_b.status_code == 200, (from_a.text, from_b.text)
                    assert from_b.content == from_a.content and from_b.content
                    assert from_b.headers["content-type"] == from_a.headers["content-type"]

                # a post made through A is read and streamed through B
                made = await http_a.post("/api/v1/statuses", headers=auth,
                                         data={"status": "made through A", "media_ids[]": media["id"]})
                assert made.status_code == 200, made.text
                status = made.json()
                streamed = await stream_b.wait_for(
                    "update", lambda s: s["id"] == status["id"], "the post on B's stream"
                )
                assert streamed["media_attachments"][0]["id"] == media["id"]
                read = await http_b.get(f"/api/v1/statuses/{status['id']}", headers=auth)
                assert read.status_code == 200 and read.json()["content"] == status["content"], read.text
                home = await http_b.get("/api/v1/timelines/home", headers=auth)
                assert [s["id"] for s in home.json()] == [status["id"]], home.text
                public = await http_b.get("/api/v1/timelines/public", params={"local": "true"})
                assert status["id"] in [s["id"] for s in public.json()], public.text

                # the web processes run no jobs: the delivery waits for a worker
                assert await db.pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'deliver'") == 1
                assert receiver.received == []

                # when a worker starts, from the same environment (FEDIVERSE_BIZ_WORKERS=0 included)
                worker = Process("worker", ["worker"], env, logs)
                processes.append(worker)
                await until(lambda: "worker running 32 job slots" in worker.output(), "the worker", START_WITHIN,
                            worker)
                # then it delivers the post exactly once, signed by its author
                await until(lambda: creates_of(receiver, status["uri"]), "the delivery", DELIVERED_WITHIN, worker)
                await until(lambda: db.pool.fetchval("SELECT count(*) = 0 FROM jobs"), "an empty queue",
                            DELIVERED_WITHIN, worker)
                await asyncio.sleep(1.0)  # a second delivery, from any process, would have come by now
                assert len(creates_of(receiver, status["uri"])) == 1, receiver.ids()
                assert len(receiver.received) == 1, receiver.ids()
                assert receiver.received[0].verified_key_id == alice["key_id"]
                assert receiver.rejected == []

                # when A is killed, B goes on serving: health, reads, posts, its stream, and deliveries
                a.stop(signal.SIGKILL)
                assert await healthy(http_b)
                read = await http_b.get(f"/api/v1/statuses/{status['id']}", headers=auth)
                assert read.status_code == 200, read.text
                again = await http_b.post("/api/v1/statuses", headers=auth, data={"status": "made through B"})
                assert again.status_code == 200, again.text
                second = again.json()
                await stream_b.wait_for("update", lambda s: s["id"] == second["id"], "B's own post on its stream")
                await until(lambda: creates_of(receiver, second["uri"]), "the second delivery", DELIVERED_WITHIN,
                            worker)
                files = await http_b.get(media["url"].removeprefix(f"http://{domain}"))
                assert files.status_code == 200

        # B and the worker stop cleanly
        assert b.stop() == 0, b.log()
        assert worker.stop() == 0, worker.log()
        assert "Traceback" not in b.log() + worker.log()
    finally:
        await receiver.stop()
