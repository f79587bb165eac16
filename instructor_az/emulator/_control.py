"""The control API: script a served emulator from outside Python (any process, any language).

All routes are under `/_emulator/` and need one of the emulator's API keys, in the `api-key` header or
as `Authorization: Bearer KEY` (an Entra ID token is not enough: it would let any JWT-shaped string in).
Bodies and answers are JSON; every error is Azure-shaped. Control requests are not recorded.

| route | does |
|---|---|
| `POST /_emulator/scripted` | queue answers: `{"answers": [...], "deployment": "gpt-4o"}` (deployment optional) |
| `GET /_emulator/scripted` | `{"pending": N}` |
| `DELETE /_emulator/scripted` | forget the queued answers (and rules) |
| `POST /_emulator/faults` | inject: `{"fault": "rate_limit; retry_after_ms=10", "times": 5, "deployment": null}` |
| `GET /_emulator/faults` | the injected faults still armed, oldest first |
| `DELETE /_emulator/faults` | clear them (and the header counters) |
| `GET /_emulator/requests` | the recorded requests, credentials redacted |
| `DELETE /_emulator/requests` | forget them |
| `POST /_emulator/reset` | all of the above at once (`Emulator.reset()`) |
| `GET /_emulator/quotas` | `{"default": QUOTA, "deployments": {name: QUOTA}, "remaining": {name: {"requests", "tokens"}}}` |
| `POST /_emulator/quotas` | set one: `{"rpm": 60, "tpm": 10000, "seconds_per_100_tokens": 0.5, "deployment": "gpt-4o"}` (deployment null or absent: the default for all; omitted fields keep Quota's defaults) |
| `DELETE /_emulator/quotas` | no limits anywhere again (and usage forgotten) |

An answer is an object with one of: `{"json": VALUE}` (structured output: the forced tool's arguments
or JSON content, as `push(VALUE)`), `{"text": "..."}`, `{"tool_calls": [{"name": ..., "arguments":
{...}}]}` (with `text` too if you like), `{"refusal": "..."}`, or `{"fault": "SPEC"}` (a fault in
header syntax, fired by the request that takes it); `finish_reason` may be added to text and tool calls.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import _body as body_limits
from . import _wire as wire
from ._backends import Reply, ScriptedBackend, ToolCall
from ._fault_queue import parse_injections
from ._faults import Fault, FaultSpecError
from ._quota import Quota

if TYPE_CHECKING:
    from ._emulator import Emulator

PREFIX = "/_emulator"
_ANSWER_KEYS = ("json", "text", "tool_calls", "refusal", "fault", "finish_reason")
_MAX_CONTROL_BODY = 8 * 1024 * 1024

Handler = Callable[[Request], Awaitable[Any]]


def control_routes(emulator: Emulator) -> list[Route]:
    control = _Control(emulator)
    return [
        Route(f"{PREFIX}/scripted", control.guard(control.push), methods=["POST"]),
        Route(f"{PREFIX}/scripted", control.guard(control.pending), methods=["GET"]),
        Route(f"{PREFIX}/scripted", control.guard(control.clear_script), methods=["DELETE"]),
        Route(f"{PREFIX}/faults", control.guard(control.inject), methods=["POST"]),
        Route(f"{PREFIX}/faults", control.guard(control.faults), methods=["GET"]),
        Route(f"{PREFIX}/faults", control.guard(control.clear_faults), methods=["DELETE"]),
        Route(f"{PREFIX}/requests", control.guard(control.requests), methods=["GET"]),
        Route(f"{PREFIX}/requests", control.guard(control.clear_requests), methods=["DELETE"]),
        Route(f"{PREFIX}/reset", control.guard(control.reset), methods=["POST"]),
        Route(f"{PREFIX}/quotas", control.guard(control.quotas), methods=["GET"]),
        Route(f"{PREFIX}/quotas", control.guard(control.set_quota), methods=["POST"]),
        Route(f"{PREFIX}/quotas", control.guard(control.clear_quotas), methods=["DELETE"]),
    ]


def _json(status: int, body: Any) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":"), default=str),
        status_code=status,
        media_type="application/json",
    )


def _bad(message: str, param: str | None = None) -> wire.AzureError:
    return wire.invalid_request(message, param=param, code="EmulatorControlError")


class _Control:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def guard(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def route(request: Request) -> Response:
            try:
                self._authenticate(request)
                result = await handler(request)
            except wire.AzureError as error:
                return _json(error.status, error.body)
            return _json(200, result)

        return route

    def _authenticate(self, request: Request) -> None:
        keys = self.emulator.api_keys
        key = request.headers.get("api-key")
        if key is not None:
            if key in keys:
                return
            raise wire.unauthorized_key()
        scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and token.strip() in keys:
            return
        raise wire.unauthorized_key()

    async def _body(self, request: Request) -> dict[str, Any]:
        raw = await body_limits.read_body(request, min(self.emulator.max_body_bytes, _MAX_CONTROL_BODY))
        return body_limits.parse_json(raw)

    def _scripted(self) -> ScriptedBackend:
        backend = self.emulator.backend
        if not isinstance(backend, ScriptedBackend):
            raise _bad(
                f"This emulator's backend is {type(backend).__name__}, which takes no scripted answers: start it "
                "with `instructor-az emulator --backend scripted` (or Emulator(backend='scripted'))."
            )
        return backend

    def _deployment(self, body: dict[str, Any]) -> str | None:
        deployment = body.get("deployment")
        if deployment is None:
            return None
        if not isinstance(deployment, str) or deployment not in self.emulator.deployments:
            names = ", ".join(sorted(self.emulator.deployments))
            raise _bad(
                f"Unknown deployment {deployment!r}: use one of {names}, or null for all.", "deployment"
            )
        return deployment

    # --- scripted answers -------------------------------------------------------------------------

    async def push(self, request: Request) -> Any:
        body = await self._body(request)
        backend = self._scripted()
        answers = body.get("answers")
        if not isinstance(answers, list) or not answers:
            raise _bad(
                'Send {"answers": [...]}: a non-empty list of answers such as {"json": {...}} or {"text": "..."}.',
                "answers",
            )
        unknown = sorted(set(body) - {"answers", "deployment"})
        if unknown:
            raise _bad(f"Unknown field(s) {', '.join(unknown)}: send answers and, optionally, deployment.")
        deployment = self._deployment(body)
        decoded = [_answer(item, f"answers[{i}]") for i, item in enumerate(answers)]
        backend.push(*decoded, deployment=deployment)
        return {"queued": len(decoded), "pending": backend.pending, "deployment": deployment}

    async def pending(self, request: Request) -> Any:
        return {"pending": self._scripted().pending}

    async def clear_script(self, request: Request) -> Any:
        backend = self._scripted()
        cleared = backend.pending
        backend.clear()
        return {"cleared": cleared, "pending": 0}

    # --- faults -----------------------------------------------------------------------------------

    async def inject(self, request: Request) -> Any:
        body = await self._body(request)
        spec = body.get("fault")
        if not isinstance(spec, str) or not spec.strip():
            raise _bad(
                'Send {"fault": "rate_limit; retry_after_ms=10", "times": 1}: a fault in the '
                "x-emulator-fault header's syntax.",
                "fault",
            )
        unknown = sorted(set(body) - {"fault", "times", "deployment"})
        if unknown:
            raise _bad(
                f"Unknown field(s) {', '.join(unknown)}: send fault and, optionally, times and deployment."
            )
        times = body.get("times", 1)
        deployment = self._deployment(body)
        try:
            injections = parse_injections(spec, times=times, deployment=deployment)
            for injection in injections:
                self._deployment({"deployment": injection.deployment})
        except FaultSpecError as exc:
            raise _bad(f"Bad fault: {exc}", "fault") from None
        for injection in injections:
            self.emulator.inject(injection.fault, deployment=injection.deployment, times=injection.times)
        return {"injected": [_injection(i.fault, i.deployment, i.times) for i in injections]}

    async def faults(self, request: Request) -> Any:
        armed = self.emulator._faults.pending()
        return {"object": "list", "data": [_injection(f, d, t) for f, d, t in armed]}

    async def clear_faults(self, request: Request) -> Any:
        self.emulator.clear_faults()
        return {"cleared": True}

    # --- recorded requests ------------------------------------------------------------------------

    async def requests(self, request: Request) -> Any:
        return {"object": "list", "data": [r.to_json() for r in list(self.emulator.requests)]}

    async def clear_requests(self, request: Request) -> Any:
        cleared = len(self.emulator.requests)
        self.emulator.requests.clear()
        return {"cleared": cleared}

    async def reset(self, request: Request) -> Any:
        self.emulator.reset()
        return {"reset": True}

    # --- quotas -----------------------------------------------------------------------------------

    async def quotas(self, request: Request) -> Any:
        limiter = self.emulator.quotas
        remaining = {name: limiter.remaining(name) for name in sorted(self.emulator.deployments)}
        return {
            "default": limiter.default.to_json(),
            "deployments": {name: q.to_json() for name, q in sorted(limiter.configured().items())},
            "remaining": {name: {"requests": r, "tokens": t} for name, (r, t) in remaining.items()},
        }

    async def set_quota(self, request: Request) -> Any:
        body = await self._body(request)
        fields = set(Quota.__dataclass_fields__)
        unknown = sorted(set(body) - fields - {"deployment"})
        if unknown:
            raise _bad(
                f"Unknown field(s) {', '.join(unknown)}: send {', '.join(sorted(fields))} and deployment."
            )
        deployment = self._deployment(body)
        try:
            quota = Quota(**{k: v for k, v in body.items() if k in fields})
        except (TypeError, ValueError) as exc:
            raise _bad(f"Bad quota: {exc}") from None
        self.emulator.quotas.set(quota, deployment=deployment)
        return {"deployment": deployment, "quota": quota.to_json()}

    async def clear_quotas(self, request: Request) -> Any:
        self.emulator.quotas.clear()
        return {"cleared": True}


def _injection(fault: Fault, deployment: str | None, times: int | None) -> dict[str, Any]:
    return {"fault": fault.spec, "deployment": deployment, "times": times}


def _answer(item: Any, where: str) -> Any:
    """A scripted answer from its JSON form (see the module docstring)."""
    if not isinstance(item, dict) or not item:
        raise _bad(
            f"{where} must be an object with one of json, text, tool_calls, refusal or fault "
            f'(e.g. {{"json": {{"name": "John"}}}}), got {json.dumps(item)[:80]}.',
            where,
        )
    unknown = sorted(set(item) - set(_ANSWER_KEYS))
    if unknown:
        raise _bad(
            f"{where} has unknown field(s) {', '.join(unknown)}; use {', '.join(_ANSWER_KEYS)}.", where
        )
    for alone in ("json", "fault"):
        if alone in item and len(item) > 1:
            raise _bad(f"{where}: {alone!r} stands alone; put other fields in a separate answer.", where)
    if "json" in item:
        return item["json"]
    if "fault" in item:
        spec = item["fault"]
        try:
            if not isinstance(spec, str):
                raise FaultSpecError(f"expected a string in header syntax, got {json.dumps(spec)[:60]}")
            return Fault.parse(spec)
        except FaultSpecError as exc:
            raise _bad(f"{where}: bad fault: {exc}", where) from None
    text, refusal, finish = item.get("text"), item.get("refusal"), item.get("finish_reason")
    for name, value in (("text", text), ("refusal", refusal), ("finish_reason", finish)):
        if value is not None and not isinstance(value, str):
            raise _bad(f"{where}.{name} must be a string.", f"{where}.{name}")
    calls = _tool_calls(item.get("tool_calls"), f"{where}.tool_calls")
    if text is None and refusal is None and not calls:
        raise _bad(f"{where} says nothing: give text, tool_calls, refusal, json or fault.", where)
    if calls or refusal is not None or finish is not None:
        return Reply(content=text, tool_calls=calls, refusal=refusal, finish_reason=finish)
    return text


def _tool_calls(raw: Any, where: str) -> list[ToolCall]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _bad(f'{where} must be a list of {{"name": ..., "arguments": {{...}}}}.', where)
    calls = []
    for i, call in enumerate(raw):
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise _bad(f'{where}[{i}] must be {{"name": "...", "arguments": {{...}}}}.', f"{where}[{i}]")
        call_id = call.get("id")
        calls.append(
            ToolCall(call["name"], call.get("arguments", {}), call_id if isinstance(call_id, str) else None)
        )
    return calls
