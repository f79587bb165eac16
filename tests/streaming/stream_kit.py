"""Helpers for the streaming tests: a backend that paces its answer, answers shaped per mode, a response tap.

`PacedBackend` is a backend of the emulator (the documented `Backend.stream` extension point): it
generates a queued answer a few characters at a time and, at chosen offsets (`Gate.stops`), holds the
generation until the test has seen what should have reached it by then. A library that only yielded
at the end of the stream would leave the generation held (the gate records a stall), so the tests can
tell "yielded as it was read" from "yielded after the fact". The gate also records how much had been
generated when the test saw each thing, and whether the client went away (`closed`).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

import httpx2

from instructor_az import Mode
from instructor_az.emulator import Backend, BackendError, ChatRequest, Generation, Reply, ToolCall

MESSAGES = [{"role": "user", "content": "Read the invoice."}]


def fence(text: str) -> str:
    """How MD_JSON answers: a ```json block (with prose around it)."""
    return f"Here it is:\n```json\n{text}\n```\nAnything else?"


def render(mode: Mode, value: Any) -> str:
    """The text of an answer in this mode: the tool's arguments, JSON content, or a fenced block."""
    text = json.dumps(value)
    return fence(text) if mode is Mode.MD_JSON else text


def end_of(text: str, fragment: str, after: int = 0) -> int:
    """The offset just past `fragment` in `text` (searching from `after`)."""
    start = text.index(fragment, after)
    return start + len(fragment)


class Gate:
    """Where a paced generation waits for the test, and what it has produced so far."""

    def __init__(self, stops: Sequence[int], *, timeout: float = 3.0) -> None:
        assert list(stops) == sorted(stops), stops
        self.stops = list(stops)
        self.timeout = timeout
        self.produced = 0  # characters generated so far
        self.released = 0  # stops the test has let pass
        self.seen_at: list[int] = []  # `produced` at each release
        self.stalled: list[int] = []  # stops the test never released (timed out)
        self.closed = False  # the client went away (the emulator closed the generation)
        self._cond = threading.Condition()

    def release(self) -> None:
        """The test has seen what the next stop is about: let the generation go on."""
        with self._cond:
            self.seen_at.append(self.produced)
            self.released += 1
            self._cond.notify_all()

    def release_all(self) -> None:
        with self._cond:
            self.released = len(self.stops)
            self._cond.notify_all()

    def _produce(self, count: int) -> bool:
        with self._cond:
            if self.closed:
                return False
            self.produced += count
            return True

    def _hold(self, stop: int) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: self.released > stop or self.closed, self.timeout):
                self.stalled.append(stop)

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def wait_closed(self, seconds: float = 3.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.closed, seconds)


class PacedGeneration(Generation):
    def __init__(self, text: str, tool: str | None, gate: Gate, piece: int) -> None:
        self.text = text
        self.tool = tool
        self.gate = gate
        self.piece = piece

    def __iter__(self) -> Iterator[str]:
        start = 0
        bounds = [*self.gate.stops, len(self.text)]
        for number, stop in enumerate(bounds):
            for i in range(start, stop, self.piece):
                piece = self.text[i : min(i + self.piece, stop)]
                if not self.gate._produce(len(piece)):
                    return
                yield piece
            start = stop
            if number < len(self.gate.stops):
                self.gate._hold(number)
                if self.gate.closed:
                    return

    def close(self) -> None:
        self.gate.close()


class PacedBackend(Backend):
    """Answers streamed requests with queued texts, generated piece by piece and held at the gate's stops."""

    def __init__(self, piece: int = 5) -> None:
        self.piece = piece
        self._queue: deque[tuple[str, Gate]] = deque()

    def push(self, text: str, gate: Gate | None = None) -> Gate:
        gate = gate or Gate([])
        self._queue.append((text, gate))
        return gate

    def stream(self, request: ChatRequest) -> Generation | None:
        text, gate = self._queue.popleft()
        return PacedGeneration(text, request.answer_tool, gate, self.piece)

    def reply(self, request: ChatRequest) -> Reply:
        if not self._queue:
            raise BackendError("nothing queued for this request")
        text, _ = self._queue.popleft()
        tool = request.answer_tool
        return Reply(tool_calls=[ToolCall(tool, text)]) if tool else Reply(content=text)


class Tap:
    """Keeps every HTTP response an SDK client received (httpx event hook), to see which were closed."""

    def __init__(self) -> None:
        self.responses: list[httpx2.Response] = []

    def _keep(self, response: httpx2.Response) -> None:
        self.responses.append(response)

    async def _keep_async(self, response: httpx2.Response) -> None:
        self.responses.append(response)

    def sync_http(self, http: httpx2.Client) -> httpx2.Client:
        http.event_hooks = {"response": [self._keep]}
        return http

    def async_http(self, http: httpx2.AsyncClient) -> httpx2.AsyncClient:
        http.event_hooks = {"response": [self._keep_async]}
        return http

    @property
    def all_closed(self) -> bool:
        return bool(self.responses) and all(r.is_closed for r in self.responses)
