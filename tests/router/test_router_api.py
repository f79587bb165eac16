"""The router as a client: re-asks and hooks through from_openai, capabilities, config, bad input."""

from __future__ import annotations

import pytest
from router_kit import MESSAGES, User, chat_requests

import instructor_az
from instructor_az import ConfigurationError, Mode
from instructor_az.emulator import DEFAULT_API_KEY, Emulator, Fault, Quota
from instructor_az.router import AsyncRouter, Group, Router, Target, from_config


def test_each_attempt_is_routed_and_hooks_name_the_target_that_served_it() -> None:
    east, west = (
        Emulator(backend="scripted", region="East US"),
        Emulator(backend="scripted", region="West US"),
    )
    east.scripted.push({"name": "John", "age": "thirty"})  # invalid: re-asked
    west.scripted.push({"name": "John", "age": 30})
    router = Router(
        [
            Target(east.client(), name="eastus", model="gpt-4o"),
            Target(west.client(), name="westus", model="gpt-4o"),
        ],
        strategy="ordered",
    )
    client = instructor_az.from_openai(router)
    served, kwargs = [], []
    client.on("route:served", served.append)
    client.on("completion:kwargs", lambda **k: kwargs.append(k))
    client.on("parse:error", lambda e: east.inject(Fault.server_error(503), times=1))  # east fails the re-ask

    user = client.create(response_model=User, messages=MESSAGES)
    assert user == User(name="John", age=30)
    assert [(s.target, s.region, s.failovers) for s in served] == [
        ("eastus", "East US", ()),
        ("westus", "West US", ("eastus",)),
    ]
    assert len(kwargs) == 2  # two attempts, one completion:kwargs each
    assert "thirty" in str(west.last_request.body["messages"])  # the re-ask carries the bad answer
    east.close()
    west.close()


def test_router_hooks_and_a_wrapped_clients_hooks_both_hear_route_events(regions) -> None:
    east, _west, _ = regions
    router = Router([Target(east.client(), name="eastus", model="gpt-4o")])
    own, wrapped = [], []
    router.on("route:served", own.append)
    client = instructor_az.from_openai(router)
    client.on("route:served", wrapped.append)
    client.create(response_model=User, messages=MESSAGES)
    router.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert len(own) == 2
    assert len(wrapped) == 1  # a raw call through the router is not the wrapped client's


def test_the_spillover_deployment_goes_as_azures_header(regions) -> None:
    east, _, _ = regions
    router = Router([Target(east.client(), name="eastus-ptu", model="gpt-4o", spillover="gpt-4o-mini")])
    router.chat.completions.create(model="ignored", messages=MESSAGES, extra_headers={"x-trace": "1"})
    headers = east.last_request.headers
    assert headers["x-ms-spillover-deployment"] == "gpt-4o-mini"
    assert headers["x-trace"] == "1"
    assert east.last_request.deployment == "gpt-4o"


def test_capabilities_are_what_every_target_serves(regions) -> None:
    east, west, _ = regions
    router = Router(
        [
            Target(east.client(api_version="2024-06-01"), name="old", model="gpt-4o"),
            Target(west.client(), name="new", model="gpt-4o"),
        ]
    )
    assert router.capabilities.api_version == "2024-06-01"
    with pytest.raises(ConfigurationError, match="2024-06-01"):
        instructor_az.from_openai(router, mode=Mode.JSON_SCHEMA).create(
            response_model=User, messages=MESSAGES
        )
    assert chat_requests(east) + chat_requests(west) == 0
    assert instructor_az.from_openai(router, mode=Mode.AUTO).mode_for("gpt-4o") is Mode.TOOLS


def test_with_options_shares_health_and_sets_the_routers_retries(regions) -> None:
    east, west, _ = regions
    router = Router(
        [
            Target(east.client(), name="eastus", model="gpt-4o"),
            Target(west.client(), name="westus", model="gpt-4o"),
        ],
        strategy="ordered",
    )
    view = router.with_options(max_retries=0, timeout=5)
    east.inject(Fault.rate_limit(retry_after_ms=5000), times=1)
    view.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert router.health()[0].cooling_for > 4  # the view's 429 cooled the router's target
    raw = router.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
    assert raw.target == "westus"
    assert raw.headers["x-instructor-az-target"] == "westus"
    assert int(raw.headers["x-ratelimit-remaining-requests"]) > 0  # summed over the available targets
    assert raw.parse().choices


def test_bad_configurations_are_refused_with_what_to_do(regions) -> None:
    east, west, _ = regions
    with pytest.raises(ConfigurationError, match="AsyncRouter"):
        Router([Target(east.async_client(), name="a")])
    with pytest.raises(ConfigurationError, match="Router"):
        AsyncRouter([Target(east.client(), name="a")])
    with pytest.raises(ConfigurationError, match="named 'a'"):
        Router([Target(east.client(), name="a"), Target(west.client(), name="a")])
    with pytest.raises(ConfigurationError, match="weight"):
        Target(east.client(), weight=0)
    with pytest.raises(ConfigurationError, match="strategy"):
        Router([Target(east.client())], strategy="round-robin")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="Target"):
        Router([east.client()])  # type: ignore[list-item]
    with pytest.raises(ConfigurationError, match="messages"):
        Target(east.client(), params={"messages": []})
    with pytest.raises(ConfigurationError, match="fallback_on"):
        Router([Target(east.client())], fallback_on={503})
    with pytest.raises(ConfigurationError, match="needs an openai client"):
        Router([Target(object())])
    assert DEFAULT_API_KEY not in repr(Target(east.client(), name="a"))
    assert DEFAULT_API_KEY not in repr(Router([Target(east.client(), name="a")]))


def test_a_portkey_style_config_builds_the_same_router(regions) -> None:
    east, west, openai_side = regions
    config = {
        "strategy": {"mode": "fallback", "on_status_codes": [401, 503]},
        "retry": {"attempts": 1},
        "targets": [
            {
                "strategy": {"mode": "loadbalance"},
                "targets": [
                    {
                        "client": east.client(),
                        "name": "eastus",
                        "override_params": {"model": "gpt-4o"},
                        "weight": 0.7,
                    },
                    {
                        "client": west.client(),
                        "name": "westus",
                        "override_params": {"model": "gpt-4o"},
                        "weight": 0.3,
                    },
                ],
            },
            {
                "provider": "openai",
                "api_key": DEFAULT_API_KEY,
                "custom_host": "https://emulator.openai.azure.com/openai/v1/",
                "override_params": {"model": "gpt-4o-mini"},
                "name": "openai",
            },
        ],
    }
    router = from_config(config, http_client=openai_side.http_client(), seed=5)
    assert [t.label for t in router.targets] == ["eastus", "westus", "openai"]
    assert router._options.fallback_on == frozenset({401})  # 503 always falls back
    assert router._options.max_retries == 1
    east.inject(Fault.server_error(503), times=None)
    west.inject(Fault.server_error(503), times=None)
    client = instructor_az.from_openai(router)
    assert isinstance(client.create(response_model=User, messages=MESSAGES), User)
    assert openai_side.last_request.body["model"] == "gpt-4o-mini"


def test_a_config_builds_azure_clients_from_resource_names(regions) -> None:
    east, _, _ = regions
    router = from_config(
        {
            "strategy": {"mode": "loadbalance"},
            "targets": [
                {
                    "provider": "azure-openai",
                    "resource_name": "emulator",
                    "deployment_id": "gpt-4o",
                    "api_key": DEFAULT_API_KEY,
                    "api_version": "2024-10-21",
                }
            ],
        },
        http_client=east.http_client(),
    )
    assert router.targets[0].label == "emulator/gpt-4o"
    router.chat.completions.create(model="anything", messages=MESSAGES)
    assert east.last_request.deployment == "gpt-4o"
    assert east.last_request.api_version == "2024-10-21"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"targets": [{"provider": "azure-openai", "virtual_key": "vk"}]}, "virtual keys"),
        ({"strategy": {"mode": "round-robin"}, "targets": [{"provider": "openai"}]}, "strategy must be"),
        ({"targets": []}, "non-empty"),
        ({"targets": [{"provider": "anthropic"}]}, "provider must be"),
        ({"targets": [{"provider": "openai", "resource_name": "x"}]}, "belong to azure-openai"),
        ({"targets": [{"provider": "azure-openai"}]}, "resource_name"),
        ({"cache": {"mode": "simple"}, "targets": [{"provider": "openai"}]}, "unknown key"),
        (
            {"strategy": {"mode": "fallback", "on_status_codes": ["x"]}, "targets": [{"provider": "openai"}]},
            "status",
        ),
    ],
)
def test_config_mistakes_are_named_not_ignored(config, message) -> None:
    with pytest.raises(ConfigurationError, match=message):
        from_config(config)


def test_groups_nest_and_fallbacks_come_last(regions) -> None:
    east, west, openai_side = regions
    router = Router(
        [Group([Target(east.client(), name="e1"), Target(west.client(), name="w1")], "least-busy")],
        fallbacks=Target(openai_side.openai_client(), name="oa"),
    )
    orders = {tuple(t.label for t in router._pool.order()) for _ in range(50)}
    assert orders == {("e1", "w1", "oa"), ("w1", "e1", "oa")}


def test_what_a_router_does_not_route_says_where_to_go(regions) -> None:
    east, _, _ = regions
    client = instructor_az.from_openai(Router([Target(east.client(), name="eastus")]))
    with pytest.raises(AttributeError, match=r"targets\[i\]\.client\.files"):
        client.files.list()


def test_a_ptu_target_spills_over_inside_azure_and_the_hook_says_so(regions) -> None:
    east, _, _ = regions
    east.quotas.set(Quota(rpm=6, rpm_period=10), deployment="gpt-4o-ptu")  # one request a window
    router = Router([Target(east.client(), name="eastus-ptu", model="gpt-4o-ptu", spillover="gpt-4o")])
    served = []
    router.on("route:served", served.append)
    for _ in range(2):
        router.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert [s.spillover_from for s in served] == [None, "gpt-4o-ptu"]  # the second spilled to gpt-4o
    assert [r.deployment for r in east.requests] == ["gpt-4o-ptu", "gpt-4o"]  # who served each
    assert "/deployments/gpt-4o-ptu/" in east.requests[1].path  # both were sent to the PTU
    assert router.health()[0].rate_limited == 0  # Azure served it: no 429 reached the router
