"""`fediverse-biz backup` and `restore` as an operator runs them: real processes, real embedded PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import stat
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from fediverse_biz.activitypub.signatures import verify_request
from fediverse_biz.db.backup import BackupError, _split_password, check_pg_dump_can_dump
from fediverse_biz.db.embedded import EmbeddedPostgres
from tests.support.cli_processes import PASSWORD, Served, cli_env, free_port, one_error_line, run
from tests.support.cluster import PgCluster
from tests.support.images import png

AP = {"Accept": "application/activity+json"}


def _token(server: Served) -> str:
    app = httpx.post(
        server.url("/api/v1/apps"),
        data={"client_name": "backup test", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": "read write"},
    ).json()
    response = httpx.post(
        server.url("/oauth/token"),
        data={
            "grant_type": "password", "username": "owner", "password": PASSWORD, "scope": "read write",
            "client_id": app["client_id"], "client_secret": app["client_secret"],
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _public_keys(server: Served) -> dict[str, str]:
    keys = {}
    for path in ("/users/owner", "/users/acme", "/actor"):
        doc = httpx.get(server.url(path), headers=AP).json()
        keys[path] = doc["publicKey"]["publicKeyPem"]
    return keys


def _local_key_pairs(data_dir: Path) -> list[tuple[str, str, str]]:
    """Every local actor's key pair, read from the database of the running server."""

    async def read() -> list[tuple[str, str, str]]:
        conn = await asyncpg.connect(EmbeddedPostgres(data_dir / "postgres").dsn("fediverse_biz"))
        try:
            rows = await conn.fetch(
                "SELECT uri, public_key_pem, private_key_pem FROM actors WHERE domain IS NULL ORDER BY uri"
            )
        finally:
            await conn.close()
        return [(r["uri"], r["public_key_pem"], r["private_key_pem"]) for r in rows]

    return asyncio.run(read())


@contextmanager
def _recording_peer() -> Iterator[tuple[int, list[tuple[str, str, dict[str, str]]]]]:
    """A remote host on 127.0.0.1 that answers 404 to everything and records each request it gets."""
    seen: list[tuple[str, str, dict[str, str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(("GET", self.path, dict(self.headers.items())))
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1], seen
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _signed_fetch_verifies(server: Served, token: str, public_key_pem: str) -> None:
    """Make the server fetch a remote URL (signed as its instance actor), and check the signature with
    the public key a remote server had cached before the backup."""
    with _recording_peer() as (peer_port, seen):
        url = f"http://127.0.0.1:{peer_port}/users/somebody"
        response = httpx.get(
            server.url("/api/v2/search"), params={"q": url, "resolve": "true"},
            headers={"Authorization": f"Bearer {token}"}, timeout=30,
        )
        assert response.status_code == 200, response.text
    assert seen, "the server did not fetch the remote URL"
    method, target, headers = seen[0]
    path, _, query = target.partition("?")

    async def lookup(key_id: str) -> str | None:
        return public_key_pem

    verified = asyncio.run(verify_request(method, path, query, headers, b"", lookup))
    assert verified.key_id == server.url("/actor#main-key")


def test_backup_while_serving_then_restore_into_an_empty_directory(tmp_path: Path, served: list[Served]) -> None:
    port = free_port()
    data = tmp_path / "data"
    env = cli_env(
        data, port, FEDIVERSE_BIZ_ENABLE_PASSWORD_GRANT="true", FEDIVERSE_BIZ_ALLOW_PRIVATE_ADDRESSES="127.0.0.0/8"
    )
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    made = run(["create-user", "owner", "--email", "o@example.com", "--password-file", str(password_file)], env)
    assert made.returncode == 0, made.stderr
    made = run(["create-org", "acme", "--owner", "owner", "--display-name", "ACME Ltd"], env)
    assert made.returncode == 0, made.stderr

    server = Served(env, port)
    served.append(server)
    token = _token(server)
    auth = {"Authorization": f"Bearer {token}"}
    upload = httpx.post(
        server.url("/api/v2/media"), headers=auth, files={"file": ("p.png", png(), "image/png")},
        data={"description": "our stand"}, timeout=30,
    )
    assert upload.status_code in (200, 202), upload.text
    posted = httpx.post(
        server.url("/api/v1/statuses"), headers=auth,
        json={"status": "Visit our stand in hall 3", "media_ids": [upload.json()["id"]]},
    )
    assert posted.status_code == 200, posted.text
    plain = httpx.post(server.url("/api/v1/statuses"), headers=auth, json={"status": "Second post"})
    assert plain.status_code == 200, plain.text
    media_url = posted.json()["media_attachments"][0]["url"]
    media_bytes = httpx.get(media_url).content
    public_keys = _public_keys(server)
    key_pairs = _local_key_pairs(data)
    assert len(key_pairs) == 3  # owner, acme, the instance actor

    # backup while serve runs: it joins the running cluster and leaves it running
    archive = tmp_path / "site.tar"
    result = run(["backup", str(archive)], env)
    assert result.returncode == 0, result.stderr
    assert "2 media files" in result.stdout  # the original and its preview
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert not archive.with_name("site.tar.tmp").exists()
    assert httpx.get(server.url("/healthz")).status_code == 200
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest_file = tar.extractfile("manifest.json")
        assert manifest_file is not None
        manifest = json.loads(manifest_file.read())
    assert names[0] == "manifest.json" and {"secret_key", "database.dump"} <= set(names)
    assert any(name.startswith("media/") for name in names)
    assert manifest["format_version"] == 1 and manifest["domain"] == f"127.0.0.1:{port}"
    assert manifest["secret_key"] == "included" and manifest["postgresql_server_version"].startswith("18")
    again = run(["backup", str(archive)], env)
    assert again.returncode == 1 and "already exists" in one_error_line(again)
    secret_key = (data / "secret_key").read_bytes()

    # disaster: the server stops and its data directory is gone
    server.stop()
    shutil.rmtree(data)
    restored = run(["restore", str(archive)], env)
    assert restored.returncode == 0, restored.stderr
    assert "warning" not in restored.stderr
    assert (data / "secret_key").read_bytes() == secret_key

    server = Served(env, port)
    served.append(server)
    listing = run(["list-accounts"], env).stdout
    assert "owner" in listing and "acme" in listing and "Organization" in listing
    statuses = httpx.get(server.url("/api/v1/timelines/home"), headers=auth).json()  # the old token still works
    assert {s["content"] for s in statuses} == {"<p>Visit our stand in hall 3</p>", "<p>Second post</p>"}
    attachment = next(s for s in statuses if s["media_attachments"])["media_attachments"][0]
    assert attachment["description"] == "our stand"
    assert httpx.get(attachment["url"]).content == media_bytes
    # the same keys: remote servers keep verifying what we sign
    assert _public_keys(server) == public_keys
    assert _local_key_pairs(data) == key_pairs
    _signed_fetch_verifies(server, token, public_keys["/actor"])
    server.stop()

    # a data directory that holds an install is never overwritten
    refused = run(["restore", str(archive)], env)
    assert refused.returncode == 1
    assert "not empty" in one_error_line(refused)
    assert (data / "secret_key").read_bytes() == secret_key


def test_restore_refuses_what_is_not_our_archive(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data")
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"this is not a tar file at all\n" * 100)
    result = run(["restore", str(garbage)], env)
    assert result.returncode == 1
    assert "not a fediverse_biz backup" in one_error_line(result)

    other_tar = tmp_path / "other.tar"
    with tarfile.open(other_tar, "w") as tar:
        tar.addfile(tarfile.TarInfo("notes.txt"), io.BytesIO(b""))
    result = run(["restore", str(other_tar)], env)
    assert result.returncode == 1 and "not a fediverse_biz backup" in one_error_line(result)

    newer = tmp_path / "newer.tar"
    manifest = json.dumps({"format": "fediverse_biz-backup", "format_version": 99, "fediverse_biz_version": "9.0"})
    with tarfile.open(newer, "w") as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest.encode()))
    result = run(["restore", str(newer)], env)
    assert result.returncode == 1
    line = one_error_line(result)
    assert "format 99" in line and "9.0" in line
    # nothing was left behind that would make the next, right, restore refuse the directory
    assert not (tmp_path / "data" / "secret_key").exists()
    assert not (tmp_path / "data" / "postgres").exists()


def test_backup_and_restore_with_database_url(tmp_path: Path, cluster: PgCluster, database_name: str) -> None:
    env = cli_env(tmp_path / "a", DATABASE_URL=cluster.dsn(database_name))
    assert run(["create-user", "dora", "--email", "d@example.com"], env, PASSWORD + "\n").returncode == 0
    archive = tmp_path / "url.tar"
    result = run(["backup", str(archive)], env)
    assert result.returncode == 0, result.stderr

    empty = asyncio.run(cluster.create_database(template="template0"))
    try:
        target = cli_env(tmp_path / "b", DATABASE_URL=cluster.dsn(empty))
        restored = run(["restore", str(archive)], target)
        assert restored.returncode == 0, restored.stderr
        assert "dora" in run(["list-accounts"], target).stdout
        assert (tmp_path / "b" / "secret_key").read_bytes() == (tmp_path / "a" / "secret_key").read_bytes()
        # the database now holds the install: a second restore, even into an empty data directory, refuses
        again = run(["restore", str(archive)], cli_env(tmp_path / "c", DATABASE_URL=cluster.dsn(empty)))
        assert again.returncode == 1
        assert "not empty" in one_error_line(again)
        assert not (tmp_path / "c" / "secret_key").exists()  # the key made for the refused command is gone
    finally:
        asyncio.run(cluster.drop_database(empty))


def test_backup_of_a_directory_without_a_database_is_refused(tmp_path: Path) -> None:
    result = run(["backup", str(tmp_path / "x.tar")], cli_env(tmp_path / "data"))
    assert result.returncode == 1
    assert "holds no database" in one_error_line(result)
    assert not (tmp_path / "data" / "postgres").exists()  # no empty cluster was made to back up


def test_pg_dump_must_be_at_least_the_server_version() -> None:
    check_pg_dump_can_dump(160004, 18, "DATABASE_URL")
    check_pg_dump_can_dump(180001, 18, "DATABASE_URL")
    with pytest.raises(BackupError, match="version 19, newer than the embedded pg_dump"):
        check_pg_dump_can_dump(190000, 18, "DATABASE_URL")


def test_the_password_stays_off_the_command_line() -> None:
    url, password = _split_password("postgresql://app:s%40cret@db.example:5432/site?sslmode=require")
    assert (url, password) == ("postgresql://app@db.example:5432/site?sslmode=require", "s@cret")
    url, password = _split_password("postgresql:///site?host=/run/pg&password=pw&user=app")
    assert password == "pw" and "pw" not in url and urlsplit(url).query == "host=%2Frun%2Fpg&user=app"
    assert _split_password("postgresql://app@db/site") == ("postgresql://app@db/site", None)
