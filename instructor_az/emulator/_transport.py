"""In-process HTTP transports that run an ASGI app under the openai SDK: no sockets.

httpx2's own `ASGITransport` buffers the whole response and is async only. These transports stream:
body parts reach the SDK as the app sends them (so SSE arrives chunk by chunk), closing a response
early disconnects the app, and an app that returns before finishing its response looks to the
client exactly like a dropped connection (`httpx2.RemoteProtocolError`, which the SDK maps to
`APIConnectionError`). The sync transport runs the app on a private event loop in a daemon thread.

The exchange logic is written once (`_exchange`); the two transports only differ in how parts are
handed over: an `asyncio.Queue` for async clients, a `queue.Queue` for sync ones.

`refuse(path)` (optional) says a connection is refused: the transport then raises `httpx2.ConnectError`
without calling the app, as a client sees a server that is down (an outage, see `_outage`).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import typing
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from typing import Any

import httpx2

ASGIApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[MutableMapping[str, Any]]],
        Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ],
    Awaitable[None],
]

_END = object()
_DROPPED = object()

Emit = Callable[[object], None]
Refuse = Callable[[str], bool]


def _scope(request: httpx2.Request) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "headers": [(k.lower(), v) for (k, v) in request.headers.raw],
        "scheme": request.url.scheme,
        "path": request.url.path,
        "raw_path": request.url.raw_path.split(b"?")[0],
        "query_string": request.url.query,
        "server": (request.url.host, request.url.port),
        "client": ("127.0.0.1", 50000),
        "root_path": "",
    }


async def _exchange(
    app: ASGIApp, scope: dict[str, Any], body: bytes, disconnected: asyncio.Event, emit: Emit
) -> None:
    """Run one request through `app`; emit the start tuple, body bytes, then `_END` or `_DROPPED`."""
    request_sent = False
    finished = False

    async def receive() -> dict[str, Any]:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal finished
        if disconnected.is_set():
            return
        if message["type"] == "http.response.start":
            emit((message["status"], list(message.get("headers", []))))
        elif message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            if chunk:
                emit(bytes(chunk))
            if not message.get("more_body", False):
                finished = True
                emit(_END)

    try:
        await app(scope, receive, send)
    except asyncio.CancelledError:
        raise
    except BaseException as exc:  # surfaced in the caller, like httpx's raise_app_exceptions
        emit(exc)
        return
    if not finished:
        emit(_DROPPED)


def _dropped_error(request: httpx2.Request, started: bool) -> httpx2.RemoteProtocolError:
    if not started:
        return httpx2.RemoteProtocolError("Server disconnected without sending a response.", request=request)
    return httpx2.RemoteProtocolError(
        "peer closed connection without sending complete message body (incomplete chunked read)",
        request=request,
    )


def _read_timeout(request: httpx2.Request) -> float | None:
    timeout = request.extensions.get("timeout") or {}
    value = timeout.get("read")
    return float(value) if value is not None else None


def _timed_out(request: httpx2.Request) -> httpx2.ReadTimeout:
    return httpx2.ReadTimeout("timed out waiting for the emulator to answer", request=request)


def _check_refused(refuse: Refuse | None, request: httpx2.Request) -> None:
    if refuse is not None and refuse(request.url.path):
        raise httpx2.ConnectError("[Errno 111] Connection refused", request=request)


def _response(request: httpx2.Request, start: object, stream: Any) -> httpx2.Response:
    if isinstance(start, BaseException):
        raise start
    if start is _DROPPED or start is _END:
        raise _dropped_error(request, started=False)
    status, headers = typing.cast("tuple[int, list[tuple[bytes, bytes]]]", start)
    return httpx2.Response(status, headers=headers, stream=stream, request=request)


# --- async ----------------------------------------------------------------------------------------


class _AsyncBody(httpx2.AsyncByteStream):
    def __init__(
        self,
        request: httpx2.Request,
        parts: asyncio.Queue[object],
        task: asyncio.Task[None],
        disconnected: asyncio.Event,
    ) -> None:
        self._request = request
        self._parts = parts
        self._task = task
        self._disconnected = disconnected

    async def __aiter__(self) -> AsyncIterator[bytes]:
        timeout = _read_timeout(self._request)
        while True:
            try:
                part = await asyncio.wait_for(self._parts.get(), timeout)
            except asyncio.TimeoutError:
                await self.aclose()
                raise _timed_out(self._request) from None
            if part is _END:
                return
            if part is _DROPPED:
                raise _dropped_error(self._request, started=True)
            if isinstance(part, BaseException):
                raise part
            yield part  # type: ignore[misc]

    async def aclose(self) -> None:
        self._disconnected.set()
        if not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class AsyncEmulatorTransport(httpx2.AsyncBaseTransport):
    """Serves an `httpx2.AsyncClient` from an ASGI app in the caller's event loop, streaming."""

    def __init__(self, app: ASGIApp, *, refuse: Refuse | None = None) -> None:
        self.app = app
        self.refuse = refuse

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        _check_refused(self.refuse, request)
        body = await request.aread()
        parts: asyncio.Queue[object] = asyncio.Queue()
        disconnected = asyncio.Event()
        task = asyncio.create_task(_exchange(self.app, _scope(request), body, disconnected, parts.put_nowait))
        try:
            start = await asyncio.wait_for(parts.get(), _read_timeout(request))
        except asyncio.TimeoutError:
            disconnected.set()
            task.cancel()
            raise _timed_out(request) from None
        return _response(request, start, _AsyncBody(request, parts, task, disconnected))


# --- sync -----------------------------------------------------------------------------------------


class _LoopThread:
    """A private event loop on a daemon thread, started on first use."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=_serve_forever, args=(loop,), name="instructor-az-emulator", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def close(self) -> None:
        """Stop the loop; it closes itself (its self-pipe sockets too) once it has stopped."""
        with self._lock:
            loop, self._loop = self._loop, None
            thread, self._thread = self._thread, None
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=5)


def _serve_forever(loop: asyncio.AbstractEventLoop) -> None:
    try:
        loop.run_forever()
    finally:
        loop.close()  # an event loop left unclosed warns when garbage-collected (unclosed sockets)


class _SyncBody(httpx2.SyncByteStream):
    def __init__(
        self,
        request: httpx2.Request,
        parts: queue.SimpleQueue[object],
        loop: asyncio.AbstractEventLoop,
        task: asyncio.Task[None],
        disconnected: asyncio.Event,
    ) -> None:
        self._request = request
        self._parts = parts
        self._loop = loop
        self._task = task
        self._disconnected = disconnected

    def __iter__(self) -> Iterator[bytes]:
        timeout = _read_timeout(self._request)
        while True:
            try:
                part = self._parts.get(timeout=timeout)
            except queue.Empty:
                self.close()
                raise _timed_out(self._request) from None
            if part is _END:
                return
            if part is _DROPPED:
                raise _dropped_error(self._request, started=True)
            if isinstance(part, BaseException):
                raise part
            yield part  # type: ignore[misc]

    def close(self) -> None:
        def stop() -> None:
            self._disconnected.set()
            if not self._task.done():
                self._task.cancel()

        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(stop)


class EmulatorTransport(httpx2.BaseTransport):
    """Serves an `httpx2.Client` from an ASGI app run on a background event loop, streaming."""

    def __init__(
        self, app: ASGIApp, loop_thread: _LoopThread | None = None, *, refuse: Refuse | None = None
    ) -> None:
        self.app = app
        self._loop_thread = loop_thread or _LoopThread()
        self.refuse = refuse

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        _check_refused(self.refuse, request)
        body = request.read()
        parts: queue.SimpleQueue[object] = queue.SimpleQueue()
        loop = self._loop_thread.loop
        scope = _scope(request)

        async def start() -> tuple[asyncio.Task[None], asyncio.Event]:
            disconnected = asyncio.Event()
            task = asyncio.get_running_loop().create_task(
                _exchange(self.app, scope, body, disconnected, parts.put)
            )
            return task, disconnected

        task, disconnected = asyncio.run_coroutine_threadsafe(start(), loop).result()
        body_stream = _SyncBody(request, parts, loop, task, disconnected)
        try:
            first = parts.get(timeout=_read_timeout(request))
        except queue.Empty:
            body_stream.close()
            raise _timed_out(request) from None
        return _response(request, first, body_stream)
