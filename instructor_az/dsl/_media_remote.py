"""Bounded downloads of remote media (an image URL's type, an audio or PDF URL's bytes).

The media classes never call this directly: they go through `instructor_az.multimodal.fetch_remote_content`
/ `probe_remote_content_type`, so replacing those two functions there changes every download.

A download is refused, before any connection, unless the URL is http(s), carries no credentials and its
host resolves only to public addresses; every redirect is checked the same way (at most 5), the
environment's proxies and credentials are not used, and the body is capped at `max_bytes` (the declared
`Content-Length` first, then the bytes read). The check resolves the host before httpx connects, so a
host whose DNS answer changes between the two (DNS rebinding) is not caught.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx2 as httpx

from ._media_types import MediaError, normalize_media_type

MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_AUDIO_BYTES = 25 * 1024 * 1024
MAX_PDF_BYTES = 50 * 1024 * 1024
MAX_REDIRECTS = 5
_REDIRECTS = {301, 302, 303, 307, 308}


class RemoteFetchError(MediaError):
    """A remote media download that was refused (unsafe URL, too large, too many redirects) or failed."""


@dataclass(frozen=True)
class RemoteContent:
    """A downloaded body, its normalized `Content-Type` (None when absent) and the final URL."""

    content: bytes
    content_type: str | None
    url: str


def _check_address(address: str, url: str) -> None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if not ip.is_global or ip.is_multicast:
        raise RemoteFetchError(f"refusing to fetch {url}: it resolves to a non-public address ({address})")


def check_public_url(url: str) -> None:
    """Raise `RemoteFetchError` unless `url` is http(s), without credentials, on public addresses only."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RemoteFetchError(f"refusing to fetch {url[:80]!r}: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise RemoteFetchError(f"refusing to fetch {url[:80]!r}: media URLs must be http:// or https://")
    if not parts.hostname:
        raise RemoteFetchError(f"refusing to fetch {url[:80]!r}: the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise RemoteFetchError("refusing to fetch a media URL with credentials in it")
    try:
        ipaddress.ip_address(parts.hostname)
    except ValueError:
        pass
    else:
        _check_address(parts.hostname, url)
        return
    try:
        infos = socket.getaddrinfo(
            parts.hostname, port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except (socket.gaierror, UnicodeError) as exc:
        raise RemoteFetchError(f"cannot resolve the media host {parts.hostname!r}: {exc}") from None
    if not infos:
        raise RemoteFetchError(f"cannot resolve the media host {parts.hostname!r}")
    for *_, sockaddr in infos:
        _check_address(str(sockaddr[0]), url)


def _client(timeout: float) -> httpx.Client:
    return httpx.Client(
        trust_env=False,  # no ambient proxies or .netrc credentials for user-supplied URLs
        follow_redirects=False,  # each hop is checked here
        timeout=timeout,
        headers={"User-Agent": "instructor-az-media/1"},
    )


def _get(url: str, *, method: str, max_bytes: int, timeout: float) -> RemoteContent:
    with _client(timeout) as client:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            check_public_url(current)
            with client.stream(method, current) as response:
                if response.status_code in _REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        raise RemoteFetchError(f"{current} redirected without a Location")
                    current = urljoin(current, location)
                    continue
                response.raise_for_status()
                content_type = normalize_media_type(response.headers.get("content-type")) or None
                if method == "HEAD":
                    return RemoteContent(b"", content_type, current)
                declared = response.headers.get("content-length")
                if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
                    raise RemoteFetchError(
                        f"{current} is larger than the {max_bytes}-byte limit (Content-Length {declared})"
                    )
                chunks: list[bytes] = []
                total = 0
                for chunk in response.iter_bytes():
                    total += len(chunk)
                    if total > max_bytes:
                        raise RemoteFetchError(f"{current} is larger than the {max_bytes}-byte limit")
                    chunks.append(chunk)
                return RemoteContent(b"".join(chunks), content_type, current)
        raise RemoteFetchError(f"{url} redirected more than {MAX_REDIRECTS} times")


def fetch(url: str, *, max_bytes: int, timeout: float = 30) -> RemoteContent:
    """GET `url` within the limits above; `RemoteFetchError` when refused or failed."""
    if max_bytes <= 0:
        raise ValueError("max_bytes must be greater than zero")
    try:
        return _get(url, method="GET", max_bytes=max_bytes, timeout=timeout)
    except httpx.HTTPError as exc:
        raise RemoteFetchError(f"cannot download {url}: {exc}") from exc


def probe(url: str, *, timeout: float = 30) -> str | None:
    """The normalized `Content-Type` a HEAD request on `url` answers (None when it sends none)."""
    try:
        return _get(url, method="HEAD", max_bytes=1, timeout=timeout).content_type
    except httpx.HTTPError as exc:
        raise RemoteFetchError(f"cannot read the type of {url}: {exc}") from exc
