"""Which IP addresses an outgoing request may connect to.

Pure functions over `ipaddress` values, no I/O. `fetch.py` applies them to every address the resolver
returns and to IP literals in URLs. The ranges are the ones Mastodon's `PrivateAddressCheck` and
Fedify's SSRF fixes block (Fedify's `CHANGES.md`); Fedify's CVE-2026-50131 is the reminder that
`ipaddress.is_global` alone is not enough: it misses multicast, NAT64 and 6to4 on Python 3.11.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_v4 = ipaddress.IPv4Network
_v6 = ipaddress.IPv6Network

FORBIDDEN_IPV4_NETWORKS: tuple[ipaddress.IPv4Network, ...] = (
    _v4("0.0.0.0/8"),  # "this network"; 0.0.0.0 reaches the local host on Linux
    _v4("10.0.0.0/8"),  # RFC 1918 private
    _v4("100.64.0.0/10"),  # RFC 6598 CGNAT shared space (Fedify CVE-2026-50131)
    _v4("127.0.0.0/8"),  # loopback
    _v4("169.254.0.0/16"),  # link-local, incl. cloud metadata 169.254.169.254
    _v4("172.16.0.0/12"),  # RFC 1918 private
    _v4("192.0.0.0/24"),  # RFC 6890 IETF protocol assignments
    _v4("192.0.2.0/24"),  # TEST-NET-1 documentation
    _v4("192.88.99.0/24"),  # deprecated 6to4 relay anycast (RFC 7526)
    _v4("192.168.0.0/16"),  # RFC 1918 private
    _v4("198.18.0.0/15"),  # RFC 2544 benchmarking (Fedify CVE-2026-50131)
    _v4("198.51.100.0/24"),  # TEST-NET-2 documentation
    _v4("203.0.113.0/24"),  # TEST-NET-3 documentation
    _v4("224.0.0.0/4"),  # multicast
    _v4("240.0.0.0/4"),  # reserved, incl. broadcast 255.255.255.255
)

# Addresses in these prefixes carry an IPv4 address inside them; a peer (or a DNS record) can use them
# to smuggle a private IPv4 target past a v4-only check. The prefixes are forbidden themselves, and the
# embedded address is checked too, so allow-listing a prefix (e.g. NAT64 on an IPv6-only host with
# DNS64) never opens the private IPv4 space behind it.
NAT64_WELL_KNOWN = _v6("64:ff9b::/96")  # RFC 6052
NAT64_LOCAL_USE = _v6("64:ff9b:1::/48")  # RFC 8215
SIX_TO_FOUR = _v6("2002::/16")  # RFC 3056
TEREDO = _v6("2001::/32")  # RFC 4380
IPV4_MAPPED = _v6("::ffff:0:0/96")  # RFC 4291

FORBIDDEN_IPV6_NETWORKS: tuple[ipaddress.IPv6Network, ...] = (
    _v6("::/128"),  # unspecified
    _v6("::1/128"),  # loopback
    _v6("::/96"),  # deprecated IPv4-compatible addresses
    IPV4_MAPPED,
    NAT64_WELL_KNOWN,
    NAT64_LOCAL_USE,
    _v6("100::/64"),  # RFC 6666 discard-only
    _v6("2001::/23"),  # RFC 6890 IETF protocol assignments, incl. Teredo 2001::/32
    _v6("2001:db8::/32"),  # documentation
    SIX_TO_FOUR,
    _v6("3fff::/20"),  # RFC 9637 documentation
    _v6("fc00::/7"),  # unique local addresses
    _v6("fe80::/10"),  # link-local
    _v6("fec0::/10"),  # deprecated site-local
    _v6("ff00::/8"),  # multicast
)

# IANA allocates global unicast only from 2000::/3; anything else is reserved or special-purpose.
IPV6_GLOBAL_UNICAST = _v6("2000::/3")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses a translation/tunnel IPv6 address points at (empty for plain IPv6)."""
    if (mapped := ip.ipv4_mapped) is not None:
        return [mapped]
    packed = ip.packed
    if ip in NAT64_WELL_KNOWN:
        return [ipaddress.IPv4Address(packed[12:16])]
    if ip in NAT64_LOCAL_USE:
        # RFC 6052 §2.2, /48 prefix: v4 octets 1-2 in bits 48-63, bits 64-71 are the zero "u" octet,
        # octets 3-4 in bits 72-87.
        return [ipaddress.IPv4Address(packed[6:8] + packed[9:11])]
    if (six_to_four := ip.sixtofour) is not None:
        return [six_to_four]
    if (teredo := ip.teredo) is not None:
        return list(teredo)  # server and (de-obfuscated) client address
    return []


def _in_any(ip: IPAddress, networks: Iterable[IPNetwork]) -> bool:
    # `in` between different IP versions is simply False, so mixed lists need no filtering.
    return any(ip in network for network in networks)


def is_forbidden_address(ip: IPAddress, allowed: Sequence[IPNetwork] = ()) -> bool:
    """True if an outgoing request must not connect to `ip`.

    `allowed` is the operator's exemption list (FEDIVERSE_BIZ_ALLOW_PRIVATE_ADDRESSES, like Mastodon's
    ALLOWED_PRIVATE_ADDRESSES); it is empty in production and holds 127.0.0.0/8 in tests. An address
    embedding an IPv4 address is forbidden if the embedded one is, even when its own prefix is allowed.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        if any(is_forbidden_address(inner, allowed) for inner in embedded_ipv4(ip)):
            return True
        if _in_any(ip, allowed):
            return False
        return (
            _in_any(ip, FORBIDDEN_IPV6_NETWORKS)
            or ip not in IPV6_GLOBAL_UNICAST
            or not ip.is_global  # belt and braces: Python's own special-purpose registry
        )
    if _in_any(ip, allowed):
        return False
    return _in_any(ip, FORBIDDEN_IPV4_NETWORKS) or not ip.is_global or ip.is_multicast


def parse_networks(networks: Iterable[str | IPNetwork]) -> tuple[IPNetwork, ...]:
    """Allow-list entries from settings: CIDR strings or network objects; a bare address is a /32 or /128.

    Host bits set (`10.0.0.1/8`) raise ValueError: a typo in a security setting should stop start-up
    rather than silently widen the exemption.
    """
    return tuple(
        n if isinstance(n, ipaddress.IPv4Network | ipaddress.IPv6Network) else ipaddress.ip_network(n.strip())
        for n in networks
    )
