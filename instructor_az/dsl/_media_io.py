"""Files and downloads for the media classes: reading a file, and the download seam.

Downloads go through `instructor_az.multimodal.fetch_remote_content` / `probe_remote_content_type`,
looked up at call time, so replacing them there changes every download.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._media_types import MediaError, normalize_media_type

TIMEOUT = 30
_RESPONSES_MODES = ("responses_tools", "responses_tools_with_inbuilt_tools")


class MediaNotFoundError(MediaError, FileNotFoundError):
    """A media file that does not exist (both a `MediaError` and a `FileNotFoundError`)."""


# --- downloads, through the public module's replaceable functions ----------------------------------


def _net() -> Any:
    return importlib.import_module("instructor_az.multimodal")


def fetch(url: str, max_bytes: int, what: str, timeout: float = TIMEOUT) -> Any:
    try:
        return _net().fetch_remote_content(url, max_bytes=max_bytes, timeout=timeout)
    except MediaError:
        raise
    except Exception as exc:  # a replaced fetcher may raise its HTTP library's errors
        raise MediaError(f"cannot download the {what} at {url}: {exc}") from exc


def probe(url: str, what: str) -> str | None:
    try:
        found = _net().probe_remote_content_type(url, timeout=TIMEOUT)
    except MediaError:
        raise
    except Exception as exc:
        raise MediaError(f"cannot read the type of the {what} at {url}: {exc}") from exc
    return normalize_media_type(found) if isinstance(found, str) else None


def gs_public_url(url: str) -> str:
    if not url.startswith("gs://"):
        raise MediaError(f"a Google Cloud Storage URL starts with gs:// (got {url[:40]!r})")
    return f"https://storage.googleapis.com/{url[5:]}"


def check_http(url: str, what: str) -> None:
    if not url.startswith(("http://", "https://")):
        raise MediaError(f"a {what} URL must start with http://, https://, gs:// or data: (got {url[:40]!r})")


def read_file(path: Path, what: str) -> bytes:
    try:
        if not path.is_file():
            raise MediaNotFoundError(f"{what.capitalize()} file not found: {path}")
        if path.stat().st_size == 0:
            raise MediaError(f"{what.capitalize()} file is empty: {path}")
        return path.read_bytes()
    except OSError as exc:
        if isinstance(exc, MediaError):
            raise
        raise MediaError(f"cannot read the {what} file {str(path)!r}: {exc.strerror or exc}") from None


def is_file(source: str) -> bool:
    try:
        return Path(source).is_file()
    except (OSError, ValueError):  # a name too long, a NUL byte
        return False


def unsupported(what: str, found: str | None, accepted: Sequence[str]) -> MediaError:
    return MediaError(f"Unsupported {what} format: {found}. Supported formats: {', '.join(accepted)}")


def is_responses(mode: Any) -> bool:
    return str(getattr(mode, "value", mode)).lower() in _RESPONSES_MODES
