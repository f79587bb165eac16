"""Hooks: callables that see each step of a call.

| name                      | called with                                   | when                              |
|---------------------------|-----------------------------------------------|-----------------------------------|
| `completion:kwargs`       | `**kwargs` sent to the SDK (a copy)           | before each request               |
| `completion:response`     | the SDK's completion (or the stream's final)  | after each answer arrives         |
| `completion:error`        | the exception the SDK raised                  | when a request fails              |
| `completion:last_attempt` | the exception of the last attempt             | when no attempt is left           |
| `completion:usage`        | the call's `Usage` so far, `attempt_number=`  | after each answer (or stopped stream) |
| `parse:error`             | the validation exception                      | when an answer fails validation   |
| `route:served`            | a `router.Served` (target, region, latency)   | a router target answered          |
| `route:failover`          | a `router.Failover` (target, reason, error)   | a router target failed, moving on |

A handler that raises is logged (logger `instructor_az`) and never breaks the call. Payloads hold
requests and completions, never credentials: `completion:kwargs` redacts `extra_headers`, and the SDK
error `completion:error` receives has the `api-key` / `Authorization` / `Ocp-Apim-Subscription-Key`
values of its HTTP request (and of its cause and context) replaced by `<redacted>` (`_redact.scrub`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import Enum
from typing import Any

from ._errors import ConfigurationError

log = logging.getLogger("instructor_az")


class HookName(str, Enum):
    """The hook names, as instructor's enum names them; a plain string (`"parse:error"`) works too."""

    COMPLETION_KWARGS = "completion:kwargs"
    COMPLETION_RESPONSE = "completion:response"
    COMPLETION_ERROR = "completion:error"
    COMPLETION_LAST_ATTEMPT = "completion:last_attempt"
    COMPLETION_USAGE = "completion:usage"
    PARSE_ERROR = "parse:error"
    ROUTE_SERVED = "route:served"
    ROUTE_FAILOVER = "route:failover"


HOOK_NAMES: tuple[str, ...] = (
    "completion:kwargs",
    "completion:response",
    "completion:error",
    "completion:last_attempt",
    "completion:usage",
    "parse:error",
    "route:served",
    "route:failover",
)
Handler = Callable[..., Any]


class Hooks:
    """Handlers per hook name. Copying a client copies its hooks (`copy()`)."""

    __slots__ = ("_handlers",)

    def __init__(self) -> None:
        # Keyed by `HookName` (a str enum: `"parse:error"` finds `HookName.PARSE_ERROR` too); a name
        # with no handler left has no key, as in instructor.
        self._handlers: dict[HookName, list[Handler]] = {}

    @staticmethod
    def get_hook_name(name: HookName | str) -> HookName:
        """The `HookName` for a name or an enum member; an unknown one is a `ConfigurationError`."""
        if isinstance(name, HookName):
            return name
        if not isinstance(name, str) or name not in HOOK_NAMES:
            raise ConfigurationError(f"unknown hook {name!r}; hooks are {', '.join(HOOK_NAMES)}")
        return HookName(name)

    _check = get_hook_name

    def on(self, name: HookName | str, handler: Handler) -> None:
        """Call `handler` at every `name` event; an unknown name or a handler that is not callable
        is a `ConfigurationError` now, not a surprise when the event comes."""
        key = self._check(name)
        if not callable(handler):
            raise ConfigurationError(
                f"the handler for hook {name!r} must be callable (a function taking the hook's payload), "
                f"got {type(handler).__name__} {handler!r}"
            )
        self._handlers.setdefault(key, []).append(handler)

    def off(self, name: HookName | str, handler: Handler) -> None:
        key = self._check(name)
        handlers = self._handlers.get(key, [])
        if handler in handlers:
            handlers.remove(handler)
        if not handlers:
            self._handlers.pop(key, None)

    def clear(self, name: HookName | str | None = None) -> None:
        if name is None:
            self._handlers.clear()
        else:
            self._handlers.pop(self._check(name), None)

    def copy(self) -> Hooks:
        new = Hooks()
        new._handlers = {k: list(v) for k, v in self._handlers.items()}
        return new

    def __bool__(self) -> bool:
        return any(self._handlers.values())

    def emit(self, name: HookName | str, *args: Any, **kwargs: Any) -> None:
        # a str finds its HookName key (a str enum hashes and compares as its value)
        for handler in self._handlers.get(name, ()):  # type: ignore[arg-type]
            try:
                handler(*args, **kwargs)
            except Exception:
                log.exception(
                    "hook %r handler %r raised; the call goes on", name, getattr(handler, "__name__", handler)
                )
