"""Every data-plane route through the real openai SDK: deployments routes, v1 routes, and Azure's 4xx answers."""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Iterator

import httpx2
import openai
import pytest
from openai import AzureOpenAI, OpenAI

from instructor_az.emulator import DEFAULT_API_KEY, DEFAULT_ENDPOINT, LATEST_GA, Deployment, Emulator

USER = [{"role": "user", "content": "When was Microsoft founded?"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
SAFE = {"filtered": False, "severity": "safe"}
# The keys of seed 001's legacy completions sample (Azure's own response for gpt-35-turbo-instruct).
SEED_COMPLETION_CHOICE_FILTERS = {"hate": SAFE, "self_harm": SAFE, "sexual": SAFE, "violence": SAFE}
SEED_COMPLETION_PROMPT_FILTERS = [
    {"prompt_index": 0, "content_filter_results": SEED_COMPLETION_CHOICE_FILTERS}
]


@pytest.fixture
def raw(emulator: Emulator) -> Iterator[httpx2.Client]:
    """A plain HTTP client bound to the emulator in-process, for requests the SDK would never send."""
    with emulator.http_client() as http:
        yield http


@pytest.fixture
def v1(emulator: Emulator) -> Iterator[OpenAI]:
    client = emulator.openai_client(max_retries=0)
    yield client
    client.close()


def _norm(vector: list[float]) -> float:
    return math.sqrt(sum(x * x for x in vector))


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (_norm(a) * _norm(b))


# --- chat completions on the deployments route --------------------------------------------------------


def test_chat_completion_on_deployments_route_returns_the_scripted_answer(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push("Microsoft was founded on April 4, 1975.")
    completion = client.chat.completions.create(model="gpt-4o", messages=USER)
    assert completion.choices[0].message.content == "Microsoft was founded on April 4, 1975."
    assert completion.choices[0].message.role == "assistant"
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-4o-2024-08-06"  # Azure reports model-version, not the deployment name
    assert completion.id.startswith("chatcmpl-")
    sent = emulator.last_request
    assert sent.method == "POST"
    assert sent.path == "/openai/deployments/gpt-4o/chat/completions"
    assert sent.api_version == LATEST_GA
    assert sent.query["api-version"] == LATEST_GA
    assert sent.deployment == "gpt-4o"
    assert sent.body["messages"] == USER
    assert sent.status == 200


# --- legacy completions (seed 001's sample) --------------------------------------------------------------


def _legacy_sample(client: AzureOpenAI):
    return client.completions.create(
        model="gpt-35-turbo-instruct", prompt="Hello World!", max_tokens=100, temperature=0
    )


def test_legacy_completions_sample_returns_text_completion(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("\n\nHello World!\n\nHello World!")
    legacy_completion = _legacy_sample(client)
    assert legacy_completion.object == "text_completion"
    assert legacy_completion.id.startswith("cmpl-")
    assert legacy_completion.model == "gpt-35-turbo-instruct"
    (choice,) = legacy_completion.choices
    assert choice.text == "\n\nHello World!\n\nHello World!"
    assert choice.finish_reason == "stop"
    assert choice.index == 0
    assert choice.model_extra["content_filter_results"] == SEED_COMPLETION_CHOICE_FILTERS
    usage = legacy_completion.usage
    assert usage is not None
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert emulator.last_request.path == "/openai/deployments/gpt-35-turbo-instruct/completions"
    assert emulator.last_request.body["prompt"] == "Hello World!"


def test_legacy_completions_prompt_filter_results_match_azures_sample(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    # Seed 001's gpt-35-turbo-instruct sample annotates the prompt with the four harm categories only.
    emulator.scripted.push("\n\nHello World!")
    legacy_completion = _legacy_sample(client)
    assert legacy_completion.model_extra["prompt_filter_results"] == SEED_COMPLETION_PROMPT_FILTERS


def test_legacy_completions_prompt_tokens_have_no_chat_framing(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    # Seed 001: prompt "Hello World!" -> prompt_tokens 3 ("Hello", " World", "!"); a completion prompt is
    # not wrapped in chat messages, so no per-message overhead may be added.
    emulator.scripted.push("\n\nHello World!")
    legacy_completion = _legacy_sample(client)
    assert legacy_completion.usage is not None
    assert legacy_completion.usage.prompt_tokens == 3


def test_legacy_completions_default_max_tokens_is_16(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push(" ".join(f"word{i}" for i in range(40)))
    legacy_completion = client.completions.create(model="gpt-35-turbo-instruct", prompt="Count")
    assert legacy_completion.choices[0].finish_reason == "length"
    assert legacy_completion.usage is not None
    assert legacy_completion.usage.completion_tokens <= 16


def test_legacy_completions_on_a_chat_deployment_is_operation_not_supported(client: AzureOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.completions.create(model="gpt-4o", prompt="Hello")
    assert exc.value.status_code == 400
    assert exc.value.code == "OperationNotSupported"
    assert "completion operation does not work" in exc.value.message


# --- embeddings --------------------------------------------------------------------------------------------


def test_embeddings_float_are_deterministic_unit_vectors_of_the_native_size(client: AzureOpenAI) -> None:
    first = client.embeddings.create(
        model="text-embedding-3-large", input="Attenion is all you need", encoding_format="float"
    )
    again = client.embeddings.create(
        model="text-embedding-3-large", input="Attenion is all you need", encoding_format="float"
    )
    vector = first.data[0].embedding
    assert len(vector) == 3072
    assert all(isinstance(x, float) for x in vector)
    assert _norm(vector) == pytest.approx(1.0, abs=1e-9)
    assert again.data[0].embedding == vector
    assert first.model == "text-embedding-3-large"
    assert first.object == "list"
    assert first.data[0].object == "embedding"
    assert first.data[0].index == 0
    assert first.usage.prompt_tokens > 0
    assert first.usage.total_tokens == first.usage.prompt_tokens


def test_embeddings_sdk_default_base64_is_decoded_to_the_float_vector(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    as_base64 = client.embeddings.create(model="text-embedding-3-large", input="Attention is all you need")
    assert emulator.last_request.body["encoding_format"] == "base64"  # the SDK's default
    as_float = client.embeddings.create(
        model="text-embedding-3-large", input="Attention is all you need", encoding_format="float"
    )
    decoded = as_base64.data[0].embedding
    assert isinstance(decoded, list)
    assert len(decoded) == 3072
    assert decoded == pytest.approx(as_float.data[0].embedding, abs=1e-6)  # float32 on the wire


def test_embeddings_dimensions_are_honoured_and_unit_length(client: AzureOpenAI, emulator: Emulator) -> None:
    as_float = client.embeddings.create(
        model="text-embedding-3-large", input="Attention", dimensions=256, encoding_format="float"
    )
    as_base64 = client.embeddings.create(model="text-embedding-3-large", input="Attention", dimensions=256)
    assert emulator.last_request.body == {
        "model": "text-embedding-3-large",
        "input": "Attention",
        "dimensions": 256,
        "encoding_format": "base64",
    }
    for result in (as_float, as_base64):
        vector = result.data[0].embedding
        assert len(vector) == 256
        assert _norm(vector) == pytest.approx(1.0, abs=1e-5)


def test_embeddings_explicit_base64_reaches_the_caller_as_the_encoded_string(client: AzureOpenAI) -> None:
    # The SDK only decodes base64 it asked for itself; an explicit encoding_format="base64" is returned as is.
    result = client.embeddings.create(
        model="text-embedding-3-large", input="Attention", dimensions=8, encoding_format="base64"
    )
    encoded = result.data[0].embedding
    assert isinstance(encoded, str)
    values = struct.unpack("<8f", base64.b64decode(encoded))
    assert math.sqrt(sum(x * x for x in values)) == pytest.approx(1.0, abs=1e-5)


def test_embeddings_of_similar_texts_are_closer_than_unrelated_ones(client: AzureOpenAI) -> None:
    result = client.embeddings.create(
        model="text-embedding-3-large",
        input=[
            "The cat sat on the mat",
            "The cat sat on the red mat",
            "Quarterly revenue grew by eight percent",
        ],
        encoding_format="float",
    )
    assert [d.index for d in result.data] == [0, 1, 2]
    cat, red_cat, revenue = (d.embedding for d in result.data)
    assert _cosine(cat, red_cat) > _cosine(cat, revenue) + 0.3


def test_embeddings_dimensions_above_the_models_size_is_a_400(client: AzureOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.embeddings.create(model="text-embedding-3-large", input="x", dimensions=4096)
    assert exc.value.body["param"] == "dimensions"


def test_embeddings_on_a_chat_deployment_is_operation_not_supported(client: AzureOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.embeddings.create(model="gpt-4o", input="x")
    assert exc.value.code == "OperationNotSupported"
    assert "embeddings operation does not work with the specified model, gpt-4o" in exc.value.message


def test_chat_on_an_embeddings_deployment_is_operation_not_supported(client: AzureOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(model="text-embedding-3-large", messages=USER)
    assert exc.value.status_code == 400
    assert exc.value.code == "OperationNotSupported"
    assert exc.value.body["message"].startswith(
        "The chatCompletion operation does not work with the specified model, text-embedding-3-large."
    )


# --- the v1 routes (OpenAI(base_url=".../openai/v1/")) -------------------------------------------------


def test_v1_chat_completion_takes_the_deployment_from_model(v1: OpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("v1 answer")
    completion = v1.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert completion.choices[0].message.content == "v1 answer"
    assert completion.model == "gpt-4o-mini-2024-07-18"
    assert completion.model_extra["prompt_filter_results"][0]["prompt_index"] == 0
    sent = emulator.last_request
    assert sent.path == "/openai/v1/chat/completions"
    assert sent.deployment == "gpt-4o-mini"
    assert sent.api_version is None
    assert "api-version" not in sent.query


def test_v1_embeddings_and_completions(v1: OpenAI, emulator: Emulator) -> None:
    embedding = v1.embeddings.create(model="text-embedding-3-large", input="hello", encoding_format="float")
    assert len(embedding.data[0].embedding) == 3072
    assert emulator.last_request.path == "/openai/v1/embeddings"
    emulator.scripted.push("legacy text")
    legacy = v1.completions.create(model="gpt-35-turbo-instruct", prompt="Say it")
    assert legacy.choices[0].text == "legacy text"
    assert emulator.last_request.path == "/openai/v1/completions"


def test_v1_models_lists_every_deployment(v1: OpenAI, emulator: Emulator) -> None:
    models = v1.models.list()
    ids = [m.id for m in models]
    assert sorted(ids) == sorted(emulator.deployments)
    assert all(m.object == "model" for m in models)
    assert emulator.last_request.method == "GET"
    assert emulator.last_request.path == "/openai/v1/models"


def test_v1_unknown_model_is_deployment_not_found(v1: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as exc:
        v1.chat.completions.create(model="gpt-5-nonexistent", messages=USER)
    assert exc.value.code == "DeploymentNotFound"


def test_v1_route_accepts_preview_and_rejects_a_dated_api_version(emulator: Emulator) -> None:
    with emulator.openai_client(max_retries=0, default_query={"api-version": "preview"}) as preview:
        emulator.scripted.push("fine")
        assert (
            preview.chat.completions.create(model="gpt-4o", messages=USER).choices[0].message.content
            == "fine"
        )
    with (
        emulator.openai_client(max_retries=0, default_query={"api-version": "2099-01-01"}) as dated,
        pytest.raises(openai.BadRequestError) as exc,
    ):
        dated.chat.completions.create(model="gpt-4o", messages=USER)
    assert exc.value.body == {"code": "BadRequest", "message": "API version not supported"}


async def test_async_v1_client_chat(emulator: Emulator) -> None:
    emulator.scripted.push("async v1")
    client = emulator.async_openai_client(max_retries=0)
    try:
        completion = await client.chat.completions.create(model="gpt-4o", messages=USER)
    finally:
        await client.close()
    assert completion.choices[0].message.content == "async v1"
    assert emulator.last_request.path == "/openai/v1/chat/completions"


# --- Azure's 4xx answers about routes, deployments and api-versions ---------------------------------------


def test_unknown_deployment_is_not_found_with_deployment_not_found_code(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    with pytest.raises(openai.NotFoundError) as exc:
        client.chat.completions.create(model="gpt-7", messages=USER)
    assert exc.value.status_code == 404
    assert exc.value.code == "DeploymentNotFound"
    assert exc.value.body["message"].startswith("The API deployment for this resource does not exist.")
    assert emulator.last_request.status == 404
    assert emulator.last_request.deployment is None


def test_missing_api_version_on_a_deployments_route_is_resource_not_found(
    raw: httpx2.Client, emulator: Emulator
) -> None:
    response = raw.post(
        f"{DEFAULT_ENDPOINT}/openai/deployments/gpt-4o/chat/completions",
        json={"messages": USER},
        headers={"api-key": DEFAULT_API_KEY},
    )
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "404", "message": "Resource not found"}}
    assert emulator.last_request.status == 404


def test_sdk_without_api_version_on_a_deployments_base_url_gets_not_found(emulator: Emulator) -> None:
    # An OpenAI client pointed at a deployment's URL never sends api-version: Azure answers 404.
    client = emulator.openai_client(base_url=f"{DEFAULT_ENDPOINT}/openai/deployments/gpt-4o/", max_retries=0)
    with client, pytest.raises(openai.NotFoundError) as exc:
        client.chat.completions.create(model="gpt-4o", messages=USER)
    assert exc.value.body == {"code": "404", "message": "Resource not found"}


def test_wrong_path_is_resource_not_found(raw: httpx2.Client) -> None:
    response = raw.post(
        f"{DEFAULT_ENDPOINT}/openai/deployment/gpt-4o/chat/completions?api-version={LATEST_GA}",
        json={"messages": USER},
        headers={"api-key": DEFAULT_API_KEY},
    )
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "404", "message": "Resource not found"}}


def test_unsupported_api_version_is_a_400_api_version_not_supported(emulator: Emulator) -> None:
    with (
        emulator.client(api_version="2023-01-01", max_retries=0) as client,
        pytest.raises(openai.BadRequestError) as exc,
    ):
        client.chat.completions.create(model="gpt-4o", messages=USER)
    assert exc.value.status_code == 400
    assert exc.value.body == {"code": "BadRequest", "message": "API version not supported"}
    assert exc.value.code == "BadRequest"


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("tools", [WEATHER_TOOL]),
        ("functions", [WEATHER_TOOL["function"]]),
        ("response_format", {"type": "json_object"}),
    ],
)
def test_argument_newer_than_the_api_version_is_a_404_unrecognized_argument(
    emulator: Emulator, argument: str, value: object
) -> None:
    with (
        emulator.client(api_version="2023-05-15", max_retries=0) as client,
        pytest.raises(openai.NotFoundError) as exc,
    ):
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "answer in json"}], **{argument: value}
        )
    assert exc.value.status_code == 404
    assert exc.value.message.endswith(f"Unrecognized request argument supplied: {argument}")
    assert exc.value.body["type"] == "invalid_request_error"


def test_tools_are_recognized_from_2023_12_01_preview(emulator: Emulator) -> None:
    emulator.scripted.push({"city": "Paris"})
    with emulator.client(api_version="2023-12-01-preview", max_retries=0) as client:
        completion = client.chat.completions.create(model="gpt-4o", messages=USER, tools=[WEATHER_TOOL])
    assert completion.choices[0].message.tool_calls is not None


def test_json_schema_on_2024_06_01_is_a_400(emulator: Emulator) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}},
        "required": ["name"],
        "additionalProperties": False,
    }
    with (
        emulator.client(api_version="2024-06-01", max_retries=0) as client,
        pytest.raises(openai.BadRequestError) as exc,
    ):
        client.chat.completions.create(
            model="gpt-4o",
            messages=USER,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "Person", "schema": schema, "strict": True},
            },
        )
    assert exc.value.status_code == 400
    assert "json_schema" in exc.value.message
    assert "2024-08-01-preview" in exc.value.message


# --- response headers -----------------------------------------------------------------------------------


def test_request_id_is_the_x_request_id_header_and_apim_request_id_is_set(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push("with headers")
    raw_response = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=USER)
    completion = raw_response.parse()
    request_id = raw_response.headers["x-request-id"]
    assert request_id
    assert completion._request_id == request_id
    assert raw_response.headers["apim-request-id"]
    assert completion.choices[0].message.content == "with headers"


def test_legacy_completion_and_embeddings_carry_request_ids(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("legacy")
    raw_legacy = client.completions.with_raw_response.create(model="gpt-35-turbo-instruct", prompt="hi")
    assert raw_legacy.parse()._request_id == raw_legacy.headers["x-request-id"]
    raw_embedding = client.embeddings.with_raw_response.create(model="text-embedding-3-large", input="hi")
    assert raw_embedding.parse()._request_id == raw_embedding.headers["x-request-id"]
    assert raw_legacy.headers["x-request-id"] != raw_embedding.headers["x-request-id"]


def test_error_responses_carry_request_ids(client: AzureOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as exc:
        client.chat.completions.create(model="gpt-7", messages=USER)
    assert exc.value.request_id
    assert exc.value.request_id == exc.value.response.headers["x-request-id"]
    assert exc.value.response.headers["apim-request-id"]


@pytest.mark.parametrize("operation", ["chat", "embeddings"])
def test_ratelimit_remaining_headers_are_present_and_count_down(
    client: AzureOpenAI, emulator: Emulator, operation: str
) -> None:
    def call() -> httpx2.Headers:
        if operation == "chat":
            emulator.scripted.push("counted")
            return client.chat.completions.with_raw_response.create(model="gpt-4o", messages=USER).headers
        return client.embeddings.with_raw_response.create(model="text-embedding-3-large", input="hi").headers

    first, second = call(), call()
    for headers in (first, second):
        assert int(headers["x-ratelimit-remaining-requests"]) >= 0
        assert int(headers["x-ratelimit-remaining-tokens"]) >= 0
    assert int(second["x-ratelimit-remaining-requests"]) < int(first["x-ratelimit-remaining-requests"])
    assert int(second["x-ratelimit-remaining-tokens"]) < int(first["x-ratelimit-remaining-tokens"])


def test_deployment_whose_model_needs_a_newer_api_version_is_a_400(emulator: Emulator) -> None:
    # azure-facts: a model newer than the api-version gets HTTP 400 BadRequest naming the first api-version.
    emulator.add_deployment(Deployment("o1", "o1", "2024-12-17", min_api_version="2024-12-01-preview"))
    emulator.scripted.push("reasoned")
    with (
        emulator.client(api_version="2024-10-21", max_retries=0) as old,
        pytest.raises(openai.BadRequestError) as exc,
    ):
        old.chat.completions.create(model="o1", messages=USER)
    assert exc.value.body == {
        "code": "BadRequest",
        "message": "Model o1 is enabled only for api versions 2024-12-01-preview and later",
    }
    with emulator.client(api_version="2024-12-01-preview", max_retries=0) as new:
        assert new.chat.completions.create(model="o1", messages=USER).choices[0].message.content == "reasoned"


def test_extra_api_versions_are_accepted() -> None:
    emulator = Emulator(backend="scripted", extra_api_versions=["2025-06-01-preview"])
    emulator.scripted.push("future")
    try:
        with emulator.client(api_version="2025-06-01-preview", max_retries=0) as client:
            completion = client.chat.completions.create(model="gpt-4o", messages=USER)
    finally:
        emulator.close()
    assert completion.choices[0].message.content == "future"


def test_v1_request_without_model_is_a_400_missing_parameter(v1: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        v1.post("/chat/completions", body={"messages": USER}, cast_to=object)
    assert exc.value.body["code"] == "missing_required_parameter"
    assert exc.value.body["param"] == "model"


def test_list_deployments_route(raw: httpx2.Client) -> None:
    response = raw.get(
        f"{DEFAULT_ENDPOINT}/openai/deployments",
        params={"api-version": LATEST_GA},
        headers={"api-key": DEFAULT_API_KEY},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    by_id = {d["id"]: d for d in body["data"]}
    assert by_id["text-embedding-3-large"]["model"] == "text-embedding-3-large"
    assert by_id["gpt-4o"]["status"] == "succeeded"
    missing_version = raw.get(f"{DEFAULT_ENDPOINT}/openai/deployments", headers={"api-key": DEFAULT_API_KEY})
    assert missing_version.status_code == 404
