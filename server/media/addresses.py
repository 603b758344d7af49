"""Which network addresses a remote image fetch may connect to: public unicast only.

Checked after DNS resolution, on every address a name resolves to (one bad answer refuses the
name, so a name cannot smuggle an internal address in among public ones), and the fetch then
connects to the checked address itself, so a second resolution cannot change it (DNS
rebinding). Loopback, private, link-local (cloud metadata at 169.254.169.254), CGNAT, multicast,
reserved and unspecified addresses are refused, including when embedded in IPv6 (IPv4-mapped,
6to4, Teredo, NAT64).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable

from server.errors import InvalidRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _embedded(ip: IPAddress) -> IPAddress | None:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            return ip.teredo[1]
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal(ip: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why `ip` may not be fetched from, or None if it may."""
    inner = _embedded(ip)
    if inner is not None:
        return refusal(inner, allow_loopback=allow_loopback)
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    if ip.is_link_local:
        return "a link-local address (cloud metadata lives there)"
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return "not a unicast address"
    if ip.is_private or not ip.is_global:
        return "a private or non-public address"
    return None


async def resolve_public(
    host: str, port: int, *, resolver: Resolver, allow_loopback: bool, param: str
) -> str:
    """The address to connect to for `host`, after checking every address it resolves to."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        answers = [str(literal)]
    else:
        try:
            answers = await resolver(host, port)
        except OSError as exc:
            raise InvalidRequest(
                f"cannot resolve image host {host!r}: {exc}", param=param, code="invalid_image_url"
            ) from None
    addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in answers]
    if not addresses:
        raise InvalidRequest(
            f"image host {host!r} has no address", param=param, code="invalid_image_url"
        )
    for address in addresses:
        reason = refusal(address, allow_loopback=allow_loopback)
        if reason is not None:
            raise InvalidRequest(
                f"image host {host!r} resolves to {reason}; refused",
                param=param,
                code="invalid_image_url",
            )
    return str(addresses[0])
