"""Answering batch lines: each through the emulator's own chat completion route, in-process.

A line is posted to the emulator's ASGI app as an HTTP request would be (the route, authentication,
checks, quotas, injected faults, the backend, `emulator.requests`), but without an HTTP client: the
request is handed to the app as an ASGI scope and the response is collected from what it sends. The
output line is written around the response's JSON bytes, which are not parsed again.

Jobs created on the dated routes post to `/openai/deployments/{model}/chat/completions` with the job's
api-version; jobs created on `/openai/v1/` post to `/openai/v1/chat/completions` (the model in the body);
`/v1/responses` lines go to the Responses route (`/openai/v1/responses`, or `/openai/responses` with the
job's api-version).
"""

from __future__ import annotations

import json
import logging
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

import anyio

from . import _wire as wire
from ._batch_validation import line_api

#: The ASGI scope extension marking a batch line (no HTTP client can set it): `_app` charges it to no RPM / TPM.
BATCH_LINE = "instructor_az.batch_line"

if TYPE_CHECKING:
    from ._app import EmulatorApp

log = logging.getLogger("instructor_az.emulator")

JSON = dict[str, Any]
_NULL = b"null"


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def output_row(custom_id: str, status: int, request_id: str | None, body: bytes) -> bytes:
    """One line of an output or error file (Azure's shape), around the response body's JSON bytes."""
    return b"".join(
        (
            b'{"custom_id":',
            _dumps(custom_id),
            b',"response":{"status_code":',
            str(status).encode(),
            b',"request_id":',
            _dumps(request_id),
            b',"body":',
            body,
            b'},"error":null}\n',
        )
    )


def error_row(custom_id: str, code: str, message: str) -> bytes:
    """A line that was not answered (e.g. `batch_expired`): no response, an error object."""
    row = {"custom_id": custom_id, "response": None, "error": {"code": code, "message": message}}
    return _dumps(row) + b"\n"


class _Exchange:
    """One request through the ASGI app: the body in, the status, headers and body parts out."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.sent = False
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.parts: list[bytes] = []
        self.finished = False
        self._done: anyio.Event | None = None

    async def receive(self) -> dict[str, Any]:
        if not self.sent:
            self.sent = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        # A streamed response watches for the client leaving: it leaves once the response is complete.
        if self._done is None:
            self._done = anyio.Event()
        if not self.finished:
            await self._done.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            self.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            if chunk:
                self.parts.append(bytes(chunk))
            if not message.get("more_body", False):
                self.finish()

    def finish(self) -> None:
        self.finished = True
        if self._done is not None:
            self._done.set()

    def header(self, name: bytes) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value.decode("latin-1")
        return None


class LineRunner:
    """Posts a job's lines to the chat completion (or Responses) route of `app`, one at a time."""

    def __init__(self, app: EmulatorApp, api_version: str | None) -> None:
        self.app = app
        self.api_version = api_version
        self._key = app.emulator.api_keys[0].encode("latin-1")
        self._query = f"api-version={api_version}".encode() if api_version is not None else b""

    def _scope(self, model: str, body: bytes, url: str) -> dict[str, Any]:
        if line_api(url) == "responses":  # the Responses route takes the model in the body on both forms
            path = "/openai/v1/responses" if self.api_version is None else "/openai/responses"
        elif self.api_version is None:
            path = "/openai/v1/chat/completions"
        else:
            path = f"/openai/deployments/{model}/chat/completions"
        return {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "https",
            "path": path,
            "raw_path": path.encode(),
            "query_string": self._query,
            "root_path": "",
            "headers": [
                (b"host", b"batch.emulator"),
                (b"api-key", self._key),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
            "server": ("batch.emulator", 443),
            "client": ("127.0.0.1", 50000),
            "extensions": {BATCH_LINE: True},
        }

    async def answer(self, line: JSON) -> tuple[int, bytes]:
        """The line's status code and its output row."""
        body = line["body"]
        raw = _dumps(body)
        exchange = _Exchange(raw)
        try:
            scope = self._scope(str(body.get("model", "")), raw, str(line.get("url", "")))
            await self.app(scope, exchange.receive, exchange.send)
        except Exception:  # the app answered with its 500 and re-raised (Starlette's error middleware)
            log.debug("a batch line's request raised", exc_info=True)
        complete = exchange.finished
        exchange.finish()
        custom_id = line["custom_id"]
        if (
            not complete or not exchange.status
        ):  # no answer, or one that stopped halfway (a dropped connection)
            return self._lost(custom_id)
        content_type = exchange.header(b"content-type") or ""
        text = b"".join(exchange.parts)
        if not content_type.startswith("application/json") or not text:
            text = _NULL
        return exchange.status, output_row(custom_id, exchange.status, exchange.header(b"x-request-id"), text)

    @staticmethod
    def _lost(custom_id: str) -> tuple[int, bytes]:
        """A request whose response never completed: Azure's 500 for that line."""
        error = wire.server_error(500)
        return 500, output_row(custom_id, 500, wire.request_id(), _dumps(error.body))
