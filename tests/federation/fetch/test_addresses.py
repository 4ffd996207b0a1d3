"""The SSRF-safe client's address policy: which addresses are forbidden, the allow-list, the resolver."""

from __future__ import annotations

import ipaddress

import pytest

from fediverse_biz.net.addresses import parse_networks
from fediverse_biz.net.fetch import BlockedAddress, SafeResolver, is_forbidden_address
from tests.support.fetch_peer import LOOPBACK_ONLY, FakeDNS

FORBIDDEN = [
    "0.0.0.0",
    "0.1.2.3",
    "10.0.0.1",
    "10.255.255.255",
    "100.64.0.1",
    "100.127.255.254",
    "127.0.0.1",
    "127.255.0.9",
    "169.254.169.254",
    "172.16.0.1",
    "172.31.255.255",
    "192.0.0.8",
    "192.0.2.1",
    "192.88.99.1",
    "192.168.1.1",
    "198.18.0.1",
    "198.19.255.255",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "::a00:1",  # deprecated IPv4-compatible form of 10.0.0.1
    "fe80::1",
    "fe80::1%eth0",
    "febf:ffff::1",
    "fec0::1",
    "fc00::1",
    "fd12:3456:789a::1",
    "ff02::1",
    "ff0e::1",
    "100::1",
    "2001:db8::1",
    "3fff::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "2001:2::1",  # benchmarking
    "::ffff:10.0.0.1",  # IPv4-mapped private
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:93.184.216.34",  # mapped public: the prefix itself is forbidden
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::5db8:d822",  # NAT64 of a public address: prefix forbidden
    "64:ff9b:1:a00:1:100::",  # local-use NAT64 (RFC 8215) of 10.0.0.1
    "64:ff9b:1::1",
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:5db8:d822::1",  # 6to4 of a public address: prefix forbidden
    "4000::1",  # outside 2000::/3 global unicast
]

PUBLIC = ["93.184.216.34", "1.1.1.1", "8.8.8.8", "100.128.0.1", "2606:2800::1", "2a00:1450:4001:82b::200e"]


@pytest.mark.parametrize("address", FORBIDDEN)
def test_special_purpose_addresses_are_forbidden(address: str) -> None:
    assert is_forbidden_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert not is_forbidden_address(ipaddress.ip_address(address))


def test_allow_list_exempts_exactly_its_networks() -> None:
    allowed = parse_networks(["127.0.0.0/8", "fd00::/8"])
    assert not is_forbidden_address(ipaddress.ip_address("127.0.0.2"), allowed)
    assert not is_forbidden_address(ipaddress.ip_address("fd00::5"), allowed)
    assert is_forbidden_address(ipaddress.ip_address("10.0.0.1"), allowed)
    assert is_forbidden_address(ipaddress.ip_address("::1"), allowed)
    # The mapped form is a different address; exempting it takes its own entry.
    assert is_forbidden_address(ipaddress.ip_address("::ffff:127.0.0.1"), allowed)


def test_allow_listed_translation_prefix_still_checks_the_embedded_ipv4() -> None:
    # Given an IPv6-only host behind DNS64 that exempts the NAT64 prefix
    allowed = parse_networks(["64:ff9b::/96", "2002::/16"])
    # then public targets through the translator work, private ones do not
    assert not is_forbidden_address(ipaddress.ip_address("64:ff9b::5db8:d822"), allowed)
    assert is_forbidden_address(ipaddress.ip_address("64:ff9b::a00:1"), allowed)
    assert is_forbidden_address(ipaddress.ip_address("64:ff9b::a9fe:a9fe"), allowed)
    assert not is_forbidden_address(ipaddress.ip_address("2002:5db8:d822::1"), allowed)
    assert is_forbidden_address(ipaddress.ip_address("2002:c0a8:101::1"), allowed)


def test_allow_list_with_host_bits_is_a_configuration_error() -> None:
    with pytest.raises(ValueError):
        parse_networks(["10.0.0.1/8"])


async def test_resolver_drops_forbidden_answers_and_fails_when_none_remain() -> None:
    dns = FakeDNS({"mixed.example": ["10.0.0.1", "127.0.0.1", "fc00::1"], "inner.example": ["192.168.0.1"]})
    resolver = SafeResolver(dns, parse_networks(LOOPBACK_ONLY))
    answers = await resolver.resolve("mixed.example", 443)
    assert [a["host"] for a in answers] == ["127.0.0.1"]
    with pytest.raises(BlockedAddress):
        await resolver.resolve("inner.example", 443)
