"""Validators: `context=` / `validation_context=` reach pydantic validators, `llm_validator` asks a
deployment and carries its reason into the re-ask, and `Maybe[T]` lets the model say there is nothing."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Annotated, Any

import pytest
from pydantic import AfterValidator, BaseModel, Field, ValidationInfo, field_validator, model_validator
from validation_kit import collect, resolve

import instructor_az
from instructor_az import ConfigurationError, InstructorRetryException, Maybe, Mode, llm_validator
from instructor_az.emulator import Emulator, Reply, ToolCall

SOURCE = "The quick brown fox jumps over the lazy dog."
MESSAGES = [{"role": "user", "content": f"Quote the animal from: {SOURCE}"}]
CONTEXTS: list[Any] = []  # every info.context a validator saw


class Quote(BaseModel):
    text: str
    page: int | None = None

    @field_validator("text")
    @classmethod
    def appears_in_source(cls, value: str, info: ValidationInfo) -> str:
        CONTEXTS.append(info.context)
        if value not in (info.context or {}).get("source", ""):
            raise ValueError("quote the source exactly")
        return value

    @model_validator(mode="after")
    def not_too_long(self, info: ValidationInfo) -> Quote:
        limit = (info.context or {}).get("max_words", 100)
        if len(self.text.split()) > limit:
            raise ValueError(f"at most {limit} words")
        return self


@pytest.fixture(autouse=True)
def _forget_contexts() -> None:
    CONTEXTS.clear()


def quote_answer(mode: Mode, text: str) -> Any:
    value = {"text": text, "page": None}
    if mode.is_tools:
        return Reply(tool_calls=[ToolCall("Quote", value)])
    return json.dumps(value)


ALL_MODES = [Mode.TOOLS, Mode.TOOLS_STRICT, Mode.PARALLEL_TOOLS, Mode.JSON, Mode.JSON_SCHEMA, Mode.MD_JSON]


# --- validation context --------------------------------------------------------------------------


@pytest.mark.parametrize("keyword", ["context", "validation_context"])
@pytest.mark.parametrize("mode", ALL_MODES)
async def test_context_reaches_validators_as_info_context(
    make: Any, azure_emulator: Emulator, keyword: str, mode: Mode
) -> None:
    context = {"source": SOURCE, "max_words": 3}
    azure_emulator.scripted.push(quote_answer(mode, "invented words"), quote_answer(mode, "brown fox"))
    model: Any = Iterable[Quote] if mode is Mode.PARALLEL_TOOLS else Quote
    result = await resolve(
        make(mode).chat.completions.create(
            model="gpt-4o", response_model=model, messages=MESSAGES, **{keyword: context}
        )
    )
    quote = result[0] if mode is Mode.PARALLEL_TOOLS else result
    assert quote.text == "brown fox"
    assert CONTEXTS
    assert all(seen == context for seen in CONTEXTS)
    reask = json.dumps(azure_emulator.requests[1].body["messages"][-1])
    assert "quote the source exactly" in reask


async def test_model_validator_sees_the_context_too(make: Any, azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push({"text": "The quick brown fox"}, {"text": "brown fox"})
    quote = await resolve(
        make().chat.completions.create(
            model="gpt-4o",
            response_model=Quote,
            messages=MESSAGES,
            context={"source": SOURCE, "max_words": 2},
        )
    )
    assert quote.text == "brown fox"
    assert "at most 2 words" in json.dumps(azure_emulator.requests[1].body["messages"][-1])


async def test_without_context_validators_see_none(make: Any, azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push({"text": "fox"})
    with pytest.raises(InstructorRetryException):
        await resolve(
            make().chat.completions.create(
                model="gpt-4o", response_model=Quote, messages=MESSAGES, max_retries=0
            )
        )
    assert CONTEXTS == [None]


async def test_context_reaches_validators_in_streamed_calls(make: Any, azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push({"text": "a cat"}, {"text": "lazy dog"})
    items = await collect(
        make().chat.completions.create_partial(
            model="gpt-4o", response_model=Quote, messages=MESSAGES, context={"source": SOURCE}
        )
    )
    assert items[-1].text == "lazy dog"
    assert CONTEXTS
    assert all(seen == {"source": SOURCE} for seen in CONTEXTS)
    assert len(azure_emulator.requests) == 2


async def test_context_and_validation_context_together_are_refused(
    make: Any, azure_emulator: Emulator
) -> None:
    with pytest.raises(ConfigurationError, match="context"):
        await resolve(
            make().chat.completions.create(
                model="gpt-4o", response_model=Quote, messages=MESSAGES, context={}, validation_context={}
            )
        )
    assert len(azure_emulator.requests) == 0


# --- llm_validator -------------------------------------------------------------------------------

REASON = "Ask, do not order: say please"


def polite_answer(validator_client: Any, **kwargs: Any) -> type[BaseModel]:
    class Answer(BaseModel):
        text: Annotated[str, AfterValidator(llm_validator("is polite", client=validator_client, **kwargs))]

    return Answer


def test_llm_validator_reason_is_carried_into_the_reask(
    azure_emulator: Emulator, azure_openai_client: Any
) -> None:
    client = instructor_az.from_openai(azure_openai_client)
    errors: list[Any] = []
    client.on("parse:error", errors.append)
    answer = polite_answer(client, model="gpt-4o-mini")
    azure_emulator.scripted.push({"text": "Go away."}, {"text": "Please leave."}, deployment="gpt-4o")
    azure_emulator.scripted.push(
        {"is_valid": False, "reason": REASON}, {"is_valid": True, "reason": None}, deployment="gpt-4o-mini"
    )
    result = client.chat.completions.create(
        model="gpt-4o", response_model=answer, messages=[{"role": "user", "content": "Tell him to leave"}]
    )
    assert result.text == "Please leave."
    assert [r.deployment for r in azure_emulator.requests] == [
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4o",
        "gpt-4o-mini",
    ]
    # the validator's question: the statement and the value, answered as a Verdict tool call
    for request, value in (
        (azure_emulator.requests[1], "Go away."),
        (azure_emulator.requests[3], "Please leave."),
    ):
        question = request.body["messages"][-1]["content"]
        assert "Statement: is polite" in question
        assert repr(value) in question
        assert request.body["tool_choice"]["function"]["name"] == "Verdict"
        assert request.body["temperature"] == 0
    # the deployment's reason is the validation error, and the outer re-ask carries it
    validation_errors = [e for e in errors if "Go away." in str(e)]
    assert validation_errors
    assert REASON in str(validation_errors[0])
    tool_message = azure_emulator.requests[2].body["messages"][-1]
    assert tool_message["role"] == "tool"
    assert REASON in tool_message["content"]


def test_llm_validator_rejecting_every_answer_exhausts_the_attempts(
    azure_emulator: Emulator, azure_openai_client: Any
) -> None:
    client = instructor_az.from_openai(azure_openai_client)
    answer = polite_answer(client, model="gpt-4o-mini")
    azure_emulator.scripted.push({"text": "Go away."}, {"text": "Leave now."}, deployment="gpt-4o")
    azure_emulator.scripted.push(
        {"is_valid": False, "reason": REASON}, {"is_valid": False, "reason": None}, deployment="gpt-4o-mini"
    )
    with pytest.raises(InstructorRetryException) as caught:
        client.chat.completions.create(
            model="gpt-4o", response_model=answer, messages=[{"role": "user", "content": "x"}], max_retries=1
        )
    lines = str(caught.value).splitlines()
    assert REASON in lines[1]
    assert "the value does not satisfy: is polite" in lines[2]  # no reason given: the statement is named


def test_llm_validator_passes_create_kwargs_and_reasks_its_own_deployment(
    azure_emulator: Emulator, azure_openai_client: Any
) -> None:
    client = instructor_az.from_openai(azure_openai_client)
    answer = polite_answer(client, model="gpt-4o-mini", max_tokens=64, temperature=None)
    azure_emulator.scripted.push({"text": "Please sit."}, deployment="gpt-4o")
    azure_emulator.scripted.push({"is_valid": "maybe"}, {"is_valid": True}, deployment="gpt-4o-mini")
    result = client.chat.completions.create(
        model="gpt-4o", response_model=answer, messages=[{"role": "user", "content": "x"}]
    )
    assert result.text == "Please sit."
    verdicts = [r for r in azure_emulator.requests if r.deployment == "gpt-4o-mini"]
    assert len(verdicts) == 2  # the validator's own answer was invalid: re-asked on its deployment
    assert verdicts[0].body["max_tokens"] == 64
    assert "temperature" not in verdicts[0].body
    assert verdicts[1].body["messages"][-1]["role"] == "tool"


async def test_llm_validator_inside_an_async_call(
    azure_emulator: Emulator, async_azure_openai_client: Any
) -> None:
    validator_client = instructor_az.from_openai(azure_emulator.client())  # validators are sync
    answer = polite_answer(validator_client, model="gpt-4o-mini")
    azure_emulator.scripted.push({"text": "Go away."}, {"text": "Please leave."}, deployment="gpt-4o")
    azure_emulator.scripted.push(
        {"is_valid": False, "reason": REASON}, {"is_valid": True}, deployment="gpt-4o-mini"
    )
    client = instructor_az.from_openai(async_azure_openai_client)
    result = await client.chat.completions.create(
        model="gpt-4o", response_model=answer, messages=[{"role": "user", "content": "x"}]
    )
    assert result.text == "Please leave."
    assert REASON in azure_emulator.requests[2].body["messages"][-1]["content"]


def test_llm_validator_needs_a_sync_wrapped_client(
    azure_openai_client: Any, async_azure_openai_client: Any
) -> None:
    with pytest.raises(ConfigurationError, match="sync client"):
        llm_validator(
            "is polite", client=instructor_az.from_openai(async_azure_openai_client), model="gpt-4o"
        )
    with pytest.raises(ConfigurationError, match="from_openai"):
        llm_validator("is polite", client=azure_openai_client, model="gpt-4o")


# --- Maybe ---------------------------------------------------------------------------------------


class User(BaseModel):
    name: str
    age: int = Field(ge=0, le=130)


@pytest.mark.parametrize("mode", [Mode.TOOLS, Mode.TOOLS_STRICT, Mode.JSON, Mode.JSON_SCHEMA])
async def test_maybe_found(make: Any, azure_emulator: Emulator, mode: Mode) -> None:
    value = {"result": {"name": "John", "age": 30}, "error": False, "message": None}
    azure_emulator.scripted.push(value if mode.is_tools else json.dumps(value))
    maybe = await resolve(
        make(mode).chat.completions.create(model="gpt-4o", response_model=Maybe[User], messages=MESSAGES)
    )
    assert maybe
    assert maybe.result == User(name="John", age=30)
    assert maybe.error is False


@pytest.mark.parametrize("mode", [Mode.TOOLS, Mode.TOOLS_STRICT, Mode.JSON, Mode.JSON_SCHEMA])
async def test_maybe_not_found(make: Any, azure_emulator: Emulator, mode: Mode) -> None:
    value = {"result": None, "error": True, "message": "the text names no person"}
    azure_emulator.scripted.push(value if mode.is_tools else json.dumps(value))
    maybe = await resolve(
        make(mode).chat.completions.create(model="gpt-4o", response_model=Maybe(User), messages=MESSAGES)
    )
    assert not maybe
    assert maybe.result is None
    assert maybe.error is True
    assert maybe.message == "the text names no person"
    assert len(azure_emulator.requests) == 1


async def test_maybe_is_sent_as_one_tool_and_its_result_is_validated(
    make: Any, azure_emulator: Emulator
) -> None:
    assert Maybe(User) is Maybe[User]
    azure_emulator.scripted.push(
        {"result": {"name": "John", "age": 300}}, {"result": {"name": "John", "age": 30}}
    )
    maybe = await resolve(
        make().chat.completions.create(model="gpt-4o", response_model=Maybe[User], messages=MESSAGES)
    )
    assert maybe.result == User(name="John", age=30)
    first = azure_emulator.requests[0].body
    assert first["tool_choice"]["function"]["name"] == "MaybeUser"
    assert set(first["tools"][0]["function"]["parameters"]["properties"]) == {"result", "error", "message"}
    assert (
        "result.age: Input should be less than or equal to 130"
        in azure_emulator.requests[1].body["messages"][-1]["content"]
    )
