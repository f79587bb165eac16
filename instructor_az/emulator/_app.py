"""The ASGI application: Azure OpenAI's data-plane routes, checks in Azure's order, and responses.

Order of checks for a request (as Azure answers them): the resource's base latency and a whole-resource
outage (`_outage`), route, api-version, authentication, body size, deployment, then that deployment's
outage, operation, context length, quota, JSON body, arguments, injected faults, the backend's answer.
What a provisioned deployment answers with a 429, 500, 503 or long-context 400 can spill over to a
standard deployment (`_spillover`). The control API (`/_emulator/...`, see `_control`) is routed here too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from . import _body as body_limits
from . import _media as media
from . import _quota as quota
from . import _responses as responses
from . import _spillover as spillover
from . import _validate as validate
from . import _wire as wire
from ._api_versions import SUPPORTED_VERSIONS, V1_VERSIONS, at_least
from ._asgi import DroppedJSON, EventStream
from ._backends import (
    Backend,
    BackendError,
    ChatRequest,
    Generation,
    Reply,
    SchemaBackend,
    ScriptedBackend,
    ScriptExhaustedError,
)
from ._batch_runner import BATCH_LINE
from ._batches import batch_routes
from ._call import Call, NoAnswer, finish, internal_error, record, response_headers, stream_headers
from ._connection import NoResponse
from ._control import control_routes
from ._deployments import Deployment
from ._faults import FAULT_HEADER, Fault, FaultSpecError, merge_latency
from ._files import file_routes
from ._identity_routes import identity_routes
from ._outage import Outage, is_data_plane
from ._responses_api import ResponsesAPI

if TYPE_CHECKING:
    from ._emulator import Emulator

log = logging.getLogger("instructor_az.emulator")

_Call = Call  # the name `_files` and `_batches` import
# The fault kinds each operation can show (a filter or a cut needs an answer to shape).
_MEDIA_FAULTS = frozenset({"rate_limit", "server_error", "latency", "prompt_filter"})
_APPLICABLE_FAULTS: dict[str, frozenset[str] | None] = {
    "chat": None,
    "completions": None,
    "embeddings": frozenset({"rate_limit", "server_error", "latency", "drop_connection"}),
}
_OPERATION_NAMES = {
    "chat": "ChatCompletions_Create",
    "completions": "Completions_Create",
    "embeddings": "Embeddings_Create",
    **media.OPERATION_IDS,
}


_T = TypeVar("_T")


async def _run_backend(backend: Backend, method: Callable[[ChatRequest], _T], chat: ChatRequest) -> _T:
    """Call a backend method (in a worker thread when it blocks), turning its errors into Azure 400s."""
    try:
        if backend.blocking:
            return await anyio.to_thread.run_sync(method, chat)
        return method(chat)
    except ScriptExhaustedError as exc:
        raise wire.invalid_request(f"Emulator: {exc}", code="EmulatorScriptExhausted") from None
    except BackendError as exc:
        raise _backend_error(exc) from None


def _backend_error(exc: BackendError) -> wire.AzureError:
    if exc.code:
        return wire.invalid_request(str(exc), code=exc.code, param=exc.param)
    return wire.invalid_request(f"Emulator: {exc}", code="EmulatorBackendError", param=exc.param)


class EmulatorApp:
    """The ASGI app of one `Emulator`: all state lives on the emulator."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self._router = Starlette(
            routes=[
                Route("/openai/deployments/{deployment}/chat/completions", self._chat, methods=["POST"]),
                Route("/openai/deployments/{deployment}/completions", self._completions, methods=["POST"]),
                Route("/openai/deployments/{deployment}/embeddings", self._embeddings, methods=["POST"]),
                Route("/openai/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/openai/v1/completions", self._completions, methods=["POST"]),
                Route("/openai/v1/embeddings", self._embeddings, methods=["POST"]),
                Route("/openai/deployments/{deployment}/images/generations", self._images, methods=["POST"]),
                Route("/openai/deployments/{deployment}/audio/speech", self._speech, methods=["POST"]),
                Route(
                    "/openai/deployments/{deployment}/audio/transcriptions",
                    self._transcriptions,
                    methods=["POST"],
                ),
                Route(
                    "/openai/deployments/{deployment}/audio/translations",
                    self._translations,
                    methods=["POST"],
                ),
                Route("/openai/v1/images/generations", self._images, methods=["POST"]),
                Route("/openai/v1/audio/speech", self._speech, methods=["POST"]),
                Route("/openai/v1/audio/transcriptions", self._transcriptions, methods=["POST"]),
                Route("/openai/v1/audio/translations", self._translations, methods=["POST"]),
                Route("/openai/v1/models", self._models, methods=["GET"]),
                Route("/openai/deployments", self._list_deployments, methods=["GET"]),
                *file_routes(self),
                *batch_routes(self),
                *ResponsesAPI(self).routes(),  # the Responses API (`_responses_api`)
                *control_routes(emulator),
                *identity_routes(emulator),
                Route("/{path:path}", self._not_found, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
            ],
            exception_handlers={Exception: internal_error},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and is_data_plane(scope.get("path", ""))
            and not scope.get("extensions", {}).get(BATCH_LINE)
        ):
            emulator = self.emulator
            if emulator.latency:
                await emulator.quotas.clock.sleep(emulator.latency)  # the region's base latency
            outage = emulator._outages.current(None)
            if outage is not None:
                await self._resource_down(outage, scope, receive, send)
                return
        await self._router(scope, receive, send)

    async def _resource_down(self, outage: Outage, scope: Scope, receive: Receive, send: Send) -> None:
        """A whole-resource outage: every data-plane request fails before it is read or authenticated."""
        call = Call(Request(scope, receive), "outage", faults=list(outage.faults), outage=outage)
        fault = outage.fault
        if fault is not None and fault.kind == "server_error":
            response = self._finish(call, wire.server_error(fault.status, retry_after_ms=fault.retry_after_ms))
            await response(scope, receive, send)
            return
        # drop_connection, timeout, or a refused connection the transport did not refuse itself (a
        # transport built by hand, a request line split across reads): no response.
        record(self.emulator, call, 0)
        self.emulator._outages.fail(outage)
        await NoResponse(outage.seconds)(scope, receive, send)

    # --- routes -----------------------------------------------------------------------------------

    async def _not_found(self, request: Request) -> Response:
        call = Call(request, "unknown")
        return self._finish(call, wire.resource_not_found())

    async def _models(self, request: Request) -> Response:
        call = Call(request, "models")
        try:
            self._check_api_version(call, v1=True)
            self._authenticate(call)
        except wire.AzureError as error:
            return self._finish(call, error)
        data = [
            {"id": d.name, "object": "model", "created": 0, "owned_by": "system"}
            for d in self.emulator.deployments.values()
        ]
        return self._finish(call, {"object": "list", "data": data})

    async def _list_deployments(self, request: Request) -> Response:
        call = Call(request, "deployments")
        try:
            self._check_api_version(call, v1=False)
            self._authenticate(call)
        except wire.AzureError as error:
            return self._finish(call, error)
        data = [
            {"id": d.name, "model": d.model, "object": "deployment", "status": "succeeded"}
            for d in self.emulator.deployments.values()
        ]
        return self._finish(call, {"object": "list", "data": data})

    async def _chat(self, request: Request) -> Any:
        return await self._serve(request, "chat")

    async def _completions(self, request: Request) -> Any:
        return await self._serve(request, "completions")

    async def _embeddings(self, request: Request) -> Any:
        return await self._serve(request, "embeddings")

    async def _images(self, request: Request) -> Any:
        return await self._serve_media(request, media.IMAGES)

    async def _speech(self, request: Request) -> Any:
        return await self._serve_media(request, media.SPEECH)

    async def _transcriptions(self, request: Request) -> Any:
        return await self._serve_media(request, media.TRANSCRIPTIONS)

    async def _translations(self, request: Request) -> Any:
        return await self._serve_media(request, media.TRANSLATIONS)

    # --- the pipeline -----------------------------------------------------------------------------

    async def _admit(self, call: Call) -> media.Form | None:
        """The checks every data-plane request passes, in Azure's order, up to its deployment: api-version,
        route, auth, body size, deployment, body (then `_admit_deployment`). Returns a multipart form (None
        for JSON bodies), also kept as `call.form`."""
        request, operation = call.request, call.operation
        v1 = "deployment" not in request.path_params
        self._check_api_version(call, v1=v1)
        if operation in media.OPERATIONS:
            media.check_route_version(operation, call.api_version, self.emulator.extra_api_versions)
        self._authenticate(call)
        raw = await body_limits.read_body(request, self.emulator.max_body_bytes)
        if not v1:
            call.deployment = self._deployment(request.path_params["deployment"])
        form: media.Form | None = None
        if operation in media.MULTIPART:
            form = media.parse_multipart(request.headers.get("content-type"), raw)
            call.body, fields = form.record(), dict(form.fields)
        else:
            call.body = fields = body_limits.parse_json(raw)
        if v1:
            model = fields.get("model")
            if model is None:
                raise wire.missing_parameter("model")
            if not isinstance(model, str):
                raise wire.invalid_type("model", "a string", model)
            call.deployment = self._deployment(model)
        call.form = form
        return form

    def _admit_deployment(self, call: Call) -> None:
        """The checks of the deployment answering (the one addressed, or the one it spilled over to):
        its outage, the operation, the model's api-version, the context length, then its quota."""
        deployment = call.deployment
        assert deployment is not None
        self.check_outage(call)
        self._check_operation(deployment, call.operation)
        self._check_model_api_version(call)
        spillover.check_context(call)
        self._charge(call)

    def check_outage(self, call: Call) -> None:
        """The answering deployment's region down (`Emulator.outage`): its 5xx, or no answer at all."""
        assert call.deployment is not None
        outage = self.emulator._outages.current(call.deployment.name)
        if outage is None:
            return
        call.outage = outage
        call.faults.extend(outage.faults)
        fault = outage.fault
        if fault is not None and fault.kind == "server_error":
            raise wire.server_error(fault.status, retry_after_ms=fault.retry_after_ms)
        raise NoAnswer(NoResponse(outage.seconds), call)

    def admit_quota(self, call: Call, prompt: int, reserve: int | None, operation: str) -> None:
        """Charge the request to its deployment's RPM / TPM quota (`_quota`); Azure's 429 when over."""
        assert call.deployment is not None
        try:
            call.quota = self.emulator.quotas.admit(call.deployment.name, prompt, reserve)
        except quota.RateLimited as exc:
            raise wire.rate_limited(
                retry_after_ms=exc.retry_after_ms,
                operation=operation,
                api_version=call.api_version,
                limit=exc.limit,
                remaining=exc.remaining,
            ) from None

    def _unanswered(self, gone: NoAnswer) -> Any:
        """A request an outage ends without a response: recorded with status 0, counted."""
        record(self.emulator, gone.call, 0)
        if gone.call.outage is not None:
            self.emulator._outages.fail(gone.call.outage)
        return gone.response

    def _charge(self, call: Call) -> None:
        """Count the request against its deployment's quota (`_quota`): Azure's 429 when over."""
        deployment = call.deployment
        assert deployment is not None
        if call.request.scope.get("extensions", {}).get(BATCH_LINE):
            return  # a batch job's line: batch runs under the enqueued-token quota, not RPM / TPM
        prompt, reserve = quota.estimate(call.operation, call.body, deployment.name, deployment.model)
        self.admit_quota(call, prompt, reserve, _OPERATION_NAMES.get(call.operation, call.operation))

    async def _take_faults(self, call: Call) -> Fault | None:
        """Injected and header faults, once the request passed every check: waits out their latency,
        raises their HTTP error. Returns the latency fault (for stream pacing)."""
        assert call.deployment is not None
        try:
            taken = self.emulator._faults.take(
                call.deployment.name,
                call.request.headers.get(FAULT_HEADER),
                applicable=_APPLICABLE_FAULTS.get(call.operation, _MEDIA_FAULTS),
            )
            call.faults.extend(taken)
        except FaultSpecError as exc:
            raise wire.invalid_request(
                f"Bad {FAULT_HEADER} header: {exc}", param=FAULT_HEADER, code="EmulatorBadFault"
            ) from None
        latency = merge_latency(call.faults)
        if latency is not None and latency.seconds:
            await anyio.sleep(latency.seconds)
        self._raise_http_faults(call)
        return latency

    async def _serve(self, request: Request, operation: str) -> Any:
        call = Call(request, operation)
        try:
            await self._admit(call)
            return await spillover.serve(self.emulator, call, self._answer)
        except NoAnswer as gone:
            return self._unanswered(gone)
        except wire.AzureError as error:
            return self._finish(call, error)

    async def _answer(self, call: Call) -> Any:
        """Chat, completions or embeddings from the deployment answering `call`."""
        operation = call.operation
        try:
            self._admit_deployment(call)
            assert call.deployment is not None
            if operation == "embeddings":
                texts = validate.validate_embeddings(call.body, call.deployment)
                await self._take_faults(call)
                body = responses.embeddings(texts, call.deployment, call.body)
                if any(f.kind == "drop_connection" for f in call.faults):
                    self._record(call, 200)
                    return DroppedJSON(json.dumps(body).encode(), self._headers(call, 200))
                return self._finish(call, body)
            if operation == "chat":
                validate.validate_chat(call.body, call.deployment, call.api_version)
            else:
                validate.validate_completions(call.body, call.api_version)
            latency = await self._take_faults(call)
            self._raise_prompt_filter(call)
            return await self._generate(call, latency)
        except wire.AzureError:
            if call.quota is not None:
                call.quota.settle(0)
            raise

    async def _serve_media(self, request: Request, operation: str) -> Any:
        """Images and audio, through the same admission checks as `_serve`."""
        call = Call(request, operation)
        try:
            await self._admit(call)
            return await spillover.serve(self.emulator, call, self._answer_media)
        except NoAnswer as gone:
            return self._unanswered(gone)
        except wire.AzureError as error:
            return self._finish(call, error)

    async def _answer_media(self, call: Call) -> Response:
        operation, form = call.operation, call.form
        try:
            self._admit_deployment(call)
            assert call.deployment is not None
            if operation == media.IMAGES:
                image = media.validate_images(call.body, call.deployment)
                await self._take_faults(call)
                for fault in call.faults:
                    if fault.kind == "prompt_filter":  # DALL-E's own error body, not chat's
                        raise media.image_prompt_filtered(fault.flagged, image)
                return self._finish(call, media.image_response(image))
            if operation == media.SPEECH:
                speech = media.validate_speech(call.body)
                await self._take_faults(call)
                self._raise_prompt_filter(call)
                audio, content_type = media.speech_audio(speech)
                return self._media_response(call, audio, content_type)
            assert form is not None
            params = media.validate_transcription(form)
            await self._take_faults(call)
            self._raise_prompt_filter(call)
            text = await self._transcript(call)
            answer, content_type = media.transcription_body(params, text, operation)
            if isinstance(answer, dict):
                return self._finish(call, answer)
            return self._media_response(call, answer.encode("utf-8"), content_type)
        except wire.AzureError:
            if call.quota is not None:
                call.quota.settle(0)
            raise

    async def _transcript(self, call: Call) -> str:
        """A scripted backend's queued answer when there is one (so tests script transcripts), else fixed text."""
        deployment = call.deployment
        assert deployment is not None
        backend = deployment.backend or self.emulator.backend
        if not isinstance(backend, ScriptedBackend):
            return media.DEFAULT_TRANSCRIPT
        chat = ChatRequest(deployment.name, deployment.model, call.body, call.operation)
        while True:
            try:
                answer = backend.reply(chat)
            except ScriptExhaustedError:
                return media.DEFAULT_TRANSCRIPT
            except BackendError as exc:
                raise wire.invalid_request(f"Emulator: {exc}", code="EmulatorBackendError") from None
            if not isinstance(answer, Fault):
                return answer.content if answer.content is not None else media.DEFAULT_TRANSCRIPT
            # A queued fault applies to this request, as for chat; the next answer is the transcript.
            call.faults.append(answer)
            self._raise_http_faults(call)
            self._raise_prompt_filter(call)
            if answer.kind == "latency":
                await anyio.sleep(answer.seconds)

    def _media_response(self, call: Call, content: bytes, content_type: str) -> Response:
        self._record(call, 200)
        return Response(content, status_code=200, headers=self._headers(call, 200), media_type=content_type)

    def _check_api_version(self, call: Call, *, v1: bool) -> None:
        version = call.request.query_params.get("api-version")
        call.api_version = version
        if v1:
            if version is not None and version not in V1_VERSIONS:
                raise wire.api_version_not_supported()
            call.api_version = None
            return
        if version is None:
            raise wire.resource_not_found()
        if version not in SUPPORTED_VERSIONS and version not in self.emulator.extra_api_versions:
            raise wire.api_version_not_supported()

    def _authenticate(self, call: Call) -> None:
        headers = call.request.headers
        emulator = self.emulator
        key = headers.get("api-key")
        if key is not None:
            call.auth = "api-key"
            if key in emulator.api_keys:
                return
            raise wire.unauthorized_key()
        authorization = headers.get("authorization")
        if authorization is not None:
            call.auth = "bearer"
            scheme, _, token = authorization.partition(" ")
            token = token.strip()
            if scheme.lower() == "bearer" and token:
                if token in emulator.api_keys:
                    return
                if emulator.bearer_tokens is not None:
                    if token in emulator.bearer_tokens:
                        return
                else:
                    problem = emulator.identity.bearer_problem(
                        token, v1=call.request.url.path.startswith("/openai/v1/")
                    )
                    if problem is None:
                        return
                    log.debug("emulator refused a bearer token: %s", problem)
            raise wire.unauthorized_token()
        raise wire.unauthorized_key()

    def _deployment(self, name: str) -> Deployment:
        deployment = self.emulator.deployments.get(name)
        if deployment is None:
            raise wire.deployment_not_found()
        return deployment

    @staticmethod
    def _check_model_api_version(call: Call) -> None:
        deployment = call.deployment
        since = deployment.min_api_version if deployment is not None else None
        if deployment is not None and since and call.api_version and not at_least(call.api_version, since):
            raise wire.model_needs_newer_api_version(deployment.model, since)

    def _check_operation(self, deployment: Deployment, operation: str) -> None:
        if deployment.kind != media.DEPLOYMENT_KIND.get(operation, operation):
            label = {
                "chat": "chatCompletion",
                "completions": "completion",
                "embeddings": "embeddings",
                **media.OPERATION_LABELS,
            }[operation]
            raise wire.operation_not_supported(label, deployment.model)

    def _raise_http_faults(self, call: Call) -> None:
        for fault in call.faults:
            if fault.kind == "rate_limit":
                raise wire.rate_limited(
                    retry_after_ms=fault.retry_after_ms or 0,
                    operation=_OPERATION_NAMES.get(call.operation, call.operation),
                    api_version=call.api_version,
                )
            if fault.kind == "server_error":
                raise wire.server_error(fault.status, retry_after_ms=fault.retry_after_ms)

    def _raise_prompt_filter(self, call: Call) -> None:
        for fault in call.faults:
            if fault.kind == "prompt_filter":
                raise wire.prompt_filtered(fault.flagged, api_version=call.api_version)

    @staticmethod
    async def _ask(backend: Backend, chat: ChatRequest) -> Reply | Fault:
        return await _run_backend(backend, backend.reply, chat)

    @staticmethod
    async def _ask_stream(backend: Backend, chat: ChatRequest) -> Generation | None:
        return await _run_backend(backend, backend.stream, chat)

    async def _generate(self, call: Call, latency: Fault | None) -> Any:
        deployment = call.deployment
        assert deployment is not None
        backend = deployment.backend or self.emulator.backend
        chat = ChatRequest(deployment.name, deployment.model, call.body, call.operation)
        count = call.body.get("n") or 1
        if call.body.get("stream") and call.operation == "chat" and count == 1 and not call.faults:
            generation = await self._ask_stream(backend, chat)
            if generation is not None:
                admission = call.quota

                def close() -> None:
                    generation.close()
                    if admission is not None:
                        admission.settle(generation.completion_tokens or 0)

                events = responses.chat_chunks(
                    chat,
                    deployment,
                    [responses.live(generation)],
                    call.api_version,
                    chunk_chars=self.emulator.chunk_chars,
                )
                return EventStream(events, self._stream_headers(call), blocking=True, on_close=close)
        replies: list[Reply] = []
        for _ in range(count):
            answer = await self._ask(backend, chat)
            # A fault queued as a scripted answer applies to this request; the next answer is what it shapes.
            # A rule that answers every request with the same shaping fault (a filter, a cut) would give it
            # again: the answer it shapes is then the schema's value (it is cut anyway).
            while isinstance(answer, Fault):
                if answer in call.faults:
                    answer = SchemaBackend().reply(chat)
                    continue
                call.faults.append(answer)
                self._raise_http_faults(call)
                self._raise_prompt_filter(call)
                if answer.kind == "latency":
                    await anyio.sleep(answer.seconds)
                    latency = merge_latency([f for f in call.faults if f.kind == "latency"])
                answer = await self._ask(backend, chat)
            replies.append(answer)
        shaping = [f for f in call.faults if f.kind in ("completion_filter", "length")]
        default_max = 16 if call.operation == "completions" else None
        shaped = [responses.shape(chat, r, shaping, default_max_tokens=default_max) for r in replies]
        drop = next((f for f in call.faults if f.kind == "drop_connection"), None)
        completion_tokens = sum(s.completion_tokens for s in shaped)
        if call.quota is not None:
            call.quota.settle(completion_tokens)
        limiter = self.emulator.quotas
        pace = limiter.latency(deployment.name, completion_tokens)  # Quota.seconds_per_100_tokens
        if call.body.get("stream"):
            if call.operation == "chat":
                chunks = responses.chat_chunks(
                    chat, deployment, shaped, call.api_version, chunk_chars=self.emulator.chunk_chars
                )
            else:
                chunks = responses.text_completion_chunks(
                    chat, deployment, shaped, chunk_chars=self.emulator.chunk_chars
                )
            sse = list(chunks)
            return EventStream(
                iter(sse),
                self._stream_headers(call),
                chunk_seconds=(latency.chunk_seconds if latency else 0.0) + pace / (len(sse) + 1),
                drop_after=drop.after_chunks if drop else None,
                sleep=limiter.clock.sleep,
            )
        if pace:
            await limiter.clock.sleep(pace)
        if call.operation == "chat":
            body = responses.chat_completion(chat, deployment, shaped, call.api_version)
        else:
            body = responses.text_completion(chat, deployment, shaped, call.api_version)
        if drop is not None:
            self._record(call, 200)
            return DroppedJSON(json.dumps(body).encode(), self._headers(call, 200))
        return self._finish(call, body)

    # --- responses (`_call`; `_files` and `_batches` answer through these too) -----------------------

    def _headers(self, call: Call, status: int) -> dict[str, str]:
        return response_headers(self.emulator, call, status)

    def _stream_headers(self, call: Call) -> dict[str, str]:
        return stream_headers(self.emulator, call)

    def _finish(self, call: Call, result: Any) -> Response:
        return finish(self.emulator, call, result)

    def _record(self, call: Call, status: int) -> None:
        record(self.emulator, call, status)
