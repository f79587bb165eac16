"""The control API over loopback, driven with a plain HTTP client (as another process would), then
the real SDK seeing what was scripted."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import openai
import pytest
from openai import AzureOpenAI

from instructor_az.emulator import DEFAULT_API_KEY, LATEST_GA, Emulator

pytestmark = pytest.mark.loopback

USER = [{"role": "user", "content": "Who wrote Hamlet?"}]
KEY = {"api-key": DEFAULT_API_KEY}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Emulator, str]]:
    emulator = Emulator(backend="scripted")
    try:
        with emulator.serve() as url:
            yield emulator, url
    finally:
        emulator.close()


@pytest.fixture
def endpoint(served: tuple[Emulator, str]) -> str:
    served[0].reset()
    return served[1]


@pytest.fixture
def http(endpoint: str) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=f"{endpoint}/_emulator", headers=KEY, timeout=10) as client:
        yield client


@pytest.fixture
def client(endpoint: str) -> Iterator[AzureOpenAI]:
    with AzureOpenAI(
        azure_endpoint=endpoint, api_key=DEFAULT_API_KEY, api_version=LATEST_GA, max_retries=0
    ) as client:
        yield client


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"api-key": "wrong"},
        {"authorization": "Bearer wrong"},
        {"authorization": f"Bearer {Emulator.entra_token()}"},
    ],
)
def test_control_needs_the_emulator_key(endpoint: str, headers: dict[str, str]) -> None:
    response = httpx2.post(f"{endpoint}/_emulator/reset", headers=headers)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "401"
    assert "key" in error["message"].lower()


def test_the_key_works_as_a_bearer_token(endpoint: str) -> None:
    response = httpx2.get(
        f"{endpoint}/_emulator/scripted", headers={"authorization": f"Bearer {DEFAULT_API_KEY}"}
    )
    assert response.status_code == 200
    assert response.json() == {"pending": 0}


def test_queued_answers_reach_the_sdk_in_order(http: httpx2.Client, client: AzureOpenAI) -> None:
    response = http.post(
        "/scripted",
        json={
            "answers": [
                {"text": "Shakespeare."},
                {"json": {"name": "William Shakespeare", "born": 1564}},
                {"tool_calls": [{"name": "lookup", "arguments": {"q": "Hamlet"}}]},
            ]
        },
    )
    assert response.status_code == 200
    assert response.json() == {"queued": 3, "pending": 3, "deployment": None}
    assert (
        client.chat.completions.create(model="gpt-4o", messages=USER).choices[0].message.content
        == "Shakespeare."
    )
    structured = client.chat.completions.create(model="gpt-4o", messages=USER).choices[0].message.content
    assert structured == '{"name": "William Shakespeare", "born": 1564}'
    message = client.chat.completions.create(model="gpt-4o", messages=USER).choices[0].message
    assert message.tool_calls
    assert message.tool_calls[0].function.name == "lookup"
    assert http.get("/scripted").json() == {"pending": 0}


def test_answers_per_deployment(http: httpx2.Client, client: AzureOpenAI) -> None:
    http.post(
        "/scripted", json={"answers": [{"text": "mini"}], "deployment": "gpt-4o-mini"}
    ).raise_for_status()
    http.post("/scripted", json={"answers": [{"text": "any"}]}).raise_for_status()
    assert client.chat.completions.create(model="gpt-4o", messages=USER).choices[0].message.content == "any"
    assert (
        client.chat.completions.create(model="gpt-4o-mini", messages=USER).choices[0].message.content
        == "mini"
    )


def test_injected_faults_then_the_answer(http: httpx2.Client, client: AzureOpenAI) -> None:
    http.post("/scripted", json={"answers": [{"text": "after the faults"}]}).raise_for_status()
    response = http.post("/faults", json={"fault": "rate_limit; retry_after_ms=10", "times": 2})
    assert response.json() == {
        "injected": [{"fault": "rate_limit; retry_after_ms=10", "deployment": None, "times": 2}]
    }
    http.post("/faults", json={"fault": "server_error; status=503"}).raise_for_status()
    assert http.get("/faults").json()["data"][1] == {
        "fault": "server_error; status=503",
        "deployment": None,
        "times": 1,
    }
    for error in (openai.RateLimitError, openai.RateLimitError, openai.InternalServerError):
        with pytest.raises(error):
            client.chat.completions.create(model="gpt-4o", messages=USER)
    assert client.chat.completions.create(model="gpt-4o", messages=USER).choices[0].message.content == (
        "after the faults"
    )


def test_a_queued_fault_answer(http: httpx2.Client, client: AzureOpenAI) -> None:
    http.post(
        "/scripted", json={"answers": [{"fault": "length; after_chars=4"}, {"text": "Shakespeare"}]}
    ).raise_for_status()
    choice = client.chat.completions.create(model="gpt-4o", messages=USER).choices[0]
    assert (choice.finish_reason, choice.message.content) == ("length", "Shak")


def test_recorded_requests_are_redacted_and_can_be_cleared(http: httpx2.Client, client: AzureOpenAI) -> None:
    http.post("/scripted", json={"answers": [{"text": "hi"}]}).raise_for_status()
    client.chat.completions.create(model="gpt-4o", messages=USER)
    data = http.get("/requests").json()["data"]
    assert len(data) == 1  # control requests are not recorded
    assert data[0]["headers"]["api-key"] == "<redacted>"
    assert data[0]["body"]["messages"] == USER
    assert (data[0]["deployment"], data[0]["status"]) == ("gpt-4o", 200)
    assert DEFAULT_API_KEY not in http.get("/requests").text
    assert http.delete("/requests").json() == {"cleared": 1}
    assert http.get("/requests").json()["data"] == []


def test_reset_forgets_answers_and_faults(http: httpx2.Client, client: AzureOpenAI) -> None:
    http.post("/scripted", json={"answers": [{"text": "forgotten"}]}).raise_for_status()
    http.post("/faults", json={"fault": "server_error", "times": None}).raise_for_status()
    assert http.post("/reset").json() == {"reset": True}
    assert http.get("/faults").json()["data"] == []
    with pytest.raises(openai.BadRequestError):  # nothing queued, no fault left
        client.chat.completions.create(model="gpt-4o", messages=USER)


@pytest.mark.parametrize(
    ("path", "body", "fragment"),
    [
        ("/scripted", {"answers": []}, "non-empty list"),
        ("/scripted", {"answers": [42]}, "answers[0] must be an object"),
        ("/scripted", {"answers": [{"txt": "typo"}]}, "unknown field(s) txt"),
        ("/scripted", {"answers": [{"json": 1, "text": "x"}]}, "'json' stands alone"),
        ("/scripted", {"answers": [{"fault": "latency; seconds=nan"}]}, "finite"),
        ("/scripted", {"answers": [{"text": "x"}], "deployment": "gpt-9"}, "Unknown deployment 'gpt-9'"),
        ("/faults", {"fault": "latency; seconds=inf"}, "finite"),
        ("/faults", {"fault": "rate_limit", "times": 0}, "times must be from 1"),
        ("/faults", {"fault": "meteor"}, "unknown fault kind"),
        ("/faults", {"fault": "rate_limit; deployment=gpt-9"}, "Unknown deployment"),
        ("/faults", {}, "x-emulator-fault header's syntax"),
    ],
)
def test_bad_control_requests_are_azure_400s_saying_what_to_send(
    http: httpx2.Client, path: str, body: object, fragment: str
) -> None:
    response = http.post(path, json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "EmulatorControlError")
    assert fragment in error["message"]


def test_malformed_json_to_the_control_api_is_an_azure_400(http: httpx2.Client) -> None:
    response = http.post("/scripted", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "could not parse the JSON body" in response.json()["error"]["message"]


def test_a_non_scripted_backend_says_how_to_start_a_scripted_one() -> None:
    emulator = Emulator(backend="schema")
    try:
        with emulator.serve() as endpoint:
            response = httpx2.post(
                f"{endpoint}/_emulator/scripted", headers=KEY, json={"answers": [{"text": "x"}]}
            )
        assert response.status_code == 400
        assert "--backend scripted" in response.json()["error"]["message"]
    finally:
        emulator.close()
