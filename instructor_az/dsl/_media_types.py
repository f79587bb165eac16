"""What a piece of media is: its error type, the media types Azure takes, and sniffing by content.

Shared by the media classes (`_multimodal`) and the bounded downloader (`_media_remote`).
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import re
from pathlib import PurePath

from .._errors import ConfigurationError, MultimodalError


class MediaError(ConfigurationError, MultimodalError):
    """An image, audio or PDF source that cannot be used: unreadable, empty, of an unsupported
    type, or a download that was refused or failed. Also instructor's `MultimodalError` (a `ValueError`)."""


# Vision deployments accept these (Azure OpenAI "image input" docs; instructor's list too).
IMAGE_MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
# What an `Audio` may hold; Azure's `input_audio` part itself takes wav and mp3 only (see AUDIO_FORMATS).
AUDIO_MEDIA_TYPES = (
    "audio/aac",
    "audio/flac",
    "audio/mp3",
    "audio/m4a",
    "audio/mpeg",
    "audio/mpga",
    "audio/mp4",
    "audio/opus",
    "audio/pcm",
    "audio/wav",
    "audio/webm",
)
AUDIO_FORMATS = {
    "audio/mp3": "mp3",
    "audio/mpeg": "mp3",
    "audio/mpga": "mp3",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
}
PDF_MEDIA_TYPES = ("application/pdf",)

# Suffixes whose type the platform's mimetypes table may lack or spell differently.
_SUFFIX_TYPES = {
    ".webp": "image/webp",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/m4a",
    ".flac": "audio/flac",
    ".opus": "audio/opus",
    ".aac": "audio/aac",
    ".pdf": "application/pdf",
}
_AUDIO_ALIASES = {"audio/x-wav": "audio/wav", "audio/wave": "audio/wav", "audio/vnd.dlna.adts": "audio/aac"}

_DATA_URL = re.compile(r"^data:(?P<type>[a-zA-Z]+/[a-zA-Z0-9.+-]+);base64,", re.ASCII)


def normalize_media_type(media_type: str | None) -> str | None:
    """`Image/PNG; charset=x` -> `image/png`; None stays None."""
    if media_type is None:
        return None
    return media_type.split(";", 1)[0].strip().lower()


def guess_media_type(name: str | PurePath) -> str | None:
    """The media type a file name or URL path suggests, from its suffix (None when it has none)."""
    suffix = PurePath(str(name)).suffix.lower()
    if not suffix:
        return None
    return audio_alias(_SUFFIX_TYPES.get(suffix) or mimetypes.guess_type("x" + suffix)[0])


def audio_alias(media_type: str | None) -> str | None:
    """`audio/x-wav` (and other platform spellings) as the type Azure's list uses."""
    return _AUDIO_ALIASES.get(media_type or "", media_type)


def data_url_type(text: str, family: str) -> str | None:
    """The media type of a base64 data URL whose type starts with `family` (`image/`, `audio/`, ...)."""
    match = _DATA_URL.match(text)
    if match is None or not match["type"].lower().startswith(family):
        return None
    return match["type"].lower()


def split_data_url(data_url: str) -> tuple[str, str]:
    """(media type, base64 payload) of `data:<type>;base64,<payload>`."""
    header, sep, payload = data_url.partition(",")
    if not sep or not header.startswith("data:") or not header.endswith(";base64"):
        raise MediaError(f"not a base64 data URL (data:<type>;base64,...): {data_url[:40]!r}")
    return header[5:].split(";", 1)[0].strip().lower(), payload


def b64decode(text: str) -> bytes | None:
    """The bytes of strict base64 text, or None when it is not base64."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def sniff_image(data: bytes) -> str | None:
    """The image type its first bytes show (PNG, JPEG, GIF, WEBP), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def sniff_audio(data: bytes) -> str | None:
    """`audio/wav` or `audio/mpeg` when the first bytes show a RIFF/WAVE or an MP3 (ID3 tag or frame sync)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and (data[1] & 0xE0) == 0xE0):
        return "audio/mpeg"
    return None


def is_pdf(data: bytes) -> bool:
    return data.startswith(b"%PDF-")
