"""The migration runner: in order, once, atomically, and refusing a newer database."""

from __future__ import annotations

import hashlib
from pathlib import Path

import asyncpg
import pytest

from fediverse_biz.db import migrations
from tests.support.cluster import PgCluster


@pytest.fixture
async def empty_db(cluster: PgCluster) -> asyncpg.Connection:
    name = await cluster.create_database(template="template0")
    conn = await asyncpg.connect(cluster.dsn(name))
    yield conn
    await conn.close()
    await cluster.drop_database(name)


def write(directory: Path, name: str, sql: str) -> None:
    (directory / name).write_text(sql)


async def test_package_migrations_apply_once(empty_db: asyncpg.Connection) -> None:
    first = await migrations.migrate(empty_db)
    assert [m.version for m in first] == [m.version for m in migrations.discover()]
    assert await migrations.migrate(empty_db) == []  # second run: nothing to do
    assert await empty_db.fetchval("SELECT to_regclass('actors') IS NOT NULL")


async def test_a_lower_number_arriving_late_is_applied(empty_db: asyncpg.Connection, tmp_path: Path) -> None:
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (x int);")
    write(tmp_path, "0003_c.sql", "CREATE TABLE c (x int);")
    await migrations.migrate(empty_db, migrations.discover(tmp_path))
    # when a branch with 0002 is merged later
    write(tmp_path, "0002_b.sql", "CREATE TABLE b (x int);")
    applied = await migrations.migrate(empty_db, migrations.discover(tmp_path))
    assert [m.name for m in applied] == ["0002_b.sql"]
    assert sorted(await migrations.applied_versions(empty_db)) == [1, 2, 3]


async def test_a_newer_database_is_refused(empty_db: asyncpg.Connection, tmp_path: Path) -> None:
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (x int);")
    write(tmp_path, "0002_b.sql", "CREATE TABLE b (x int);")
    await migrations.migrate(empty_db, migrations.discover(tmp_path))
    (tmp_path / "0002_b.sql").unlink()  # older code: knows only 0001
    with pytest.raises(migrations.DatabaseTooNew, match="0002"):
        await migrations.migrate(empty_db, migrations.discover(tmp_path))


async def test_a_failing_migration_leaves_nothing(empty_db: asyncpg.Connection, tmp_path: Path) -> None:
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (x int);")
    write(tmp_path, "0002_bad.sql", "CREATE TABLE half (x int); SELECT no_such_function();")
    with pytest.raises(asyncpg.UndefinedFunctionError):
        await migrations.migrate(empty_db, migrations.discover(tmp_path))
    assert sorted(await migrations.applied_versions(empty_db)) == [1]
    assert await empty_db.fetchval("SELECT to_regclass('half')") is None


async def test_an_edited_applied_migration_is_refused(empty_db: asyncpg.Connection, tmp_path: Path) -> None:
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (x int);")
    await migrations.migrate(empty_db, migrations.discover(tmp_path))
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (x int, y int);")
    with pytest.raises(migrations.MigrationError, match="changed after it was applied"):
        await migrations.migrate(empty_db, migrations.discover(tmp_path))


def test_bad_file_names_and_duplicate_numbers_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "0001_a.sql", "")
    write(tmp_path, "0001_b.sql", "")
    with pytest.raises(migrations.MigrationError, match="share number 0001"):
        migrations.discover(tmp_path)
    (tmp_path / "0001_b.sql").unlink()
    write(tmp_path, "2_bad name.sql", "")
    with pytest.raises(migrations.MigrationError, match=r"not NNNN_name\.sql"):
        migrations.discover(tmp_path)


async def test_rewording_a_comment_of_an_applied_migration_is_no_change(
    empty_db: asyncpg.Connection, tmp_path: Path
) -> None:
    write(tmp_path, "0001_a.sql", "-- first words\nCREATE TABLE a (x int);")
    await migrations.migrate(empty_db, migrations.discover(tmp_path))
    write(tmp_path, "0001_a.sql", "-- other words\n  -- and one more line\nCREATE TABLE a (x int);")
    assert await migrations.migrate(empty_db, migrations.discover(tmp_path)) == []
    # an edit on a statement's own line is a change, comment or not
    write(tmp_path, "0001_a.sql", "-- other words\nCREATE TABLE a (x int); -- now with a remark")
    with pytest.raises(migrations.MigrationError, match="changed after it was applied"):
        await migrations.migrate(empty_db, migrations.discover(tmp_path))


async def test_a_whole_file_checksum_from_an_older_release_is_accepted_and_replaced(
    empty_db: asyncpg.Connection, tmp_path: Path
) -> None:
    sql = "-- a\nCREATE TABLE a (x int);"
    write(tmp_path, "0001_a.sql", sql)
    await migrations.migrate(empty_db, migrations.discover(tmp_path))
    old_record = hashlib.sha256(sql.encode()).hexdigest()
    await empty_db.execute("UPDATE schema_migrations SET checksum = $1", old_record)
    assert await migrations.migrate(empty_db, migrations.discover(tmp_path)) == []
    (migration,) = migrations.discover(tmp_path)
    assert await empty_db.fetchval("SELECT checksum FROM schema_migrations") == migration.checksum


async def test_the_package_migrations_whose_comments_were_reworded_still_match_older_records(
    empty_db: asyncpg.Connection,
) -> None:
    await migrations.migrate(empty_db)
    # as recorded by the release before the rewording (the whole file's checksum of the old text)
    before = {
        2: "a48774b7eeba7e1d9ca6234e6a25ef046dafe1273cc7d8a75ed74bdd1836780d",
        4: "778a7e375cbc914c6cc63677d7ce1c15e2966a462b086d5ac1b8b0ff2f1abb32",
        11: "44a7c2bf074d180e454569dc2d5ccda4b3ca339c89e6f4f97ff4b2284957f8ea",
        15: "4fd86e2c437bde7ab1a1ef51c9c394d392706d3d70b2794780a81641e8aa1af5",
    }
    for version, checksum in before.items():
        await empty_db.execute("UPDATE schema_migrations SET checksum = $2 WHERE version = $1", version, checksum)
    assert await migrations.migrate(empty_db) == []
    current = {m.version: m.checksum for m in migrations.discover()}
    assert {v: c for v, c in (await migrations.applied_versions(empty_db)).items() if v in before} == {
        v: current[v] for v in before
    }
    # and a record that matches nothing is still refused
    await empty_db.execute("UPDATE schema_migrations SET checksum = 'not ours' WHERE version = 4")
    with pytest.raises(migrations.MigrationError, match=r"0004_organizations\.sql changed after it was applied"):
        await migrations.migrate(empty_db)
