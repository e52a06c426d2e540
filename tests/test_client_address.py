"""The client's address behind a reverse proxy (agent_console.client_address): the pure
part, no event loop. The end-to-end checks are in test_chat_visitor.py (the chat's
limits) and test_console_login_abuse.py (logins)."""

from __future__ import annotations

import pytest

from agent_console.client_address import (
    MAX_HEADER_CHARS,
    MAX_HOPS,
    ProxyTrust,
    forwarded_for,
    parse_address,
)
from config.errors import ConfigError
from config.settings import load_settings

PROXY = ProxyTrust.parse(["127.0.0.1", "10.0.0.0/8", "fd00::/8"])


def test_nobody_is_trusted_by_default_so_the_header_is_ignored() -> None:
    assert ProxyTrust().client("198.51.100.7", ["203.0.113.9"]) == "198.51.100.7"
    assert ProxyTrust.parse([]).client("127.0.0.1", ["203.0.113.9"]) == "127.0.0.1"


def test_a_peer_that_is_no_trusted_proxy_is_the_client_whatever_it_says() -> None:
    assert PROXY.client("198.51.100.7", ["203.0.113.9"]) == "198.51.100.7"


def test_behind_a_trusted_proxy_the_right_most_untrusted_address_is_the_client() -> None:
    assert PROXY.client("127.0.0.1", ["203.0.113.9"]) == "203.0.113.9"
    # two proxies: nginx (10.1.1.1) in front of HAProxy (127.0.0.1)
    assert PROXY.client("127.0.0.1", ["203.0.113.9, 10.1.1.1"]) == "203.0.113.9"
    # what the client wrote itself sits left of its real address: never read
    assert PROXY.client("127.0.0.1", ["6.6.6.6, 203.0.113.9"]) == "203.0.113.9"
    assert PROXY.client("127.0.0.1", ["6.6.6.6", "203.0.113.9, 10.1.1.1"]) == "203.0.113.9"


def test_no_header_or_only_proxies_gives_the_last_proxy() -> None:
    assert PROXY.client("127.0.0.1", []) == "127.0.0.1"
    assert PROXY.client("127.0.0.1", ["10.2.2.2, 10.1.1.1"]) == "10.2.2.2"


def test_garbage_or_unknown_ends_the_walk_at_the_last_proxy_never_at_client_text() -> None:
    for value in ("unknown", "_hidden", "evil, ", "a" * 40, "1.2.3.4.5", "[::1", "[::1]x"):
        assert PROXY.client("127.0.0.1", [value]) == "127.0.0.1", value
    assert PROXY.client("127.0.0.1", ["203.0.113.9, unknown, 10.1.1.1"]) == "10.1.1.1"


def test_ipv6_with_and_without_brackets_and_ports_is_one_normalised_key() -> None:
    for value in ("2001:db8::1", "2001:DB8:0::1", "[2001:db8::1]", "[2001:db8::1]:4711"):
        assert PROXY.client("127.0.0.1", [value]) == "2001:db8::1", value
    assert PROXY.client("fd00::5", ["2001:db8::1"]) == "2001:db8::1"
    assert PROXY.client("::ffff:127.0.0.1", ["203.0.113.9:5555"]) == "203.0.113.9"
    assert PROXY.client("::ffff:198.51.100.7", ["203.0.113.9"]) == "198.51.100.7"


def test_forwarded_rfc_7239_is_read_only_when_it_is_the_configured_header() -> None:
    trust = ProxyTrust.parse(["127.0.0.1"], "forwarded")
    value = 'for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https;by=127.0.0.1'
    assert trust.client("127.0.0.1", [value]) == "2001:db8:cafe::17"
    assert trust.client("127.0.0.1", ["For=203.0.113.9;proto=http"]) == "203.0.113.9"
    assert trust.client("127.0.0.1", ["for=unknown"]) == "127.0.0.1"
    assert trust.client("127.0.0.1", ["proto=https"]) == "127.0.0.1"  # no for=
    assert forwarded_for('by=x;for="a,b";host=h') == "a,b"  # a quoted comma is no split


def test_a_huge_header_and_a_long_chain_are_read_only_at_their_right_end() -> None:
    many = ", ".join(f"10.0.{n // 250}.{n % 250}" for n in range(2_000))
    assert len(many) > MAX_HEADER_CHARS
    # all trusted: the walk stops after MAX_HOPS entries, at the last one read
    assert PROXY.client("127.0.0.1", [many + ", 10.9.9.9"]) == "10.0.7." + str(
        (1_999 - MAX_HOPS + 2) % 250
    )
    spoof = "203.0.113." + "9" * 5_000 + ", 198.51.100.7"  # the cut entry is dropped
    assert PROXY.client("127.0.0.1", [spoof]) == "198.51.100.7"


def test_parse_address_forms() -> None:
    assert str(parse_address("1.2.3.4:80")) == "1.2.3.4"
    assert parse_address("") is None and parse_address("1.2.3.4:80:1") is None


def test_bad_trusted_proxies_are_a_config_error_naming_the_key(tmp_path: object) -> None:
    with pytest.raises(ConfigError) as bad:
        ProxyTrust.parse(["10.0.0.0/8", "nginx.local"])
    assert "chat.trusted_proxies" in str(bad.value) and "nginx.local" in str(bad.value)
    with pytest.raises(ConfigError):
        ProxyTrust.parse(["10.0.0.1"] * 300)
    with pytest.raises(ConfigError) as header:
        load_settings(environ={"SWITCHBOARD_CHAT__FORWARDED_HEADER": "x-real-ip"})
    assert "chat.forwarded_header" in str(header.value)
    loaded = load_settings(environ={"SWITCHBOARD_CHAT__TRUSTED_PROXIES": "127.0.0.1, ::1/128"})
    assert loaded.chat.trusted_proxies == ["127.0.0.1", "::1/128"]


def test_a_client_cannot_pick_its_address_with_quotes_ports_or_zones() -> None:
    """What a client writes is left of what nginx appends (``$proxy_add_x_forwarded_for``):
    a quote, a bogus port or an IPv6 zone must not glue it to the real address or pass
    for an address of its own. The walk ends at the real client or, on text that is no
    address, at the last proxy, never at the client's choice."""
    for forged in ('6.6.6.6:"', '[6.6.6.6]:"', "6.6.6.6:x", "[2001:db8::6]:x", '"'):
        got = PROXY.client("127.0.0.1", [forged + ", 203.0.113.9"])
        assert got == "203.0.113.9", (forged, got)
    # split header lines (HAProxy adds its own line): the same
    assert PROXY.client("127.0.0.1", ['6.6.6.6:"', "203.0.113.9"]) == "203.0.113.9"
    assert PROXY.client("127.0.0.1", ['"']) == "127.0.0.1"
    for text in ("6.6.6.6:", "6.6.6.6:99999", "[2001:db8::1]:", "fe80::1%eth0", '"6.6.6.6"'):
        assert parse_address(text) is None, text
    forwarded = ProxyTrust.parse(["127.0.0.1"], "forwarded")
    assert forwarded.client("127.0.0.1", ['for=6.6.6.6:", for=203.0.113.9']) == "203.0.113.9"
