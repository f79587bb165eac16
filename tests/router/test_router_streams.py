"""Streams through a router: a stream that fails before its first chunk falls back; one that fails
after it does not restart anywhere, it raises `StreamInterrupted`."""

from __future__ import annotations

import pytest
from openai import APIConnectionError
from router_kit import MESSAGES, User, chat_requests

import instructor_az
from instructor_az.emulator import DEFAULT_API_KEY, Fault
from instructor_az.router import AsyncRouter, Router, StreamInterrupted, Target


def _router(regions):  # type: ignore[no-untyped-def]
    east, west, _ = regions
    return Router(
        [
            Target(east.client(), name="eastus", model="gpt-4o"),
            Target(west.client(), name="westus", model="gpt-4o"),
        ],
        strategy="ordered",
    )


def _async_router(regions):  # type: ignore[no-untyped-def]
    east, west, _ = regions
    return AsyncRouter(
        [
            Target(east.async_client(), name="eastus", model="gpt-4o"),
            Target(west.async_client(), name="westus", model="gpt-4o"),
        ],
        strategy="ordered",
    )


@pytest.mark.parametrize(
    "fault",
    [Fault.drop_connection(after_chunks=0), Fault.server_error(503), Fault.rate_limit(retry_after_ms=500)],
)
def test_a_stream_that_fails_before_its_first_chunk_falls_back(regions, fault) -> None:
    east, west, _ = regions
    client = instructor_az.from_openai(_router(regions))
    served = []
    client.on("route:served", served.append)
    east.inject(fault, times=1)
    partials = list(client.create_partial(response_model=User, messages=MESSAGES))
    assert partials[-1] == User(name=partials[-1].name, age=partials[-1].age)
    assert isinstance(partials[-1].age, int)
    assert len(partials) > 1  # it streamed: partial objects, then the whole
    assert (chat_requests(east), chat_requests(west)) == (1, 1)
    assert served[-1].target == "westus"
    assert served[-1].stream
    assert served[-1].failovers == ("eastus",)


def test_a_stream_that_fails_after_its_first_chunk_is_not_restarted(regions) -> None:
    east, west, _ = regions
    router = _router(regions)
    client = instructor_az.from_openai(router)
    east.inject(Fault.drop_connection(after_chunks=3), times=1)
    seen = []
    with pytest.raises(StreamInterrupted) as caught:
        seen.extend(client.create_partial(response_model=User, messages=MESSAGES))
    error = caught.value
    assert isinstance(error, APIConnectionError)  # what code that handles the SDK's errors catches
    assert error.target == "eastus"
    assert error.chunks >= 1
    assert "not restarted" in str(error)
    assert DEFAULT_API_KEY not in repr(error.request.headers)
    assert chat_requests(west) == 0  # never silently sent again elsewhere
    assert router.health()[0].in_flight == 0


def test_a_raw_routed_stream_yields_every_chunk_and_frees_its_slot(regions) -> None:
    east, _, _ = regions
    router = _router(regions)
    stream = router.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    assert stream.target == "eastus"
    assert router.health()[0].in_flight == 1  # a stream holds its target until it ends
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text
    assert router.health()[0].in_flight == 0
    with router.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True) as early:
        next(early)
    assert router.health()[0].in_flight == 0  # closed early: released too
    assert chat_requests(east) == 2


async def test_async_streams_fall_back_before_the_first_chunk_only(regions) -> None:
    east, west, _ = regions
    router = _async_router(regions)
    client = instructor_az.from_openai(router)
    east.inject(Fault.drop_connection(after_chunks=0), times=1)
    partials = [p async for p in client.create_partial(response_model=User, messages=MESSAGES)]
    assert isinstance(partials[-1].age, int)
    assert (chat_requests(east), chat_requests(west)) == (1, 1)

    east.inject(Fault.drop_connection(after_chunks=3), times=1)
    with pytest.raises(StreamInterrupted):
        async for _ in client.create_partial(response_model=User, messages=MESSAGES):
            pass
    assert (chat_requests(east), chat_requests(west)) == (2, 1)
    assert router.health()[0].in_flight == 0
    await router.close()
