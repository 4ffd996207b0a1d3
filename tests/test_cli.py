"""The `fediverse-biz` command as an operator runs it: real processes, real embedded PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import httpx

from tests.support.cli_processes import PASSWORD, Served, cli_env, free_port, one_error_line, run
from tests.support.cluster import PgCluster


def stop_embedded(data_dir: Path) -> None:
    pid_file = data_dir / "postgres" / "postmaster.pid"
    if pid_file.exists():
        os.kill(int(pid_file.read_text().split()[0]), signal.SIGTERM)
        for _ in range(100):
            if not pid_file.exists():
                break
            time.sleep(0.1)


# ---- bad input: one line, non-zero exit -------------------------------------------------------------
def test_bad_setting_exits_2_with_one_line(tmp_path: Path) -> None:
    result = run(["init"], cli_env(tmp_path, FEDIVERSE_BIZ_SCHEME="gopher"))
    assert result.returncode == 2
    assert "FEDIVERSE_BIZ_SCHEME" in one_error_line(result)


def test_bad_username_exits_1_before_asking_a_password(tmp_path: Path) -> None:
    result = run(["create-user", "bad name", "--email", "a@example.com"], cli_env(tmp_path))
    assert result.returncode == 1
    assert "invalid username" in one_error_line(result)
    assert not (tmp_path / "postgres").exists()  # nothing was started for a request that cannot succeed


def test_duplicate_username_and_newer_schema(tmp_path: Path, cluster: PgCluster, database_name: str) -> None:
    env = cli_env(tmp_path, DATABASE_URL=cluster.dsn(database_name))
    first = run(["create-user", "alice", "--email", "alice@example.com"], env, stdin=PASSWORD + "\n")
    assert first.returncode == 0, first.stderr
    assert PASSWORD not in first.stdout + first.stderr  # never echoed
    again = run(["create-user", "ALICE", "--email", "other@example.com"], env, stdin=PASSWORD + "\n")
    assert again.returncode == 1
    assert "already taken" in one_error_line(again)
    org = run(["create-org", "acme", "--owner", "nobody"], env)
    assert org.returncode == 1 and "no local user" in one_error_line(org)

    # when a newer release has migrated this database
    import asyncio

    import asyncpg

    async def add_future_migration() -> None:
        conn = await asyncpg.connect(cluster.dsn(database_name))
        await conn.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'x', 'x')")
        await conn.close()

    asyncio.run(add_future_migration())
    newer = run(["migrate"], env)
    assert newer.returncode == 1
    assert "9999" in one_error_line(newer) and "newer release" in newer.stderr


def test_password_file_and_short_password(tmp_path: Path, cluster: PgCluster, database_name: str) -> None:
    env = cli_env(tmp_path, DATABASE_URL=cluster.dsn(database_name))
    secret = tmp_path / "pw"
    secret.write_text("short\n")
    result = run(["create-user", "bob", "--email", "b@example.com", "--password-file", str(secret)], env)
    assert result.returncode == 1 and "at least 8" in one_error_line(result)
    missing = run(["create-user", "bob", "--email", "b@example.com", "--password-file", str(tmp_path / "no")], env)
    assert missing.returncode == 1 and "cannot read" in one_error_line(missing)


def test_busy_port_is_one_line(tmp_path: Path, cluster: PgCluster, database_name: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run(["serve"], cli_env(tmp_path, port, DATABASE_URL=cluster.dsn(database_name)))
    assert result.returncode == 1
    assert "address already in use" in one_error_line(result)


# ---- the whole life of an embedded install -----------------------------------------------------------
def test_embedded_install_keeps_accounts_across_restart_and_sigkill(tmp_path: Path, served: list[Served]) -> None:
    port = free_port()
    env = cli_env(tmp_path / "data", port)
    server = Served(env, port)
    served.append(server)
    # a second serve would stop the embedded cluster under the first one when it exits: refused
    # (with DATABASE_URL several may share a data directory: tests/test_scale_out.py)
    second = run(["serve", "--port", str(free_port())], env)
    assert second.returncode == 1
    assert "already using" in one_error_line(second)
    # accounts created with the CLI while the server runs (the CLI joins the running cluster)
    assert run(["create-user", "owner", "--email", "o@example.com", "--admin"], env, PASSWORD + "\n").returncode == 0
    made = run(["create-org", "acme", "--owner", "owner", "--display-name", "ACME"], env)
    assert made.returncode == 0, made.stderr
    assert httpx.get(server.url("/healthz")).status_code == 200  # the CLI did not stop the server's database

    # a clean stop also stops the embedded PostgreSQL
    log = server.stop()
    assert not (tmp_path / "data" / "postgres" / "postmaster.pid").exists(), log

    # restart: data kept
    server = Served(env, port)
    served.append(server)
    listing = run(["list-accounts"], env).stdout
    assert "owner" in listing and "acme" in listing and "Organization" in listing

    # kill -9 of the server leaves its postmaster running: the next serve adopts it
    server.stop(signal.SIGKILL)
    server = Served(env, port)
    served.append(server)
    assert "acme" in run(["list-accounts"], env).stdout

    # kill -9 of the server and of the postmaster: stale postmaster.pid, recovered without clean-up
    pid = int((tmp_path / "data" / "postgres" / "postmaster.pid").read_text().split()[0])
    server.stop(signal.SIGKILL)
    os.kill(pid, signal.SIGKILL)
    server = Served(env, port)
    served.append(server)
    assert "acme" in run(["list-accounts"], env).stdout
    server.stop()


def test_serve_with_database_url_keeps_data(tmp_path: Path, cluster: PgCluster, database_name: str,
                                            served: list[Served]) -> None:
    port = free_port()
    env = cli_env(tmp_path / "data", port, DATABASE_URL=cluster.dsn(database_name))
    server = Served(env, port)
    served.append(server)
    assert run(["create-user", "dora", "--email", "d@example.com"], env, PASSWORD + "\n").returncode == 0
    assert run(["create-org", "doraco", "--owner", "dora"], env).returncode == 0
    server.stop()
    server = Served(env, port)
    served.append(server)
    listing = run(["list-accounts"], env).stdout
    assert "dora" in listing and "doraco" in listing
    assert not (tmp_path / "data" / "postgres").exists()  # no embedded cluster with DATABASE_URL
    assert not (tmp_path / "data" / "serve.lock").exists()  # nor a lock guarding it
    server.stop()
