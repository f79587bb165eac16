"""No credential is *reachable* from an error we raise or a hook payload we build.

`test_secrets.py` checks what is printed (str, repr, tracebacks, logs). This walks the object graph:
every attribute, `__dict__` and slot, mapping, sequence, header list, and the `__cause__` /
`__context__` chain of the raised error and of each hook payload, reading every string and every repr
on the way, so `err.request.headers["api-key"]` (or Entra ID's `Authorization: Bearer ...`, or an APIM
`Ocp-Apim-Subscription-Key`) is found wherever it hides. Sync, async and streamed calls, every failure
path: prompt filter 400, 401, 404, 429 after the SDK's retries, 500, dropped connection, timeout.

Not walked: traceback frames (their locals hold the live SDK client, which keeps its credentials by
design; `test_secrets.py` checks the formatted traceback), code and functions, and objects of the
emulator itself (it plays Azure's side, which knows the key).
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import types
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import openai
import pytest
from openai import AsyncAzureOpenAI, AzureOpenAI
from pydantic import BaseModel
from validation_kit import collect, resolve

import instructor_az
from instructor_az import PromptFilterError
from instructor_az.emulator import DEFAULT_ENDPOINT, LATEST_GA, Emulator, Fault

KEY = "sk-REACH-0a1b2c3d4e5f6a7b8c9d"
TOKEN = Emulator.entra_token("reachable-subject-0077")
APIM_KEY = "apim-REACH-99887766554433"
SECRETS = (KEY, "0a1b2c3d4e5f", TOKEN, TOKEN.split(".")[1], APIM_KEY)  # the token's claims too
MESSAGES = [{"role": "user", "content": "John is 30 years old"}]
GOOD = {"name": "John", "age": 30}
REDACTED = "<redacted>"


class User(BaseModel):
    name: str
    age: int


# --- the walk ---------------------------------------------------------------------------------------

_OPAQUE = (
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.FrameType,
    types.TracebackType,
    types.CodeType,
    types.GeneratorType,
    types.CoroutineType,
    types.AsyncGeneratorType,
    type,
    threading.Thread,
    asyncio.AbstractEventLoop,
    type(threading.Lock()),
    type(threading.RLock()),
)


def _children(obj: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(obj, BaseException):
        yield "__cause__", obj.__cause__
        yield "__context__", obj.__context__
        yield "args", obj.args
        for i, inner in enumerate(getattr(obj, "exceptions", None) or ()):
            yield f"exceptions[{i}]", inner
    if isinstance(obj, Mapping) or hasattr(obj, "multi_items"):  # dicts, httpx headers
        try:
            items = list(obj.multi_items()) if hasattr(obj, "multi_items") else list(obj.items())
        except Exception:
            items = []
        for key, value in items:
            yield f"[{key!r}].key", key
            yield f"[{key!r}]", value
    if isinstance(obj, (list, tuple, set, frozenset, deque)):
        for i, value in enumerate(obj):
            yield f"[{i}]", value
    if hasattr(obj, "__dict__"):
        try:
            attributes = dict(vars(obj))
        except TypeError:
            attributes = {}
        for name, value in attributes.items():
            yield f".{name}", value
    for cls in type(obj).__mro__:
        for name in getattr(cls, "__slots__", ()) or ():
            if isinstance(name, str) and name not in ("__dict__", "__weakref__"):
                try:
                    yield f".{name}", getattr(obj, name)
                except Exception:
                    continue
    for name in ("request", "response", "headers"):  # properties over private state (httpx's)
        try:
            value = getattr(obj, name, None)
        except Exception:
            continue
        if value is not None:
            yield f".{name}", value


def reachable_texts(root: Any, where: str, limit: int = 200_000) -> Iterator[tuple[str, str]]:
    """(path, text) for every string, bytes value and repr reachable from `root`."""
    seen: set[int] = set()
    queue: deque[tuple[Any, str]] = deque([(root, where)])
    while queue and len(seen) < limit:
        obj, path = queue.popleft()
        if obj is None or isinstance(obj, (bool, int, float, complex)) or id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, str):
            yield path, obj
            continue
        if isinstance(obj, (bytes, bytearray, memoryview)):
            yield path, bytes(obj).decode("latin-1")
            continue
        if isinstance(obj, _OPAQUE) or type(obj).__module__.startswith("instructor_az.emulator"):
            continue
        try:
            text = repr(obj)
        except Exception:
            text = ""
        yield f"repr({path})", text
        queue.extend((child, path + step) for step, child in _children(obj))


def assert_unreachable(root: Any, where: str) -> int:
    count = 0
    for path, text in reachable_texts(root, where):
        count += 1
        for secret in SECRETS:
            assert secret not in text, f"a credential is reachable at {path}: {text[:200]!r}"
    return count


# --- clients ---------------------------------------------------------------------------------------


@dataclass
class Setup:
    emulator: Emulator
    client: Any
    flavour: str
    errors: list[Any]


@pytest.fixture(params=["sync", "async"])
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["api-key", "token", "token-provider"])
def credential(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def setup(flavour: str, credential: str) -> AsyncIterator[Setup]:
    emulator = Emulator(backend="scripted", api_keys=[KEY], bearer_tokens=[TOKEN])
    kwargs: dict[str, Any] = {
        "azure_endpoint": DEFAULT_ENDPOINT,
        "api_version": LATEST_GA,
        "max_retries": 0,
        "default_headers": {"Ocp-Apim-Subscription-Key": APIM_KEY},  # as behind an APIM gateway
    }
    if credential == "api-key":
        kwargs["api_key"] = KEY
    elif credential == "token":
        kwargs["azure_ad_token"] = TOKEN
    elif flavour == "sync":
        kwargs["azure_ad_token_provider"] = lambda: TOKEN
    else:

        async def provider() -> str:
            return TOKEN

        kwargs["azure_ad_token_provider"] = provider
    if flavour == "sync":
        raw: Any = AzureOpenAI(http_client=emulator.http_client(), **kwargs)
    else:
        raw = AsyncAzureOpenAI(http_client=emulator.async_http_client(), **kwargs)
    client = instructor_az.from_openai(raw)
    errors: list[Any] = []
    client.on("completion:error", errors.append)
    yield Setup(emulator, client, flavour, errors)
    closed = raw.close()
    if inspect.isawaitable(closed):
        await closed
    emulator.close()


# --- the ways a call fails ---------------------------------------------------------------------------


async def structured(s: Setup, client: Any = None, **kwargs: Any) -> Any:
    kwargs.setdefault("model", "gpt-4o")
    return await resolve(
        (client or s.client).chat.completions.create(response_model=User, messages=MESSAGES, **kwargs)
    )


async def partial(s: Setup, client: Any = None, **kwargs: Any) -> Any:
    kwargs.setdefault("model", "gpt-4o")
    return await collect(
        (client or s.client).chat.completions.create_partial(response_model=User, messages=MESSAGES, **kwargs)
    )


async def iterable(s: Setup, client: Any = None, **kwargs: Any) -> Any:
    kwargs.setdefault("model", "gpt-4o")
    return await collect(
        (client or s.client).chat.completions.create_iterable(
            response_model=User, messages=MESSAGES, **kwargs
        )
    )


async def passthrough(s: Setup, client: Any = None, **kwargs: Any) -> Any:
    """`response_model=None`: the SDK's own call through the wrapper."""
    kwargs.setdefault("model", "gpt-4o")
    return await resolve((client or s.client).chat.completions.create(messages=MESSAGES, **kwargs))


CALLS: dict[str, Callable[..., Any]] = {
    "create": structured,
    "create_partial": partial,
    "create_iterable": iterable,
    "passthrough": passthrough,
}


def prompt_filter(s: Setup) -> dict[str, Any]:
    s.emulator.scripted.push(Fault.prompt_filter(violence="high"))
    return {}


def unauthorized(s: Setup) -> dict[str, Any]:
    s.emulator.api_keys = ("another-key",)
    s.emulator.bearer_tokens = frozenset({"another-token"})
    return {}


def not_found(s: Setup) -> dict[str, Any]:
    return {"model": "no-such-deployment"}


def rate_limited(s: Setup) -> dict[str, Any]:
    s.emulator.inject(Fault.rate_limit(retry_after_ms=1), times=None)
    return {"client": s.client.with_options(max_retries=2)}  # the SDK retries, then gives up


def server_error(s: Setup) -> dict[str, Any]:
    s.emulator.inject(Fault.server_error(500), times=1)
    return {}


def dropped(s: Setup) -> dict[str, Any]:
    s.emulator.inject(Fault.drop_connection(), times=1)
    s.emulator.scripted.push(GOOD)
    return {}


def timed_out(s: Setup) -> dict[str, Any]:
    s.emulator.inject(Fault.latency(0.5), times=1)
    s.emulator.scripted.push(GOOD)
    return {"client": s.client.with_options(timeout=0.1)}


FAILURES: dict[str, tuple[Callable[[Setup], dict[str, Any]], type[BaseException]]] = {
    "400 prompt filter": (prompt_filter, openai.BadRequestError),
    "401": (unauthorized, openai.AuthenticationError),
    "404": (not_found, openai.NotFoundError),
    "429 after the SDK's retries": (rate_limited, openai.RateLimitError),
    "500": (server_error, openai.InternalServerError),
    "connection error": (dropped, openai.APIConnectionError),
    "timeout": (timed_out, openai.APITimeoutError),
}


def header(message: Any, name: str) -> str | None:
    headers = getattr(message, "headers", None)
    return None if headers is None else headers.get(name)


def assert_redacted_on_the_request(exc: BaseException, credential: str) -> None:
    """The credential headers are still there, saying `<redacted>` (a scrub, not a lucky absence)."""
    request = getattr(exc, "request", None)
    if request is None:
        return
    name = "api-key" if credential == "api-key" else "authorization"
    assert header(request, name) == REDACTED
    assert header(request, "ocp-apim-subscription-key") == REDACTED


@pytest.mark.parametrize("failure", list(FAILURES))
@pytest.mark.parametrize("call", list(CALLS))
async def test_no_credential_is_reachable_from_the_error_or_hook_payloads(
    setup: Setup, credential: str, failure: str, call: str
) -> None:
    provoke, expected = FAILURES[failure]
    kwargs = provoke(setup)
    with pytest.raises(expected) as caught:
        await CALLS[call](setup, **kwargs)
    if failure == "400 prompt filter" and call != "passthrough":
        assert isinstance(caught.value, PromptFilterError)
    if failure != "timeout":  # (a request the client gave up on is not recorded)
        assert setup.emulator.requests, "the request was sent (and failed)"
    walked = assert_unreachable(caught.value, "error")
    assert walked > 20  # the walk did go through the error's request, response and chain
    assert_redacted_on_the_request(caught.value, credential)
    if call != "passthrough":
        assert setup.errors, "completion:error fired"
        for i, payload in enumerate(setup.errors):
            assert_unreachable(payload, f"completion:error payload {i}")

    # In-place redaction touched only that failed request: the client still authenticates.
    setup.emulator.clear_faults()
    setup.emulator.api_keys = (KEY,)
    setup.emulator.bearer_tokens = frozenset({TOKEN})
    setup.emulator.scripted.push(GOOD)
    assert await structured(setup) == User(**GOOD)


@pytest.mark.parametrize("call", ["create_partial", "create_iterable"])
async def test_an_error_while_iterating_a_stream_holds_no_credential(setup: Setup, call: str) -> None:
    setup.emulator.inject(Fault.drop_connection(after_chunks=3), times=1)
    setup.emulator.scripted.push({"tasks": [GOOD, GOOD, GOOD]} if call == "create_iterable" else GOOD)
    stream = getattr(setup.client.chat.completions, call)(
        model="gpt-4o", response_model=User, messages=MESSAGES
    )
    with pytest.raises(openai.APIConnectionError) as caught:
        await collect(stream)
    assert len(setup.emulator.requests) == 1
    assert setup.errors
    assert setup.errors[-1] is caught.value
    assert_unreachable(caught.value, "error")
    for i, payload in enumerate(setup.errors):
        assert_unreachable(payload, f"completion:error payload {i}")


async def test_the_walk_finds_a_credential_where_one_is_left(setup: Setup) -> None:
    """The check itself: an SDK error of a raw (unwrapped) client still holds its headers, and the walk
    finds them."""
    setup.emulator.api_keys = ("another-key",)
    setup.emulator.bearer_tokens = frozenset({"another-token"})
    raw = setup.client.client
    with pytest.raises(openai.AuthenticationError) as caught:
        await resolve(raw.chat.completions.create(model="gpt-4o", messages=MESSAGES))
    with pytest.raises(AssertionError, match="a credential is reachable at"):
        assert_unreachable(caught.value, "error")


@pytest.mark.parametrize("call", ["create", "create_partial"])
async def test_the_error_hook_sees_the_error_already_scrubbed(
    setup: Setup, credential: str, call: str
) -> None:
    """Redaction happens before `completion:error` fires: a handler that ships the error somewhere
    (a tracker, a log) at that moment never has the credential."""
    seen: list[dict[str, Any]] = []
    setup.client.on(
        "completion:error", lambda exc: seen.append({k: v for k, v in exc.request.headers.items()})
    )
    setup.emulator.api_keys = ("another-key",)
    setup.emulator.bearer_tokens = frozenset({"another-token"})
    with pytest.raises(openai.AuthenticationError):
        await CALLS[call](setup)
    (headers,) = seen
    name = "api-key" if credential == "api-key" else "authorization"
    assert headers[name] == REDACTED
    assert headers["ocp-apim-subscription-key"] == REDACTED
    assert headers["content-type"] == "application/json"  # other headers are left as they were
