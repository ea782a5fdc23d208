"""The client's address: the peer, or — only when the peer is one of the configured trusted
proxies — the nearest untrusted hop in X-Forwarded-For. A header from anyone else is ignored,
so a client cannot pick the address its limits are counted against."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _trusted(address: str, nets: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in nets)


def client_address(request: web.Request, proxies: list[str]) -> str:
    peer = request.remote or ""
    if not proxies:
        return peer
    nets = networks(tuple(proxies))
    if not _trusted(peer, nets):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _trusted(hop, nets):
            return hop[:64]
    return peer
