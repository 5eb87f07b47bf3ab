"""`image_url`: fetched only from public addresses, the checked one, under a cap and a deadline.

Refusals of private, link-local (the metadata service), multicast and other non-public
addresses are tested at the address check, by resolving names to them with a stand-in
resolver: no test opens a connection to any address outside 127.0.0.0/8. Fetches that do
happen go to stdlib servers on 127.0.0.1, allowed by the test-only `allow_loopback`.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lambda_fn.url_fetch import FetchPolicy, UrlFetchError, check_url, fetch_image, refusal
from tests.lambda_fn.conftest import make_image
from tests.support.image_host import ImageHost

JPEG = make_image("JPEG", seed=3)
LOCAL = FetchPolicy(max_bytes=1_000_000, allow_http=True, allow_loopback=True, read_timeout=1.0)

REFUSED = [
    "127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.5.4", "192.168.1.1", "100.64.0.1",
    "169.254.169.254", "169.254.170.2", "0.0.0.0", "224.0.0.1", "239.255.255.250",
    "255.255.255.255", "192.0.2.1", "198.18.0.1", "240.0.0.1",
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", "::127.0.0.1",
    "2002:7f00:1::", "2002:a9fe:a9fe::", "2001:0:4136:e378:8000:63bf:80ff:fffe",
]  # fmt: skip
PUBLIC = ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "2a00:1450:4001:82a::200e"]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused_at_the_check(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_unicast_addresses_pass_the_check(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def test_the_loopback_allowance_admits_loopback_only() -> None:
    assert refusal(ipaddress.ip_address("127.0.0.1"), allow_loopback=True) is None
    assert refusal(ipaddress.ip_address("::1"), allow_loopback=True) is None
    for address in ("10.0.0.1", "169.254.169.254", "::ffff:169.254.169.254"):
        assert refusal(ipaddress.ip_address(address), allow_loopback=True) is not None


def resolving_to(*addresses: str) -> Callable[[str, int], list[str]]:
    return lambda host, port: list(addresses)


def refused_code(url: str, policy: FetchPolicy, resolve: Any = None) -> str:
    with pytest.raises(UrlFetchError) as caught:
        check_url(url, policy, resolve or resolving_to("93.184.215.14"))
    return caught.value.code


@pytest.mark.parametrize(
    "address", ["169.254.169.254", "10.1.2.3", "::ffff:169.254.169.254", "fd00::7", "0.0.0.0"]
)
def test_a_name_that_resolves_to_a_refused_address_is_refused(address: str) -> None:
    policy = FetchPolicy(max_bytes=1000)
    assert refused_code("https://images.example/a.jpg", policy, resolving_to(address)) == (
        "url_not_allowed"
    )


def test_one_refused_address_among_public_ones_refuses_the_name() -> None:
    resolve = resolving_to("93.184.215.14", "169.254.169.254")
    code = refused_code("https://images.example/a.jpg", FetchPolicy(max_bytes=1000), resolve)
    assert code == "url_not_allowed"


@pytest.mark.parametrize(
    "url",
    [
        "http://images.example/a.jpg",  # http without the setting
        "ftp://images.example/a.jpg",
        "file:///etc/passwd",
        "gopher://images.example/",
        "https://user:secret@images.example/a.jpg",
        "https:///a.jpg",
        "https://images.example:99999/a.jpg",
        "https://169.254.169.254/latest/meta-data/",  # an address literal is checked too
        "https://[::1]/a.jpg",
        "https://2130706433/a.jpg",  # 127.0.0.1 as one decimal number, resolved by the resolver
    ],
)
def test_urls_outside_the_policy_are_refused(url: str) -> None:
    resolve = resolving_to("127.0.0.1") if "2130706433" in url else None
    assert refused_code(url, FetchPolicy(max_bytes=1000), resolve) == "url_not_allowed"


def test_the_host_allow_list_is_applied_before_resolving() -> None:
    asked: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["93.184.215.14"]

    policy = FetchPolicy(max_bytes=1000, allowed_hosts=frozenset({"cdn.example"}))
    assert refused_code("https://other.example/a.jpg", policy, resolve) == "url_not_allowed"
    assert asked == []
    assert check_url("https://CDN.example./a.jpg?x=1", policy, resolve).path == "/a.jpg?x=1"


@pytest.fixture
def image_host() -> Iterator[ImageHost]:
    with ImageHost(JPEG) as server:
        yield server


def test_an_image_is_fetched_with_its_host_named(image_host: ImageHost) -> None:
    assert fetch_image(f"{image_host.url}/cat.jpg?size=1", LOCAL) == JPEG
    assert image_host.requests[-1]["path"] == "/cat.jpg?size=1"
    assert image_host.requests[-1]["host"] == image_host.url.removeprefix("http://")


def test_three_redirects_are_followed_and_a_fourth_is_refused(image_host: ImageHost) -> None:
    assert fetch_image(f"{image_host.url}/hop/2", LOCAL) == JPEG  # 3 redirects
    with pytest.raises(UrlFetchError) as caught:
        fetch_image(f"{image_host.url}/hop/3", LOCAL)  # 4 redirects
    assert caught.value.code == "url_fetch_failed"
    assert "more than 3" in caught.value.message


def test_a_redirect_to_the_metadata_service_is_checked_and_refused(image_host: ImageHost) -> None:
    with pytest.raises(UrlFetchError) as caught:
        fetch_image(f"{image_host.url}/to-metadata", LOCAL)
    assert caught.value.code == "url_not_allowed"
    assert "169.254.169.254" in caught.value.message


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/page.html", "unsupported_media_type"),
        ("/missing", "url_fetch_failed"),
        ("/huge.jpg", "payload_too_large"),
        ("/undeclared-huge.jpg", "payload_too_large"),
        ("/stall.jpg", "url_fetch_failed"),
    ],
)
def test_what_is_not_a_small_image_is_refused_clearly(
    image_host: ImageHost, path: str, code: str
) -> None:
    policy = FetchPolicy(
        max_bytes=len(JPEG) * 3, allow_http=True, allow_loopback=True, read_timeout=0.5
    )
    with pytest.raises(UrlFetchError) as caught:
        fetch_image(f"{image_host.url}{path}", policy)
    assert caught.value.code == code


def test_nothing_listening_is_a_fetch_failure() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        with pytest.raises(UrlFetchError) as caught:
            fetch_image(f"http://127.0.0.1:{port}/cat.jpg", LOCAL)
    assert caught.value.code == "url_fetch_failed"


def test_the_connection_goes_to_the_checked_address_not_a_second_lookup(
    image_host: ImageHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the first answer passes the check, later answers would point elsewhere.

    The later answer is another loopback address where nothing listens, so a fetch that
    looked the name up again would fail here, not reach anything.
    """
    port = int(image_host.url.rsplit(":", 1)[1])
    answers = iter(["127.0.0.1"])
    lookups: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def rebinding(host: str, *args: Any, **kwargs: Any) -> Any:
        if host != "rebind.test":
            return real_getaddrinfo(host, *args, **kwargs)
        lookups.append(host)
        address = next(answers, "127.0.0.2")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    assert fetch_image(f"http://rebind.test:{port}/cat.jpg", LOCAL) == JPEG
    assert lookups == ["rebind.test"]
    assert image_host.requests[-1]["host"] == f"rebind.test:{port}"
