"""`Image`, `Audio` and `PDF`: media inside message content, turned into Azure OpenAI content parts.

```python
messages = [{"role": "user", "content": ["What is in this picture?", Image.from_path("photo.png")]}]
```

The classes are instructor's (`source`, `media_type`, `data`; `from_url`, `from_path`, `from_base64`,
`autodetect`, `to_openai(mode)`, ...). A content list may mix strings, media and the SDK's own part
dicts: strings become text parts, an image an `image_url` part (its URL, or a base64 data URL), audio an
`input_audio` part (wav or mp3), a PDF a `file` part (base64 `file_data`); the Responses modes get
`input_text` / `input_image` / `input_file`. Every request converts its messages with
`to_content_parts`; instructor's `convert_contents` / `convert_messages` are the same conversion.

Downloads (an extensionless image or PDF URL's type, an audio URL's bytes, a PDF URL's bytes when it is
sent) go through `instructor_az.multimodal.fetch_remote_content` / `probe_remote_content_type`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from .._mode import Mode
from ._media_io import (
    TIMEOUT,
    MediaNotFoundError,
    check_http,
    fetch,
    gs_public_url,
    is_file,
    is_responses,
    probe,
    read_file,
    unsupported,
)
from ._media_pdf import PDF
from ._media_remote import MAX_AUDIO_BYTES, MAX_IMAGE_BYTES
from ._media_types import (
    AUDIO_FORMATS,
    AUDIO_MEDIA_TYPES,
    IMAGE_MEDIA_TYPES,
    MediaError,
    audio_alias,
    b64decode,
    b64encode,
    data_url_type,
    guess_media_type,
    normalize_media_type,
    sniff_audio,
    sniff_image,
    split_data_url,
)

__all__ = [
    "PDF",
    "Audio",
    "Image",
    "MediaError",
    "MediaNotFoundError",
    "autodetect_media",
    "convert_contents",
    "convert_messages",
    "to_content_parts",
]

Detail = Literal["auto", "low", "high"]


# --- Image ------------------------------------------------------------------------------------------


class Image(BaseModel):
    """An image for a vision deployment: a URL (sent as it is) or base64 data with its media type."""

    source: str | Path | bytes = Field(description="URL, file path, base64 data, or raw bytes of the image")
    media_type: str = Field(description="MIME type of the image")
    data: str | None = Field(None, description="Base64 encoded image data", repr=False)
    detail: Detail | None = Field(None, description="Azure's image detail level (auto, low, high)")

    @classmethod
    def is_base64(cls, s: str) -> bool:
        """Whether `s` is a base64 data URL of an image (`data:image/...;base64,`)."""
        return data_url_type(s, "image/") is not None

    @classmethod
    def autodetect(cls, source: str | Path | bytes, *, detail: Detail | None = None) -> Image:
        """An image from a data URL, an http(s) or gs:// URL, a file path, raw base64 or bytes."""
        if isinstance(source, str):
            if cls.is_base64(source):
                return cls.from_base64(source, detail=detail)
            if source.startswith(("http://", "https://")):
                return cls.from_url(source, detail=detail)
            if source.startswith("gs://"):
                return cls.from_gs_url(source, detail=detail)
            if is_file(source):
                return cls.from_path(source, detail=detail)
            return cls.from_raw_base64(source, detail=detail)
        if isinstance(source, Path):
            return cls.from_path(source, detail=detail)
        if isinstance(source, bytes):
            return cls.from_bytes(source, detail=detail)
        raise MediaError(f"Unsupported image source type: {type(source).__name__}")

    @classmethod
    def autodetect_safely(cls, source: str | Path | bytes) -> Image | str:
        """`autodetect(source)`, or `str(source)` when it is no usable image."""
        try:
            return cls.autodetect(source)
        except ValueError:
            return str(source)

    @classmethod
    def from_base64(cls, data_uri: str, *, detail: Detail | None = None) -> Image:
        """An image from a data URL (`data:image/png;base64,...`); raw base64 is sniffed instead."""
        if not data_uri.startswith("data:"):
            return cls.from_raw_base64(data_uri, detail=detail)
        media_type, payload = split_data_url(data_uri)
        if media_type not in IMAGE_MEDIA_TYPES:
            raise unsupported("image", media_type, IMAGE_MEDIA_TYPES)
        return cls(source=data_uri, media_type=media_type, data=payload, detail=detail)

    @classmethod
    def from_raw_base64(cls, data: str, *, detail: Detail | None = None) -> Image:
        """An image from base64 without a header; its type is read from its first bytes."""
        raw = b64decode(data)
        media_type = sniff_image(raw) if raw is not None else None
        if media_type is None:
            raise MediaError("Invalid or unsupported base64 image data: expected a PNG, JPEG, GIF or WEBP")
        return cls(source=data, media_type=media_type, data=data, detail=detail)

    @classmethod
    def from_bytes(cls, data: bytes, media_type: str | None = None, *, detail: Detail | None = None) -> Image:
        """An image from its bytes; the type is read from them unless given."""
        found = normalize_media_type(media_type) or sniff_image(data)
        if found not in IMAGE_MEDIA_TYPES:
            raise unsupported("image", found, IMAGE_MEDIA_TYPES)
        encoded = b64encode(data)
        return cls(source=encoded, media_type=found, data=encoded, detail=detail)

    @classmethod
    def from_url(cls, url: str, *, detail: Detail | None = None) -> Image:
        """An image by URL, sent as the URL; an extensionless URL's type is asked with a HEAD request.
        A data URL or a gs:// URL (public bucket, downloaded) works too."""
        if url.startswith("gs://"):
            return cls.from_gs_url(url, detail=detail)
        if url.startswith("data:"):
            return cls.from_base64(url, detail=detail)
        check_http(url, "image")
        media_type = guess_media_type(urlsplit(url).path) or probe(url, "image")
        if media_type not in IMAGE_MEDIA_TYPES:
            raise unsupported("image", media_type, IMAGE_MEDIA_TYPES)
        return cls(source=url, media_type=media_type, data=None, detail=detail)

    @classmethod
    def from_gs_url(cls, data_uri: str, timeout: int = TIMEOUT, *, detail: Detail | None = None) -> Image:
        """An image in a public Google Cloud Storage bucket (gs://bucket/key), downloaded as base64."""
        response = fetch(gs_public_url(data_uri), MAX_IMAGE_BYTES, "image", timeout)
        media_type = normalize_media_type(response.content_type) or sniff_image(response.content)
        if media_type not in IMAGE_MEDIA_TYPES:
            raise unsupported("image", media_type, IMAGE_MEDIA_TYPES)
        return cls(source=data_uri, media_type=media_type, data=b64encode(response.content), detail=detail)

    @classmethod
    def from_path(cls, path: str | Path, *, detail: Detail | None = None) -> Image:
        """An image file, sent as base64; its type from its bytes, else from its suffix."""
        path = Path(path)
        content = read_file(path, "image")
        media_type = sniff_image(content) or guess_media_type(path)
        if media_type not in IMAGE_MEDIA_TYPES:
            raise unsupported("image", media_type, IMAGE_MEDIA_TYPES)
        return cls(source=path, media_type=media_type, data=b64encode(content), detail=detail)

    @staticmethod
    def url_to_base64(url: str) -> str:
        """Download an image URL (bounded, public hosts only) and return its base64."""
        return b64encode(fetch(url, MAX_IMAGE_BYTES, "image").content)

    def _url(self) -> str:
        source = self.source
        if isinstance(source, str) and source.startswith(("http://", "https://")):
            return source
        if self.data:
            return f"data:{self.media_type};base64,{self.data}"
        if isinstance(source, str) and self.is_base64(source):
            return source
        raise MediaError(
            "Image data is missing for base64 encoding: give a URL, data, or use Image.from_path"
        )

    def to_openai(self, mode: Mode | str = Mode.TOOLS) -> dict[str, Any]:
        """The chat completions `image_url` part (or the Responses `input_image` item)."""
        if is_responses(mode):
            item: dict[str, Any] = {"type": "input_image", "image_url": self._url()}
            if self.detail is not None:
                item["detail"] = self.detail
            return item
        image: dict[str, Any] = {"url": self._url()}
        if self.detail is not None:
            image["detail"] = self.detail
        return {"type": "image_url", "image_url": image}


# --- Audio ------------------------------------------------------------------------------------------


def _audio_type(media_type: str | None, content: bytes | None) -> str:
    found = audio_alias(normalize_media_type(media_type))
    if found not in AUDIO_MEDIA_TYPES and content is not None:
        found = sniff_audio(content) or found
    if found not in AUDIO_MEDIA_TYPES:
        raise unsupported("audio", found, AUDIO_MEDIA_TYPES)
    return found


class Audio(BaseModel):
    """Audio input for audio-capable deployments (`gpt-4o-audio-preview`), sent as base64 wav or mp3."""

    source: str | Path = Field(description="URL or file path of the audio")
    data: str | None = Field(None, description="Base64 encoded audio data", repr=False)
    media_type: str = Field(description="MIME type of the audio")

    @classmethod
    def is_base64(cls, s: str) -> bool:
        """Whether `s` is a base64 data URL of audio (`data:audio/...;base64,`)."""
        return data_url_type(s, "audio/") is not None

    @classmethod
    def autodetect(cls, source: str | Path | bytes) -> Audio:
        """Audio from a data URL, an http(s) or gs:// URL, a file path, raw base64 or bytes."""
        if isinstance(source, bytes):
            return cls.from_bytes(source)
        if isinstance(source, Path):
            return cls.from_path(source)
        if isinstance(source, str):
            if cls.is_base64(source):
                return cls.from_base64(source)
            if source.startswith(("http://", "https://", "gs://")):
                return cls.from_url(source)
            if is_file(source):
                return cls.from_path(source)
            raw = b64decode(source)
            if raw is not None and sniff_audio(raw) is not None:
                return cls.from_bytes(raw)
            raise MediaError(
                f"Unable to determine audio source: {source[:40]!r} is no URL, file or wav/mp3 base64"
            )
        raise MediaError(f"Unsupported audio source type: {type(source).__name__}")

    @classmethod
    def autodetect_safely(cls, source: str | Path | bytes) -> Audio | str:
        """`autodetect(source)`, or `str(source)` when it is no usable audio."""
        try:
            return cls.autodetect(source)
        except ValueError:
            return str(source)

    @classmethod
    def from_base64(cls, data_uri: str) -> Audio:
        """Audio from a data URL (`data:audio/wav;base64,...`); raw base64 must be wav or mp3."""
        if not data_uri.startswith("data:"):
            raw = b64decode(data_uri)
            if raw is None:
                raise MediaError("the audio data is neither a data URL nor valid base64")
            return cls(source=data_uri, data=data_uri, media_type=_audio_type(None, raw))
        media_type, payload = split_data_url(data_uri)
        return cls(source=data_uri, data=payload, media_type=_audio_type(media_type, None))

    @classmethod
    def from_bytes(cls, data: bytes, media_type: str | None = None) -> Audio:
        """Audio from its bytes; wav and mp3 are recognized, other types must be given."""
        encoded = b64encode(data)
        return cls(source=encoded, data=encoded, media_type=_audio_type(media_type, data))

    @classmethod
    def from_url(cls, url: str) -> Audio:
        """Audio downloaded from an http(s) URL (bounded, public hosts only), or a gs:// / data URL."""
        if url.startswith("gs://"):
            return cls.from_gs_url(url)
        if url.startswith("data:"):
            return cls.from_base64(url)
        check_http(url, "audio")
        response = fetch(url, MAX_AUDIO_BYTES, "audio")
        media_type = _audio_type(response.content_type, response.content)
        return cls(source=url, data=b64encode(response.content), media_type=media_type)

    @classmethod
    def from_gs_url(cls, data_uri: str, timeout: int = TIMEOUT) -> Audio:
        """Audio in a public Google Cloud Storage bucket (gs://bucket/key), downloaded as base64."""
        response = fetch(gs_public_url(data_uri), MAX_AUDIO_BYTES, "audio", timeout)
        media_type = _audio_type(response.content_type, response.content)
        return cls(source=data_uri, data=b64encode(response.content), media_type=media_type)

    @classmethod
    def from_path(cls, path: str | Path) -> Audio:
        """An audio file, sent as base64; its type from its suffix, else from its bytes."""
        path = Path(path)
        content = read_file(path, "audio")
        return cls(
            source=str(path), data=b64encode(content), media_type=_audio_type(guess_media_type(path), content)
        )

    def to_openai(self, mode: Mode | str = Mode.TOOLS) -> dict[str, Any]:
        """The chat completions `input_audio` part: Azure takes wav and mp3 only."""
        if is_responses(mode):
            raise MediaError("Azure's Responses API takes no audio input; use a chat completions mode")
        audio_format = AUDIO_FORMATS.get(self.media_type.lower())
        if audio_format is None:
            raise MediaError(
                f"Unsupported OpenAI audio format: {self.media_type or 'unknown'}. Expected WAV or MP3 "
                "(Azure's input_audio takes wav and mp3)."
            )
        if not self.data:
            raise MediaError("Audio data is missing: use Audio.from_path, from_url or from_base64")
        return {"type": "input_audio", "input_audio": {"data": self.data, "format": audio_format}}


# --- content conversion: one path for requests and for instructor's helpers --------------------------

_MEDIA = (Image, Audio, PDF)
_OTHER_PROVIDERS = ("anthropic", "gemini", "genai", "vertexai")


def _media_part(item: Image | Audio | PDF, mode: Any) -> dict[str, Any]:
    name = str(getattr(mode, "value", mode)).lower()
    if name.startswith(_OTHER_PROVIDERS) or (name.startswith("mistral") and isinstance(item, PDF)):
        raise NotImplementedError(
            f"{type(item).__name__} in mode {name!r}: instructor-az converts media to the OpenAI / Azure "
            "OpenAI format only (Mode.TOOLS, Mode.JSON_SCHEMA, ...)"
        )
    return item.to_openai(mode)


def _part(item: Any, mode: Any, strict: bool) -> Any:
    if isinstance(item, str):
        return {"type": "input_text" if is_responses(mode) else "text", "text": item}
    if isinstance(item, _MEDIA):
        return _media_part(item, mode)
    if isinstance(item, Mapping) or not strict:
        return item
    raise MediaError(
        f"Unsupported content type: {type(item)}; content parts are strings, Image, Audio, PDF or part dicts"
    )


def convert_contents(contents: Any, mode: Mode | str = Mode.TOOLS) -> str | list[Any]:
    """Message content as Azure takes it: a string stays a string; media, part dicts and strings in a
    list become content parts (a single Image / Audio / PDF / dict becomes a one-part list)."""
    if isinstance(contents, str):
        return contents
    if isinstance(contents, (*_MEDIA, Mapping)):
        contents = [contents]
    return [_part(item, mode, strict=True) for item in contents]


def autodetect_media(source: Any) -> Image | Audio | PDF | str:
    """An `Image`, `Audio` or `PDF` for a data URL, URL or file path (by its type, else by trying each),
    or the source itself as a string when it is none of them."""
    if isinstance(source, _MEDIA):
        return source
    text = str(source)
    kinds: tuple[type[Image] | type[Audio] | type[PDF], ...] = _MEDIA
    if text.startswith("data:"):
        family = text[5:].split(";", 1)[0].lower()
        kinds = tuple(k for k in _MEDIA if family.startswith(_FAMILY[k]))
    else:
        guessed = guess_media_type(urlsplit(text).path if "://" in text else text)
        if guessed is not None:
            kinds = tuple(k for k in _MEDIA if guessed.startswith(_FAMILY[k])) or _MEDIA
    for kind in kinds:
        found = kind.autodetect_safely(text)
        if not isinstance(found, str):
            return found
    return text


_FAMILY: dict[type[Image] | type[Audio] | type[PDF], str] = {
    Image: "image/",
    Audio: "audio/",
    PDF: "application/pdf",
}


def _autodetected(content: Any) -> Any:
    def one(item: Any) -> Any:
        if isinstance(item, str):
            return autodetect_media(item)
        if isinstance(item, Mapping) and item.get("type") == "image" and "source" in item:
            return Image.autodetect(item["source"])  # an image-params dict; cache_control is Anthropic's
        return item

    return [one(item) for item in content] if isinstance(content, list) else one(content)


def convert_messages(
    messages: Sequence[Mapping[str, Any]], mode: Mode | str = Mode.TOOLS, autodetect_images: bool = False
) -> list[dict[str, Any]]:
    """instructor's message conversion: each message's content through `convert_contents`.

    With `autodetect_images=True`, strings that are media (data URLs, media URLs, file paths) become
    `Image` / `Audio` / `PDF` first. Messages of `type` "image" / "audio" pass through unchanged.
    """
    out: list[dict[str, Any]] = []
    for message in messages:
        if "type" in message:
            if message["type"] in ("audio", "image"):
                out.append(dict(message))
                continue
            raise MediaError(f"Unsupported message type: {message['type']}")
        content = message["content"] or []
        if autodetect_images:
            content = _autodetected(content)
        rest = {k: v for k, v in message.items() if k not in ("role", "content", "type")}
        converted = content if isinstance(content, str) else convert_contents(content, mode)
        out.append({"role": message["role"], "content": converted, **rest})
    return out


def to_content_parts(messages: Sequence[Any]) -> list[Any]:
    """Messages with `Image` / `Audio` / `PDF` (and bare strings in content lists) turned into chat
    completions content parts; what is not a dict message, or has nothing to convert, is kept as it is."""
    out: list[Any] = []
    for message in messages:
        if isinstance(message, Mapping):
            content = message.get("content")
            if isinstance(content, _MEDIA):
                message = {**message, "content": [_media_part(content, Mode.TOOLS)]}
            elif isinstance(content, list) and any(isinstance(p, (*_MEDIA, str)) for p in content):
                message = {**message, "content": [_part(p, Mode.TOOLS, strict=False) for p in content]}
        out.append(message)
    return out
