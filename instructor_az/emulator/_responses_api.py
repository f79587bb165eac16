"""Azure's Responses API: its routes, their checks in Azure's order, and the answers.

Routes (Azure's Responses how-to, MicrosoftDocs/azure-ai-docs articles/ai-services/openai/how-to/
responses.md for the dated API, articles/ai-foundry/openai/how-to/responses.md for v1):

- `POST /openai/responses?api-version=...` (2025-03-01-preview and later; an earlier api-version gets
  the 404 of a route it does not have) and `POST /openai/v1/responses`: the deployment is the body's
  `model`.
- `GET` and `DELETE /openai/responses/{id}` (and `/openai/v1/responses/{id}`): a stored response.
- `GET /openai/responses/{id}/input_items` (and v1): its input items, newest first by default.

A create passes the same admission as chat: the region's latency and outages, api-version,
authentication, body size, deployment, its outage, quota (prompt plus `max_output_tokens`), the body's
checks (`_responses_input`), injected and header faults, then the backend's answer: the request is
translated to a `ChatRequest`, so `scripted`, `schema` and `local` backends answer it as they answer chat,
and their `Reply` becomes output items (`_responses_wire`). A provisioned deployment spills over as for
chat. With `store` (Azure's default) the response is kept in `emulator.responses` (`_response_store`);
`previous_response_id` puts the stored conversation before the new input.

Faults: `rate_limit` and `server_error` are HTTP errors before any answer (a `server_error` with
`after_chunks` > 0 fails a stream in-band after that many events instead: response.failed, then an
`error` event); `latency` delays (and paces events); `drop_connection` cuts the body or the stream;
`prompt_filter` is Azure's 400 `content_filter` for a non-streamed request and, for a stream,
response.created then response.failed and an `error` event (as Azure ends a filtered v1 stream);
`completion_filter` and `length` end the answer `incomplete` (`content_filter`, `max_output_tokens`).
"""

from __future__ import annotations

import json
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import _body as body_limits
from . import _responses as responses
from . import _responses_input as rin
from . import _responses_wire as rw
from . import _spillover as spillover
from . import _wire as wire
from ._api_versions import at_least
from ._asgi import DroppedJSON, EventStream
from ._backends import ChatRequest, SchemaBackend
from ._call import Call, NoAnswer, stream_headers
from ._faults import FAULT_HEADER, Fault, FaultSpecError, merge_latency

if TYPE_CHECKING:
    from ._app import EmulatorApp

#: The first dated api-version with the Responses API (Azure's how-to: "2025-03-01-preview or later").
RESPONSES_SINCE = "2025-03-01-preview"
#: The operation Azure's 429 message names (the emulator's choice, after Azure's `{Noun}_Create` names).
OPERATION = "Responses_Create"
_OPERATION = "responses"


class ResponsesEventStream(EventStream):
    """The Responses API's SSE framing: `event: <type>` and `data: <json>`, and no `data: [DONE]`."""

    def _lines(self) -> Generator[bytes, None, None]:
        for event in self.events:
            data = json.dumps(event, separators=(",", ":"))
            yield f"event: {event['type']}\ndata: {data}\n\n".encode()


@dataclass
class _Plan:
    """A create request, translated: its items, the conversation the backend sees, the chat request."""

    items: list[dict[str, Any]]
    conversation: list[dict[str, Any]]
    chat: ChatRequest
    prompt: int
    prompt_chars: int
    faults: list[Fault] = field(default_factory=list)


class ResponsesAPI:
    """The Responses API's routes on one `EmulatorApp` (state lives on its emulator)."""

    def __init__(self, app: EmulatorApp) -> None:
        self.app = app
        self.emulator = app.emulator

    def routes(self) -> list[Route]:
        routes: list[Route] = []
        for prefix in ("/openai", "/openai/v1"):
            routes += [
                Route(f"{prefix}/responses", self.create, methods=["POST"]),
                Route(f"{prefix}/responses/{{response_id}}", self.retrieve, methods=["GET"]),
                Route(f"{prefix}/responses/{{response_id}}", self.delete, methods=["DELETE"]),
                Route(f"{prefix}/responses/{{response_id}}/input_items", self.input_items, methods=["GET"]),
            ]
        return routes

    # --- admission ----------------------------------------------------------------------------------

    def _check_route(self, call: Call) -> None:
        """api-version (the dated API from 2025-03-01-preview; any on v1) and authentication."""
        v1 = call.request.url.path.startswith("/openai/v1/")
        self.app._check_api_version(call, v1=v1)
        version = call.api_version
        extra = self.emulator.extra_api_versions
        if version is not None and version not in extra and not at_least(version, RESPONSES_SINCE):
            raise wire.resource_not_found()
        self.app._authenticate(call)

    async def _admit(self, call: Call) -> None:
        self._check_route(call)
        raw = await body_limits.read_body(call.request, self.emulator.max_body_bytes)
        call.body = body = body_limits.parse_json(raw)
        model = body.get("model")
        if model is None:
            raise wire.missing_parameter("model")
        if not isinstance(model, str):
            raise wire.invalid_type("model", "a string", model)
        call.deployment = self.app._deployment(model)

    def _plan(self, call: Call) -> _Plan:
        """The request checked and translated; an unknown `previous_response_id` is Azure's 400."""
        deployment = call.deployment
        assert deployment is not None
        body = call.body
        items = rin.input_items(body)
        rin.validate_request(body, items, deployment)
        history: list[dict[str, Any]] = []
        previous = body.get("previous_response_id")
        if previous:
            stored = self.emulator.responses.get(previous)
            if stored is None:
                raise wire.invalid_request(
                    f"Previous response with id '{previous}' not found.",
                    param="previous_response_id",
                    code="previous_response_not_found",
                )
            history = list(stored.conversation)
        conversation = history + items
        messages = rin.to_messages(conversation, body.get("instructions"))
        chat = ChatRequest(deployment.name, deployment.model, rin.chat_body(body, messages), "chat")
        chars = sum(len(json.dumps(m.get("content"))) for m in messages)
        return _Plan(items, conversation, chat, responses.prompt_tokens(chat), chars)

    def _admit_deployment(self, call: Call) -> _Plan:
        """The answering deployment's checks: its outage, the operation, the model's api-version, the
        context length, the quota (charged before the body's own checks, as for chat)."""
        deployment = call.deployment
        assert deployment is not None
        self.app.check_outage(call)
        if deployment.kind != "chat":
            raise wire.operation_not_supported("responses", deployment.model)
        self.app._check_model_api_version(call)
        plan: _Plan | None = None
        refused: wire.AzureError | None = None
        try:
            plan = self._plan(call)
        except wire.AzureError as error:
            refused = error
        prompt = plan.prompt if plan is not None else 0
        limit = deployment.max_context_tokens
        if limit is not None and prompt > limit:
            raise wire.invalid_request(
                f"This model's maximum context length is {limit} tokens. However, your messages resulted in "
                f"{prompt} tokens. Please reduce the length of the messages.",
                param="input",
                code=spillover.CONTEXT_LENGTH_EXCEEDED,
            )
        reserve = call.body.get("max_output_tokens") if isinstance(call.body, dict) else None
        if not isinstance(reserve, int) or isinstance(reserve, bool):
            reserve = None
        self.app.admit_quota(call, prompt, reserve, OPERATION)
        if refused is not None:
            raise refused
        assert plan is not None
        return plan

    async def _take_faults(self, call: Call, *, stream: bool) -> Fault | None:
        assert call.deployment is not None
        try:
            call.faults.extend(
                self.emulator._faults.take(call.deployment.name, call.request.headers.get(FAULT_HEADER))
            )
        except FaultSpecError as exc:
            raise wire.invalid_request(
                f"Bad {FAULT_HEADER} header: {exc}", param=FAULT_HEADER, code="EmulatorBadFault"
            ) from None
        latency = merge_latency(call.faults)
        if latency is not None and latency.seconds:
            await anyio.sleep(latency.seconds)
        self._raise_http_faults(call, stream=stream)
        return latency

    def _raise_http_faults(self, call: Call, *, stream: bool) -> None:
        for fault in call.faults:
            if fault.kind == "rate_limit":
                raise wire.rate_limited(
                    retry_after_ms=fault.retry_after_ms or 0,
                    operation=OPERATION,
                    api_version=call.api_version,
                )
            if fault.kind == "server_error" and not (stream and fault.after_chunks):
                raise wire.server_error(fault.status, retry_after_ms=fault.retry_after_ms)

    def _prompt_filter(self, call: Call) -> Fault | None:
        return next((f for f in call.faults if f.kind == "prompt_filter"), None)

    # --- answers ------------------------------------------------------------------------------------

    def _finish(self, call: Call, result: Any) -> Response:
        """`_call.finish` with the Responses API's rate-limit headers (`_responses_wire.RATE_LIMIT_HEADERS`)."""
        deployment_known = call.deployment is not None
        if isinstance(result, wire.AzureError) and result.status == 429:
            result.headers.pop("retry-after", None)  # keeps retry-after-ms: the SDK's retry still waits
            result.headers.update(rw.RATE_LIMIT_HEADERS)
        response = self.app._finish(call, result)
        if deployment_known and not isinstance(result, wire.AzureError):
            response.headers.update(rw.RATE_LIMIT_HEADERS)
        return response

    def _stream_headers(self, call: Call) -> dict[str, str]:
        headers = stream_headers(self.emulator, call)
        headers.update(rw.RATE_LIMIT_HEADERS)
        return headers

    async def create(self, request: Request) -> Any:
        call = Call(request, _OPERATION)
        try:
            await self._admit(call)
            return await spillover.serve(self.emulator, call, self._answer)
        except NoAnswer as gone:
            return self.app._unanswered(gone)
        except wire.AzureError as error:
            return self._finish(call, error)

    async def _answer(self, call: Call) -> Any:
        try:
            plan = self._admit_deployment(call)
            stream = bool(call.body.get("stream"))
            latency = await self._take_faults(call, stream=stream)
            filtered = self._prompt_filter(call)
            if filtered is not None and not stream:
                raise wire.prompt_filtered(filtered.flagged, api_version=call.api_version)
            return await self._generate(call, plan, latency, stream=stream)
        except wire.AzureError:
            if call.quota is not None:
                call.quota.settle(0)
            raise

    def _skeleton(self, call: Call) -> rw.Skeleton:
        assert call.deployment is not None
        return rw.Skeleton(call.body, call.deployment, store=call.body.get("store") is not False)

    def _keep(self, call: Call, plan: _Plan, body: dict[str, Any]) -> None:
        """Store a finished response (with `store` on): its input items and its whole conversation."""
        if body.get("store") is False:
            return
        items = [
            rin.stored_item(item, rw.hex_id("msg_" if item["type"] == "message" else "fc_"))
            for item in plan.items
        ]
        conversation = [*plan.conversation, *body["output"]]
        deployment = call.deployment.name if call.deployment is not None else None
        self.emulator.responses.put(body, input_items=items, conversation=conversation, deployment=deployment)

    async def _generate(self, call: Call, plan: _Plan, latency: Fault | None, *, stream: bool) -> Any:
        deployment = call.deployment
        assert deployment is not None
        backend = deployment.backend or self.emulator.backend
        chat = plan.chat
        skeleton = self._skeleton(call)
        if stream and self._prompt_filter(call) is not None:
            return self._filtered_stream(call, plan, skeleton)
        if stream and not call.faults:
            generation = await self.app._ask_stream(backend, chat)
            if generation is not None:
                return self._live_stream(call, plan, skeleton, responses.live(generation))
        answer = await self.app._ask(backend, chat)
        while isinstance(answer, Fault):  # a fault queued as a scripted answer applies to this request
            if answer in call.faults:
                answer = SchemaBackend().reply(chat)
                continue
            call.faults.append(answer)
            self._raise_http_faults(call, stream=stream)
            if answer.kind == "prompt_filter":
                if not stream:
                    raise wire.prompt_filtered(answer.flagged, api_version=call.api_version)
                return self._filtered_stream(call, plan, skeleton)
            if answer.kind == "latency":
                await anyio.sleep(answer.seconds)
                latency = merge_latency([f for f in call.faults if f.kind == "latency"])
            answer = await self.app._ask(backend, chat)
        shaping = [f for f in call.faults if f.kind in ("completion_filter", "length")]
        shaped = responses.shape(chat, answer, shaping, default_max_tokens=None)
        ids = rw.ItemIds()
        input_tokens = shaped.prompt if shaped.prompt is not None else plan.prompt
        if call.quota is not None:
            call.quota.settle(shaped.completion_tokens)
        limiter = self.emulator.quotas
        pace = limiter.latency(deployment.name, shaped.completion_tokens)
        drop = next((f for f in call.faults if f.kind == "drop_connection"), None)

        def finish() -> dict[str, Any]:
            body = rw.final_body(skeleton, shaped, ids, input_tokens, plan.prompt_chars)
            self._keep(call, plan, body)
            return body

        if stream:
            events = list(rw.events(skeleton, shaped, ids, finish, chunk_chars=self.emulator.chunk_chars))
            broken = next((f for f in call.faults if f.kind == "server_error" and f.after_chunks), None)
            if broken is not None and broken.after_chunks < len(events):
                sent = events[: broken.after_chunks]
                tail = rw.failure(
                    skeleton,
                    sent,
                    {"type": "server_error", **rw.server_error_body(), "param": None},
                    response_error=rw.server_error_body(),
                )
                self._keep(call, plan, tail[0]["response"])
                events = sent + tail
            return ResponsesEventStream(
                iter(events),
                self._stream_headers(call),
                chunk_seconds=(latency.chunk_seconds if latency else 0.0) + pace / (len(events) + 1),
                drop_after=drop.after_chunks if drop else None,
                sleep=limiter.clock.sleep,
            )
        if pace:
            await limiter.clock.sleep(pace)
        body = finish()
        if drop is not None:
            self.app._record(call, 200)
            headers = {**self.app._headers(call, 200), **rw.RATE_LIMIT_HEADERS}
            return DroppedJSON(json.dumps(body).encode(), headers)
        return self._finish(call, body)

    def _filtered_stream(self, call: Call, plan: _Plan, skeleton: rw.Skeleton) -> ResponsesEventStream:
        """A streamed request whose prompt is filtered: Azure has already answered 200 and sent
        response.created; then response.failed (its `error` null) and an `error` event with the filter's
        error (the body of the non-streamed 400)."""
        fault = self._prompt_filter(call)
        flagged = fault.flagged if fault is not None else {"violence": "high"}
        if call.quota is not None:
            call.quota.settle(0)
        seq = rw.Sequencer()
        created = seq("response.created", response=skeleton.started())
        error = wire.prompt_filtered(flagged, api_version=call.api_version).body["error"]
        tail = rw.failure(skeleton, [created], error, response_error=None)
        self._keep(call, plan, tail[0]["response"])
        drop = next((f for f in call.faults if f.kind == "drop_connection"), None)
        return ResponsesEventStream(
            iter([created, *tail]),
            self._stream_headers(call),
            drop_after=drop.after_chunks if drop else None,
        )

    def _live_stream(
        self, call: Call, plan: _Plan, skeleton: rw.Skeleton, shaped: responses.Shaped
    ) -> ResponsesEventStream:
        """A backend generating as it streams (`Backend.stream`): its pieces go out as they come."""
        generation = shaped.live
        assert generation is not None
        admission = call.quota
        ids = rw.ItemIds()

        def finish() -> dict[str, Any]:
            input_tokens = shaped.prompt if shaped.prompt is not None else plan.prompt
            body = rw.final_body(skeleton, shaped, ids, input_tokens, plan.prompt_chars)
            self._keep(call, plan, body)
            return body

        def close() -> None:
            generation.close()
            if admission is not None:
                admission.settle(generation.completion_tokens or 0)

        events = rw.events(skeleton, shaped, ids, finish, chunk_chars=self.emulator.chunk_chars)
        return ResponsesEventStream(events, self._stream_headers(call), blocking=True, on_close=close)

    # --- stored responses ---------------------------------------------------------------------------

    def _stored_id(self, call: Call) -> str:
        self._check_route(call)
        response_id = str(call.request.path_params["response_id"])
        if response_id not in self.emulator.responses:
            raise wire.invalid_request(f"Response with id '{response_id}' not found.", status=404)
        return response_id

    async def retrieve(self, request: Request) -> Response:
        call = Call(request, _OPERATION)
        try:
            response_id = self._stored_id(call)
        except wire.AzureError as error:
            return self._finish(call, error)
        return self._finish(call, self.emulator.responses.body(response_id))

    async def delete(self, request: Request) -> Response:
        call = Call(request, _OPERATION)
        try:
            response_id = self._stored_id(call)
        except wire.AzureError as error:
            return self._finish(call, error)
        self.emulator.responses.delete(response_id)
        return self._finish(call, {"id": response_id, "object": "response", "deleted": True})

    async def input_items(self, request: Request) -> Response:
        call = Call(request, _OPERATION)
        try:
            response_id = self._stored_id(call)
            listing = self._listing(call, response_id)
        except wire.AzureError as error:
            return self._finish(call, error)
        return self._finish(call, listing)

    def _listing(self, call: Call, response_id: str) -> dict[str, Any]:
        """`input_items`: `limit` (1 to 100, default 20), `order` ("desc", the default, or "asc"), `after`."""
        stored = self.emulator.responses.get(response_id)
        assert stored is not None
        query = call.request.query_params
        order = query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise wire.invalid_value(
                "order", f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'."
            )
        try:
            limit = int(query.get("limit", "20"))
        except ValueError:
            raise wire.invalid_type("limit", "an integer", query.get("limit")) from None
        if not 1 <= limit <= 100:
            raise wire.invalid_value(
                "limit", f"Invalid 'limit': expected a value from 1 to 100, got {limit}."
            )
        items = list(stored.input_items)
        if order == "desc":
            items.reverse()
        after = query.get("after")
        if after:
            ids = [item.get("id") for item in items]
            items = items[ids.index(after) + 1 :] if after in ids else []
        page = items[:limit]
        return {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(items) > limit,
        }
