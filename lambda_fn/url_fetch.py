"""Fetch the image an `image_url` names, without letting a caller reach what the server can.

Server-side request forgery is the risk: a URL that points at the instance metadata service
(169.254.169.254), at loopback or at a private network turns the API into the caller's proxy.
So every hop (the URL and each redirect) is checked the same way before anything is sent:
the scheme (https, or http where a setting allows it), the host against an optional
allow-list, and every address the name resolves to, which must all be public. The request
then goes to the address that was checked, with the name kept for the Host header, TLS SNI
and certificate checking, so a DNS answer that changes between check and connect (DNS
rebinding) cannot switch the target. The body is streamed under a byte cap and a deadline.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import urljoin, urlsplit

if TYPE_CHECKING:  # urllib3 itself is imported on the first fetch: cold starts skip it
    import urllib3

from lambda_fn.image_contract import ALLOWED_FORMATS

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
FetchErrorCode = Literal[
    "url_not_allowed", "url_fetch_failed", "payload_too_large", "unsupported_media_type"
]
Resolver = Callable[[str, int], Sequence[str]]  # (host, port) -> the addresses it resolves to
REDIRECTS = frozenset({301, 302, 303, 307, 308})
IMAGE_TYPES = frozenset(ALLOWED_FORMATS.values())
CHUNK = 64 * 1024
USER_AGENT = "aiornot-image-fetch/1"


class UrlFetchError(Exception):
    """A refused or failed `image_url`; `code` is the API's error code (app.py maps it)."""

    def __init__(self, code: FetchErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class FetchPolicy:
    """What `fetch_image` may do; the serving settings build it (`URL_FETCH_*`)."""

    max_bytes: int
    allow_http: bool = False
    allowed_hosts: frozenset[str] = frozenset()  # empty: any host with public addresses
    allow_loopback: bool = False  # tests only: lets a server on 127.0.0.1 / ::1 be fetched
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    total_timeout: float = 20.0  # a slow drip under the read timeout still ends here
    max_redirects: int = 3


@dataclass(frozen=True)
class Target:
    """One hop, parsed and checked: where to connect, and what to ask for."""

    scheme: str
    host: str  # the name, lower-case (or an address literal), for Host, SNI and certificates
    port: int
    path: str  # path and query, never empty
    address: str  # the checked address the connection goes to


def not_allowed(message: str) -> UrlFetchError:
    return UrlFetchError("url_not_allowed", message)


def fetch_failed(message: str) -> UrlFetchError:
    return UrlFetchError("url_fetch_failed", message)


def refusal(address: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why `address` may not be fetched from, or None when it is a public unicast address.

    IPv6 forms that carry an IPv4 address (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`,
    6to4, Teredo) are judged by the IPv4 address they carry as well.
    """
    if allow_loopback and address.is_loopback:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        for embedded in embedded_ipv4(address):
            reason = refusal(embedded, allow_loopback=allow_loopback)
            if reason:
                return f"{reason} (carried in {address})"
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local (the cloud metadata service lives there)", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("not globally routable", not address.is_global),
    )
    return next((f"{address} is {what}" for what, hit in checks if hit), None)


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    found = [address.ipv4_mapped, address.sixtofour, address.teredo and address.teredo[1]]
    if int(address) >> 32 == 0 and int(address) > 1:  # ::a.b.c.d, the deprecated compatible form
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [a for a in found if a]


def resolve_host(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host` (both families)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise fetch_failed(f"The host {host} could not be resolved: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_url(url: str, policy: FetchPolicy, resolve: Resolver = resolve_host) -> Target:
    """Parse one hop and check scheme, host and every resolved address; refuse clearly."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise not_allowed(f"image_url is not a valid URL: {exc}") from exc
    schemes = ("https", "http") if policy.allow_http else ("https",)
    if parts.scheme.lower() not in schemes:
        raise not_allowed(
            f"image_url must be {' or '.join(schemes)}, not {parts.scheme or '(none)'!r}"
        )
    if parts.username is not None or parts.password is not None:
        raise not_allowed("image_url may not carry a user name or password")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise not_allowed("image_url has no host")
    if policy.allowed_hosts and host not in policy.allowed_hosts:
        raise not_allowed(f"the host {host} is not on this API's allow-list of image hosts")
    scheme = parts.scheme.lower()
    port = port or (443 if scheme == "https" else 80)
    addresses = _addresses(host, port, resolve)
    for address in addresses:
        reason = refusal(address, allow_loopback=policy.allow_loopback)
        if reason:
            raise not_allowed(f"image_url's host {host} resolves to a refused address: {reason}")
    path = parts.path or "/"
    path += f"?{parts.query}" if parts.query else ""
    return Target(scheme, host, port, path, str(addresses[0]))


def _addresses(host: str, port: int, resolve: Resolver) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]  # a literal: nothing to resolve
    except ValueError:
        pass
    resolved = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolve(host, port)]
    if not resolved:
        raise fetch_failed(f"The host {host} resolved to no address")
    return resolved


def fetch_image(url: str, policy: FetchPolicy, resolve: Resolver = resolve_host) -> bytes:
    """The image bytes at `url`, following at most `policy.max_redirects` checked redirects."""
    deadline = time.monotonic() + policy.total_timeout
    for _hop in range(policy.max_redirects + 1):
        target = check_url(url, policy, resolve)
        pool = _pool(target, policy)
        try:
            response = _request(pool, target)
            try:
                if response.status not in REDIRECTS:
                    return _image_body(response, target, policy.max_bytes, deadline)
                location = response.headers.get("location")
                if not location:
                    raise fetch_failed(f"{target.host} redirected without a Location header")
                url = urljoin(url, location)
            finally:
                response.release_conn()
        finally:
            pool.close()
    raise fetch_failed(f"image_url redirected more than {policy.max_redirects} times")


def _pool(target: Target, policy: FetchPolicy) -> urllib3.HTTPConnectionPool:
    """Connections to the checked address; for https, SNI and the certificate use the name."""
    import urllib3

    timeout = urllib3.Timeout(connect=policy.connect_timeout, read=policy.read_timeout)
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            timeout=timeout,
            retries=False,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
        )
    return urllib3.HTTPConnectionPool(target.address, target.port, timeout=timeout, retries=False)


def _request(pool: urllib3.HTTPConnectionPool, target: Target) -> urllib3.BaseHTTPResponse:
    """GET the path, naming the host in the Host header as the URL did."""
    from urllib3.exceptions import HTTPError as Urllib3Error

    default_port = 443 if target.scheme == "https" else 80
    name = f"[{target.host}]" if ":" in target.host else target.host
    host_header = name if target.port == default_port else f"{name}:{target.port}"
    headers = {"Host": host_header, "User-Agent": USER_AGENT, "Accept": ", ".join(IMAGE_TYPES)}
    try:
        return pool.urlopen(
            "GET",
            target.path,
            headers=headers,
            redirect=False,
            preload_content=False,
            assert_same_host=False,
        )
    except Urllib3Error as exc:
        raise fetch_failed(f"image_url could not be fetched from {target.host}: {exc}") from exc


def _image_body(
    response: urllib3.BaseHTTPResponse, target: Target, limit: int, deadline: float
) -> bytes:
    if response.status != 200:
        raise fetch_failed(f"{target.host} answered HTTP {response.status} for image_url")
    _check_type(response.headers.get("content-type"))
    return _read_capped(response, limit, deadline)


def _check_type(content_type: str | None) -> None:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in IMAGE_TYPES:
        raise UrlFetchError(
            "unsupported_media_type",
            f"image_url answered with Content-Type {media_type or '(none)'}; "
            f"accepted: {', '.join(sorted(IMAGE_TYPES))}",
        )


def _read_capped(response: urllib3.BaseHTTPResponse, limit: int, deadline: float) -> bytes:
    from urllib3.exceptions import HTTPError as Urllib3Error

    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    total = 0
    try:
        for chunk in response.stream(CHUNK):
            total += len(chunk)
            if total > limit:
                raise _too_large(limit)
            if time.monotonic() > deadline:
                raise fetch_failed("image_url took too long to send the image")
            chunks.append(chunk)
    except Urllib3Error as exc:
        raise fetch_failed(f"image_url's body could not be read: {exc}") from exc
    return b"".join(chunks)


def _too_large(limit: int) -> UrlFetchError:
    return UrlFetchError(
        "payload_too_large",
        f"The image at image_url is over the limit of {limit:,} bytes; "
        "link a smaller image (re-encoded as JPEG or downscaled).",
    )
