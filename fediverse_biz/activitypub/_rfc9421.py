"""RFC 9421 HTTP Message Signatures: the wire format only.

A Structured Fields (RFC 8941) subset — enough to read and write `Signature-Input`, `Signature` and
`Content-Digest` — plus the derived components and the signature base (RFC 9421 §2). Parse errors are
ValueError; what must be covered, time windows and keys are policy and live in `signatures.py`.

Subset: integers, strings, tokens, byte sequences and booleans; decimals, dates and display strings
(RFC 9651) are refused, as no signature parameter or digest uses them.
"""

from __future__ import annotations

import base64
import binascii
import string
from collections.abc import Collection, Mapping, Sequence
from typing import TypeAlias


class Token(str):
    """An sf-token, kept apart from an sf-string so that it re-serialises unquoted."""


BareItem: TypeAlias = bool | int | str | bytes
Params: TypeAlias = dict[str, BareItem]
Item: TypeAlias = tuple[BareItem, Params]
Member: TypeAlias = tuple[BareItem | list[Item], Params]  # an item, or an inner list with its params

_KEY_START = set(string.ascii_lowercase + "*")
_KEY_CHARS = _KEY_START | set(string.digits + "_-.")
_TOKEN_START = set(string.ascii_letters + "*")
_TOKEN_CHARS = _TOKEN_START | set(string.digits + "!#$%&'+-.^_`|~:/")
_BASE64_CHARS = set(string.ascii_letters + string.digits + "+/=")
_MAX_INTEGER = 999_999_999_999_999  # RFC 8941 §3.3.1: at most 15 digits


class _Parser:
    """RFC 8941 §4.2 parsing algorithms, over one header value."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _skip(self, chars: str) -> None:
        while self._peek() and self._peek() in chars:
            self.pos += 1

    def dictionary(self) -> dict[str, Member]:
        members: dict[str, Member] = {}
        self._skip(" ")
        while self._peek():
            key = self._key()
            if self._peek() == "=":
                self.pos += 1
                member = self._item_or_inner_list()
            else:
                member = (True, self._params())
            if key in members:
                # RFC 8941 lets the last one win; for signatures an ambiguous header is an attack surface.
                raise ValueError(f"duplicate dictionary key {key!r}")
            members[key] = member
            self._skip(" \t")
            if not self._peek():
                break
            if self._peek() != ",":
                raise ValueError(f"expected ',' at offset {self.pos}")
            self.pos += 1
            self._skip(" \t")
            if not self._peek():
                raise ValueError("trailing comma")
        return members

    def _item_or_inner_list(self) -> Member:
        if self._peek() != "(":
            return self._bare_item(), self._params()
        self.pos += 1
        items: list[Item] = []
        while True:
            self._skip(" ")
            if self._peek() == ")":
                self.pos += 1
                return items, self._params()
            items.append((self._bare_item(), self._params()))
            if self._peek() not in (" ", ")"):
                raise ValueError(f"expected ' ' or ')' at offset {self.pos}")

    def _params(self) -> Params:
        params: Params = {}
        while self._peek() == ";":
            self.pos += 1
            self._skip(" ")
            key = self._key()
            value: BareItem = True
            if self._peek() == "=":
                self.pos += 1
                value = self._bare_item()
            if key in params:
                raise ValueError(f"duplicate parameter {key!r}")
            params[key] = value
        return params

    def _key(self) -> str:
        start = self.pos
        if self._peek() not in _KEY_START or not self._peek():
            raise ValueError(f"expected a key at offset {start}")
        while self._peek() and self._peek() in _KEY_CHARS:
            self.pos += 1
        return self.text[start : self.pos]

    def _bare_item(self) -> BareItem:
        char = self._peek()
        if char == "-" or (char.isdigit() and char.isascii()):
            return self._integer()
        if char == '"':
            return self._string()
        if char == ":":
            return self._bytes()
        if char == "?":
            flag = self.text[self.pos + 1 : self.pos + 2]
            if flag not in ("0", "1"):
                raise ValueError(f"bad boolean at offset {self.pos}")
            self.pos += 2
            return flag == "1"
        if char and char in _TOKEN_START:
            start = self.pos
            while self._peek() and self._peek() in _TOKEN_CHARS:
                self.pos += 1
            return Token(self.text[start : self.pos])
        raise ValueError(f"unsupported item at offset {self.pos}")

    def _integer(self) -> int:
        start = self.pos
        if self._peek() == "-":
            self.pos += 1
        while self._peek() and self._peek() in string.digits:
            self.pos += 1
        digits = self.text[start : self.pos].lstrip("-")
        if not digits or len(digits) > 15 or self._peek() == ".":
            raise ValueError(f"unsupported number at offset {start}")
        return int(self.text[start : self.pos])

    def _string(self) -> str:
        self.pos += 1
        chars: list[str] = []
        while True:
            char = self._peek()
            self.pos += 1
            if char == "\\":
                char = self._peek()
                if char not in ('"', "\\"):
                    raise ValueError("bad escape in string")
                self.pos += 1
            elif char == '"':
                return "".join(chars)
            elif not char or not (" " <= char <= "~"):
                raise ValueError("unterminated string or non-ASCII character")
            chars.append(char)

    def _bytes(self) -> bytes:
        end = self.text.find(":", self.pos + 1)
        if end < 0:
            raise ValueError("unterminated byte sequence")
        encoded = self.text[self.pos + 1 : end]
        if not set(encoded) <= _BASE64_CHARS:
            raise ValueError("byte sequence is not base64")
        self.pos = end + 1
        try:
            # RFC 8941 §4.2.7: parsers may accept missing padding.
            return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("byte sequence is not base64") from exc


def parse_dictionary(text: str) -> dict[str, Member]:
    """An sf-dictionary header value -> {key: (item or inner list, params)}, order kept."""
    return _Parser(text.strip(" ")).dictionary()


def serialize_bare_item(value: BareItem) -> str:
    """RFC 8941 §4.1.3; raises ValueError for anything not serialisable."""
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "?1" if value else "?0"
    if isinstance(value, int):
        if abs(value) > _MAX_INTEGER:
            raise ValueError("integer out of range")
        return str(value)
    if isinstance(value, Token):
        return str(value)
    if isinstance(value, str):
        if not all(" " <= char <= "~" for char in value):
            raise ValueError("strings must be printable ASCII")
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return ":" + base64.b64encode(value).decode("ascii") + ":"


def serialize_params(params: Params) -> str:
    return "".join(
        f";{key}" if value is True else f";{key}={serialize_bare_item(value)}" for key, value in params.items()
    )


def serialize_inner_list(items: Sequence[Item], params: Params) -> str:
    inner = " ".join(serialize_bare_item(value) + serialize_params(extra) for value, extra in items)
    return f"({inner}){serialize_params(params)}"


def normalise_authority(authority: str, scheme: str) -> str:
    """Lower-case host[:port] without the scheme's default port (RFC 9421 §2.2.3, RFC 9110 §4.2.3)."""
    authority = authority.strip().lower()
    default = {"https": ":443", "http": ":80"}.get(scheme.lower())
    if default and authority.endswith(default):
        authority = authority[: -len(default)]
    return authority


def component_values(
    names: Sequence[str],
    *,
    fields: Mapping[str, str],
    method: str,
    scheme: str,
    authority: str,
    path: str,
    query: str,
) -> list[tuple[str, str]]:
    """(name, value) for each covered component of a request (RFC 9421 §2.1, §2.2).

    `fields` has lower-case names. ValueError for a missing field or an unsupported component.
    """
    path = path or "/"
    target = f"{path}?{query}" if query else path
    derived = {
        "@method": method,
        "@scheme": scheme.lower(),
        "@authority": normalise_authority(authority, scheme),
        "@target-uri": f"{scheme.lower()}://{normalise_authority(authority, scheme)}{target}",
        "@request-target": target,
        "@path": path,
        "@query": f"?{query}",  # "?" alone for an empty query (§2.2.7)
    }
    values = []
    for name in names:
        if name in ("@authority", "@target-uri") and not authority:
            raise ValueError(f"no authority to resolve {name}")
        value = derived.get(name) if name.startswith("@") else fields.get(name)
        if value is None:
            raise ValueError(f"unsupported or missing component {name[:40]!r}")
        values.append((name, value))
    return values


def parse_content_digest(value: str, algorithms: Collection[str]) -> dict[str, bytes]:
    """RFC 9530 `sha-256=:…:, sha-512=:…:` -> {"sha-256": b"..."} for the named algorithms only."""
    digests = {}
    for name, (digest, _params) in parse_dictionary(value).items():
        if name in algorithms:
            if not isinstance(digest, bytes):
                raise ValueError(f"{name} is not a byte sequence")
            digests[name] = digest
    return digests


def signature_base(lines: Sequence[tuple[str, str]], signature_params: str) -> str:
    """Component lines then `"@signature-params"` (RFC 9421 §2.5). `lines` is (component id, value)."""
    out = []
    for name, value in lines:
        if "\n" in value or "\r" in value:
            raise ValueError(f"component {name} has a line break")
        out.append(f"{serialize_bare_item(name)}: {value}")
    out.append(f'"@signature-params": {signature_params}')
    return "\n".join(out)
