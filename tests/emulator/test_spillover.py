"""Provisioned (PTU) spillover as Azure documents it (spillover-traffic-management.md), through the openai SDK:
the deployment's `spilloverDeploymentName` and the per-request `x-ms-spillover-deployment` header, what
starts it (429, 500 / 503, a long-context 400), the response headers, the standard deployment's quota."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import openai
import pytest
from openai import AsyncAzureOpenAI, AzureOpenAI

from instructor_az.emulator import (
    DEFAULT_API_KEY,
    FAULT_HEADER,
    LATEST_GA,
    SPILLOVER_HEADER,
    Deployment,
    Emulator,
    Fault,
    ManualClock,
    Quota,
    default_deployments,
)

USER = [{"role": "user", "content": "Does Azure OpenAI support customer managed keys?"}]
SPILL = {SPILLOVER_HEADER: "gpt-4o"}


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """Scripted, with the default `gpt-4o-ptu` (GlobalProvisionedManaged) whose PTUs admit one request a
    minute, and its standard `gpt-4o` (GlobalStandard) limited in tokens, on a clock that stays put."""
    emulator = Emulator(
        backend="scripted",
        clock=ManualClock(),
        quotas={"gpt-4o-ptu": Quota(rpm=1, rpm_period=60), "gpt-4o": Quota(tpm=10_000)},
    )
    try:
        yield emulator
    finally:
        emulator.close()


@pytest.fixture
def client(emulator: Emulator) -> AzureOpenAI:
    return emulator.client(max_retries=0)


def with_ptu_property(**quotas: Quota) -> Emulator:
    """An emulator whose `ptu` deployment has `spillover_deployment_name="gpt-4o"` (and a `gpt-4o-eu`
    standard deployment of the same model, which the header may name)."""
    deployments = [
        *default_deployments(),
        Deployment("gpt-4o-eu", "gpt-4o", "2024-08-06"),
        Deployment(
            "ptu", "gpt-4o", "2024-08-06", sku="GlobalProvisionedManaged", spillover_deployment_name="gpt-4o"
        ),
    ]
    return Emulator(backend="scripted", deployments=deployments, clock=ManualClock(), quotas=quotas)


def served_by(raw: object) -> tuple[str, str | None, str]:
    headers = raw.headers  # type: ignore[attr-defined]
    return (
        headers["x-ms-deployment-name"],
        headers.get("x-ms-spillover-from-deployment"),
        headers["x-ms-is-spilled-over"],
    )


# --- per request: the x-ms-spillover-deployment header ---------------------------------------------


def test_a_throttled_ptu_spills_over_to_the_header_deployment(
    emulator: Emulator, client: AzureOpenAI
) -> None:
    emulator.scripted.push("From the PTU.", deployment="gpt-4o-ptu")
    emulator.scripted.push("From pay-as-you-go.", deployment="gpt-4o")
    create = client.chat.completions.with_raw_response.create

    raw = create(model="gpt-4o-ptu", messages=USER, max_tokens=100, extra_headers=SPILL)
    assert raw.parse().choices[0].message.content == "From the PTU."
    assert served_by(raw) == ("gpt-4o-ptu", None, "false")
    assert "x-ms-spillover-error" not in raw.headers
    tokens_before = emulator.quotas.remaining("gpt-4o")[1]

    raw = create(model="gpt-4o-ptu", messages=USER, max_tokens=100, extra_headers=SPILL)  # PTUs used up
    completion = raw.parse()
    assert completion.choices[0].message.content == "From pay-as-you-go."
    assert served_by(raw) == ("gpt-4o", "gpt-4o-ptu", "true")
    assert completion.model == "gpt-4o-2024-08-06"
    # Charged to the standard deployment: its token count went down by prompt + max_tokens.
    prompt_tokens = completion.usage.prompt_tokens if completion.usage else 0
    assert emulator.quotas.remaining("gpt-4o")[1] == tokens_before - prompt_tokens - 100
    assert int(raw.headers["x-ratelimit-remaining-tokens"]) == tokens_before - prompt_tokens - 100
    assert emulator.quotas.remaining("gpt-4o-ptu")[0] == 0

    recorded = emulator.last_request
    assert recorded.path == "/openai/deployments/gpt-4o-ptu/chat/completions"
    assert (recorded.deployment, recorded.spillover_from, recorded.status) == ("gpt-4o", "gpt-4o-ptu", 200)
    assert recorded.to_json()["spillover_from"] == "gpt-4o-ptu"


def test_without_the_header_the_ptu_answers_its_429(emulator: Emulator, client: AzureOpenAI) -> None:
    emulator.scripted.push("From the PTU.")
    client.chat.completions.create(model="gpt-4o-ptu", messages=USER)
    with pytest.raises(openai.RateLimitError) as throttled:
        client.chat.completions.create(model="gpt-4o-ptu", messages=USER)
    headers = throttled.value.response.headers
    assert headers["x-ms-deployment-name"] == "gpt-4o-ptu"
    assert "x-ms-spillover-from-deployment" not in headers
    assert "x-ms-spillover-error" not in headers


@pytest.mark.parametrize("status", [500, 503])
def test_a_ptu_server_error_spills_over(emulator: Emulator, client: AzureOpenAI, status: int) -> None:
    emulator.scripted.push("Served anyway.")
    emulator.inject(Fault.server_error(status), deployment="gpt-4o-ptu")
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-ptu", messages=USER, extra_headers=SPILL
    )
    assert raw.parse().choices[0].message.content == "Served anyway."
    assert served_by(raw) == ("gpt-4o", "gpt-4o-ptu", "true")
    assert emulator.last_request.faults == (Fault.server_error(status),)  # what the PTU met


def test_a_header_fault_on_the_ptu_spills_over(emulator: Emulator, client: AzureOpenAI) -> None:
    emulator.scripted.push("Served anyway.")
    headers = {**SPILL, FAULT_HEADER: "rate_limit; times=1"}
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-ptu", messages=USER, extra_headers=headers
    )
    assert served_by(raw) == ("gpt-4o", "gpt-4o-ptu", "true")


def test_a_502_is_not_spilled_over(emulator: Emulator, client: AzureOpenAI) -> None:
    emulator.inject(Fault.server_error(502), deployment="gpt-4o-ptu")
    with pytest.raises(openai.InternalServerError) as failed:
        client.chat.completions.create(model="gpt-4o-ptu", messages=USER, extra_headers=SPILL)
    assert failed.value.status_code == 502
    assert "x-ms-spillover-from-deployment" not in failed.value.response.headers


def test_a_bad_request_is_not_spilled_over(emulator: Emulator, client: AzureOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(
            model="gpt-4o-ptu",
            messages=[{"role": "wizard", "content": "hi"}],  # type: ignore[list-item,misc]
            extra_headers=SPILL,
        )
    assert bad.value.response.headers["x-ms-deployment-name"] == "gpt-4o-ptu"
    assert "x-ms-spillover-from-deployment" not in bad.value.response.headers
    assert "x-ms-spillover-error" not in bad.value.response.headers
    assert [r.deployment for r in emulator.requests] == ["gpt-4o-ptu"]


def test_a_prompt_filter_400_is_not_spilled_over(emulator: Emulator, client: AzureOpenAI) -> None:
    emulator.inject(Fault.prompt_filter(violence="high"), deployment="gpt-4o-ptu")
    with pytest.raises(openai.BadRequestError) as filtered:
        client.chat.completions.create(model="gpt-4o-ptu", messages=USER, extra_headers=SPILL)
    assert filtered.value.code == "content_filter"
    assert filtered.value.response.headers["x-ms-deployment-name"] == "gpt-4o-ptu"


def test_a_long_context_400_spills_over(emulator: Emulator, client: AzureOpenAI) -> None:
    emulator.deployment("gpt-4o-ptu").max_context_tokens = 20
    long_prompt = [{"role": "user", "content": "word " * 50}]
    with pytest.raises(openai.BadRequestError) as too_long:
        client.chat.completions.create(model="gpt-4o-ptu", messages=long_prompt)  # type: ignore[arg-type]
    assert too_long.value.code == "context_length_exceeded"
    assert too_long.value.param == "messages"
    assert emulator.quotas.remaining("gpt-4o-ptu")[0] == 1  # refused before its quota was charged

    emulator.scripted.push("A long answer to a long prompt.")
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-ptu",
        messages=long_prompt,  # type: ignore[arg-type]
        extra_headers=SPILL,
    )
    assert served_by(raw) == ("gpt-4o", "gpt-4o-ptu", "true")


def test_a_streamed_request_spills_over(emulator: Emulator, client: AzureOpenAI) -> None:
    emulator.scripted.push("warm up")
    client.chat.completions.create(model="gpt-4o-ptu", messages=USER)
    emulator.scripted.push("A streamed answer from the standard deployment.")
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4o-ptu", messages=USER, stream=True, extra_headers=SPILL
    ) as response:
        assert served_by(response) == ("gpt-4o", "gpt-4o-ptu", "true")
        text = "".join(
            chunk.choices[0].delta.content or ""
            for chunk in response.parse()
            if chunk.choices and chunk.choices[0].delta
        )
    assert text == "A streamed answer from the standard deployment."
    assert emulator.last_request.spillover_from == "gpt-4o-ptu"


def test_spillover_on_the_v1_routes(emulator: Emulator) -> None:
    v1 = emulator.openai_client(max_retries=0)
    emulator.scripted.push("one", "two")
    v1.chat.completions.create(model="gpt-4o-ptu", messages=USER)
    raw = v1.chat.completions.with_raw_response.create(model="gpt-4o-ptu", messages=USER, extra_headers=SPILL)
    assert served_by(raw) == ("gpt-4o", "gpt-4o-ptu", "true")


async def test_spillover_with_an_async_client(emulator: Emulator) -> None:
    emulator.inject(Fault.server_error(503), deployment="gpt-4o-ptu", times=None)  # the PTU keeps failing
    async with emulator.async_client(max_retries=0) as client:
        create = client.chat.completions.with_raw_response.create
        emulator.scripted.push(*[f"answer {i}" for i in range(10)])
        raws = await asyncio.gather(
            *(create(model="gpt-4o-ptu", messages=USER, extra_headers=SPILL) for _ in range(10))
        )
    assert {served_by(raw) for raw in raws} == {("gpt-4o", "gpt-4o-ptu", "true")}
    assert sorted(str(raw.parse().choices[0].message.content) for raw in raws) == [
        f"answer {i}" for i in range(10)
    ]


# --- when the spillover fails ----------------------------------------------------------------------


def test_a_failed_spillover_answers_the_ptus_response(emulator: Emulator, client: AzureOpenAI) -> None:
    emulator.scripted.push("PTU")
    client.chat.completions.create(model="gpt-4o-ptu", messages=USER)
    emulator.inject(Fault.server_error(500), deployment="gpt-4o")  # the standard deployment fails too
    with pytest.raises(openai.RateLimitError) as throttled:  # the PTU's own 429
        client.chat.completions.create(model="gpt-4o-ptu", messages=USER, extra_headers=SPILL)
    headers = throttled.value.response.headers
    assert headers["x-ms-spillover-error"] == "500"
    assert headers["x-ms-deployment-name"] == "gpt-4o-ptu"
    assert "x-ms-spillover-from-deployment" not in headers
    assert headers["retry-after-ms"]
    recorded = emulator.last_request
    assert (recorded.deployment, recorded.status, recorded.spillover_error) == ("gpt-4o-ptu", 429, 500)


def test_a_throttled_standard_deployment_fails_the_spillover() -> None:
    emulator = Emulator(
        clock=ManualClock(), quotas={"gpt-4o-ptu": Quota(rpm=1, rpm_period=60), "gpt-4o": Quota(tpm=10)}
    )
    client = emulator.client(max_retries=0)
    client.chat.completions.create(model="gpt-4o-ptu", messages=USER, max_tokens=5)
    with pytest.raises(openai.RateLimitError) as throttled:
        client.chat.completions.create(model="gpt-4o-ptu", messages=USER, max_tokens=500, extra_headers=SPILL)
    assert throttled.value.response.headers["x-ms-spillover-error"] == "429"
    assert "call rate limit" in throttled.value.message  # the PTU's 429 (RPM), not gpt-4o's (TPM)
    emulator.close()


@pytest.mark.parametrize(
    ("target", "status"),
    [("no-such-deployment", "404"), ("gpt-4o-mini", "400"), ("gpt-4o-batch", "400")],
)
def test_an_unusable_spillover_target(
    emulator: Emulator, client: AzureOpenAI, target: str, status: str
) -> None:
    emulator.inject(Fault.server_error(503), deployment="gpt-4o-ptu")
    with pytest.raises(openai.InternalServerError) as failed:
        client.chat.completions.create(
            model="gpt-4o-ptu", messages=USER, extra_headers={SPILLOVER_HEADER: target}
        )
    assert failed.value.status_code == 503
    assert failed.value.response.headers["x-ms-spillover-error"] == status


def test_the_header_is_ignored_on_a_standard_deployment(emulator: Emulator, client: AzureOpenAI) -> None:
    emulator.inject(Fault.server_error(503), deployment="gpt-4o")
    with pytest.raises(openai.InternalServerError) as failed:
        client.chat.completions.create(
            model="gpt-4o", messages=USER, extra_headers={SPILLOVER_HEADER: "gpt-4o-mini"}
        )
    assert "x-ms-spillover-error" not in failed.value.response.headers
    assert emulator.last_request.deployment == "gpt-4o"


# --- per deployment: spillover_deployment_name ------------------------------------------------------


def test_the_deployment_property_spills_every_request() -> None:
    emulator = with_ptu_property(ptu=Quota(rpm=1, rpm_period=60))
    client = emulator.client(max_retries=0)
    emulator.scripted.push("PTU", "standard")
    assert served_by(client.chat.completions.with_raw_response.create(model="ptu", messages=USER)) == (
        "ptu",
        None,
        "false",
    )
    raw = client.chat.completions.with_raw_response.create(model="ptu", messages=USER)  # no header needed
    assert served_by(raw) == ("gpt-4o", "ptu", "true")
    emulator.close()


def test_the_deployment_property_wins_over_the_header() -> None:
    emulator = with_ptu_property()
    emulator.inject(Fault.server_error(503), deployment="ptu")
    emulator.scripted.push("standard")
    raw = emulator.client(max_retries=0).chat.completions.with_raw_response.create(
        model="ptu", messages=USER, extra_headers={SPILLOVER_HEADER: "gpt-4o-eu"}
    )
    assert served_by(raw) == ("gpt-4o", "ptu", "true")
    emulator.close()


def test_the_property_can_be_set_later() -> None:
    emulator = Emulator(backend="scripted")
    emulator.deployment("gpt-4o-ptu").spillover_deployment_name = "gpt-4o"
    emulator.inject(Fault.server_error(500), deployment="gpt-4o-ptu")
    emulator.scripted.push("standard")
    raw = emulator.client(max_retries=0).chat.completions.with_raw_response.create(
        model="gpt-4o-ptu", messages=USER
    )
    assert served_by(raw) == ("gpt-4o", "gpt-4o-ptu", "true")
    emulator.close()


def test_an_outage_of_the_ptu_spills_over_and_is_no_failure() -> None:
    emulator = with_ptu_property()
    client = emulator.client(max_retries=0)
    outage = emulator.outage("server_error", deployment="ptu")
    emulator.scripted.push("standard")
    assert (
        served_by(client.chat.completions.with_raw_response.create(model="ptu", messages=USER))[0] == "gpt-4o"
    )
    assert outage.failures == 0  # the request was served

    emulator.outage("server_error", deployment="gpt-4o")  # now the standard deployment is down too
    with pytest.raises(openai.InternalServerError) as failed:
        client.chat.completions.create(model="ptu", messages=USER)
    assert failed.value.response.headers["x-ms-spillover-error"] == "503"
    assert emulator.outage_failures == 1  # the request, once (the PTU's answer)

    emulator.restore()
    emulator.outage("drop_connection", deployment="ptu")  # no status: nothing to spill over on
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="ptu", messages=USER)
    emulator.close()


def test_a_whole_resource_outage_does_not_spill_over() -> None:
    emulator = with_ptu_property()
    emulator.outage("server_error")
    with pytest.raises(openai.InternalServerError) as failed:
        emulator.client(max_retries=0).chat.completions.create(model="ptu", messages=USER)
    assert "x-ms-spillover-error" not in failed.value.response.headers
    emulator.close()


def deployments_with(ptu: Deployment, *others: Deployment) -> list[Deployment]:
    return [Deployment("gpt-4o", "gpt-4o", "2024-08-06"), *others, ptu]


@pytest.mark.parametrize(
    ("deployments", "message"),
    [
        (
            deployments_with(
                Deployment(
                    "ptu",
                    "gpt-4o",
                    "2024-08-06",
                    sku="ProvisionedManaged",
                    spillover_deployment_name="gpt-4o",
                )
            ),
            "a ProvisionedManaged deployment spills over to a Standard deployment",
        ),
        (
            deployments_with(
                Deployment(
                    "ptu",
                    "gpt-4o",
                    "2024-08-06",
                    sku="GlobalProvisionedManaged",
                    spillover_deployment_name="gpt-4",
                )
            ),
            "does not have",
        ),
        (
            deployments_with(
                Deployment(
                    "ptu",
                    "gpt-4o",
                    "2024-05-13",
                    sku="GlobalProvisionedManaged",
                    spillover_deployment_name="gpt-4o",
                )
            ),
            "model and version must match",
        ),
    ],
)
def test_the_spillover_target_is_checked(deployments: list[Deployment], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Emulator(deployments=deployments)


def test_a_regional_ptu_spills_over_to_a_regional_standard_deployment() -> None:
    emulator = Emulator(
        backend="scripted",
        deployments=[
            Deployment(
                "ptu", "gpt-4o", "2024-08-06", sku="ProvisionedManaged", spillover_deployment_name="std"
            ),
            Deployment(
                "std", "gpt-4o", "2024-08-06", sku="Standard"
            ),  # listed after: checked once all are in
        ],
    )
    emulator.inject(Fault.rate_limit(), deployment="ptu")
    emulator.scripted.push("regional")
    raw = emulator.client(max_retries=0).chat.completions.with_raw_response.create(model="ptu", messages=USER)
    assert served_by(raw) == ("std", "ptu", "true")
    with pytest.raises(ValueError, match="does not have"):
        emulator.add_deployment(
            Deployment(
                "ptu2", "gpt-4o", "2024-08-06", sku="ProvisionedManaged", spillover_deployment_name="x"
            )
        )
    emulator.close()


def test_only_provisioned_deployments_take_the_property() -> None:
    with pytest.raises(ValueError, match="provisioned deployment's setting"):
        Deployment("std", "gpt-4o", "2024-08-06", spillover_deployment_name="gpt-4o")
    with pytest.raises(ValueError, match="itself"):
        Deployment("ptu", "gpt-4o", sku="GlobalProvisionedManaged", spillover_deployment_name="ptu")
    with pytest.raises(ValueError, match="max_context_tokens"):
        Deployment("ptu", "gpt-4o", max_context_tokens=0)


# --- on loopback -----------------------------------------------------------------------------------


@pytest.mark.loopback
def test_spillover_over_loopback() -> None:
    emulator = Emulator(clock=ManualClock(), quotas={"gpt-4o-ptu": Quota(rpm=1, rpm_period=60)})
    try:
        with emulator.serve() as url:
            client = AzureOpenAI(
                azure_endpoint=url, api_key=DEFAULT_API_KEY, api_version=LATEST_GA, max_retries=0
            )
            create = client.chat.completions.with_raw_response.create
            assert (
                served_by(create(model="gpt-4o-ptu", messages=USER, extra_headers=SPILL))[0] == "gpt-4o-ptu"
            )
            raw = create(model="gpt-4o-ptu", messages=USER, extra_headers=SPILL)
            assert served_by(raw) == ("gpt-4o", "gpt-4o-ptu", "true")
            with client.chat.completions.with_streaming_response.create(
                model="gpt-4o-ptu", messages=USER, stream=True, extra_headers=SPILL
            ) as stream:
                assert served_by(stream) == ("gpt-4o", "gpt-4o-ptu", "true")
                assert [c for c in stream.parse() if c.choices]
            with pytest.raises(openai.RateLimitError) as throttled:
                client.chat.completions.create(
                    model="gpt-4o-ptu", messages=USER, extra_headers={SPILLOVER_HEADER: "x"}
                )
            assert throttled.value.response.headers["x-ms-spillover-error"] == "404"
            client.close()
    finally:
        emulator.close()


@pytest.mark.loopback
async def test_spillover_over_loopback_async() -> None:
    emulator = with_ptu_property()
    emulator.inject(Fault.server_error(503), deployment="ptu", times=None)
    try:
        with emulator.serve() as url:
            async with AsyncAzureOpenAI(
                azure_endpoint=url, api_key=DEFAULT_API_KEY, api_version=LATEST_GA, max_retries=0
            ) as client:
                emulator.scripted.push(*["standard"] * 5)
                raws = await asyncio.gather(
                    *(
                        client.chat.completions.with_raw_response.create(model="ptu", messages=USER)
                        for _ in range(5)
                    )
                )
        assert {served_by(raw) for raw in raws} == {("gpt-4o", "ptu", "true")}
    finally:
        emulator.close()
