"""Credential scrubbing for the errors we raise and hand to hooks.

The SDK's errors keep the HTTP request they failed on (`err.request`, `err.response.request`), and
with it the request's headers: the `api-key`, or Entra ID's `Authorization: Bearer <token>`. An error
is printed, logged, pickled, sent to an error tracker...: before one leaves the library (raised, or
handed to the `completion:error` hook) `scrub` replaces those header values in place, on the error,
the httpx objects it holds, and every error in its `__cause__` / `__context__` chain.

The request has already been sent when its error reaches us, so changing its headers changes nothing
on the wire; the SDK builds a new request for each of its retries.
"""

from __future__ import annotations

from typing import Any

REDACTED = "<redacted>"
SECRET_HEADERS = frozenset({"api-key", "authorization", "ocp-apim-subscription-key", "proxy-authorization"})

_LIMIT = 64  # errors per chain: enough for any real chain, and a bound on a pathological one


def is_secret_header(name: Any) -> bool:
    if isinstance(name, bytes):
        name = name.decode("latin-1")
    return isinstance(name, str) and name.lower() in SECRET_HEADERS


def scrub_headers(headers: Any) -> None:
    """Replace credential values in an httpx `Headers` (or any mutable header mapping), in place."""
    try:
        names = [name for name in list(headers.keys()) if is_secret_header(name)]
    except Exception:  # not a header mapping after all
        return
    for name in names:
        try:
            if headers[name] != REDACTED:
                headers[name] = REDACTED
        except Exception:  # read-only headers: nothing we can change
            continue


def _scrub_message(message: Any) -> None:
    """An httpx `Request` / `Response` (anything with `.headers`), and a response's request and history."""
    if message is None:
        return
    headers = getattr(message, "headers", None)
    if headers is not None:
        scrub_headers(headers)
    try:  # httpx's Response.request raises when the response was built without one
        request = getattr(message, "_request", None) or message.request
    except Exception:
        request = None
    if request is not None and request is not message:
        headers = getattr(request, "headers", None)
        if headers is not None:
            scrub_headers(headers)
    for earlier in getattr(message, "history", None) or ():
        if earlier is not message:
            _scrub_message(earlier)


def _http_objects(exc: BaseException) -> list[Any]:
    found: list[Any] = []
    for name in ("request", "_request", "response"):
        try:
            value = getattr(exc, name, None)
        except Exception:  # httpx's RequestError.request raises when it has none
            continue
        if value is not None and not isinstance(value, BaseException):
            found.append(value)
    return found


def scrub(exc: BaseException) -> BaseException:
    """Remove credentials from `exc` and everything in its chain, in place; returns `exc`."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending and len(seen) < _LIMIT:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        for message in _http_objects(current):
            _scrub_message(message)
        headers = getattr(current, "headers", None)  # an error that keeps headers of its own
        if headers is not None:
            scrub_headers(headers)
        linked: list[Any] = [current.__cause__, current.__context__]
        linked.extend(getattr(current, "exceptions", None) or ())  # exception groups
        for value in vars(current).values() if hasattr(current, "__dict__") else ():
            if isinstance(value, BaseException):  # e.g. a wrapper's `.error`
                linked.append(value)
        pending.extend(e for e in linked if isinstance(e, BaseException) and id(e) not in seen)
    return exc
