"""Connections that end without any HTTP response, in-process and on loopback.

In-process, an ASGI app that returns without starting a response is what `_transport` reports as a
connection the server closed ("Server disconnected without sending a response"), and the transport
itself raises `httpx2.ConnectError` for a refused connection before calling the app.

On loopback, uvicorn answers an app that returns without a response with its own 500, so the served
emulator wraps uvicorn's HTTP protocol (`loopback_protocol`): it closes the socket when a request line
arrives that `refuses` says to refuse, and it hands each request's task its connection's transport
(`CONNECTION`, a context variable: a task copies the context it is created in, and uvicorn creates the
request's task while the protocol handles the bytes) so that `NoResponse` can close the socket.
Either way the openai SDK raises `APIConnectionError`.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from typing import Any, cast

import anyio
from starlette.types import Receive, Scope, Send

#: The transport of the loopback connection a request came in on (None in-process).
CONNECTION: contextvars.ContextVar[asyncio.Transport | None] = contextvars.ContextVar(
    "instructor_az_emulator_connection", default=None
)


class NoResponse:
    """An ASGI response that never answers: after `wait` seconds (real time, as a client's timeout is;
    sooner if the client goes away) the connection closes without a status line."""

    def __init__(self, wait: float = 0.0) -> None:
        self.wait = wait

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.wait:
            with anyio.move_on_after(self.wait):
                await _disconnected(receive)
        transport = CONNECTION.get()
        if transport is None:
            return  # in-process: returning without a response is a connection closed by the server
        transport.abort()
        await _disconnected(receive)  # so uvicorn sees the disconnect rather than an app that did not answer


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def request_path(data: bytes) -> str | None:
    """The path of the HTTP/1.1 request line `data` starts with (None if it does not start with one)."""
    line = data.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
        return None
    return parts[1].split(b"?", 1)[0].decode("latin-1")


def loopback_protocol(refuses: Callable[[str], bool]) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (`Config(http=...)`), closing connections whose request `refuses(path)`."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    inner_class = cast("Callable[..., asyncio.Protocol]", AutoHTTPProtocol)

    class EmulatorProtocol(asyncio.Protocol):
        def __init__(self, **kwargs: Any) -> None:
            self._inner = inner_class(**kwargs)
            self._transport: asyncio.Transport | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self._transport = cast("asyncio.Transport", transport)  # a socket's (or TLS) transport
            self._inner.connection_made(transport)

        def data_received(self, data: bytes) -> None:
            transport = self._transport
            path = request_path(data)
            if transport is not None and path is not None and refuses(path):
                transport.abort()
                return
            token = CONNECTION.set(transport)
            try:
                self._inner.data_received(data)
            finally:
                CONNECTION.reset(token)

        def eof_received(self) -> bool | None:
            return self._inner.eof_received()

        def connection_lost(self, exc: Exception | None) -> None:
            self._inner.connection_lost(exc)

        def pause_writing(self) -> None:
            self._inner.pause_writing()

        def resume_writing(self) -> None:
            self._inner.resume_writing()

    return EmulatorProtocol
