"""An exception nothing turned into an answer is still an Azure-shaped error, never a plain-text page."""

from __future__ import annotations

import openai
import pytest

from instructor_az.emulator import Backend, ChatRequest, Emulator, Fault, Reply


class Crashing(Backend):
    def reply(self, request: ChatRequest) -> Reply | Fault:
        raise RuntimeError("the custom backend broke")


def test_a_crashing_custom_backend_is_an_azure_shaped_500() -> None:
    emulator = Emulator(backend=Crashing())
    try:
        with emulator.client(max_retries=0) as client, pytest.raises(openai.InternalServerError) as caught:
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        assert caught.value.status_code == 500
        assert caught.value.response.headers["content-type"] == "application/json"
        body = caught.value.body
        assert isinstance(body, dict)
        assert body["code"] == "EmulatorInternalError"
        assert body["type"] == "server_error"
        assert "RuntimeError: the custom backend broke" in body["message"]
        assert "raise BackendError" in body["message"]  # says what to do
    finally:
        emulator.close()
