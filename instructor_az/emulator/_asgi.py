"""ASGI responses the emulator sends itself: an SSE stream that can stall or drop, and a JSON body
whose connection closes halfway."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable, Generator, Iterator
from typing import Any

import anyio
import anyio.to_thread
from starlette.types import Receive, Scope, Send


class EventStream:
    """An SSE response that can stall between chunks or drop the connection (no final message)."""

    def __init__(
        self,
        events: Iterator[Any],
        headers: dict[str, str],
        *,
        chunk_seconds: float = 0.0,
        drop_after: int | None = None,
        blocking: bool = False,
        on_close: Callable[[], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.events = events
        self.headers = headers
        self.chunk_seconds = chunk_seconds
        self.drop_after = drop_after
        self.blocking = blocking  # producing the next event may block (a model generating): use a thread
        self.on_close = on_close
        self.sleep = sleep  # waits out chunk_seconds (the quota's clock: a test clock needs no real wait)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        disconnected = anyio.Event()

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    disconnected.set()
                    return

        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()],
            }
        )
        async with anyio.create_task_group() as group:
            group.start_soon(watch)
            lines = self._lines()
            try:
                sent = 0
                while True:
                    if self.blocking:
                        data = await anyio.to_thread.run_sync(next, lines, None, abandon_on_cancel=True)
                    else:
                        data = next(lines, None)
                    if data is None:
                        break
                    if sent == self.drop_after:
                        return  # returning without the final message drops the connection
                    if disconnected.is_set():
                        return
                    await send({"type": "http.response.body", "body": data, "more_body": True})
                    sent += 1
                    if self.chunk_seconds:
                        await self.sleep(self.chunk_seconds)
                if self.drop_after is not None:
                    return
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            finally:
                group.cancel_scope.cancel()
                if self.on_close is not None:
                    self.on_close()
                _close(lines)

    def _lines(self) -> Generator[bytes, None, None]:
        for event in self.events:
            data = event if isinstance(event, str) else json.dumps(event, separators=(",", ":"))
            yield f"data: {data}\n\n".encode()
        yield b"data: [DONE]\n\n"


class DroppedJSON:
    """A JSON response whose connection closes halfway through the body."""

    def __init__(self, body: bytes, headers: dict[str, str]) -> None:
        self.body = body
        self.headers = {**headers, "content-type": "application/json", "content-length": str(len(body))}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()],
            }
        )
        await send(
            {"type": "http.response.body", "body": self.body[: len(self.body) // 2], "more_body": True}
        )


def _close(lines: Generator[bytes, None, None]) -> None:
    """Close an event generator (a backend's generation stops when its client goes away)."""
    with contextlib.suppress(ValueError):  # still running in an abandoned worker thread: it ends on its own
        lines.close()
