"""Which addresses count as public, without a socket: private, reserved and embedded addresses are refused, the
unspecified address even in development. Fetching through redirects is in tests/e2e/test_ssrf.py."""

import ipaddress

import pytest

from runapi.net.safe_http import is_allowed, is_public


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "fd00::1",
        "fe80::1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:1",
        "2002:a00:1::",
        "255.255.255.255",
        "198.18.0.1",
    ],
)
def test_private_reserved_and_embedded_addresses_are_not_public(address):
    assert not is_public(ipaddress.ip_address(address))
    assert not is_allowed(ipaddress.ip_address(address), allow_private=False)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address):
    assert is_public(ipaddress.ip_address(address))


def test_unspecified_is_refused_even_in_development():
    assert not is_allowed(ipaddress.ip_address("0.0.0.0"), allow_private=True)
    assert is_allowed(ipaddress.ip_address("127.0.0.1"), allow_private=True)
