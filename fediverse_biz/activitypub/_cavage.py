"""draft-cavage HTTP Signatures: the wire format only.

Parsing the `Signature` parameters, building the signing string, HTTP dates and the `Digest` header
(draft-cavage-http-signatures-12; RFC 3230 for Digest). Every parse error is a ValueError; what must be
covered, time windows and keys are policy and live in `signatures.py`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

REQUEST_TARGET = "(request-target)"
CREATED = "(created)"
EXPIRES = "(expires)"

# auth-param = token BWS "=" BWS ( token / quoted-string ), separated by commas (draft-cavage-12 §4.1,
# RFC 7235 §2.1). Values are quoted in practice; `created`/`expires` are bare integers.
_PARAM = re.compile(
    r'[ \t]*([A-Za-z][A-Za-z0-9_.-]*)[ \t]*=[ \t]*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))[ \t]*(?:,|\Z)',
    re.DOTALL,
)
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)
# Unix time; draft-cavage-12 §2.1.4 allows a decimal fraction on `expires`.
_TIMESTAMP = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,9})?")


def parse_params(value: str) -> dict[str, str]:
    """`keyId="…",algorithm="…",headers="…",signature="…"` -> {name: value}; duplicates are an error."""
    params: dict[str, str] = {}
    pos = 0
    value = value.strip()
    while pos < len(value):
        match = _PARAM.match(value, pos)
        if match is None:
            raise ValueError(f"unparseable parameters at offset {pos}")
        name, quoted, bare = match.groups()
        if name in params:
            # An ambiguous header (two keyIds, two signatures) is never something to guess about.
            raise ValueError(f"duplicate parameter {name!r}")
        params[name] = _UNESCAPE.sub(r"\1", quoted) if quoted is not None else bare
        pos = match.end()
    return params


def parse_timestamp(value: str) -> float:
    """A `created`/`expires` parameter (Unix seconds) -> float."""
    if not _TIMESTAMP.fullmatch(value.strip()):
        raise ValueError(f"not a Unix timestamp: {value[:40]!r}")
    return float(value)


def build_signing_string(
    covered: Sequence[str], *, request_target: str, headers: Mapping[str, str], params: Mapping[str, str]
) -> str:
    """The string that is signed (draft-cavage-12 §2.3). `headers` has lower-case names."""
    lines = []
    for name in covered:
        if name == REQUEST_TARGET:
            lines.append(f"{REQUEST_TARGET}: {request_target}")
        elif name in (CREATED, EXPIRES):
            param = name[1:-1]
            if param not in params:
                raise ValueError(f"{name} is covered but the {param} parameter is missing")
            lines.append(f"{name}: {params[param]}")
        elif name in headers:
            lines.append(f"{name}: {headers[name]}")
        else:
            raise ValueError(f"covered header {name!r} is missing")
    return "\n".join(lines)


def format_signature(*, key_id: str, algorithm: str, covered: Sequence[str], signature: bytes) -> str:
    """The `Signature` header value, in the parameter order Mastodon's request.rb emits."""
    if '"' in key_id or "\\" in key_id:
        raise ValueError("keyId cannot contain quotes or backslashes")
    b64 = base64.b64encode(signature).decode("ascii")
    return f'keyId="{key_id}",algorithm="{algorithm}",headers="{" ".join(covered)}",signature="{b64}"'


def decode_base64(value: str) -> bytes:
    """Strict base64 (standard alphabet); tolerates missing padding, which some senders drop."""
    value = value.strip()
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not valid base64") from exc


def http_date(moment: datetime) -> str:
    """RFC 7231 §7.1.1.1 IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def parse_http_date(value: str) -> float:
    """A `Date` header -> Unix seconds. Accepts what email.utils parses (IMF-fixdate, RFC 850, asctime)."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError) as exc:
        raise ValueError(f"unparseable Date header {value[:60]!r}") from exc
    if parsed.tzinfo is None:  # "-0000" means UTC with unknown origin (RFC 5322 §3.3)
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def parse_digest(value: str, algorithms: Collection[str]) -> dict[str, bytes]:
    """`SHA-256=abc=, SHA-512=d=` -> {"sha-256": b"..."} for the named algorithms (lower-case, RFC 3230
    §4.1.1 says names are case-insensitive); other algorithms are skipped unread."""
    digests = {}
    for part in value.split(","):
        algorithm, sep, encoded = part.strip().partition("=")
        if not sep or not algorithm:
            raise ValueError(f"malformed entry {part[:60]!r}")
        if (name := algorithm.strip().lower()) in algorithms:
            digests[name] = decode_base64(encoded)
    return digests
