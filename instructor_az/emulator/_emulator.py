"""`Emulator`: an offline Azure OpenAI resource, in-process or on loopback."""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

import httpx2

from ._api_versions import LATEST_GA
from ._app import EmulatorApp
from ._backends import Backend, SchemaBackend, ScriptedBackend
from ._batches import BatchStore
from ._body import DEFAULT_MAX_BODY_BYTES
from ._connection import loopback_protocol
from ._deployments import Deployment, default_deployments, spillover_problem
from ._fault_queue import FaultBook
from ._faults import MAX_LATENCY_SECONDS, Fault
from ._files import FileStore
from ._identity import Identity
from ._outage import Outage, OutageKind, Outages
from ._quota import Clock, Quota, QuotaLimiter
from ._records import RecordedRequest
from ._response_store import ResponseStore
from ._tokens import COGNITIVE_SERVICES, DEFAULT_TENANT_ID, access_token
from ._transport import AsyncEmulatorTransport, EmulatorTransport, _LoopThread

if TYPE_CHECKING:
    from openai import AsyncAzureOpenAI, AsyncOpenAI, AzureOpenAI, OpenAI

DEFAULT_API_KEY = "emulator-key"
DEFAULT_ENDPOINT = "https://emulator.openai.azure.com"
BackendName = Literal["scripted", "schema", "local"]


def make_backend(backend: Backend | BackendName) -> Backend:
    if isinstance(backend, Backend):
        return backend
    if backend == "scripted":
        return ScriptedBackend()
    if backend == "schema":
        return SchemaBackend()
    if backend == "local":
        from ._local import LocalBackend

        return LocalBackend()
    raise ValueError(
        f"unknown backend {backend!r}: expected 'scripted', 'schema', 'local' or a Backend instance"
    )


class EntraTokenFactory(Protocol):
    """`Emulator.entra_token`: on the class, a token of the default tenant; on an emulator, of its tenant."""

    def __call__(
        self,
        subject: str = "emulator-user",
        *,
        audience: str = COGNITIVE_SERVICES,
        tenant_id: str | None = None,
        lifetime: int = 3600,
    ) -> str: ...


class _EntraToken:
    """A method that works on the class (as it always has) and on an instance (its tenant, its clock)."""

    @overload
    def __get__(self, instance: None, owner: type[Emulator]) -> EntraTokenFactory: ...

    @overload
    def __get__(self, instance: Emulator, owner: type[Emulator]) -> EntraTokenFactory: ...

    def __get__(self, instance: Emulator | None, owner: type[Emulator]) -> EntraTokenFactory:
        identity = instance.identity if instance is not None else None

        def entra_token(
            subject: str = "emulator-user",
            *,
            audience: str = COGNITIVE_SERVICES,
            tenant_id: str | None = None,
            lifetime: int = 3600,
        ) -> str:
            """A signed Entra ID access token the data plane accepts (for `azure_ad_token=` or a token
            provider), as the emulated Entra ID issues them: `aud` Cognitive Services, an hour's life."""
            if identity is not None:
                return identity.token(subject, audience=audience, tenant_id=tenant_id, lifetime=lifetime)
            return access_token(
                audience=audience,
                tenant_id=tenant_id or DEFAULT_TENANT_ID,
                client_id="emulator-client",
                now=time.time(),
                lifetime=lifetime,
                subject=subject,
            )

        return entra_token


class Emulator:
    """An Azure OpenAI resource that runs offline.

    ```python
    emulator = Emulator(backend="scripted")
    emulator.scripted.push({"name": "John", "age": 30})
    client = emulator.client()            # an AzureOpenAI bound in-process: no sockets
    ```

    - `api_keys`: keys accepted in the `api-key` header (or as a bearer token on the v1 routes).
    - `bearer_tokens`: an exact list of bearer tokens accepted instead of Entra ID tokens; None checks
      Entra ID tokens (see `identity` and docs/emulator.md "Entra ID and managed identity").
    - `tenant_id`: the resource's Entra tenant: the data plane then rejects tokens of other tenants.
    - `deployments`: replaces the default deployments (gpt-4, gpt-4o, gpt-4o-mini, gpt-4o-batch,
      gpt-4o-mini-batch, gpt-4o-ptu, gpt-35-turbo-instruct, text-embedding-3-large, dall-e-3, tts, tts-hd,
      whisper).
    - `backend`: the default backend: "scripted", "schema", "local" (a real small model; needs the
      `local` extra), or a `Backend`.
    - `chunk_chars`: characters per streamed delta.
    - `max_body_bytes`: the largest request body accepted (default 32 MiB); a larger one gets a 413,
      decided from `Content-Length` or while reading, without reading the body whole.
    - `quotas`: Azure's rate limits (see `Quota`, docs/emulator.md "Quotas"): one `Quota` for every
      deployment, or `{deployment: Quota}`; change them later with `emulator.quotas.set(...)`.
    - `clock`: the limiter's time source and latency sleeper (`ManualClock()` in tests).
    - `endpoint`: the resource's URL, which the in-process clients address (default `DEFAULT_ENDPOINT`);
      give each emulator standing in for a region its own, with its `region` (sent as `x-ms-region`).
    - `latency`: seconds every data-plane request waits before it is handled (the region's base latency,
      on `clock`: a `ManualClock` advances instead of waiting); settable later (`emulator.latency = 0.2`).

    Outages (`outage(kind, ...)`, `restore()`, `outage_failures`, see `_outage`) take the resource or one
    deployment down; a provisioned deployment spills over to a standard one as Azure's does (`_spillover`).
    """

    def __init__(
        self,
        *,
        api_keys: Iterable[str] = (DEFAULT_API_KEY,),
        bearer_tokens: Iterable[str] | None = None,
        deployments: Iterable[Deployment] | None = None,
        backend: Backend | BackendName = "schema",
        chunk_chars: int = 8,
        region: str = "Emulator",
        extra_api_versions: Iterable[str] = (),
        max_recorded: int = 10_000,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        quotas: Quota | Mapping[str, Quota] | None = None,
        clock: Clock | None = None,
        tenant_id: str | None = None,
        endpoint: str = DEFAULT_ENDPOINT,
        latency: float = 0.0,
    ) -> None:
        self.api_keys: tuple[str, ...] = tuple(api_keys)
        if not self.api_keys:
            raise ValueError("an emulator needs at least one API key")
        self.bearer_tokens = frozenset(bearer_tokens) if bearer_tokens is not None else None
        self.endpoint = _endpoint(endpoint)
        self.latency = latency
        self.deployments: dict[str, Deployment] = {}
        for deployment in deployments if deployments is not None else default_deployments():
            self.deployments[deployment.name] = deployment
        for deployment in self.deployments.values():
            self._check_spillover(deployment)
        self.backend = make_backend(backend)
        if chunk_chars < 1:
            raise ValueError("chunk_chars must be at least 1")
        self.chunk_chars = chunk_chars
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int) or max_body_bytes < 1:
            raise ValueError(
                f"max_body_bytes must be a positive whole number of bytes, got {max_body_bytes!r}"
            )
        self.max_body_bytes = max_body_bytes
        self.region = region
        self.extra_api_versions = frozenset(extra_api_versions)
        self.requests: deque[RecordedRequest] = deque(maxlen=max_recorded)
        self._faults = FaultBook()
        self._outages = Outages()
        self.quotas = QuotaLimiter(quotas, clock)
        for name in self.quotas.configured():
            self.deployment(name)  # a quota for a deployment that does not exist is a mistake
        self.files = FileStore(lambda: self.quotas.clock)  # Files API (`_files`), on the limiter's clock
        self.batches = BatchStore(self.files, lambda: self.quotas.clock)  # Batch API (`_batches`)
        #: Responses API responses kept with `store` on (`_response_store`; Azure's default is to store).
        self.responses = ResponseStore()
        #: The emulated Entra ID and managed identities (`_identity`): apps, tokens, TLS for loopback.
        self.identity = Identity(tenant_id=tenant_id, max_recorded=max_recorded)
        self._loop_thread = _LoopThread()
        self.app = EmulatorApp(self)

    def __repr__(self) -> str:
        return f"Emulator(deployments={sorted(self.deployments)}, backend={type(self.backend).__name__})"

    # --- configuration ----------------------------------------------------------------------------

    @property
    def latency(self) -> float:
        """Seconds every data-plane request waits first (the region's base latency), on the clock."""
        return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
            raise ValueError(f"latency must be a finite number of seconds, got {seconds!r}")
        if not 0 <= seconds <= MAX_LATENCY_SECONDS:
            raise ValueError(f"latency must be from 0 to {MAX_LATENCY_SECONDS:g} seconds, got {seconds}")
        self._latency = float(seconds)

    def add_deployment(self, deployment: Deployment) -> Deployment:
        """Add (or replace) a deployment; a provisioned one's spillover target must already exist."""
        self._check_spillover(deployment)
        self.deployments[deployment.name] = deployment
        return deployment

    def _check_spillover(self, deployment: Deployment) -> None:
        name = deployment.spillover_deployment_name
        if name is None:
            return
        target = self.deployments.get(name)
        if target is None:
            raise ValueError(
                f"deployment {deployment.name!r} spills over to {name!r}, which the emulator does not have "
                f"({', '.join(sorted(self.deployments))}); Azure needs a standard deployment in the same resource"
            )
        problem = spillover_problem(deployment, target)
        if problem is not None:
            raise ValueError(f"deployment {deployment.name!r} cannot spill over to {name!r}: {problem}")

    def deployment(self, name: str) -> Deployment:
        try:
            return self.deployments[name]
        except KeyError:
            raise KeyError(
                f"no deployment {name!r}; the emulator has {', '.join(sorted(self.deployments))}"
            ) from None

    @property
    def scripted(self) -> ScriptedBackend:
        """The default backend, when it is scripted (`push` answers to it)."""
        if not isinstance(self.backend, ScriptedBackend):
            raise TypeError(
                f"this emulator's default backend is {type(self.backend).__name__}; create it with "
                "Emulator(backend='scripted') to queue answers"
            )
        return self.backend

    def inject(self, fault: Fault, *, deployment: str | None = None, times: int | None = 1) -> None:
        """Arm a fault for the next `times` requests it fires on (None: until `clear_faults`), optionally
        for one deployment. Injected faults wait in a first-in first-out queue: a request gets the oldest
        one that applies to it (plus the oldest latency fault, which combines with it), and a fault is
        used up only by requests it fires on. So `inject(Fault.rate_limit(), times=5)` then
        `inject(Fault.server_error(500), times=3)` gives five 429s, three 500s, then answers."""
        if deployment is not None:
            self.deployment(deployment)
        self._faults.inject(fault, deployment=deployment, times=times)

    def clear_faults(self) -> None:
        self._faults.clear()

    # --- outages ----------------------------------------------------------------------------------

    def outage(
        self,
        kind: OutageKind = "server_error",
        *,
        status: int = 503,
        retry_after_ms: int | None = None,
        seconds: float | None = None,
        deployment: str | None = None,
    ) -> Outage:
        """Take the resource (or one `deployment`) down until `restore()`: every data-plane request fails
        with a `server_error` (`status`, 503 by default; `retry_after_ms` optional), a `drop_connection`
        (closed with no response), a `refuse`d connection (whole resource only) or a `timeout` (held
        `seconds`, then closed). Replaces the outage already running there, so kinds can be switched
        mid-run. Returns the `Outage` (its `failures`, `restore()`; usable as `with emulator.outage(...):`)."""
        if deployment is not None:
            self.deployment(deployment)
        outage = Outage(
            kind,
            deployment=deployment,
            status=status,
            retry_after_ms=retry_after_ms,
            seconds=seconds,
            registry=self._outages,
        )
        return self._outages.start(outage)

    def restore(self) -> None:
        """End every outage (the resource's and each deployment's)."""
        self._outages.clear()

    @property
    def outages(self) -> dict[str | None, Outage]:
        """The running outages by scope (None: the whole resource; else a deployment's name)."""
        return self._outages.active()

    @property
    def outage_failures(self) -> int:
        """Requests outages failed since the emulator was made or `reset()` (refused ones included)."""
        return self._outages.failures

    def reset(self) -> None:
        """Forget recorded requests, faults, outages and usage, uploaded files and batch jobs, stored
        responses, tokens issued; clear a scripted backend's queue."""
        self.requests.clear()
        self._faults.clear()
        self._outages.reset()
        self.quotas.clear_usage()
        self.files.clear()
        self.batches.clear()
        self.responses.clear()
        self.identity.reset()
        if isinstance(self.backend, ScriptedBackend):
            self.backend.clear()

    @property
    def last_request(self) -> RecordedRequest:
        if not self.requests:
            raise LookupError("the emulator has not received any request yet")
        return self.requests[-1]

    def _record(self, request: RecordedRequest) -> None:
        self.requests.append(request)

    # --- rate-limit headers -----------------------------------------------------------------------

    def _remaining(self, deployment: str) -> tuple[int, int]:
        return self.quotas.remaining(deployment)

    # --- clients bound in-process -----------------------------------------------------------------

    def http_client(self) -> httpx2.Client:
        transport = EmulatorTransport(self.app, self._loop_thread, refuse=self._outages.refuses)
        return httpx2.Client(transport=transport)

    def async_http_client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=AsyncEmulatorTransport(self.app, refuse=self._outages.refuses))

    def client(
        self, *, api_version: str = LATEST_GA, api_key: str | None = None, **kwargs: Any
    ) -> AzureOpenAI:
        """An `AzureOpenAI` client talking to this emulator in-process (pass any other SDK argument)."""
        from openai import AzureOpenAI

        kwargs.setdefault("azure_endpoint", self.endpoint)
        if "azure_ad_token" not in kwargs and "azure_ad_token_provider" not in kwargs:
            kwargs["api_key"] = api_key or self.api_keys[0]
        return AzureOpenAI(api_version=api_version, http_client=self.http_client(), **kwargs)

    def async_client(
        self, *, api_version: str = LATEST_GA, api_key: str | None = None, **kwargs: Any
    ) -> AsyncAzureOpenAI:
        """An `AsyncAzureOpenAI` client talking to this emulator in-process."""
        from openai import AsyncAzureOpenAI

        kwargs.setdefault("azure_endpoint", self.endpoint)
        if "azure_ad_token" not in kwargs and "azure_ad_token_provider" not in kwargs:
            kwargs["api_key"] = api_key or self.api_keys[0]
        return AsyncAzureOpenAI(api_version=api_version, http_client=self.async_http_client(), **kwargs)

    def openai_client(self, *, api_key: str | None = None, **kwargs: Any) -> OpenAI:
        """An `OpenAI` client on Azure's `v1` routes (`base_url=.../openai/v1/`), in-process."""
        from openai import OpenAI

        kwargs.setdefault("base_url", f"{self.endpoint}/openai/v1/")
        return OpenAI(api_key=api_key or self.api_keys[0], http_client=self.http_client(), **kwargs)

    def async_openai_client(self, *, api_key: str | None = None, **kwargs: Any) -> AsyncOpenAI:
        from openai import AsyncOpenAI

        kwargs.setdefault("base_url", f"{self.endpoint}/openai/v1/")
        return AsyncOpenAI(
            api_key=api_key or self.api_keys[0], http_client=self.async_http_client(), **kwargs
        )

    entra_token = _EntraToken()

    # --- loopback ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def serve(
        self, host: str = "127.0.0.1", port: int = 0, *, log_level: str = "warning", tls: bool = False
    ) -> Iterator[str]:
        """Serve on loopback in a background thread; yields the endpoint (`http://127.0.0.1:PORT`).

        `tls=True` serves https with a certificate from the emulator's test CA (`identity.ca_path`): the
        data plane, the Entra ID endpoints (azure-identity insists on an https authority) and the
        managed-identity endpoint on the same port."""
        certificate = str(self.identity.ca.server_pem(host)) if tls else None
        server = LoopbackServer(self, host=host, port=port, log_level=log_level, certificate=certificate)
        server.start()
        previous, self.identity.endpoint = self.identity.endpoint, server.endpoint
        try:
            yield server.endpoint
        finally:
            self.identity.endpoint = previous
            server.stop()

    def close(self) -> None:
        self._loop_thread.close()
        self.identity.close()


class LoopbackServer:
    """uvicorn serving an emulator from a background thread (for end-to-end tests)."""

    def __init__(
        self,
        emulator: Emulator,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        certificate: str | None = None,
    ) -> None:
        """`certificate`: a PEM file with the server's key and certificate chain (then it serves https)."""
        import uvicorn

        config = uvicorn.Config(
            emulator.app,
            host=host,
            port=port,
            log_level=log_level,
            lifespan="off",
            ssl_keyfile=certificate,
            ssl_certfile=certificate,
            # uvicorn's own HTTP protocol, wrapped to close connections without a response (outages).
            http=loopback_protocol(emulator._outages.refuses),
        )
        self._scheme = "https" if certificate else "http"
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, name="instructor-az-emulator-server", daemon=True
        )
        self.endpoint = ""

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the emulator's loopback server did not start (is the port free?)")
            time.sleep(0.01)
        sockets = [s for server in self._server.servers for s in server.sockets]
        host, port = sockets[0].getsockname()[:2]
        if ":" in host:  # IPv6
            host = f"[{host}]"
        self.endpoint = f"{self._scheme}://{host}:{port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=0.3)  # uvicorn sees should_exit within 0.1 s; a clean stop takes less
        if self._thread.is_alive():
            # A client still holds a connection open (over TLS, asyncio waits for the client's close_notify,
            # which an idle pooled socket never sends): stop waiting for it.
            self._server.force_exit = True
            self._thread.join(timeout=10)


def _endpoint(endpoint: str) -> str:
    """`https://NAME.openai.azure.com` (or any http(s) URL), without a trailing slash."""
    if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
        raise ValueError(f"endpoint must be an http(s) URL such as {DEFAULT_ENDPOINT!r}, got {endpoint!r}")
    host = endpoint.split("://", 1)[1].rstrip("/")
    if not host or "/" in host:
        raise ValueError(
            f"endpoint must be the resource's URL without a path (as {DEFAULT_ENDPOINT!r}), got {endpoint!r}"
        )
    return endpoint.rstrip("/")
