"""Notify URLs must not point into our own network (SSRF): loopback, link-local, private
and other non-public addresses are refused unless ALLOW_PRIVATE_NOTIFY_URLS is set."""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from paycenter.errors import InvalidRequest


class NotifyUrlRefused(InvalidRequest):
    code = "notify_url_refused"


# IPv6 ranges that carry an IPv4 address in their last 32 bits (NAT64, IPv4-compatible,
# SIIT): judged by the IPv4 address they lead to.
_IPV4_TRANSLATING = tuple(
    ipaddress.ip_network(net) for net in ("64:ff9b::/96", "64:ff9b:1::/48", "::/96", "::ffff:0:0:0/96")
)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped or ip.sixtofour:
        return ip.ipv4_mapped or ip.sixtofour
    if any(ip in net for net in _IPV4_TRANSLATING):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.teredo:
            return False
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return embedded.is_global and not embedded.is_multicast
    return ip.is_global and not ip.is_multicast


def resolve_host(host: str) -> list[str]:
    try:
        return [info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)]
    except (socket.gaierror, UnicodeError):
        return []


def notify_url_check(url: str, *, field: str = "notify_url", resolve: bool = True) -> str:
    """The URL when it may be called; NotifyUrlRefused otherwise. Hostnames that do not
    resolve yet are accepted here; delivery checks the address it actually connects to."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise NotifyUrlRefused("The notify URL must be an http(s) URL.", field=field)
    if settings.ALLOW_PRIVATE_NOTIFY_URLS:
        return url
    host = parts.hostname.rstrip(".").lower()
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise NotifyUrlRefused("The notify URL points at a local host.", field=field)
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        addresses = resolve_host(host) if resolve else []
    if any(not is_public_address(address) for address in addresses):
        raise NotifyUrlRefused(
            "The notify URL points at a loopback, link-local or private address.", field=field
        )
    return url


def notify_address(host: str) -> str:
    """The one address a call to `host` may connect to. The host is resolved once and,
    unless ALLOW_PRIVATE_NOTIFY_URLS is set, every address it resolves to must be public
    (one private answer refuses the host: the resolver could hand it out next time). The
    caller connects to the returned address, never to the name again, so a DNS answer that
    changes between this check and the connection (rebinding) cannot redirect the call."""
    addresses = resolve_host(host)
    if not addresses:
        raise NotifyUrlRefused("The notify URL's host does not resolve.", field="notify_url")
    if not settings.ALLOW_PRIVATE_NOTIFY_URLS and any(not is_public_address(a) for a in addresses):
        raise NotifyUrlRefused(
            "The notify URL points at a loopback, link-local or private address.", field="notify_url"
        )
    return addresses[0]
