"""A routed stream: the target's stream with its first chunk put back, and its end reported.

The router read the first chunk to know the target answered (a stream that fails before it falls
back to the next target). From then on the stream is that target's: a failure while it is read is a
`StreamInterrupted` (never a silent restart elsewhere), and its end, clean or not, releases the
target's in-flight slot.
"""

from __future__ import annotations

from typing import Any

from .._redact import scrub
from ._errors import StreamInterrupted
from ._health import Pool
from ._protocol import _END, Routed

_NONE = object()


class _Base:
    def __init__(self, routed: Routed, pool: Pool) -> None:
        self._routed, self._pool = routed, pool
        self._stream = routed.parsed
        self._first: Any = routed.first
        self._chunks = 0
        self._over = False
        self.target = routed.target.label  #: the target serving this stream

    @property
    def response(self) -> Any:
        return self._stream.response

    def _next_first(self) -> Any:
        first, self._first = self._first, _NONE
        return first

    def _ended(self) -> None:
        if not self._over:
            self._over = True
            self._pool.end(self._routed.target)

    def _broke(self, exc: BaseException) -> StreamInterrupted:
        if not self._over:
            self._over = True
            self._pool.failed(
                self._routed.target,
                rate_limited=False,
                retry_after=None,
                what="stream broke",
                started=self._routed.started,
            )
        request = getattr(getattr(self._stream, "response", None), "request", None)
        error = StreamInterrupted(self.target, self._chunks, exc, request)
        scrub(error)
        return error


class RoutedStream(_Base):
    """What a routed `create(stream=True)` returns with sync clients: an iterator of chunks."""

    def __iter__(self) -> RoutedStream:
        return self

    def __next__(self) -> Any:
        if self._first is not _NONE:
            first = self._next_first()
            if first is _END:
                self._ended()
                raise StopIteration
            self._chunks += 1
            return first
        try:
            chunk = next(self._stream)
        except StopIteration:
            self._ended()
            raise
        except Exception as exc:
            raise self._broke(exc) from exc
        self._chunks += 1
        return chunk

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._ended()

    def __enter__(self) -> RoutedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncRoutedStream(_Base):
    """What a routed `create(stream=True)` returns with async clients."""

    def __aiter__(self) -> AsyncRoutedStream:
        return self

    async def __anext__(self) -> Any:
        if self._first is not _NONE:
            first = self._next_first()
            if first is _END:
                self._ended()
                raise StopAsyncIteration
            self._chunks += 1
            return first
        try:
            chunk = await self._stream.__anext__()
        except StopAsyncIteration:
            self._ended()
            raise
        except Exception as exc:
            raise self._broke(exc) from exc
        self._chunks += 1
        return chunk

    async def close(self) -> None:
        try:
            await self._stream.close()
        finally:
            self._ended()

    aclose = close

    async def __aenter__(self) -> AsyncRoutedStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
