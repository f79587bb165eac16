"""Outages: an emulated resource (a region), or one of its deployments, that stops answering.

`Emulator.outage(kind, ...)` starts one and returns its `Outage`; `Emulator.restore()` ends every outage,
`outage.restore()` (or leaving `with emulator.outage(...):`) ends that one. Starting an outage where one
is already running replaces it, so a run can switch kinds mid-way (503s, then dropped connections).
Kinds:

- `server_error`: Azure's 5xx body (`status`, 503 by default, optionally with `retry_after_ms`).
- `drop_connection`: the connection closes once the request is read, with no status line.
- `refuse`: connections are refused before any request is read: in-process the transport raises
  `httpx2.ConnectError`, on loopback the server closes the socket when the request line arrives.
  Whole-resource only: a refused connection never says which deployment it was for.
- `timeout`: the request hangs for `seconds` (real time, as client timeouts are; by default
  `MAX_LATENCY_SECONDS`), or until the client gives up, then the connection closes with no response.

Each fails the way the SDK sees a real outage: `InternalServerError` (an `APIStatusError`) for
`server_error`, `APIConnectionError` for the others (`APITimeoutError` when the client's timeout is
shorter than a `timeout` outage), in-process and on loopback alike.

Where they apply. A whole-resource outage (`deployment=None`) fails every data-plane request (every
`/openai/...` route: inference, files, batches, models) before it is authenticated or routed, after the
resource's base `latency`; control (`/_emulator/...`) and Entra ID routes keep working. A deployment's
outage fails that deployment's inference requests once the deployment is known (after authentication),
before its quota is charged; it is that deployment's own answer, so a provisioned deployment's 503
spills over (`_spillover`). Batch jobs' lines are not affected (they run inside the service).

What a request gets is told with `Fault`s (`Fault.server_error(...)`, `Fault.drop_connection()`,
`Fault.latency(seconds)`), recorded in `RecordedRequest.faults` (with `status` 0 when no response went
out); refused connections are not recorded (they never reached the server). Outages are not queued with
`Emulator.inject`: an injected fault waits its turn in a first-in first-out queue, is consumed by the
requests it fires on and fires after the quota is charged, while an outage wins at once, is replaced or
ended without touching the queue, and costs no quota.

`Outage.failures` counts the requests one outage failed, `Emulator.outage_failures` all of them since
the last `reset()` (a request that spilled over and was served is not a failure). Thread-safe.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Literal

from ._faults import MAX_LATENCY_SECONDS, Fault, FaultSpecError

OutageKind = Literal["server_error", "drop_connection", "refuse", "timeout"]
OUTAGE_KINDS: tuple[str, ...] = ("server_error", "drop_connection", "refuse", "timeout")
#: How long a `timeout` outage holds a request by default (the longest latency a fault may have).
DEFAULT_TIMEOUT_SECONDS = MAX_LATENCY_SECONDS


def is_data_plane(path: str) -> bool:
    """Whether `path` is one of Azure OpenAI's data-plane routes (what an outage takes down)."""
    return path == "/openai" or path.startswith("/openai/")


class Outage:
    """One running (or ended) outage: `kind`, `deployment` (None: the whole resource), `faults` (what each
    request it fails is recorded with), `failures` (how many it failed), `active`. Ends with `restore()`
    or at the end of a `with` block."""

    def __init__(
        self,
        kind: OutageKind,
        *,
        deployment: str | None,
        status: int = 503,
        retry_after_ms: int | None = None,
        seconds: float | None = None,
        registry: Outages,
    ) -> None:
        if kind not in OUTAGE_KINDS:
            raise ValueError(f"unknown outage kind {kind!r}; expected one of {', '.join(OUTAGE_KINDS)}")
        if kind == "refuse" and deployment is not None:
            raise ValueError(
                "a 'refuse' outage takes the whole endpoint down: a refused connection never says which "
                "deployment it was for (use 'drop_connection' for one deployment)"
            )
        if kind != "timeout" and seconds is not None:
            raise ValueError(f"seconds= is for a 'timeout' outage, not {kind!r}")
        if kind != "server_error" and (status != 503 or retry_after_ms is not None):
            raise ValueError(f"status= and retry_after_ms= are for a 'server_error' outage, not {kind!r}")
        self.kind: OutageKind = kind
        self.deployment = deployment
        self.seconds = 0.0
        try:
            if kind == "server_error":
                self.faults: tuple[Fault, ...] = (Fault.server_error(status, retry_after_ms=retry_after_ms),)
            elif kind == "timeout":
                latency = Fault.latency(DEFAULT_TIMEOUT_SECONDS if seconds is None else seconds)
                self.seconds = latency.seconds
                self.faults = (latency, Fault.drop_connection())
            elif kind == "drop_connection":
                self.faults = (Fault.drop_connection(),)
            else:
                self.faults = ()
        except FaultSpecError as exc:
            raise ValueError(f"bad {kind} outage: {exc}") from None
        self._registry = registry
        self._failures = 0

    def __repr__(self) -> str:
        where = f"deployment={self.deployment!r}" if self.deployment else "the whole resource"
        state = "active" if self.active else "ended"
        return f"Outage({self.kind!r}, {where}, failures={self.failures}, {state})"

    @property
    def fault(self) -> Fault | None:
        """The error or cut a request gets (None for `refuse`)."""
        return self.faults[-1] if self.faults else None

    @property
    def failures(self) -> int:
        """Requests this outage failed."""
        with self._registry._lock:
            return self._failures

    @property
    def active(self) -> bool:
        return self._registry.current(self.deployment) is self

    def restore(self) -> None:
        """End this outage (nothing happens if it already ended or was replaced)."""
        self._registry.end(self)

    def __enter__(self) -> Outage:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.restore()


class Outages:
    """The running outages, one per scope (None: the whole resource; else a deployment's name), and the
    failure counts. Thread-safe: each request reads the outage for its scope once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[str | None, Outage] = {}
        self._failures = 0

    def start(self, outage: Outage) -> Outage:
        with self._lock:
            self._active[outage.deployment] = outage
        return outage

    def end(self, outage: Outage) -> None:
        with self._lock:
            if self._active.get(outage.deployment) is outage:
                del self._active[outage.deployment]

    def clear(self) -> None:
        with self._lock:
            self._active.clear()

    def reset(self) -> None:
        """End every outage and forget the counts."""
        with self._lock:
            self._active.clear()
            self._failures = 0

    def current(self, deployment: str | None) -> Outage | None:
        """The outage of the whole resource (None) or of one deployment, if one is running."""
        with self._lock:
            return self._active.get(deployment)

    def active(self) -> dict[str | None, Outage]:
        with self._lock:
            return dict(self._active)

    def fail(self, outage: Outage) -> None:
        """Count a request `outage` failed."""
        with self._lock:
            outage._failures += 1
            self._failures += 1

    @property
    def failures(self) -> int:
        with self._lock:
            return self._failures

    def refuses(self, path: str) -> bool:
        """Whether a connection carrying a request for `path` is refused now (and count it if so)."""
        if not is_data_plane(path):
            return False
        with self._lock:
            outage = self._active.get(None)
            if outage is None or outage.kind != "refuse":
                return False
            outage._failures += 1
            self._failures += 1
            return True
