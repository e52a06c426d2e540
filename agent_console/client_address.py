"""The client's address behind a reverse proxy: the one key every per-address limit uses.

Theory of operation: the TCP peer is the client unless it is one of ``[chat]
trusted_proxies`` (addresses or CIDR networks; empty, the default, trusts nobody). Only
then is the proxy's header read — ``X-Forwarded-For`` or ``Forwarded`` (RFC 7239),
whichever ``[chat] forwarded_header`` names: the one the proxy *writes* (a proxy passes the
other one through as the client sent it, so reading that one would let anybody pick
their address). The header is a list the client may have begun and each proxy appended
to, so it is read from the right: the first address that is not itself a trusted proxy
is the client. Anything the client wrote is left of that and never looked at.

Bounded: at most :data:`MAX_HEADER_CHARS` of the header (its right end) and
:data:`MAX_HOPS` entries are read. An entry that is no address (``unknown``, an
obfuscated ``_name``, garbage) or a header past the hop limit ends the walk at the last
trusted address seen — never at text the client chose. What comes out is always a
normalised address (``str(ipaddress.ip_address(...))``, an IPv4-mapped IPv6 address as
its IPv4 form), so two spellings of one address are one key.

:func:`client_address` (``request``) is what handlers call; :class:`ProxyTrust` is the
pure part (no aiohttp), tested without a server.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from agent_console.keys import PROXIES
from config.errors import ConfigError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
HeaderName = Literal["x-forwarded-for", "forwarded"]

MAX_HEADER_CHARS = 2048  # of the header's right end: what the proxies appended
MAX_HOPS = 16  # entries read from the right
MAX_TRUSTED = 256  # entries in [chat] trusted_proxies
UNKNOWN = "-"  # no usable peer address (a Unix socket)


def _port(text: str) -> bool:
    """A port as a header may carry it: 1 to 5 digits, at most 65535."""
    return text.isdigit() and len(text) <= 5 and 0 < int(text) <= 65535


def parse_address(text: str) -> IPAddress | None:
    """One address as a header carries it: ``1.2.3.4``, ``1.2.3.4:80``, ``2001:db8::1``,
    ``[2001:db8::1]`` or ``[2001:db8::1]:80`` (a ``Forwarded`` value already unquoted);
    None for anything else (``unknown``, ``_hidden``, a quote, a port that is no number,
    an IPv6 zone, garbage): what a client wrote must never pass for an address."""
    text = text.strip()
    if not text or len(text) > 64 or '"' in text or "%" in text:
        return None
    if text.startswith("["):
        end = text.find("]")
        if end == -1:
            return None
        rest = text[end + 1 :]
        if rest and not (rest.startswith(":") and _port(rest[1:])):
            return None
        text = text[1:end]
    elif text.count(":") == 1:  # IPv4 with a port (an IPv6 address has two colons or more)
        text, _, port = text.partition(":")
        if not _port(port):
            return None
    try:
        found = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


def forwarded_for(element: str) -> str:
    """The ``for=`` value of one ``Forwarded`` element (unquoted), or "" if it has none.
    Split on plain ``;``: an address holds none, and a quote the client left open must
    not swallow what the proxies appended after it."""
    for pair in element.split(";"):
        name, sep, value = pair.partition("=")
        if sep and name.strip().lower() == "for":
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            return value
    return ""


@dataclass(frozen=True, slots=True)
class ProxyTrust:
    """Which peers are reverse proxies, and the header they write."""

    networks: tuple[IPNetwork, ...] = ()
    header: HeaderName = "x-forwarded-for"

    @classmethod
    def parse(cls, entries: Sequence[str], header: str = "x-forwarded-for") -> ProxyTrust:
        """``[chat] trusted_proxies`` and ``forwarded_header``.

        Raises:
            ConfigError: an entry that is no address or network, too many, an unknown header.
        """
        if header not in ("x-forwarded-for", "forwarded"):
            raise ConfigError(
                "settings", "chat.forwarded_header", 'must be "x-forwarded-for" or "forwarded"'
            )
        if len(entries) > MAX_TRUSTED:
            raise ConfigError(
                "settings", "chat.trusted_proxies", f"at most {MAX_TRUSTED} addresses or networks"
            )
        networks: list[IPNetwork] = []
        for entry in entries:
            try:
                # strict=False: "10.0.0.7/8" means 10.0.0.0/8, as nginx's set_real_ip_from
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                raise ConfigError(
                    "settings",
                    "chat.trusted_proxies",
                    f"{entry[:80]!r} is not an address or a network like 10.0.0.0/8 or fd00::/8",
                ) from None
        return cls(tuple(networks), "forwarded" if header == "forwarded" else "x-forwarded-for")

    def trusts(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)

    def client(self, peer: str | None, headers: Iterable[str]) -> str:
        """The client's address, given the TCP ``peer`` and every value of the header
        this trust reads (in the order they came).

        Returns:
            A normalised address; ``peer`` as given when it is not one (``"-"`` for none).
        """
        found = parse_address(peer or "")
        if found is None:
            return peer or UNKNOWN
        if not self.networks or not self.trusts(found):
            return str(found)
        joined = ",".join(headers)
        truncated = len(joined) > MAX_HEADER_CHARS
        if truncated:
            joined = joined[-MAX_HEADER_CHARS:]
        # plain commas, quotes or not: no address holds one, and a quote the client left
        # open must not glue its text to the address the proxy appended
        entries = joined.split(",")
        if truncated:
            entries = entries[1:]  # the first one is cut: not an entry
        for entry in reversed(entries[-MAX_HOPS:]):
            text = forwarded_for(entry) if self.header == "forwarded" else entry
            hop = parse_address(text)
            if hop is None:
                break  # a proxy did not know (or hid) who came: the last proxy is the key
            found = hop
            if not self.trusts(hop):
                break
        return str(found)


def client_address(request: web.Request) -> str:
    """The address this request comes from, for a rate limit, a log or an audit entry:
    the proxy's forwarded address only when the peer is a trusted proxy (module doc)."""
    trust = request.app.get(PROXIES) or ProxyTrust()
    name = "X-Forwarded-For" if trust.header == "x-forwarded-for" else "Forwarded"
    return trust.client(request.remote, request.headers.getall(name, ()))
