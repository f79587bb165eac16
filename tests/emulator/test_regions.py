"""Emulators standing in for Azure regions: their own endpoint, region, quotas and base latency, and outages
(503s, dropped and refused connections, timeouts) as the openai SDK sees them, in-process and on loopback."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import httpx2
import openai
import pytest
from openai import AsyncAzureOpenAI, AzureOpenAI

from instructor_az.emulator import (
    DEFAULT_API_KEY,
    DEFAULT_ENDPOINT,
    LATEST_GA,
    Emulator,
    Fault,
    ManualClock,
    Quota,
)

USER = [{"role": "user", "content": "Name the capital of France."}]
EAST = "https://eastus-res.openai.azure.com"
WEST = "https://westus-res.openai.azure.com"


@pytest.fixture
def regions() -> Iterator[tuple[Emulator, Emulator]]:
    east = Emulator(
        endpoint=EAST,
        region="East US",
        backend="scripted",
        quotas={"gpt-4o": Quota(rpm=1, rpm_period=60)},
        clock=ManualClock(),
    )
    west = Emulator(endpoint=WEST, region="West US", backend="scripted")
    try:
        yield east, west
    finally:
        east.close()
        west.close()


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emulator = Emulator()  # the schema backend: every request gets an answer, no script to run out
    try:
        yield emulator
    finally:
        emulator.close()


def ask(client: AzureOpenAI, model: str = "gpt-4o", **kwargs: object) -> str:
    completion = client.chat.completions.create(model=model, messages=USER, **kwargs)  # type: ignore[call-overload]
    return str(completion.choices[0].message.content)


# --- endpoints and regions -------------------------------------------------------------------------


def test_two_regions_answer_independently(regions: tuple[Emulator, Emulator]) -> None:
    east, west = regions
    east.scripted.push("Paris, from the east.")
    west.scripted.push("Paris, from the west.", "Paris again.")
    east_client, west_client = east.client(max_retries=0), west.client(max_retries=0)
    assert str(east_client.base_url).startswith(f"{EAST}/openai/")
    assert str(west_client.base_url).startswith(f"{WEST}/openai/")

    raw = east_client.chat.completions.with_raw_response.create(model="gpt-4o", messages=USER)
    assert raw.parse().choices[0].message.content == "Paris, from the east."
    assert raw.headers["x-ms-region"] == "East US"
    assert raw.headers["x-ms-deployment-name"] == "gpt-4o"
    raw = west_client.chat.completions.with_raw_response.create(model="gpt-4o", messages=USER)
    assert raw.parse().choices[0].message.content == "Paris, from the west."
    assert raw.headers["x-ms-region"] == "West US"

    # East's quota (one request a minute) is spent; West's is its own.
    with pytest.raises(openai.RateLimitError) as throttled:
        ask(east_client)
    assert throttled.value.response.headers["x-ms-region"] == "East US"
    assert ask(west_client) == "Paris again."

    assert [r.status for r in east.requests] == [200, 429]
    assert [r.status for r in west.requests] == [200, 200]
    assert east.requests[0].headers["host"] == "eastus-res.openai.azure.com"
    assert west.requests[0].headers["host"] == "westus-res.openai.azure.com"


async def test_async_and_v1_clients_use_the_endpoint(regions: tuple[Emulator, Emulator]) -> None:
    east, _ = regions
    east.scripted.push("one", "two", "three")
    async with east.async_client(max_retries=0) as client:
        assert str(client.base_url).startswith(f"{EAST}/openai/")
        completion = await client.chat.completions.create(model="gpt-4o-mini", messages=USER)
        assert completion.choices[0].message.content == "one"
    v1 = east.openai_client(max_retries=0)
    assert str(v1.base_url) == f"{EAST}/openai/v1/"
    raw = v1.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=USER)
    assert raw.headers["x-ms-deployment-name"] == "gpt-4o-mini"
    async with east.async_openai_client(max_retries=0) as async_v1:
        assert str(async_v1.base_url) == f"{EAST}/openai/v1/"
        assert (await async_v1.chat.completions.create(model="gpt-4o-mini", messages=USER)).choices
    assert {r.headers["host"] for r in east.requests} == {"eastus-res.openai.azure.com"}


def test_the_default_endpoint_is_unchanged(emulator: Emulator) -> None:
    assert emulator.endpoint == DEFAULT_ENDPOINT
    assert str(emulator.client().base_url).startswith(f"{DEFAULT_ENDPOINT}/openai/")


@pytest.mark.parametrize(
    "endpoint",
    ["eastus-res.openai.azure.com", "ftp://eastus", "https://", "https://res.openai.azure.com/openai"],
)
def test_a_bad_endpoint_is_refused(endpoint: str) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        Emulator(endpoint=endpoint)


def test_a_trailing_slash_is_dropped() -> None:
    emulator = Emulator(endpoint=EAST + "/")
    assert emulator.endpoint == EAST
    emulator.close()


def test_errors_carry_the_region_and_deployment(emulator: Emulator) -> None:
    emulator.region = "Sweden Central"
    emulator.inject(Fault.server_error(500))
    with pytest.raises(openai.InternalServerError) as failed:
        ask(emulator.client(max_retries=0))
    assert failed.value.response.headers["x-ms-region"] == "Sweden Central"
    assert failed.value.response.headers["x-ms-deployment-name"] == "gpt-4o"


# --- base latency ----------------------------------------------------------------------------------


def test_base_latency_on_a_manual_clock() -> None:
    clock = ManualClock()
    emulator = Emulator(latency=0.05, clock=clock)
    client = emulator.client(max_retries=0)
    started = time.monotonic()
    ask(client)
    ask(client, stream=False)
    assert clock.slept == [0.05, 0.05]
    assert clock.now() == pytest.approx(0.1)
    assert time.monotonic() - started < 1  # a manual clock advances instead of waiting

    emulator.latency = 0.25  # settable: the region got slower
    with pytest.raises(openai.NotFoundError):
        ask(client, model="no-such-deployment")  # the latency comes before any answer, errors too
    assert clock.slept == [0.05, 0.05, 0.25]
    emulator.latency = 0
    ask(client)
    assert clock.slept == [0.05, 0.05, 0.25]
    emulator.close()


def test_base_latency_adds_to_the_quotas_token_latency() -> None:
    clock = ManualClock()
    emulator = Emulator(
        backend="scripted", latency=0.1, clock=clock, quotas=Quota(seconds_per_100_tokens=1.0)
    )
    emulator.scripted.push("word " * 50)
    ask(emulator.client(max_retries=0))
    assert clock.slept[0] == 0.1
    assert len(clock.slept) == 2
    assert clock.slept[1] > 0
    emulator.close()


async def test_base_latency_on_the_real_clock_delays_async_requests() -> None:
    emulator = Emulator(latency=0.2)
    async with emulator.async_client(max_retries=0) as client:
        started = time.monotonic()
        await asyncio.gather(
            *(client.chat.completions.create(model="gpt-4o", messages=USER) for _ in range(5))
        )
        elapsed = time.monotonic() - started
    assert 0.2 <= elapsed < 1.0  # each waits 0.2 s, concurrently
    emulator.close()


@pytest.mark.parametrize("latency", [-0.1, float("inf"), float("nan"), 121, "0.1", True])
def test_a_bad_latency_is_refused(latency: object) -> None:
    with pytest.raises(ValueError, match="latency"):
        Emulator(latency=latency)  # type: ignore[arg-type]


def test_control_routes_have_no_base_latency() -> None:
    clock = ManualClock()
    emulator = Emulator(latency=0.5, clock=clock)
    with emulator.http_client() as http:
        answer = http.get(f"{DEFAULT_ENDPOINT}/_emulator/faults", headers={"api-key": DEFAULT_API_KEY})
    assert answer.status_code == 200
    assert clock.slept == []
    emulator.close()


# --- outages in-process ----------------------------------------------------------------------------


def test_server_error_outage_is_a_503(emulator: Emulator) -> None:
    client = emulator.client(max_retries=0)
    outage = emulator.outage("server_error")
    for _ in range(3):
        with pytest.raises(openai.InternalServerError) as failed:
            ask(client)
        assert failed.value.status_code == 503
        assert isinstance(failed.value, openai.APIStatusError)
        assert failed.value.body == {
            "code": "ServiceUnavailable",
            "message": "The service is temporarily unable to process your request. Please try again later.",
        }
    assert outage.failures == 3
    assert emulator.outage_failures == 3
    assert [r.status for r in emulator.requests] == [503, 503, 503]
    assert emulator.last_request.faults == (Fault.server_error(503),)
    emulator.restore()
    assert not outage.active
    assert ask(client)
    assert outage.failures == 3


def test_server_error_outage_with_another_status_and_retry_after(emulator: Emulator) -> None:
    emulator.outage("server_error", status=500, retry_after_ms=20)
    with pytest.raises(openai.InternalServerError) as failed:
        ask(emulator.client(max_retries=0))
    assert failed.value.status_code == 500
    assert failed.value.response.headers["retry-after-ms"] == "20"


def test_the_sdk_retries_into_a_503_outage_and_gives_up(emulator: Emulator) -> None:
    emulator.outage("server_error", retry_after_ms=1)
    with pytest.raises(openai.InternalServerError):
        ask(emulator.client(max_retries=2))
    assert emulator.outage_failures == 3  # the first try and the SDK's two retries


def test_drop_connection_outage_is_an_api_connection_error(emulator: Emulator) -> None:
    client = emulator.client(max_retries=0)
    with emulator.outage("drop_connection") as outage:
        for stream in (False, True):
            with pytest.raises(openai.APIConnectionError) as dropped:
                ask(client, stream=stream)  # fails at create(), before any stream is returned
            assert isinstance(dropped.value.__cause__, httpx2.RemoteProtocolError)
    assert outage.failures == 2
    assert [r.status for r in emulator.requests] == [0, 0]  # no response went out
    assert emulator.last_request.faults == (Fault.drop_connection(),)
    assert ask(client)


def test_refuse_outage_raises_connect_error(emulator: Emulator) -> None:
    client = emulator.client(max_retries=0)
    with emulator.outage("refuse") as outage:
        with pytest.raises(openai.APIConnectionError) as refused:
            ask(client)
        assert isinstance(refused.value.__cause__, httpx2.ConnectError)
        assert not isinstance(refused.value, openai.APITimeoutError)
    assert outage.failures == 1
    assert len(emulator.requests) == 0  # a refused connection never reached the emulator
    assert ask(client)


async def test_outages_with_an_async_client(emulator: Emulator) -> None:
    async with emulator.async_client(max_retries=0) as client:
        for kind, error, cause in (
            ("server_error", openai.InternalServerError, type(None)),
            ("drop_connection", openai.APIConnectionError, httpx2.RemoteProtocolError),
            ("refuse", openai.APIConnectionError, httpx2.ConnectError),
        ):
            with emulator.outage(kind):  # type: ignore[arg-type]
                with pytest.raises(error) as failed:
                    await client.chat.completions.create(model="gpt-4o", messages=USER)
                assert isinstance(failed.value.__cause__, cause)
        assert (await client.chat.completions.create(model="gpt-4o", messages=USER)).choices
    assert emulator.outage_failures == 3


def test_timeout_outage_times_the_client_out(emulator: Emulator) -> None:
    client = emulator.client(max_retries=0, timeout=0.2)
    with emulator.outage("timeout", seconds=30) as outage:
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            ask(client)
        assert time.monotonic() - started < 5
    assert outage.faults == (Fault.latency(30), Fault.drop_connection())
    assert ask(client)


async def test_timeout_outage_closes_the_connection_after_its_seconds(emulator: Emulator) -> None:
    async with emulator.async_client(max_retries=0) as client:
        with emulator.outage("timeout", seconds=0.2):
            started = time.monotonic()
            with pytest.raises(openai.APIConnectionError) as failed:
                await client.chat.completions.create(model="gpt-4o", messages=USER)
            assert time.monotonic() - started >= 0.2
            assert not isinstance(failed.value, openai.APITimeoutError)
    assert emulator.outage_failures == 1


def test_switching_kinds_mid_run(emulator: Emulator) -> None:
    client = emulator.client(max_retries=0)
    first = emulator.outage("server_error")
    with pytest.raises(openai.InternalServerError):
        ask(client)
    second = emulator.outage("drop_connection")  # replaces the 503s at once
    assert not first.active
    assert second.active
    assert emulator.outages == {None: second}
    with pytest.raises(openai.APIConnectionError):
        ask(client)
    third = emulator.outage("refuse")
    with pytest.raises(openai.APIConnectionError):
        ask(client)
    emulator.outage("server_error", status=500)
    with pytest.raises(openai.InternalServerError) as failed:
        ask(client)
    assert failed.value.status_code == 500
    first.restore()  # ended already: ends nothing
    assert emulator.outages
    emulator.restore()
    assert emulator.outages == {}
    assert ask(client)
    assert (first.failures, second.failures, third.failures) == (1, 1, 1)
    assert emulator.outage_failures == 4


def test_restore_leaves_injected_faults_alone(emulator: Emulator) -> None:
    client = emulator.client(max_retries=0)
    emulator.inject(Fault.rate_limit(retry_after_ms=5), times=1)
    with emulator.outage("server_error"), pytest.raises(openai.InternalServerError):
        ask(client)
    with pytest.raises(openai.RateLimitError):  # the queued fault was not used by the outage
        ask(client)
    assert ask(client)


def test_an_outage_charges_no_quota() -> None:
    clock = ManualClock()
    emulator = Emulator(quotas=Quota(rpm=2, rpm_period=60), clock=clock)
    client = emulator.client(max_retries=0)
    with emulator.outage("server_error", deployment="gpt-4o"):
        for _ in range(5):
            with pytest.raises(openai.InternalServerError):
                ask(client)
    assert emulator.quotas.remaining("gpt-4o")[0] == 2
    ask(client)
    ask(client)
    emulator.close()


def test_one_deployment_down(emulator: Emulator) -> None:
    client = emulator.client(max_retries=0)
    outage = emulator.outage("server_error", deployment="gpt-4o")
    with pytest.raises(openai.InternalServerError) as failed:
        ask(client)
    assert failed.value.response.headers["x-ms-deployment-name"] == "gpt-4o"
    assert ask(client, model="gpt-4o-mini")  # the others answer
    emulator.outage("drop_connection", deployment="gpt-4o-mini")  # a second deployment's own outage
    with pytest.raises(openai.APIConnectionError):
        ask(client, model="gpt-4o-mini")
    with pytest.raises(openai.InternalServerError):
        ask(client)
    assert set(emulator.outages) == {"gpt-4o", "gpt-4o-mini"}
    outage.restore()
    assert ask(client)
    assert emulator.outage_failures == 3


def test_one_deployment_down_on_the_v1_routes(emulator: Emulator) -> None:
    emulator.outage("drop_connection", deployment="gpt-4o")
    v1 = emulator.openai_client(max_retries=0)
    with pytest.raises(openai.APIConnectionError):
        v1.chat.completions.create(model="gpt-4o", messages=USER)
    assert v1.chat.completions.create(model="gpt-4o-mini", messages=USER).choices
    assert emulator.last_request.deployment == "gpt-4o-mini"


def test_a_whole_resource_outage_takes_every_data_plane_route(emulator: Emulator) -> None:
    client = emulator.client(max_retries=0)
    emulator.outage("server_error")
    with pytest.raises(openai.InternalServerError):
        client.embeddings.create(model="text-embedding-3-large", input="x")
    with pytest.raises(openai.InternalServerError):
        client.files.list()
    with pytest.raises(openai.InternalServerError):
        emulator.openai_client(max_retries=0).models.list()
    # The control API still answers (a test can still reach the emulator).
    with emulator.http_client() as http:
        answer = http.post(f"{DEFAULT_ENDPOINT}/_emulator/reset", headers={"api-key": DEFAULT_API_KEY})
    assert answer.status_code == 200
    assert emulator.outages == {}  # reset ends outages


def test_an_outage_of_one_deployment_comes_after_authentication(emulator: Emulator) -> None:
    emulator.outage("server_error", deployment="gpt-4o")
    with pytest.raises(openai.AuthenticationError):
        ask(emulator.client(max_retries=0, api_key="wrong"))
    assert emulator.outage_failures == 0


def test_outage_arguments_are_checked(emulator: Emulator) -> None:
    with pytest.raises(ValueError, match="whole endpoint"):
        emulator.outage("refuse", deployment="gpt-4o")
    with pytest.raises(ValueError, match="unknown outage kind"):
        emulator.outage("flood")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seconds="):
        emulator.outage("server_error", seconds=3)
    with pytest.raises(ValueError, match="status="):
        emulator.outage("drop_connection", status=500)
    with pytest.raises(ValueError, match="5xx"):
        emulator.outage("server_error", status=404)
    with pytest.raises(ValueError, match="seconds"):
        emulator.outage("timeout", seconds=-1)
    with pytest.raises(KeyError, match="no deployment"):
        emulator.outage("server_error", deployment="gpt-5")
    assert emulator.outages == {}


# --- many threads, many tasks ----------------------------------------------------------------------


def test_outages_switched_while_threads_call(emulator: Emulator) -> None:
    """Eight threads call while the outage switches kinds; every call either answers or fails as an
    outage does, and the emulator counts exactly the failures the clients saw."""
    client = emulator.client(max_retries=0)
    seen: dict[str, int] = {"ok": 0, "status": 0, "connection": 0}  # anything else is a KeyError
    lock = threading.Lock()
    stop = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            try:
                ask(client)
                outcome = "ok"
            except openai.InternalServerError as exc:
                outcome = "status" if exc.status_code == 503 else f"status {exc.status_code}"
            except openai.APIConnectionError:
                outcome = "connection"
            with lock:
                seen[outcome] += 1

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    try:
        for kind in ("server_error", "drop_connection", "refuse", "server_error", "drop_connection"):
            emulator.outage(kind)  # type: ignore[arg-type]
            time.sleep(0.15)
            emulator.restore()
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert min(seen.values()) > 0, seen
    assert emulator.outage_failures == seen["status"] + seen["connection"]
    assert ask(client)


async def test_outages_switched_while_tasks_call(emulator: Emulator) -> None:
    outcomes: list[str] = []
    async with emulator.async_client(max_retries=0) as client:

        async def call() -> None:
            try:
                await client.chat.completions.create(model="gpt-4o", messages=USER)
                outcomes.append("ok")
            except openai.InternalServerError:
                outcomes.append("status")
            except openai.APIConnectionError:
                outcomes.append("connection")

        async def switch() -> None:
            for kind in ("server_error", "drop_connection", "refuse"):
                emulator.outage(kind)  # type: ignore[arg-type]
                await asyncio.sleep(0.05)
            emulator.restore()

        waves = [asyncio.gather(*(call() for _ in range(100))) for _ in range(4)]
        await asyncio.gather(switch(), *waves)
        await asyncio.gather(*(call() for _ in range(50)))  # after restore(): all answer
    assert len(outcomes) == 450
    assert outcomes[-50:] == ["ok"] * 50
    assert emulator.outage_failures == outcomes.count("status") + outcomes.count("connection")


# --- on loopback -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Emulator, str]]:
    emulator = Emulator(region="North Europe")
    try:
        with emulator.serve() as url:
            yield emulator, url
    finally:
        emulator.close()


@pytest.fixture
def loopback(served: tuple[Emulator, str]) -> Iterator[tuple[Emulator, AzureOpenAI]]:
    emulator, url = served
    emulator.reset()
    client = AzureOpenAI(azure_endpoint=url, api_key=DEFAULT_API_KEY, api_version=LATEST_GA, max_retries=0)
    yield emulator, client
    emulator.restore()
    client.close()


@pytest.mark.loopback
@pytest.mark.parametrize("stream", [False, True])
def test_outages_over_loopback(loopback: tuple[Emulator, AzureOpenAI], stream: bool) -> None:
    emulator, client = loopback
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=USER)
    assert raw.headers["x-ms-region"] == "North Europe"
    assert raw.headers["x-ms-deployment-name"] == "gpt-4o"
    emulator.outage("server_error")
    with pytest.raises(openai.InternalServerError) as failed:
        ask(client, stream=stream)
    assert failed.value.status_code == 503
    emulator.outage("drop_connection")
    with pytest.raises(openai.APIConnectionError):
        ask(client, stream=stream)
    emulator.outage("refuse")
    with pytest.raises(openai.APIConnectionError):
        ask(client, stream=stream)
    emulator.outage("timeout", seconds=0.2)
    with pytest.raises(openai.APIConnectionError):
        ask(client, stream=stream)
    emulator.restore()
    assert ask(client, stream=False)
    assert emulator.outage_failures == 4
    assert [r.status for r in emulator.requests] == [200, 503, 0, 0, 200]  # the refused one never arrived


@pytest.mark.loopback
def test_timeout_outage_over_loopback_times_the_client_out(loopback: tuple[Emulator, AzureOpenAI]) -> None:
    emulator, client = loopback
    with emulator.outage("timeout", seconds=60):
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            ask(client.with_options(timeout=0.3))
        assert time.monotonic() - started < 5
    assert ask(client)


@pytest.mark.loopback
async def test_outages_over_loopback_async(served: tuple[Emulator, str]) -> None:
    emulator, url = served
    emulator.reset()
    async with AsyncAzureOpenAI(
        azure_endpoint=url, api_key=DEFAULT_API_KEY, api_version=LATEST_GA, max_retries=0
    ) as client:
        for kind, error in (
            ("server_error", openai.InternalServerError),
            ("drop_connection", openai.APIConnectionError),
            ("refuse", openai.APIConnectionError),
        ):
            with emulator.outage(kind):  # type: ignore[arg-type]
                results = await asyncio.gather(
                    *(client.chat.completions.create(model="gpt-4o", messages=USER) for _ in range(20)),
                    return_exceptions=True,
                )
            assert all(isinstance(r, error) for r in results), results
        answers = await asyncio.gather(
            *(client.chat.completions.create(model="gpt-4o", messages=USER) for _ in range(20))
        )
        assert all(a.choices for a in answers)
    assert emulator.outage_failures == 60


@pytest.mark.loopback
def test_one_deployment_down_over_loopback(loopback: tuple[Emulator, AzureOpenAI]) -> None:
    emulator, client = loopback
    emulator.outage("drop_connection", deployment="gpt-4o-mini")
    with pytest.raises(openai.APIConnectionError):
        ask(client, model="gpt-4o-mini")
    assert ask(client)  # a new connection, another deployment: answered


@pytest.mark.loopback
def test_two_regions_served_side_by_side() -> None:
    east = Emulator(region="East US", endpoint=EAST)
    west = Emulator(region="West US", endpoint=WEST)
    try:
        with east.serve() as east_url, west.serve() as west_url:
            clients = [
                AzureOpenAI(azure_endpoint=url, api_key=DEFAULT_API_KEY, api_version=LATEST_GA, max_retries=0)
                for url in (east_url, west_url)
            ]
            east.outage("refuse")
            with pytest.raises(openai.APIConnectionError):
                ask(clients[0])
            raw = clients[1].chat.completions.with_raw_response.create(model="gpt-4o", messages=USER)
            assert raw.headers["x-ms-region"] == "West US"
            east.restore()
            raw = clients[0].chat.completions.with_raw_response.create(model="gpt-4o", messages=USER)
            assert raw.headers["x-ms-region"] == "East US"
            for client in clients:
                client.close()
    finally:
        east.close()
        west.close()
