"""`Image` and `Audio`: media inside message content, turned into Azure's content parts.

```python
messages = [{"role": "user", "content": ["What is in this picture?", Image.autodetect("photo.png")]}]
```

A content list may mix strings, `Image`, `Audio` and the SDK's own part dicts; strings become text
parts. Images become `image_url` parts (a URL, or a base64 data URL for local data), audio becomes an
`input_audio` part (wav or mp3, for audio-capable deployments).
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .._errors import ConfigurationError


class MediaError(ConfigurationError):
    """An image or audio source that cannot be used (unreadable, or of an unsupported type)."""


_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def _image_type(data: bytes) -> str | None:
    for magic, media_type in _IMAGE_MAGIC:
        if data.startswith(magic):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _audio_format(data: bytes) -> Literal["wav", "mp3"] | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and (data[1] & 0xE0) == 0xE0):
        return "mp3"
    return None


def _b64decode(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _read(path: Path, kind: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise MediaError(f"cannot read {kind} file {str(path)!r}: {exc.strerror or exc}") from None


@dataclass(frozen=True)
class Image:
    """An image for a vision deployment: a URL, or base64 data with its media type."""

    url: str | None = None
    data: str | None = None  # base64
    media_type: str | None = None
    detail: Literal["auto", "low", "high"] | None = None

    @classmethod
    def from_url(cls, url: str, *, detail: Literal["auto", "low", "high"] | None = None) -> Image:
        if url.startswith("data:"):
            return cls.from_data_url(url, detail=detail)
        if not url.startswith(("http://", "https://")):
            raise MediaError(f"an image URL must start with http:// or https:// (got {url[:40]!r})")
        return cls(url=url, detail=detail)

    @classmethod
    def from_data_url(cls, data_url: str, *, detail: Literal["auto", "low", "high"] | None = None) -> Image:
        header, _, payload = data_url.partition(",")
        if not header.startswith("data:image/") or ";base64" not in header:
            raise MediaError("an image data URL must look like data:image/png;base64,....")
        return cls(data=payload, media_type=header[5:].split(";")[0], detail=detail)

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        media_type: str | None = None,
        *,
        detail: Literal["auto", "low", "high"] | None = None,
    ) -> Image:
        found = media_type or _image_type(data)
        if found not in _IMAGE_TYPES:
            raise MediaError(
                f"cannot use these bytes as an image ({found or 'unknown type'}): Azure accepts PNG, JPEG, GIF and WEBP"
            )
        return cls(data=base64.b64encode(data).decode(), media_type=found, detail=detail)

    @classmethod
    def from_base64(
        cls, data: str, media_type: str | None = None, *, detail: Literal["auto", "low", "high"] | None = None
    ) -> Image:
        raw = _b64decode(data)
        if raw is None:
            raise MediaError("the image data is not valid base64")
        return cls.from_bytes(raw, media_type, detail=detail)

    @classmethod
    def from_path(cls, path: str | Path, *, detail: Literal["auto", "low", "high"] | None = None) -> Image:
        path = Path(path)
        data = _read(path, "image")
        guessed = _image_type(data) or mimetypes.guess_type(path.name)[0]
        return cls.from_bytes(data, guessed, detail=detail)

    @classmethod
    def autodetect(
        cls, source: str | bytes | Path, *, detail: Literal["auto", "low", "high"] | None = None
    ) -> Image:
        """An image from a URL, data URL, file path, raw bytes or a base64 string."""
        if isinstance(source, bytes):
            return cls.from_bytes(source, detail=detail)
        if isinstance(source, Path):
            return cls.from_path(source, detail=detail)
        if source.startswith(("http://", "https://", "data:")):
            return cls.from_url(source, detail=detail)
        if len(source) < 4096 and Path(source).is_file():
            return cls.from_path(source, detail=detail)
        if _b64decode(source) is not None:
            return cls.from_base64(source, detail=detail)
        raise MediaError(
            f"cannot tell what image {source[:40]!r} is: pass a URL, a data URL, a file path, bytes or base64"
        )

    def to_part(self) -> dict[str, Any]:
        url = self.url if self.url is not None else f"data:{self.media_type};base64,{self.data}"
        image: dict[str, Any] = {"url": url}
        if self.detail is not None:
            image["detail"] = self.detail
        return {"type": "image_url", "image_url": image}

    def __repr__(self) -> str:
        if self.url is not None:
            return f"Image(url={self.url!r})"
        return f"Image(media_type={self.media_type!r}, {len(self.data or '') * 3 // 4} bytes)"


@dataclass(frozen=True)
class Audio:
    """Audio input (wav or mp3) for audio-capable deployments, sent as base64."""

    data: str
    format: Literal["wav", "mp3"]

    @classmethod
    def from_bytes(cls, data: bytes, format: Literal["wav", "mp3"] | None = None) -> Audio:
        found = format or _audio_format(data)
        if found not in ("wav", "mp3"):
            raise MediaError("cannot use these bytes as audio: Azure's audio input accepts wav and mp3")
        return cls(base64.b64encode(data).decode(), found)

    @classmethod
    def from_path(cls, path: str | Path) -> Audio:
        path = Path(path)
        data = _read(path, "audio")
        suffix = path.suffix.lower().lstrip(".")
        return cls.from_bytes(data, _audio_format(data) or (suffix if suffix in ("wav", "mp3") else None))  # type: ignore[arg-type]

    @classmethod
    def from_base64(cls, data: str, format: Literal["wav", "mp3"] | None = None) -> Audio:
        raw = _b64decode(data)
        if raw is None:
            raise MediaError("the audio data is not valid base64")
        return cls.from_bytes(raw, format)

    @classmethod
    def autodetect(cls, source: str | bytes | Path) -> Audio:
        if isinstance(source, bytes):
            return cls.from_bytes(source)
        if isinstance(source, Path) or (len(source) < 4096 and Path(source).is_file()):
            return cls.from_path(source)
        return cls.from_base64(source)

    def to_part(self) -> dict[str, Any]:
        return {"type": "input_audio", "input_audio": {"data": self.data, "format": self.format}}

    def __repr__(self) -> str:
        return f"Audio(format={self.format!r}, {len(self.data) * 3 // 4} bytes)"


def _part(item: Any) -> Any:
    if isinstance(item, (Image, Audio)):
        return item.to_part()
    if isinstance(item, str):
        return {"type": "text", "text": item}
    return item


def to_content_parts(messages: Sequence[Any]) -> list[Any]:
    """Messages with `Image` / `Audio` (and bare strings in content lists) turned into content parts.

    Returns the same message objects when there is nothing to convert.
    """
    out: list[Any] = []
    for message in messages:
        if isinstance(message, Mapping):
            content = message.get("content")
            if isinstance(content, (Image, Audio)):
                message = {**message, "content": [content.to_part()]}
            elif isinstance(content, list) and any(isinstance(p, (Image, Audio, str)) for p in content):
                message = {**message, "content": [_part(p) for p in content]}
        out.append(message)
    return out
