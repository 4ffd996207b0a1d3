"""One typed Settings object, read from FEDIVERSE_BIZ_* environment variables and an optional TOML file.

Precedence: environment > TOML file (`FEDIVERSE_BIZ_CONFIG` or `<data>/config.toml`) > defaults.
Every invalid value raises ConfigError naming the setting, so the CLI can print one line and exit 2.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "FEDIVERSE_BIZ_"
REGISTRATION_MODES = ("open", "approval", "closed")
COMMUNITY_CREATION_MODES = ("any", "admins")  # who may create halls (business/communities.py)
# http is only acceptable where TLS cannot be had: a developer's own machine.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")
_DOMAIN_RE = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?::\d{1,5})?$"
    r"|^\[[0-9a-f:]+\](?::\d{1,5})?$"
)


class ConfigError(Exception):
    """An invalid setting; the message names it and says what is accepted."""


@dataclass(frozen=True)
class Settings:
    domain: str = "localhost:8000"
    scheme: str = "https"
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("./data")
    database_url: str | None = None
    media_dir: Path | None = None  # default: <data_dir>/media
    secret_key: str | None = None  # generated and stored in <data_dir>/secret_key on first init
    registration_mode: str = "closed"
    community_creation: str = "any"  # "any" member may create halls, or only "admins"
    allow_private_addresses: tuple[str, ...] = ()
    enable_password_grant: bool = False
    db_pool_min: int = 2
    db_pool_max: int = 10
    # Bounds on waiting for the database (db/pool.py, docs/reliability.md), in seconds: PostgreSQL's
    # statement_timeout, after which the client gives up 3 s later and drops the connection 2 s after that
    # if the server does not acknowledge the cancel (a frozen server); and the longest wait for a free
    # pooled connection. Past either, a request is answered 503 with Retry-After.
    db_statement_timeout: int = 30
    db_acquire_timeout: int = 5
    max_request_bytes: int = 16 * 1024 * 1024  # media uploads are the largest legitimate bodies
    # In-process background job slots for `serve`. A running job holds no database connection (only its
    # short queries borrow one), and deliveries mostly wait on the network, so slots are cheap: with 4,
    # a post to 500 hosts took 4.8x the time of a bare client sending the same requests, with 32 2.4x;
    # 64 was no faster (docs/benchmarks.md).
    workers: int = 32
    # Job slots of a `fediverse-biz worker` process (its --concurrency wins). Apart from `workers`
    # because the web processes of a scaled-out install run with workers = 0 from the same environment,
    # which a worker must not read as "no jobs here".
    worker_concurrency: int = 32
    log_level: str = "info"
    # Rate limits (ratelimit.py, docs/reliability.md): requests per window, per process. The windows are
    # Mastodon's (5 min; 30 min for sign-ups and media); only the counts are settings.
    rate_limits: bool = True
    rate_limit_api: int = 300  # /api/ per token, or per IP without one (Mastodon: 300 / 5 min)
    rate_limit_sign_ups: int = 5  # POST /api/v1/accounts per IP (Mastodon: 5 / 30 min)
    rate_limit_logins: int = 25  # POST /oauth/token and the login form per IP (Mastodon: 25 / 5 min)
    rate_limit_media: int = 30  # media uploads per token (Mastodon: 30 / 30 min)
    rate_limit_subscriptions: int = 10  # e-mail subscription forms per IP / 30 min (each may send a mail)
    rate_limit_inbox: int = 3000  # accepted deliveries per remote domain, and refused ones per IP / 5 min
    # Slow clients (slow_clients.py, middleware.BodyReadTimeout, docs/reliability.md), in seconds: a
    # request's headers must be complete this long after the connection opens (or after its first byte
    # when the connection was idle)...
    header_timeout: int = 10
    # ...and its body may pause this long between parts; a slow upload that keeps moving is never cut.
    body_timeout: int = 30
    # Open HTTP connections per process (streams included); a request on one more is answered 503.
    max_connections: int = 1000
    # Outgoing mail (docs/mail.md): smtp://user:pass@host:port (STARTTLS when offered) or smtps://
    # (implicit TLS). Unset: no mail features at all, and the pages offer none.
    smtp_url: str | None = None
    mail_from: str | None = None  # default: no-reply@<hostname>
    # Internal: was the scheme given explicitly (env/TOML)? Used to default http for localhost.
    _scheme_explicit: bool = field(default=False, repr=False, compare=False)

    # ---- derived values -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.domain}"

    @property
    def hostname(self) -> str:
        """The domain without its port: what WebFinger handles and `acct:` URIs use."""
        if self.domain.startswith("["):
            return self.domain.split("]")[0] + "]"
        return self.domain.split(":")[0]

    @property
    def media_path(self) -> Path:
        return self.media_dir if self.media_dir is not None else self.data_dir / "media"

    @property
    def allowed_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(c, strict=False) for c in self.allow_private_addresses)

    @property
    def is_local_development(self) -> bool:
        return self.hostname in LOCAL_HOSTS


def _parse_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name}: expected true or false, got {value!r}")


def _parse_int(name: str, value: Any, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a whole number, got {value!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"{name}: must be between {low} and {high}, got {number}")
    return number


def _env_name(field_name: str) -> str:
    if field_name == "database_url":
        return "DATABASE_URL"  # the conventional name every PostgreSQL host already sets
    return ENV_PREFIX + field_name.upper()


def _raw_values(env: Mapping[str, str], config_file: Path | None) -> tuple[dict[str, Any], set[str]]:
    """Merge TOML and environment into raw values keyed by field name; also report which were given."""
    raw: dict[str, Any] = {}
    if config_file is not None:
        try:
            with config_file.open("rb") as fh:
                table = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"FEDIVERSE_BIZ_CONFIG: file not found: {config_file}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"FEDIVERSE_BIZ_CONFIG: {config_file} is not valid TOML: {exc}") from None
        known = {f.name for f in fields(Settings) if not f.name.startswith("_")}
        for key, value in table.items():
            if key not in known:
                raise ConfigError(f"{config_file}: unknown setting {key!r}")
            raw[key] = value
    for f in fields(Settings):
        if f.name.startswith("_"):
            continue
        value = env.get(_env_name(f.name))
        if value is not None and value != "":
            raw[f.name] = value
    return raw, set(raw)


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build and validate Settings; keyword overrides (CLI flags) win over everything."""
    env = os.environ if env is None else env
    config_path = env.get(ENV_PREFIX + "CONFIG")
    data_dir_hint = overrides.get("data_dir") or env.get(ENV_PREFIX + "DATA_DIR") or "./data"
    config_file = Path(config_path) if config_path else None
    if config_file is None and (Path(data_dir_hint) / "config.toml").is_file():
        config_file = Path(data_dir_hint) / "config.toml"
    raw, given = _raw_values(env, config_file)
    for key, value in overrides.items():
        if value is not None:
            raw[key] = value
            given.add(key)
    return _validate(raw, given)


def _validate(raw: dict[str, Any], given: set[str]) -> Settings:
    s = Settings()
    values: dict[str, Any] = {}
    if "domain" in raw:
        domain = str(raw["domain"]).strip().lower()
        if not _DOMAIN_RE.match(domain) or "/" in domain:
            raise ConfigError(
                f"FEDIVERSE_BIZ_DOMAIN: {raw['domain']!r} is not a host name (like social.example.com "
                "or 127.0.0.1:8000, without scheme or path)"
            )
        values["domain"] = domain
    domain = values.get("domain", s.domain)
    hostname = domain.split("]")[0] + "]" if domain.startswith("[") else domain.split(":")[0]
    if "scheme" in raw:
        scheme = str(raw["scheme"]).strip().lower()
        if scheme not in ("https", "http"):
            raise ConfigError(f"FEDIVERSE_BIZ_SCHEME: must be https or http, got {raw['scheme']!r}")
        if scheme == "http" and hostname not in LOCAL_HOSTS:
            raise ConfigError(
                "FEDIVERSE_BIZ_SCHEME: http is only allowed for localhost/127.0.0.1 development; "
                f"{domain} must use https"
            )
        values["scheme"] = scheme
        values["_scheme_explicit"] = True
    elif hostname in LOCAL_HOSTS:
        values["scheme"] = "http"  # a fresh clone on a laptop has no certificate
    if "host" in raw:
        values["host"] = str(raw["host"]).strip()
        try:
            ipaddress.ip_address(values["host"])
        except ValueError:
            if values["host"] != "localhost":
                raise ConfigError(f"FEDIVERSE_BIZ_HOST: not an IP address: {raw['host']!r}") from None
    if "port" in raw:
        values["port"] = _parse_int("FEDIVERSE_BIZ_PORT", raw["port"], 1, 65535)
    for name in ("data_dir", "media_dir"):
        if name in raw:
            values[name] = Path(str(raw[name])).expanduser()
    if "database_url" in raw:
        url = str(raw["database_url"]).strip()
        if not url.startswith(("postgres://", "postgresql://")):
            raise ConfigError("DATABASE_URL: must start with postgresql:// or postgres://")
        values["database_url"] = url
    if "secret_key" in raw:
        secret = str(raw["secret_key"])
        if len(secret) < 32:
            raise ConfigError("FEDIVERSE_BIZ_SECRET_KEY: must be at least 32 characters")
        values["secret_key"] = secret
    if "registration_mode" in raw:
        mode = str(raw["registration_mode"]).strip().lower()
        if mode not in REGISTRATION_MODES:
            raise ConfigError(
                f"FEDIVERSE_BIZ_REGISTRATION_MODE: must be one of {', '.join(REGISTRATION_MODES)}, got {mode!r}"
            )
        values["registration_mode"] = mode
    if "community_creation" in raw:
        mode = str(raw["community_creation"]).strip().lower()
        if mode not in COMMUNITY_CREATION_MODES:
            raise ConfigError(
                f"FEDIVERSE_BIZ_COMMUNITY_CREATION: must be one of {', '.join(COMMUNITY_CREATION_MODES)}, got {mode!r}"
            )
        values["community_creation"] = mode
    if "allow_private_addresses" in raw:
        value = raw["allow_private_addresses"]
        items = value if isinstance(value, list) else str(value).split(",")
        cidrs: list[str] = []
        for item in (str(i).strip() for i in items):
            if not item:
                continue
            try:
                cidrs.append(str(ipaddress.ip_network(item, strict=False)))
            except ValueError:
                raise ConfigError(
                    f"FEDIVERSE_BIZ_ALLOW_PRIVATE_ADDRESSES: {item!r} is not a CIDR like 127.0.0.0/8"
                ) from None
        values["allow_private_addresses"] = tuple(cidrs)
    if "enable_password_grant" in raw:
        values["enable_password_grant"] = _parse_bool(
            "FEDIVERSE_BIZ_ENABLE_PASSWORD_GRANT", raw["enable_password_grant"]
        )
    if "db_pool_min" in raw:
        values["db_pool_min"] = _parse_int("FEDIVERSE_BIZ_DB_POOL_MIN", raw["db_pool_min"], 1, 500)
    if "db_pool_max" in raw:
        values["db_pool_max"] = _parse_int("FEDIVERSE_BIZ_DB_POOL_MAX", raw["db_pool_max"], 1, 500)
    if "db_statement_timeout" in raw:
        values["db_statement_timeout"] = _parse_int(
            "FEDIVERSE_BIZ_DB_STATEMENT_TIMEOUT", raw["db_statement_timeout"], 1, 3600
        )
    if "db_acquire_timeout" in raw:
        values["db_acquire_timeout"] = _parse_int("FEDIVERSE_BIZ_DB_ACQUIRE_TIMEOUT", raw["db_acquire_timeout"], 1, 600)
    if values.get("db_pool_min", s.db_pool_min) > values.get("db_pool_max", s.db_pool_max):
        raise ConfigError("FEDIVERSE_BIZ_DB_POOL_MIN: must not exceed FEDIVERSE_BIZ_DB_POOL_MAX")
    if "max_request_bytes" in raw:
        values["max_request_bytes"] = _parse_int(
            "FEDIVERSE_BIZ_MAX_REQUEST_BYTES", raw["max_request_bytes"], 1024, 1024**3
        )
    if "workers" in raw:
        values["workers"] = _parse_int("FEDIVERSE_BIZ_WORKERS", raw["workers"], 0, 256)
    if "worker_concurrency" in raw:
        values["worker_concurrency"] = _parse_int(
            "FEDIVERSE_BIZ_WORKER_CONCURRENCY", raw["worker_concurrency"], 1, 256
        )
    if "log_level" in raw:
        level = str(raw["log_level"]).strip().lower()
        if level not in ("debug", "info", "warning", "error"):
            raise ConfigError(f"FEDIVERSE_BIZ_LOG_LEVEL: must be debug, info, warning or error, got {level!r}")
        values["log_level"] = level
    if "rate_limits" in raw:
        values["rate_limits"] = _parse_bool("FEDIVERSE_BIZ_RATE_LIMITS", raw["rate_limits"])
    for name in ("rate_limit_api", "rate_limit_sign_ups", "rate_limit_logins", "rate_limit_media", "rate_limit_inbox",
                 "rate_limit_subscriptions"):
        if name in raw:
            values[name] = _parse_int(_env_name(name), raw[name], 1, 10**9)
    if "header_timeout" in raw:
        values["header_timeout"] = _parse_int("FEDIVERSE_BIZ_HEADER_TIMEOUT", raw["header_timeout"], 1, 600)
    if "body_timeout" in raw:
        values["body_timeout"] = _parse_int("FEDIVERSE_BIZ_BODY_TIMEOUT", raw["body_timeout"], 1, 3600)
    if "max_connections" in raw:
        values["max_connections"] = _parse_int("FEDIVERSE_BIZ_MAX_CONNECTIONS", raw["max_connections"], 1, 10**6)
    if raw.get("smtp_url"):
        values["smtp_url"] = _check_smtp_url(str(raw["smtp_url"]).strip())
    if raw.get("mail_from"):
        values["mail_from"] = _check_mail_from(str(raw["mail_from"]).strip())
    return replace(s, **values)


def _check_smtp_url(url: str) -> str:
    parsed = urlsplit(url)
    try:
        port = parsed.port
    except ValueError:
        port = -1
    if parsed.scheme not in ("smtp", "smtps") or not parsed.hostname or port == -1 or parsed.path not in ("", "/"):
        raise ConfigError("FEDIVERSE_BIZ_SMTP_URL: expected smtp://user:password@host:port or smtps://…")
    return url


def _check_mail_from(address: str) -> str:
    # One bare address: a CR or LF here would let the setting inject headers into every mail.
    if not re.fullmatch(r"[^@\s<>,;\"]{1,64}@[A-Za-z0-9.-]{1,253}", address):
        raise ConfigError(f"FEDIVERSE_BIZ_MAIL_FROM: expected one address like news@example.com, got {address!r}")
    return address
