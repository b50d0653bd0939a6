"""Notify URLs must not point into our own network (SSRF): loopback, link-local, private
and other non-public addresses are refused unless ALLOW_PRIVATE_NOTIFY_URLS is set."""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from paycenter.errors import InvalidRequest


class NotifyUrlRefused(InvalidRequest):
    code = "notify_url_refused"


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve_host(host: str) -> list[str]:
    try:
        return [info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)]
    except (socket.gaierror, UnicodeError):
        return []


def notify_url_check(url: str, *, field: str = "notify_url", resolve: bool = True) -> str:
    """The URL when it may be called; NotifyUrlRefused otherwise. Hostnames that do not
    resolve yet are accepted here and checked again at delivery time."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise NotifyUrlRefused("The notify URL must be an http(s) URL.", field=field)
    if settings.ALLOW_PRIVATE_NOTIFY_URLS:
        return url
    host = parts.hostname
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise NotifyUrlRefused("The notify URL points at a local host.", field=field)
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        addresses = resolve_host(host) if resolve else []
    if any(not _is_public(address) for address in addresses):
        raise NotifyUrlRefused(
            "The notify URL points at a loopback, link-local or private address.", field=field
        )
    return url
