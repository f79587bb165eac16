"""instructor's `Image` / `Audio` / `PDF` and its message conversion, through the real SDK against the emulator."""

from __future__ import annotations

import base64
import io
import wave
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncAzureOpenAI, AzureOpenAI
from pydantic import BaseModel

import instructor_az
from instructor_az import PDF, Audio, Image, MediaError, Mode
from instructor_az.emulator import Emulator
from instructor_az.exceptions import MultimodalError
from instructor_az.multimodal import (
    MediaNotFoundError,
    RemoteContent,
    RemoteFetchError,
    autodetect_media,
    convert_contents,
    convert_messages,
    fetch_remote_content,
    probe_remote_content_type,
)

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNk+A8AAQUBAScY42YAAAAASUVORK5CYII="
)
PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 80)
    return out.getvalue()


class Caption(BaseModel):
    text: str


def _sent_content(emulator: Emulator) -> list[dict[str, object]]:
    content = emulator.last_request.body["messages"][-1]["content"]
    assert isinstance(content, list)
    return content


# --- through a call ---------------------------------------------------------------------------------


def test_image_from_path_is_sent_as_a_data_url(
    azure_openai_client: AzureOpenAI, azure_emulator: Emulator, tmp_path: Path
) -> None:
    path = tmp_path / "dot.png"
    path.write_bytes(PNG)
    client = instructor_az.from_openai(azure_openai_client)
    azure_emulator.scripted.push({"text": "a dot"})

    caption = client.chat.completions.create(
        model="gpt-4o",
        response_model=Caption,
        messages=[{"role": "user", "content": ["Describe it", Image.from_path(path, detail="low")]}],
    )

    assert caption == Caption(text="a dot")
    text, image = _sent_content(azure_emulator)
    assert text == {"type": "text", "text": "Describe it"}
    assert image == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode(), "detail": "low"},
    }


def test_image_url_and_audio_without_a_response_model(
    azure_openai_client: AzureOpenAI, azure_emulator: Emulator, tmp_path: Path
) -> None:
    path = tmp_path / "hello.wav"
    path.write_bytes(_wav())
    client = instructor_az.from_openai(azure_openai_client)
    azure_emulator.scripted.push("A picture and a sound.")

    completion = client.chat.completions.create(
        model="gpt-4o",
        response_model=None,
        messages=[
            {
                "role": "user",
                "content": [Image.from_url("https://example.com/cat.jpg"), Audio.from_path(path)],
            }
        ],
    )

    assert completion.choices[0].message.content == "A picture and a sound."
    image, audio = _sent_content(azure_emulator)
    assert image == {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}
    assert audio == {
        "type": "input_audio",
        "input_audio": {"data": base64.b64encode(_wav()).decode(), "format": "wav"},
    }


async def test_async_call_with_a_single_image_as_content(
    async_azure_openai_client: AsyncAzureOpenAI, azure_emulator: Emulator
) -> None:
    client = instructor_az.from_openai(async_azure_openai_client)
    azure_emulator.scripted.push({"text": "a dot"})
    image = Image.autodetect(base64.b64encode(PNG).decode())  # raw base64: the type is read from the bytes

    caption = await client.chat.completions.create(
        model="gpt-4o", response_model=Caption, messages=[{"role": "user", "content": image}]
    )

    assert caption.text == "a dot"
    (part,) = _sent_content(azure_emulator)
    assert part["type"] == "image_url"


# --- instructor's constructors ----------------------------------------------------------------------


def test_from_url_guesses_the_type_from_the_path_without_a_download() -> None:
    image = Image.from_url("https://example.com/a/b.webp?size=2")
    assert (image.source, image.media_type, image.data) == (
        "https://example.com/a/b.webp?size=2",
        "image/webp",
        None,
    )
    pdf = PDF.from_url("https://example.com/report.pdf")
    assert (pdf.media_type, pdf.data) == ("application/pdf", None)


def test_data_urls_and_raw_base64() -> None:
    encoded = base64.b64encode(PNG).decode()
    from_uri = Image.from_url(f"data:image/png;base64,{encoded}")
    assert (from_uri.media_type, from_uri.data) == ("image/png", encoded)
    assert Image.from_raw_base64(encoded).source == encoded
    audio = Audio.from_base64("data:audio/wav;base64," + base64.b64encode(_wav()).decode())
    assert audio.media_type == "audio/wav"
    pdf = PDF.from_base64(base64.b64encode(PDF_BYTES).decode())
    assert pdf.data == base64.b64encode(PDF_BYTES).decode()


def test_autodetect_media_picks_the_kind() -> None:
    assert isinstance(
        autodetect_media("data:application/pdf;base64," + base64.b64encode(PDF_BYTES).decode()), PDF
    )
    assert isinstance(autodetect_media("data:audio/wav;base64," + base64.b64encode(_wav()).decode()), Audio)
    assert isinstance(autodetect_media("data:image/png;base64," + base64.b64encode(PNG).decode()), Image)
    assert autodetect_media("just words") == "just words"
    assert Image.autodetect_safely("just words") == "just words"


def test_file_errors_are_value_errors_and_name_the_problem(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.touch()
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    with pytest.raises(MediaError, match="Image file is empty"):
        Image.from_path(empty)
    with pytest.raises(ValueError, match="Unsupported image format: text/plain"):
        Image.from_path(text)
    with pytest.raises(MediaNotFoundError) as caught:
        PDF.from_path(tmp_path / "missing.pdf")
    assert isinstance(caught.value, FileNotFoundError)
    with pytest.raises(
        MultimodalError, match="Invalid or unsupported base64 image data"
    ):  # instructor's name
        Image.autodetect("not_an_image_input")


def test_audio_azure_cannot_take_is_refused_at_conversion(tmp_path: Path) -> None:
    path = tmp_path / "song.flac"
    path.write_bytes(b"fLaC\x00\x00\x00\x22")
    audio = Audio.from_path(path)  # instructor's Audio holds flac ...
    assert audio.media_type == "audio/flac"
    with pytest.raises(MediaError, match="Expected WAV or MP3"):  # ... Azure's input_audio does not
        audio.to_openai(Mode.TOOLS)


# --- conversion -------------------------------------------------------------------------------------


def test_convert_messages_is_the_request_conversion(tmp_path: Path) -> None:
    path = tmp_path / "q3.pdf"
    path.write_bytes(PDF_BYTES)
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": ["Summarize", PDF.from_path(path)], "name": "ana"},
    ]

    out = convert_messages(messages, Mode.TOOLS)

    assert out[0] == {"role": "system", "content": "Be brief."}
    assert out[1]["name"] == "ana"
    assert out[1]["content"] == [
        {"type": "text", "text": "Summarize"},
        {
            "type": "file",
            "file": {
                "filename": "q3.pdf",
                "file_data": "data:application/pdf;base64," + base64.b64encode(PDF_BYTES).decode(),
            },
        },
    ]
    assert out == instructor_az.dsl.to_content_parts(messages)


def test_responses_modes_get_input_items() -> None:
    encoded = base64.b64encode(PNG).decode()
    parts = convert_contents(["hi", Image.from_raw_base64(encoded)], "responses_tools")
    assert parts == [
        {"type": "input_text", "text": "hi"},
        {"type": "input_image", "image_url": f"data:image/png;base64,{encoded}"},
    ]


def test_other_providers_formats_are_not_served() -> None:
    image = Image.from_url("https://example.com/cat.png")
    with pytest.raises(NotImplementedError, match="OpenAI / Azure OpenAI format only"):
        convert_contents([image], "anthropic_json")
    with pytest.raises(ValueError, match="Unsupported content type"):
        convert_contents([1], Mode.TOOLS)


# --- downloads --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a.wav",
        "http://localhost/a.wav",
        "http://10.1.2.3/a.wav",
        "http://[::1]/a.wav",
        "http://user:secret@example.com/a.wav",
        "file:///etc/passwd",
    ],
)
def test_downloads_are_refused_before_connecting(url: str) -> None:
    with pytest.raises(RemoteFetchError):
        fetch_remote_content(url, max_bytes=1024)
    with pytest.raises(MediaError):
        probe_remote_content_type(url)


def test_audio_from_url_refuses_a_private_host() -> None:
    with pytest.raises(MediaError, match="non-public address"):
        Audio.from_url("http://127.0.0.1:9/a.wav")


def test_the_download_functions_are_the_seam(monkeypatch: pytest.MonkeyPatch) -> None:
    # The documented way to serve media from elsewhere (a cache, an authenticated store, a test).
    served = {
        "https://media.example.com/clip": (_wav(), "audio/wav"),
        "https://media.example.com/doc": (PDF_BYTES, None),
    }
    asked: list[tuple[str, int]] = []

    def fetch(url: str, *, max_bytes: int, timeout: float = 30) -> RemoteContent:
        asked.append((url, max_bytes))
        content, content_type = served[url]
        return RemoteContent(content=content, content_type=content_type, url=url)

    monkeypatch.setattr(instructor_az.multimodal, "fetch_remote_content", fetch)
    monkeypatch.setattr(
        instructor_az.multimodal, "probe_remote_content_type", lambda url, *, timeout=30: "application/pdf"
    )

    audio = Audio.from_url("https://media.example.com/clip")
    pdf = PDF.from_url("https://media.example.com/doc")  # extensionless: its type from the probe
    part = pdf.to_openai(Mode.TOOLS)  # the bytes are downloaded when the part is built

    assert audio.to_openai(Mode.TOOLS)["input_audio"]["format"] == "wav"
    assert part["file"]["file_data"] == "data:application/pdf;base64," + base64.b64encode(PDF_BYTES).decode()
    assert part["file"]["filename"] == "doc"
    assert [url for url, _ in asked] == ["https://media.example.com/clip", "https://media.example.com/doc"]


def test_a_pdf_reaches_the_deployment_in_a_structured_call(
    tmp_path: Path, azure_emulator: Any, azure_openai_client: Any
) -> None:
    path = tmp_path / "invoice.pdf"
    path.write_bytes(PDF_BYTES)
    azure_emulator.scripted.push({"content": "INV-7"})
    number = instructor_az.from_openai(azure_openai_client).chat.completions.create(
        model="gpt-4o",
        response_model=str,
        messages=[{"role": "user", "content": ["The number?", PDF.from_path(path)]}],
    )
    assert number == "INV-7"
    (part,) = [p for p in azure_emulator.last_request.body["messages"][-1]["content"] if p["type"] == "file"]
    assert part["file"] == {
        "filename": "invoice.pdf",
        "file_data": "data:application/pdf;base64," + base64.b64encode(PDF_BYTES).decode(),
    }
