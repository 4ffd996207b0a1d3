"""Settings: defaults, environment, TOML, and one clear error per bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from fediverse_biz.config import ConfigError, load_settings


def test_defaults_serve_localhost_over_http() -> None:
    s = load_settings(env={})
    assert s.domain == "localhost:8000"
    assert s.scheme == "http"  # a fresh clone on a laptop has no certificate
    assert s.base_url == "http://localhost:8000"
    assert s.data_dir == Path("./data")
    assert s.allow_private_addresses == ()
    assert s.enable_password_grant is False


def test_real_domain_defaults_to_https() -> None:
    s = load_settings(env={"FEDIVERSE_BIZ_DOMAIN": "Social.Example.com"})
    assert s.domain == "social.example.com"
    assert s.base_url == "https://social.example.com"
    assert s.hostname == "social.example.com"


def test_environment_values_are_typed() -> None:
    s = load_settings(
        env={
            "FEDIVERSE_BIZ_DOMAIN": "127.0.0.1:8123",
            "FEDIVERSE_BIZ_SCHEME": "http",
            "FEDIVERSE_BIZ_PORT": "8123",
            "FEDIVERSE_BIZ_ALLOW_PRIVATE_ADDRESSES": "127.0.0.0/8, ::1/128",
            "FEDIVERSE_BIZ_ENABLE_PASSWORD_GRANT": "true",
            "DATABASE_URL": "postgresql://u@db/x",
            "FEDIVERSE_BIZ_REGISTRATION_MODE": "open",
        }
    )
    assert s.port == 8123
    assert s.hostname == "127.0.0.1"
    assert s.allow_private_addresses == ("127.0.0.0/8", "::1/128")
    assert s.enable_password_grant is True
    assert s.database_url == "postgresql://u@db/x"
    assert s.registration_mode == "open"


def test_toml_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    config = tmp_path / "fb.toml"
    config.write_text('domain = "biz.example.org"\nport = 9000\nregistration_mode = "approval"\n')
    s = load_settings(env={"FEDIVERSE_BIZ_CONFIG": str(config), "FEDIVERSE_BIZ_PORT": "9100"})
    assert s.domain == "biz.example.org"
    assert s.port == 9100
    assert s.registration_mode == "approval"


def test_worker_slots_are_apart_from_the_slots_inside_serve(tmp_path: Path) -> None:
    assert (load_settings(env={}).workers, load_settings(env={}).worker_concurrency) == (32, 32)
    # the shared environment of a scaled-out install: no jobs in `serve`, its own count for the worker
    s = load_settings(env={"FEDIVERSE_BIZ_WORKERS": "0"})
    assert (s.workers, s.worker_concurrency) == (0, 32)
    s = load_settings(env={"FEDIVERSE_BIZ_WORKERS": "0", "FEDIVERSE_BIZ_WORKER_CONCURRENCY": "64"})
    assert (s.workers, s.worker_concurrency) == (0, 64)
    config = tmp_path / "fb.toml"
    config.write_text("worker_concurrency = 8\n")
    assert load_settings(env={"FEDIVERSE_BIZ_CONFIG": str(config)}).worker_concurrency == 8


def test_database_timeouts_are_seconds(tmp_path: Path) -> None:
    s = load_settings(env={})
    assert (s.db_statement_timeout, s.db_acquire_timeout) == (30, 5)
    s = load_settings(env={"FEDIVERSE_BIZ_DB_STATEMENT_TIMEOUT": "12", "FEDIVERSE_BIZ_DB_ACQUIRE_TIMEOUT": "2"})
    assert (s.db_statement_timeout, s.db_acquire_timeout) == (12, 2)


def test_slow_client_limits(tmp_path: Path) -> None:
    s = load_settings(env={})
    assert (s.header_timeout, s.body_timeout, s.max_connections) == (10, 30, 1000)
    s = load_settings(
        env={
            "FEDIVERSE_BIZ_HEADER_TIMEOUT": "5",
            "FEDIVERSE_BIZ_BODY_TIMEOUT": "120",
            "FEDIVERSE_BIZ_MAX_CONNECTIONS": "20000",
        }
    )
    assert (s.header_timeout, s.body_timeout, s.max_connections) == (5, 120, 20000)
    config = tmp_path / "fb.toml"
    config.write_text("header_timeout = 15\nbody_timeout = 60\nmax_connections = 300\n")
    s = load_settings(env={"FEDIVERSE_BIZ_CONFIG": str(config)})
    assert (s.header_timeout, s.body_timeout, s.max_connections) == (15, 60, 300)


def test_cli_overrides_win(tmp_path: Path) -> None:
    s = load_settings(env={"FEDIVERSE_BIZ_PORT": "9100"}, port=9200, host="0.0.0.0")
    assert (s.port, s.host) == (9200, "0.0.0.0")


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"FEDIVERSE_BIZ_PORT": "eighty"}, "FEDIVERSE_BIZ_PORT"),
        ({"FEDIVERSE_BIZ_PORT": "70000"}, "FEDIVERSE_BIZ_PORT"),
        ({"FEDIVERSE_BIZ_DOMAIN": "https://example.com/"}, "FEDIVERSE_BIZ_DOMAIN"),
        ({"FEDIVERSE_BIZ_DOMAIN": "exa mple.com"}, "FEDIVERSE_BIZ_DOMAIN"),
        ({"FEDIVERSE_BIZ_SCHEME": "ftp"}, "FEDIVERSE_BIZ_SCHEME"),
        ({"FEDIVERSE_BIZ_DOMAIN": "example.com", "FEDIVERSE_BIZ_SCHEME": "http"}, "FEDIVERSE_BIZ_SCHEME"),
        ({"FEDIVERSE_BIZ_ALLOW_PRIVATE_ADDRESSES": "10.0.0.0/33"}, "FEDIVERSE_BIZ_ALLOW_PRIVATE_ADDRESSES"),
        ({"FEDIVERSE_BIZ_ALLOW_PRIVATE_ADDRESSES": "localhost"}, "FEDIVERSE_BIZ_ALLOW_PRIVATE_ADDRESSES"),
        ({"FEDIVERSE_BIZ_ENABLE_PASSWORD_GRANT": "maybe"}, "FEDIVERSE_BIZ_ENABLE_PASSWORD_GRANT"),
        ({"FEDIVERSE_BIZ_REGISTRATION_MODE": "everyone"}, "FEDIVERSE_BIZ_REGISTRATION_MODE"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"FEDIVERSE_BIZ_SECRET_KEY": "short"}, "FEDIVERSE_BIZ_SECRET_KEY"),
        ({"FEDIVERSE_BIZ_HOST": "my host"}, "FEDIVERSE_BIZ_HOST"),
        ({"FEDIVERSE_BIZ_DB_POOL_MIN": "9", "FEDIVERSE_BIZ_DB_POOL_MAX": "3"}, "FEDIVERSE_BIZ_DB_POOL_MIN"),
        ({"FEDIVERSE_BIZ_WORKERS": "-1"}, "FEDIVERSE_BIZ_WORKERS"),
        ({"FEDIVERSE_BIZ_DB_STATEMENT_TIMEOUT": "0"}, "FEDIVERSE_BIZ_DB_STATEMENT_TIMEOUT"),
        ({"FEDIVERSE_BIZ_DB_STATEMENT_TIMEOUT": "2.5"}, "FEDIVERSE_BIZ_DB_STATEMENT_TIMEOUT"),
        ({"FEDIVERSE_BIZ_DB_ACQUIRE_TIMEOUT": "0"}, "FEDIVERSE_BIZ_DB_ACQUIRE_TIMEOUT"),
        ({"FEDIVERSE_BIZ_DB_ACQUIRE_TIMEOUT": "601"}, "FEDIVERSE_BIZ_DB_ACQUIRE_TIMEOUT"),
        ({"FEDIVERSE_BIZ_WORKER_CONCURRENCY": "0"}, "FEDIVERSE_BIZ_WORKER_CONCURRENCY"),
        ({"FEDIVERSE_BIZ_WORKER_CONCURRENCY": "257"}, "FEDIVERSE_BIZ_WORKER_CONCURRENCY"),
        ({"FEDIVERSE_BIZ_WORKER_CONCURRENCY": "many"}, "FEDIVERSE_BIZ_WORKER_CONCURRENCY"),
        ({"FEDIVERSE_BIZ_HEADER_TIMEOUT": "0"}, "FEDIVERSE_BIZ_HEADER_TIMEOUT"),
        ({"FEDIVERSE_BIZ_HEADER_TIMEOUT": "601"}, "FEDIVERSE_BIZ_HEADER_TIMEOUT"),
        ({"FEDIVERSE_BIZ_BODY_TIMEOUT": "0"}, "FEDIVERSE_BIZ_BODY_TIMEOUT"),
        ({"FEDIVERSE_BIZ_BODY_TIMEOUT": "a minute"}, "FEDIVERSE_BIZ_BODY_TIMEOUT"),
        ({"FEDIVERSE_BIZ_MAX_CONNECTIONS": "0"}, "FEDIVERSE_BIZ_MAX_CONNECTIONS"),
        ({"FEDIVERSE_BIZ_MAX_CONNECTIONS": "-5"}, "FEDIVERSE_BIZ_MAX_CONNECTIONS"),
    ],
)
def test_each_bad_setting_is_named(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env=env)
    message = str(info.value)
    assert message.startswith(names + ":")
    assert "\n" not in message


def test_unknown_toml_key_and_bad_toml_are_errors(tmp_path: Path) -> None:
    config = tmp_path / "fb.toml"
    config.write_text('domian = "typo.example"\n')
    with pytest.raises(ConfigError, match="unknown setting 'domian'"):
        load_settings(env={"FEDIVERSE_BIZ_CONFIG": str(config)})
    config.write_text("domain = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(env={"FEDIVERSE_BIZ_CONFIG": str(config)})
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(env={"FEDIVERSE_BIZ_CONFIG": str(tmp_path / "missing.toml")})
