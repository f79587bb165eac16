"""Azure's per-deployment rate limits: requests per minute (RPM) and tokens per minute (TPM).

What Azure documents (learn.microsoft.com/azure/ai-services/openai/how-to/quota, "Understanding rate
limits") and the emulator follows:

- TPM counts, at the moment a request is received, an *estimate* of the tokens it may use: its prompt
  plus its `max_tokens` (times `n` / `best_of`). The estimate is added to a running count that is reset
  each minute; once it would pass the limit, requests get a 429 until the count resets.
- RPM is evaluated over short periods, "typically 1 or 10 seconds": a 600-RPM deployment checked every
  second admits 10 requests per second. Here the period is `Quota.rpm_period` (default 10 s), and a
  period admits `rpm * rpm_period / 60` requests (rounded down, at least 1).
- A request without `max_tokens` (Microsoft's answer in Q&A 1381398, "Question about max tokens per
  minute in Azure OpenAI Service"): the model's context size is reserved while it runs; it is not
  rejected for that on its own (only its prompt is checked), and once it finishes only its real tokens
  stay counted. `Quota.context_tokens` is that reservation. Legacy completions default to 16 tokens.

Windows are fixed buckets (not sliding): period k covers `[k * period, (k + 1) * period)` on the
limiter's clock, and a 429's `retry-after-ms` is the time left until the bucket that refused it ends.
Time comes from a `Clock`: `ManualClock` lets tests move time without sleeping (its `sleep` advances it).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import anyio

from . import _wire as wire
from ._backends import ChatRequest
from ._responses import prompt_tokens

NOMINAL_RPM = 1000
NOMINAL_TPM = 150_000


class Clock(Protocol):
    """Where the limiter reads the time (seconds, any origin) and how latency is waited out."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock: `time.monotonic` and `anyio.sleep`."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


class ManualClock:
    """A clock tests move by hand: `advance(seconds)`. Its `sleep` advances it at once (no real wait), so
    per-token latency shows as time passed, not as a slow test. Thread-safe."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.slept: list[float] = []  #: every latency waited out, in order

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock only moves forward")
        with self._lock:
            self._now += seconds

    async def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
        self.advance(max(seconds, 0.0))


@dataclass(frozen=True)
class Quota:
    """One deployment's rate limits and pacing.

    - `rpm` / `tpm`: requests and tokens per minute; None is not enforced (the headers then count down
      from Azure-like nominal values, 1000 and 150,000).
    - `seconds_per_100_tokens`: latency per completion token (streamed or not): a reply of 250 tokens
      with 0.5 takes 1.25 s more.
    - `rpm_period` / `tpm_period`: the evaluation periods in seconds (Azure: RPM over 1 or 10 s, TPM
      per minute); a period admits `rate * period / 60`.
    - `context_tokens`: reserved while a chat request without `max_tokens` runs.
    """

    rpm: int | None = None
    tpm: int | None = None
    seconds_per_100_tokens: float = 0.0
    rpm_period: float = 10.0
    tpm_period: float = 60.0
    context_tokens: int = 128_000

    def __post_init__(self) -> None:
        for name in ("rpm", "tpm"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a whole number from 1, or None (got {value!r})")
        for name in ("seconds_per_100_tokens", "rpm_period", "tpm_period"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a non-negative number of seconds (got {value!r})")
        if self.rpm_period <= 0 or self.tpm_period <= 0:
            raise ValueError("rpm_period and tpm_period must be more than 0 seconds")
        if isinstance(self.context_tokens, bool) or not isinstance(self.context_tokens, int):
            raise ValueError(f"context_tokens must be a whole number (got {self.context_tokens!r})")

    @property
    def requests_per_period(self) -> int:
        """Requests one RPM period admits."""
        rate = self.rpm if self.rpm is not None else NOMINAL_RPM
        period = self.rpm_period if self.rpm is not None else 60.0
        return max(1, math.floor(rate * period / 60 + 1e-9))

    @property
    def tokens_per_period(self) -> int:
        """Tokens one TPM period admits."""
        rate = self.tpm if self.tpm is not None else NOMINAL_TPM
        period = self.tpm_period if self.tpm is not None else 60.0
        return max(1, math.floor(rate * period / 60 + 1e-9))

    @classmethod
    def parse(cls, spec: str, **defaults: Any) -> Quota:
        """`"RPM:TPM"` (either may be empty: `":5000"`), as the CLI's `--quota NAME=RPM:TPM` takes it."""
        rpm_text, sep, tpm_text = spec.partition(":")
        if not sep:
            raise ValueError(f"expected RPM:TPM such as 60:10000 (got {spec!r})")
        try:
            rpm = int(rpm_text) if rpm_text.strip() else None
            tpm = int(tpm_text) if tpm_text.strip() else None
        except ValueError:
            raise ValueError(f"expected whole numbers in RPM:TPM (got {spec!r})") from None
        return cls(**{**defaults, "rpm": rpm, "tpm": tpm})

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Usage:
    request_bucket: int = -1
    requests: int = 0
    token_bucket: int = -1
    tokens: int = 0


@dataclass
class Admission:
    """A request the limiter let through: what it reserved, and (for a request without `max_tokens`) the
    reservation to correct once its real size is known (`settle`)."""

    limiter: QuotaLimiter
    deployment: str
    token_bucket: int
    reserved: int
    prompt_tokens: int
    provisional: bool = False
    settled: bool = field(default=False)

    def settle(self, completion_tokens: int) -> None:
        """The request finished with `completion_tokens`: a provisional reservation becomes the real count."""
        if self.provisional and not self.settled:
            self.settled = True
            self.limiter._correct(self, self.prompt_tokens + completion_tokens)


class RateLimited(Exception):
    """A request refused by a quota: which limit, and when its window frees."""

    def __init__(self, limit: str, retry_after_ms: int, remaining: tuple[int, int]) -> None:
        super().__init__(f"{limit} rate limit exceeded; retry after {retry_after_ms} ms")
        self.limit = limit  #: "call" (RPM) or "token" (TPM), as Azure's message words it
        self.retry_after_ms = retry_after_ms
        self.remaining = remaining


class QuotaLimiter:
    """Per-deployment RPM / TPM accounting (thread-safe). `Emulator.quotas` is one.

    `set(quota, deployment=None)` configures (None: the default for every deployment without its own),
    `get(name)` reads, `remaining(name)` gives `(requests, tokens)` left in the current windows,
    `clear_usage()` forgets what was counted, `clock` is the time source.
    """

    def __init__(self, quotas: Quota | Mapping[str, Quota] | None = None, clock: Clock | None = None) -> None:
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._lock = threading.Lock()
        self.default = Quota()
        self._quotas: dict[str, Quota] = {}
        self._usage: dict[str, _Usage] = {}
        if isinstance(quotas, Quota):
            self.default = quotas
        elif quotas is not None:
            for name, quota in quotas.items():
                self.set(quota, deployment=name)

    # --- configuration ----------------------------------------------------------------------------

    def set(self, quota: Quota, *, deployment: str | None = None) -> None:
        if not isinstance(quota, Quota):
            raise TypeError(f"expected a Quota, got {type(quota).__name__}")
        with self._lock:
            if deployment is None:
                self.default = quota
            else:
                self._quotas[deployment] = quota

    def get(self, deployment: str) -> Quota:
        with self._lock:
            return self._quotas.get(deployment, self.default)

    def configured(self) -> dict[str, Quota]:
        """The deployments with a quota of their own."""
        with self._lock:
            return dict(self._quotas)

    def clear(self) -> None:
        """Back to no limits anywhere (and forget usage)."""
        with self._lock:
            self.default = Quota()
            self._quotas.clear()
            self._usage.clear()

    def clear_usage(self) -> None:
        with self._lock:
            self._usage.clear()

    # --- accounting -------------------------------------------------------------------------------

    def admit(self, deployment: str, prompt_tokens: int, max_tokens: int | None) -> Admission:
        """Count a request in, or raise `RateLimited`. `max_tokens` None: the quota's `context_tokens`
        is reserved provisionally (the request is checked on its prompt alone)."""
        now = self.clock.now()
        with self._lock:
            quota = self._quotas.get(deployment, self.default)
            usage = self._roll(deployment, quota, now)
            wanted = prompt_tokens + max_tokens if max_tokens is not None else prompt_tokens
            if quota.rpm is not None and usage.requests + 1 > quota.requests_per_period:
                wait = (usage.request_bucket + 1) * quota.rpm_period - now
                raise RateLimited("call", _ms(wait), self._left(quota, usage))
            if quota.tpm is not None and usage.tokens + wanted > quota.tokens_per_period:
                wait = (usage.token_bucket + 1) * quota.tpm_period - now
                raise RateLimited("token", _ms(wait), self._left(quota, usage))
            # Without a token limit there is nothing to reserve against: the headers' nominal countdown
            # counts what the request asked for, not a context-sized placeholder.
            provisional = max_tokens is None and quota.tpm is not None
            reserved = max(quota.context_tokens, prompt_tokens) if provisional else wanted
            usage.requests += 1
            usage.tokens += reserved
            return Admission(
                self, deployment, usage.token_bucket, reserved, prompt_tokens, provisional=provisional
            )

    def remaining(self, deployment: str) -> tuple[int, int]:
        """`(requests, tokens)` left in the current windows (what the rate-limit headers say)."""
        now = self.clock.now()
        with self._lock:
            quota = self._quotas.get(deployment, self.default)
            return self._left(quota, self._roll(deployment, quota, now))

    def latency(self, deployment: str, completion_tokens: int) -> float:
        """Seconds a reply of `completion_tokens` takes on this deployment."""
        return self.get(deployment).seconds_per_100_tokens * completion_tokens / 100

    def _correct(self, admission: Admission, actual: int) -> None:
        with self._lock:
            usage = self._usage.get(admission.deployment)
            if usage is not None and usage.token_bucket == admission.token_bucket:
                usage.tokens = max(usage.tokens - admission.reserved + actual, 0)

    def _roll(self, deployment: str, quota: Quota, now: float) -> _Usage:
        usage = self._usage.setdefault(deployment, _Usage())
        request_period = quota.rpm_period if quota.rpm is not None else 60.0
        token_period = quota.tpm_period if quota.tpm is not None else 60.0
        request_bucket = math.floor(now / request_period)
        token_bucket = math.floor(now / token_period)
        if request_bucket != usage.request_bucket:
            usage.request_bucket, usage.requests = request_bucket, 0
        if token_bucket != usage.token_bucket:
            usage.token_bucket, usage.tokens = token_bucket, 0
        return usage

    @staticmethod
    def _left(quota: Quota, usage: _Usage) -> tuple[int, int]:
        return (
            max(quota.requests_per_period - usage.requests, 0),
            max(quota.tokens_per_period - usage.tokens, 0),
        )


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000 - 1e-6))


def estimate(operation: str, body: Any, deployment: str, model: str) -> tuple[int, int | None]:
    """A data-plane request's `(prompt tokens, tokens reserved for the answer)` at admission: chat and
    completions reserve `max_tokens` (or `max_completion_tokens`) times `n` / `best_of`; legacy
    completions default to 16; a chat without a limit reserves None (see `Admission`); other
    operations (images, audio) reserve nothing."""
    if not isinstance(body, Mapping):
        return 0, 0
    if operation == "embeddings":
        raw = body.get("input")
        texts = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
        return sum(
            wire.count_tokens(t) if isinstance(t, str) else len(t) if isinstance(t, list) else 1
            for t in texts
        ), 0
    if operation not in ("chat", "completions"):
        return 0, 0
    try:
        prompt = prompt_tokens(ChatRequest(deployment, model, dict(body), operation))
    except (AttributeError, TypeError, ValueError):  # a malformed body: its 400 comes after the quota
        prompt = 0
    limit = body.get("max_completion_tokens")
    if limit is None:
        limit = body.get("max_tokens")
    if limit is None and operation == "completions":
        limit = 16
    if not isinstance(limit, int) or isinstance(limit, bool):
        return prompt, None
    choices = max(_whole(body.get("n")), _whole(body.get("best_of")))
    return prompt, limit * choices


def _whole(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 1
