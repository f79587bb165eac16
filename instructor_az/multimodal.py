"""Media in messages: `Image`, `Audio`, `PDF`, instructor's conversion helpers, and remote downloads.

This is the module instructor's `instructor.multimodal`, `instructor.processing.multimodal`,
`instructor.core.multimodal` and `instructor.core.remote` paths map to (see `instructor_az.alias`).

```python
from instructor_az.multimodal import Image, PDF, convert_messages

messages = [{"role": "user", "content": ["Summarize", PDF.from_path("report.pdf")]}]
convert_messages(messages, "tools")   # what a request sends; create() does this itself
```

Every download an `Image` / `Audio` / `PDF` makes goes through the two functions below, looked up here
at call time: replace them (`monkeypatch.setattr(instructor_az.multimodal, "fetch_remote_content", ...)`)
to serve media from a cache, add authentication, or forbid the network in tests.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._errors import MultimodalError
from .dsl._media_remote import (
    MAX_AUDIO_BYTES,
    MAX_IMAGE_BYTES,
    MAX_PDF_BYTES,
    MAX_REDIRECTS,
    RemoteContent,
    RemoteFetchError,
    fetch,
    probe,
)
from .dsl._media_types import (
    AUDIO_MEDIA_TYPES,
    IMAGE_MEDIA_TYPES,
    PDF_MEDIA_TYPES,
    MediaError,
    normalize_media_type,
)
from .dsl._multimodal import (
    PDF,
    Audio,
    Image,
    MediaNotFoundError,
    autodetect_media,
    convert_contents,
    convert_messages,
    to_content_parts,
)

__all__ = [
    "AUDIO_MEDIA_TYPES",
    "IMAGE_MEDIA_TYPES",
    "MAX_AUDIO_BYTES",
    "MAX_IMAGE_BYTES",
    "MAX_PDF_BYTES",
    "MAX_REDIRECTS",
    "PDF",
    "PDF_MEDIA_TYPES",
    "VALID_AUDIO_MIME_TYPES",
    "VALID_MIME_TYPES",
    "VALID_PDF_MIME_TYPES",
    "Audio",
    "Image",
    "MediaError",
    "MediaNotFoundError",
    "MultimodalError",
    "RemoteContent",
    "RemoteFetchError",
    "autodetect_media",
    "convert_contents",
    "convert_messages",
    "fetch_remote_content",
    "probe_remote_content_type",
    "to_content_parts",
]

# instructor's names for the same things.
VALID_MIME_TYPES = list(IMAGE_MEDIA_TYPES)
VALID_AUDIO_MIME_TYPES = list(AUDIO_MEDIA_TYPES)
VALID_PDF_MIME_TYPES = list(PDF_MEDIA_TYPES)
_normalize_media_type = normalize_media_type

# instructor downloads with `requests` and its tests patch `instructor.multimodal.requests`; the module is
# bound here when installed (instructor-az itself downloads with httpx2 (the SDK's HTTP client), through the functions below).
requests: Any
try:
    requests = importlib.import_module("requests")
except ImportError:  # pragma: no cover - requests is optional
    requests = None


def fetch_remote_content(url: str, *, max_bytes: int, timeout: float = 30) -> RemoteContent:
    """GET a public http(s) URL: no private or loopback hosts, at most 5 redirects (each checked), no
    ambient proxies, the body capped at `max_bytes`. `RemoteFetchError` (a `MediaError`) otherwise."""
    return fetch(url, max_bytes=max_bytes, timeout=timeout)


def probe_remote_content_type(url: str, *, timeout: float = 30) -> str | None:
    """The normalized `Content-Type` of a public http(s) URL, from a HEAD request (None when absent)."""
    return probe(url, timeout=timeout)
