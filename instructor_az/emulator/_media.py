"""Images and audio: Azure's DALL-E, text-to-speech and Whisper routes (checks and answers).

Pure functions only: `_app.EmulatorApp` runs them inside the same pipeline as chat. Sources: the
inference specs in Azure/azure-rest-api-specs (`stable/2024-02-01/inference.json` for images,
transcriptions and translations, `preview/2024-02-15-preview` for speech) and the openai-python Azure
samples (the image response shape). Generated media are tiny and deterministic; see each builder.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import math
import struct
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _wire as wire
from ._api_versions import at_least
from ._audio_files import SAMPLE_RATE, adts_aac_file, flac_file, mp3_file, ogg_opus_file, wav_file
from ._deployments import Deployment

JSON = dict[str, Any]

# The route names `EmulatorApp` uses; translations run on a transcription (whisper) deployment.
IMAGES, SPEECH, TRANSCRIPTIONS, TRANSLATIONS = "images", "speech", "transcriptions", "translations"
OPERATIONS = (IMAGES, SPEECH, TRANSCRIPTIONS, TRANSLATIONS)
MULTIPART = (TRANSCRIPTIONS, TRANSLATIONS)
DEPLOYMENT_KIND = {
    IMAGES: "images",
    SPEECH: "speech",
    TRANSCRIPTIONS: "transcriptions",
    TRANSLATIONS: "transcriptions",
}
# Operation ids of the inference spec (Speech_Create is this emulator's guess: not in the GA spec).
OPERATION_IDS = {
    IMAGES: "ImageGenerations_Create",
    SPEECH: "Speech_Create",
    TRANSCRIPTIONS: "Transcriptions_Create",
    TRANSLATIONS: "Translations_Create",
}
OPERATION_LABELS = {
    IMAGES: "imageGeneration",
    SPEECH: "audioSpeech",
    TRANSCRIPTIONS: "audioTranscription",
    TRANSLATIONS: "audioTranslation",
}

DEFAULT_TRANSCRIPT = "Testing, testing, one, two, three."

# --- api-versions -----------------------------------------------------------------------------------

# First dated api-version with each route: the sync DALL-E 3 route arrived in 2023-12-01-preview (the
# older previews had the async dall-e-2 `images/generations:submit`), Whisper in 2023-09-01-preview.
_ROUTE_SINCE = {
    IMAGES: "2023-12-01-preview",
    TRANSCRIPTIONS: "2023-09-01-preview",
    TRANSLATIONS: "2023-09-01-preview",
}
# Text to speech is preview-only: the Azure samples say it needs a preview api-version even after
# the 2024-10-21 GA; the spec first has it in 2024-02-15-preview.
_SPEECH_SINCE = "2024-02-15-preview"


def check_route_version(operation: str, api_version: str | None, extra: frozenset[str]) -> None:
    """404 for a route the api-version does not have, as for any path Azure does not serve."""
    if api_version is None or api_version in extra:
        return  # v1 routes, and api-versions the user added, serve everything
    if operation == SPEECH:
        ok = api_version.endswith("-preview") and at_least(api_version, _SPEECH_SINCE)
    else:
        ok = at_least(api_version, _ROUTE_SINCE[operation])
    if not ok:
        raise wire.resource_not_found()


# --- multipart/form-data ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Form:
    """A parsed multipart body: text fields and uploaded files."""

    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, Upload] = field(default_factory=dict)

    def record(self) -> JSON:
        """What `RecordedRequest.body` shows: the fields, with each file summarized (not its bytes)."""
        out: JSON = dict(self.fields)
        for name, upload in self.files.items():
            out[name] = {
                "filename": upload.filename,
                "size": len(upload.data),
                "content_type": upload.content_type,
            }
        return out


def parse_multipart(content_type: str | None, raw: bytes) -> Form:
    """Parse multipart/form-data with the stdlib MIME parser (no python-multipart dependency)."""
    if not content_type or not content_type.lower().startswith("multipart/form-data"):
        raise wire.invalid_request(
            f"Invalid Content-Type header ({content_type or 'none'}), expected multipart/form-data.",
            code="invalid_content_type",
        )
    header = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + raw)
    if not message.is_multipart() or message.defects:
        raise wire.invalid_request("Could not parse multipart form", code="invalid_multipart")
    fields: dict[str, str] = {}
    files: dict[str, Upload] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = Upload(filename, part.get_content_type(), data)
        else:
            fields[name] = data.decode("utf-8", errors="replace")
    return Form(fields, files)


# --- shared checks ----------------------------------------------------------------------------------


def _choice(body: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, str):
        raise wire.invalid_type(name, "a string", value)
    if value not in allowed:
        raise wire.invalid_value(
            name,
            f"Invalid value: '{value}'. Supported values are: {', '.join(repr(a) for a in allowed)}.",
        )
    return value


def _required_text(body: Mapping[str, Any], name: str) -> str:
    if name not in body or body[name] is None:
        raise wire.missing_parameter(name)
    value = body[name]
    if not isinstance(value, str):
        raise wire.invalid_type(name, "a string", value)
    return value


def _number(body: Mapping[str, Any], name: str, low: float, high: float, default: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, str):  # multipart fields arrive as text
        try:
            value = float(value)
        except ValueError:
            raise wire.invalid_type(name, "a decimal", value) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise wire.invalid_type(name, "a decimal", value)
    if value > high:
        raise wire.invalid_request(
            f"Invalid '{name}': decimal above maximum value. Expected a value <= {high}, but got {value} instead.",
            param=name,
            code="decimal_above_max_value",
        )
    if value < low:
        raise wire.invalid_request(
            f"Invalid '{name}': decimal below minimum value. Expected a value >= {low}, but got {value} instead.",
            param=name,
            code="decimal_below_min_value",
        )
    return float(value)


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()


# --- images/generations -----------------------------------------------------------------------------

_SIZES = ("1024x1024", "1792x1024", "1024x1792")
# A hostname under the reserved `.invalid` TLD: the URL looks like Azure's blob SAS link but can never
# resolve, so nothing downloads someone else's file by accident.
IMAGE_HOST = "https://dalle.emulator.invalid"


@dataclass(frozen=True)
class ImageParams:
    prompt: str
    n: int
    size: str
    quality: str
    style: str
    response_format: str


def validate_images(body: Mapping[str, Any], deployment: Deployment) -> ImageParams:
    """Raise the `AzureError` Azure answers this DALL-E 3 request with, if any."""
    prompt = _required_text(body, "prompt")
    if not prompt.strip():
        raise wire.invalid_value(
            "prompt", "Invalid 'prompt': string too short. Expected a string with minimum length 1."
        )
    if len(prompt) > 4000:
        raise wire.invalid_value(
            "prompt",
            f"Invalid 'prompt': string too long. Expected a string with maximum length 4000, but got {len(prompt)}.",
        )
    n = body.get("n", 1)
    if n is None:
        n = 1
    if isinstance(n, bool) or not isinstance(n, int):
        raise wire.invalid_type("n", "an integer", n)
    if n != 1:  # DALL-E 3 makes one image per request
        raise wire.invalid_value("n", f"Invalid 'n': {deployment.model} only supports n=1, got {n}.")
    return ImageParams(
        prompt=prompt,
        n=n,
        size=_choice(body, "size", _SIZES, "1024x1024"),
        quality=_choice(body, "quality", ("standard", "hd"), "standard"),
        style=_choice(body, "style", ("vivid", "natural"), "vivid"),
        response_format=_choice(body, "response_format", ("url", "b64_json"), "url"),
    )


def _image_prompt_filter_results(flagged: Mapping[str, str] | None = None) -> JSON:
    # The per-image `prompt_filter_results` object of the Azure sample: harm categories and profanity.
    flagged = flagged or {}
    out: JSON = {}
    for name in ("hate", "profanity", "self_harm", "sexual", "violence"):
        out[name] = wire.category_result(name, filtered=name in flagged, severity=flagged.get(name, "safe"))
    return out


def revised_prompt(params: ImageParams) -> str:
    """DALL-E 3 always rewrites the prompt; the emulator's rewrite is deterministic and says what it used."""
    return f"{params.prompt.strip().rstrip('.')}, in a {params.style} style at {params.quality} quality."


def image_response(params: ImageParams, *, created: int | None = None) -> JSON:
    key = _digest(params.prompt, params.size, params.quality, params.style)
    item: JSON = {}
    if params.response_format == "b64_json":
        item["b64_json"] = base64.b64encode(png_image(key)).decode("ascii")
    else:
        item["url"] = f"{IMAGE_HOST}/private/images/{key.hex()[:32]}/generated_00.png"
    item["revised_prompt"] = revised_prompt(params)
    item["content_filter_results"] = wire.completion_filter_results(protected_material=False)
    item["prompt_filter_results"] = _image_prompt_filter_results()
    return {"created": int(time.time()) if created is None else created, "data": [item]}


def image_prompt_filtered(flagged: Mapping[str, str], params: ImageParams | None = None) -> wire.AzureError:
    """DALL-E's content-policy 400: `content_policy_violation` with `inner_error` (not chat's `innererror`)."""
    results: JSON = {}
    for name in ("hate", "jailbreak", "profanity", "self_harm", "sexual", "violence"):
        results[name] = wire.category_result(
            name, filtered=name in flagged, severity=flagged.get(name, "safe")
        )
    for name, severity in flagged.items():
        results.setdefault(name, wire.category_result(name, filtered=True, severity=severity))
    inner: JSON = {"code": "ResponsibleAIPolicyViolation", "content_filter_results": results}
    if params is not None:
        inner["revised_prompt"] = revised_prompt(params)
    return wire.AzureError(
        400,
        {
            "error": {
                "code": "content_policy_violation",
                "inner_error": inner,
                "message": "Your request was rejected as a result of our safety system. Your prompt may contain "
                "text that is not allowed by our safety system.",
                "type": "invalid_request_error",
            }
        },
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_image(seed: bytes, width: int = 8, height: int = 8) -> bytes:
    """A real 8x8 RGB PNG (not the requested size: tests need a decodable image, not megabytes).

    The colours are a gradient derived from `seed`, so the same request gives the same bytes.
    """
    r0, g0, b0 = seed[0], seed[1], seed[2]
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type None for each scanline
        for x in range(width):
            rows += bytes(((r0 + 16 * x) % 256, (g0 + 16 * y) % 256, (b0 + 8 * (x + y)) % 256))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit truecolour, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + _png_chunk(b"IEND", b"")
    )


# --- audio/speech -----------------------------------------------------------------------------------

# tts-1 / tts-1-hd voices (the newer ballad, verse, marin and cedar are gpt-4o-mini-tts only).
VOICES = ("alloy", "ash", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer")
SPEECH_FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}


@dataclass(frozen=True)
class SpeechParams:
    input: str
    voice: str
    response_format: str
    speed: float


def validate_speech(body: Mapping[str, Any]) -> SpeechParams:
    text = _required_text(body, "input")
    if len(text) > 4096:
        raise wire.invalid_value(
            "input",
            f"Invalid 'input': string too long. Expected a string with maximum length 4096, but got {len(text)}.",
        )
    if "voice" not in body or body["voice"] is None:
        raise wire.missing_parameter("voice")
    return SpeechParams(
        input=text,
        voice=_choice(body, "voice", VOICES, "alloy"),
        response_format=_choice(body, "response_format", SPEECH_FORMATS, "mp3"),
        speed=_number(body, "speed", 0.25, 4.0, 1.0),
    )


def speech_seconds(params: SpeechParams) -> float:
    """A short, deterministic length: 0.05 s a word at speed 1, between 0.1 s and 2 s."""
    words = max(len(params.input.split()), 1)
    return min(max(0.05 * words / params.speed, 0.1), 2.0)


def speech_audio(params: SpeechParams) -> tuple[bytes, str]:
    """The audio bytes and their content type. Every format is a real (tiny) file of that format."""
    seconds = speech_seconds(params)
    fmt = params.response_format
    if fmt == "wav":
        audio = wav_file(_tone(seconds, params.voice))
    elif fmt == "pcm":
        audio = _tone(seconds, params.voice)  # raw 16-bit little-endian mono samples, no header
    elif fmt == "mp3":
        audio = mp3_file(seconds)
    elif fmt == "opus":
        audio = ogg_opus_file(seconds)
    elif fmt == "aac":
        audio = adts_aac_file(seconds)
    else:
        audio = flac_file(_tone(seconds, params.voice))
    return audio, CONTENT_TYPES[fmt]


def _tone(seconds: float, voice: str) -> bytes:
    # A quiet sine whose pitch depends on the voice, so voices give different (but fixed) audio.
    pitch = 180 + 20 * VOICES.index(voice) if voice in VOICES else 220
    count = int(SAMPLE_RATE * seconds)
    return b"".join(
        struct.pack("<h", round(3000 * math.sin(2 * math.pi * pitch * i / SAMPLE_RATE))) for i in range(count)
    )


# --- audio/transcriptions and audio/translations ----------------------------------------------------

TRANSCRIPT_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")


@dataclass(frozen=True)
class TranscriptionParams:
    filename: str
    size: int
    language: str | None
    prompt: str | None
    response_format: str
    temperature: float


def validate_transcription(form: Form) -> TranscriptionParams:
    upload = form.files.get("file")
    if upload is None:
        if "file" in form.fields:
            raise wire.invalid_request(
                "Invalid file format: 'file' must be an uploaded file.", param="file", code="invalid_value"
            )
        raise wire.missing_parameter("file")
    if not upload.data:
        raise wire.invalid_request("The audio file is empty.", param="file", code="invalid_value")
    return TranscriptionParams(
        filename=upload.filename,
        size=len(upload.data),
        language=form.fields.get("language") or None,
        prompt=form.fields.get("prompt") or None,
        response_format=_choice(form.fields, "response_format", TRANSCRIPT_FORMATS, "json"),
        temperature=_number(form.fields, "temperature", 0, 1, 0),
    )


def transcript_seconds(text: str) -> float:
    # About 2.5 words a second, as people speak.
    return round(max(len(text.split()), 1) * 0.4, 2)


def _timestamp(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def transcription_body(params: TranscriptionParams, text: str, operation: str) -> tuple[str | JSON, str]:
    """The answer in the requested format, and its content type (JSON, or text for text/srt/vtt)."""
    fmt = params.response_format
    seconds = transcript_seconds(text)
    if fmt == "json":
        return {"text": text}, "application/json"
    if fmt == "text":
        return text, "text/plain"
    if fmt == "srt":
        return f"1\n{_timestamp(0, ',')} --> {_timestamp(seconds, ',')}\n{text}\n\n", "text/plain"
    if fmt == "vtt":
        return f"WEBVTT\n\n{_timestamp(0, '.')} --> {_timestamp(seconds, '.')}\n{text}\n\n", "text/plain"
    language = (
        "english"
        if operation == TRANSLATIONS
        else _LANGUAGES.get(params.language or "en", params.language or "english")
    )
    segment = {
        "id": 0,
        "seek": 0,
        "start": 0.0,
        "end": seconds,
        "text": text,
        "tokens": [int.from_bytes(_digest(word)[:2], "big") for word in text.split()],
        "temperature": params.temperature,
        "avg_logprob": -0.25,
        "compression_ratio": 0.9,
        "no_speech_prob": 0.01,
    }
    return {
        "task": "translate" if operation == TRANSLATIONS else "transcribe",
        "language": language,
        "duration": seconds,
        "text": text,
        "segments": [segment],
    }, "application/json"


# Whisper reports the language's English name in verbose_json; the common ISO-639-1 codes.
_LANGUAGES = {
    "en": "english",
    "de": "german",
    "es": "spanish",
    "fr": "french",
    "it": "italian",
    "ja": "japanese",
    "ko": "korean",
    "nl": "dutch",
    "pt": "portuguese",
    "ru": "russian",
    "zh": "chinese",
}
