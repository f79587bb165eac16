"""Images and audio through the real openai SDK: the Azure samples (seed 001) run as written."""

from __future__ import annotations

import base64
import io
import struct
import wave
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from openai import AzureOpenAI

from instructor_az.emulator import DEFAULT_ENDPOINT, Emulator, Fault

PREVIEW = "2024-10-01-preview"  # what the samples set for audio.speech
GA = "2024-10-21"
TRANSCRIPT = "Testing, testing, one, two, three."


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emulator = Emulator()
    yield emulator
    emulator.close()


@pytest.fixture
def client(emulator: Emulator) -> AzureOpenAI:
    return emulator.client(api_version=PREVIEW)


@pytest.fixture
def audio_path(tmp_path: Path) -> Path:
    path = tmp_path / "speech1.mp3"
    path.write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x94\xc4" + bytes(380))
    return path


# --- seed 001's samples, unchanged --------------------------------------------------------------------


def test_images_generate_sample(client: AzureOpenAI, emulator: Emulator) -> None:
    generate_image = client.images.generate(
        model="dall-e-3",
        prompt="A rabbit eating pancakes",
        n=1,
        size="1024x1024",
        quality="hd",
        response_format="url",
        style="vivid",
    )
    body = generate_image.model_dump()
    assert isinstance(body["created"], int)
    (image,) = body["data"]
    assert image["url"].startswith("https://")
    assert image["b64_json"] is None
    assert "rabbit eating pancakes" in image["revised_prompt"]
    assert image["content_filter_results"]["violence"] == {"filtered": False, "severity": "safe"}
    assert image["prompt_filter_results"]["profanity"] == {"filtered": False, "detected": False}
    sent = emulator.last_request
    assert sent.path == "/openai/deployments/dall-e-3/images/generations"
    assert sent.api_version == PREVIEW
    assert sent.body["quality"] == "hd"
    assert sent.status == 200
    again = client.images.generate(model="dall-e-3", prompt="A rabbit eating pancakes", quality="hd")
    assert again.data[0].url == image["url"]  # deterministic


def test_audio_speech_sample_writes_an_mp3(client: AzureOpenAI, emulator: Emulator, tmp_path: Path) -> None:
    speech_file_path = tmp_path / "speech.mp3"
    response = client.audio.speech.create(model="tts-hd", voice="alloy", input="Testing, testing, 1,2,3.")
    response.write_to_file(speech_file_path)
    data = speech_file_path.read_bytes()
    assert data.startswith(b"ID3")
    tag_size = int.from_bytes(bytes(b & 0x7F for b in data[6:10]), "big")  # syncsafe
    frame = data[10 + tag_size :]
    assert frame[0] == 0xFF  # MPEG frame sync: 11 set bits
    assert frame[1] & 0xE0 == 0xE0
    assert response.response.headers["content-type"] == "audio/mpeg"
    assert emulator.last_request.path == "/openai/deployments/tts-hd/audio/speech"


def test_audio_transcriptions_sample(client: AzureOpenAI, emulator: Emulator, audio_path: Path) -> None:
    with open(audio_path, "rb") as audio_file:
        transcript = client.audio.transcriptions.create(model="whisper", file=audio_file)
    assert transcript.text == TRANSCRIPT
    sent = emulator.last_request
    assert sent.path == "/openai/deployments/whisper/audio/transcriptions"
    assert sent.body["model"] == "whisper"
    assert sent.body["file"] == {
        "filename": "speech1.mp3",
        "size": audio_path.stat().st_size,
        "content_type": "audio/mpeg",
    }


# --- formats ------------------------------------------------------------------------------------------


def test_b64_json_is_a_small_png(client: AzureOpenAI) -> None:
    result = client.images.generate(model="dall-e-3", prompt="A lighthouse", response_format="b64_json")
    assert result.data[0].url is None
    png = base64.b64decode(result.data[0].b64_json or "")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert png[12:16] == b"IHDR"
    assert struct.unpack(">II", png[16:24]) == (8, 8)  # documented: 8x8, whatever size was asked


def test_speech_wav_is_a_real_wave_file(client: AzureOpenAI) -> None:
    response = client.audio.speech.create(model="tts", voice="nova", input="Hello", response_format="wav")
    assert response.response.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(response.content)) as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, 24_000)
        assert audio.getnframes() > 0


def test_transcription_text_and_verbose_formats(client: AzureOpenAI, audio_path: Path) -> None:
    with open(audio_path, "rb") as f:
        text = client.audio.transcriptions.create(model="whisper", file=f, response_format="text")
    assert text == TRANSCRIPT
    with open(audio_path, "rb") as f:
        verbose = client.audio.transcriptions.create(
            model="whisper", file=f, response_format="verbose_json", language="de"
        )
    assert verbose.text == TRANSCRIPT
    assert verbose.language == "german"
    assert verbose.segments
    assert verbose.segments[0].end == verbose.duration
    with open(audio_path, "rb") as f:
        vtt = client.audio.transcriptions.create(model="whisper", file=f, response_format="vtt")
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> ")


@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")  # the SDK deprecates translations
def test_translation(client: AzureOpenAI, emulator: Emulator, audio_path: Path) -> None:
    with open(audio_path, "rb") as f:
        translation = client.audio.translations.create(model="whisper", file=f)
    assert translation.text == TRANSCRIPT
    assert emulator.last_request.path == "/openai/deployments/whisper/audio/translations"


def test_scripted_transcript(audio_path: Path) -> None:
    emulator = Emulator(backend="scripted")
    client = emulator.client(api_version=GA)
    emulator.scripted.push("Bonjour tout le monde.", deployment="whisper")
    with open(audio_path, "rb") as f:
        assert client.audio.transcriptions.create(model="whisper", file=f).text == "Bonjour tout le monde."
    with open(audio_path, "rb") as f:  # nothing queued: the fixed transcript, not a 400
        assert client.audio.transcriptions.create(model="whisper", file=f).text == TRANSCRIPT


# --- errors, in Azure's order -----------------------------------------------------------------------


def test_speech_needs_a_preview_api_version(emulator: Emulator) -> None:
    client = emulator.client(api_version=GA)
    with pytest.raises(openai.NotFoundError) as caught:
        client.audio.speech.create(model="tts-hd", voice="alloy", input="Hi")
    assert caught.value.status_code == 404
    assert emulator.last_request.status == 404


def test_unknown_deployment(client: AzureOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.images.generate(model="dall-e-2", prompt="A cat")
    assert caught.value.code == "DeploymentNotFound"


def test_chat_on_dall_e_3_is_not_supported(client: AzureOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="dall-e-3", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.code == "OperationNotSupported"
    assert "dall-e-3" in caught.value.message


def test_transcription_on_a_speech_deployment_is_not_supported(client: AzureOpenAI, audio_path: Path) -> None:
    with open(audio_path, "rb") as f, pytest.raises(openai.BadRequestError) as caught:
        client.audio.transcriptions.create(model="tts", file=f)
    assert caught.value.code == "OperationNotSupported"


def test_missing_prompt_is_a_400(emulator: Emulator) -> None:
    with emulator.http_client() as http:
        response = http.post(
            f"{DEFAULT_ENDPOINT}/openai/deployments/dall-e-3/images/generations",
            params={"api-version": GA},
            headers={"api-key": "emulator-key"},
            json={"n": 1},
        )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("prompt", "missing_required_parameter")


def test_transcription_needs_multipart(emulator: Emulator) -> None:
    with emulator.http_client() as http:
        response = http.post(
            f"{DEFAULT_ENDPOINT}/openai/deployments/whisper/audio/transcriptions",
            params={"api-version": GA},
            headers={"api-key": "emulator-key"},
            json={"file": "speech1.mp3"},
        )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_bad_voice_is_a_400(client: AzureOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.speech.create(model="tts", voice="robot", input="Hi")
    assert caught.value.code == "invalid_value"


def test_prompt_filter_on_images_is_dalle_content_policy_error(client: AzureOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(
            model="dall-e-3",
            prompt="Something flagged",
            extra_headers={"x-emulator-fault": "prompt_filter; violence=high"},
        )
    assert caught.value.code == "content_policy_violation"
    body = caught.value.body
    assert isinstance(body, dict)
    inner = body["inner_error"]
    assert inner["code"] == "ResponsibleAIPolicyViolation"
    assert inner["content_filter_results"]["violence"] == {"filtered": True, "severity": "high"}


def test_rate_limit_on_transcriptions_is_retried(
    client: AzureOpenAI, emulator: Emulator, audio_path: Path
) -> None:
    emulator.inject(Fault.rate_limit(retry_after_ms=10), deployment="whisper")
    with open(audio_path, "rb") as f:
        assert client.audio.transcriptions.create(model="whisper", file=f).text == TRANSCRIPT
    assert [r.status for r in emulator.requests] == [429, 200]


# --- v1 routes and loopback -------------------------------------------------------------------------


def test_v1_routes_take_the_deployment_from_model(emulator: Emulator, audio_path: Path) -> None:
    client = emulator.openai_client()
    image = client.images.generate(model="dall-e-3", prompt="A rabbit")
    assert image.data
    assert image.data[0].url
    assert emulator.last_request.path == "/openai/v1/images/generations"
    assert emulator.last_request.deployment == "dall-e-3"
    speech = client.audio.speech.create(model="tts", voice="alloy", input="Hi")
    assert speech.content.startswith(b"ID3")
    with open(audio_path, "rb") as f:
        assert client.audio.transcriptions.create(model="whisper", file=f).text == TRANSCRIPT
    assert emulator.last_request.path == "/openai/v1/audio/transcriptions"
    assert emulator.last_request.deployment == "whisper"


@pytest.mark.loopback
def test_samples_over_loopback(emulator: Emulator, tmp_path: Path) -> None:
    with emulator.serve() as endpoint:
        client = AzureOpenAI(azure_endpoint=endpoint, api_key="emulator-key", api_version=PREVIEW)
        image = client.images.generate(
            model="dall-e-3",
            prompt="A rabbit eating pancakes",
            quality="hd",
            response_format="url",
            style="vivid",
        )
        assert image.data
        assert image.data[0].url
        speech = client.audio.speech.create(model="tts-hd", voice="alloy", input="Testing, testing, 1,2,3.")
        path = tmp_path / "speech1.mp3"
        path.write_bytes(speech.content)
        with open(path, "rb") as audio_file:
            transcript = client.audio.transcriptions.create(model="whisper", file=audio_file)
    assert transcript.text == TRANSCRIPT
    assert [r.status for r in emulator.requests] == [200, 200, 200]
