"""The strategies other than weighted: least-busy and latency-aware; and regions on loopback."""

from __future__ import annotations

import asyncio

import pytest
from openai import AzureOpenAI
from router_kit import MESSAGES, User, chat_requests

import instructor_az
from instructor_az.emulator import DEFAULT_API_KEY, LATEST_GA, Emulator, Fault
from instructor_az.router import AsyncRouter, Router, Target


def test_least_busy_sends_a_request_where_fewer_are_in_flight(regions) -> None:
    east, west, _ = regions
    router = Router(
        [
            Target(east.client(), name="eastus", model="gpt-4o"),
            Target(west.client(), name="westus", model="gpt-4o"),
        ],
        strategy="least-busy",
    )
    held = [router.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True) for _ in range(3)]
    # Streams hold their target while open: after three, the targets hold 2 and 1 (or 1 and 2).
    busy = {h.name: h.in_flight for h in router.health()}
    assert sorted(busy.values()) == [1, 2]
    idle = min(busy, key=busy.__getitem__)
    stream = router.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    assert stream.target == idle
    for s in [*held, stream]:
        s.close()
    assert all(h.in_flight == 0 for h in router.health())


async def test_latency_strategy_moves_traffic_to_the_faster_region(regions) -> None:
    east, west, _ = regions
    east.inject(Fault.latency(0.03), times=None)  # east is 30 ms further away
    router = AsyncRouter(
        [
            Target(east.async_client(), name="eastus", model="gpt-4o"),
            Target(west.async_client(), name="westus", model="gpt-4o"),
        ],
        strategy="latency",
        seed=1,
    )
    for _ in range(40):
        await router.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    health = {h.name: h for h in router.health()}
    assert health["eastus"].latency is not None
    assert health["westus"].latency is not None
    assert health["eastus"].latency > health["westus"].latency
    assert chat_requests(west) >= 36  # east was measured, then left alone
    assert chat_requests(east) <= 4
    await router.close()


@pytest.mark.loopback
def test_a_region_whose_server_stops_is_routed_around_on_loopback() -> None:
    east, west = Emulator(region="East US"), Emulator(region="West US")
    try:
        with west.serve() as west_url:
            east_server = east.serve()
            east_url = east_server.__enter__()
            clients = [
                AzureOpenAI(azure_endpoint=url, api_key=DEFAULT_API_KEY, api_version=LATEST_GA)
                for url in (east_url, west_url)
            ]
            router = Router(
                [
                    Target(clients[0], name="eastus", model="gpt-4o"),
                    Target(clients[1], name="westus", model="gpt-4o"),
                ],
                cooldown=30,
                failures_to_cool=1,
            )
            client = instructor_az.from_openai(router)
            served = []
            client.on("route:served", lambda e: served.append(e.target))
            users = [client.create(response_model=User, messages=MESSAGES) for _ in range(20)]
            east_server.__exit__(None, None, None)  # the region goes away: connections refused
            users += [client.create(response_model=User, messages=MESSAGES) for _ in range(20)]
            assert len(users) == 40
            assert all(isinstance(u, User) for u in users)
            assert "eastus" in served[:20]
            assert served[20:].count("eastus") == 0
            assert served[-1] == "westus"
            east_health = router.health()[0]
            assert not east_health.available
            assert "connection" in (east_health.reason or "")
            router.close()
    finally:
        east.close()
        west.close()


@pytest.mark.loopback
async def test_async_router_on_loopback_regions_with_a_dropping_region() -> None:
    east, west = Emulator(region="East US"), Emulator(region="West US")
    try:
        with east.serve() as east_url, west.serve() as west_url:
            from openai import AsyncAzureOpenAI

            router = AsyncRouter(
                [
                    Target(
                        AsyncAzureOpenAI(azure_endpoint=url, api_key=DEFAULT_API_KEY, api_version=LATEST_GA),
                        name=name,
                        model="gpt-4o",
                    )
                    for name, url in (("eastus", east_url), ("westus", west_url))
                ],
                cooldown=0.05,
                failures_to_cool=2,
            )
            client = instructor_az.from_openai(router)
            east.inject(Fault.drop_connection(), times=None)
            users = await asyncio.gather(
                *(client.create(response_model=User, messages=MESSAGES) for _ in range(30))
            )
            assert all(isinstance(u, User) for u in users)
            assert chat_requests(east) >= 1
            assert chat_requests(west) == 30
            await router.close()
    finally:
        east.close()
        west.close()
