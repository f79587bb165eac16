"""instructor's `OpenAISchema` / `ResponseSchema`: the function definition, and `from_response` reading
completions from the real SDK against the emulator by the rules `create()` applies."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import pytest
from openai import AzureOpenAI
from openai.types.chat import ChatCompletion
from pydantic import BaseModel, ValidationError, ValidationInfo, field_validator

import instructor_az
from instructor_az import (
    ConfigurationError,
    IncompleteOutputException,
    Mode,
    OpenAISchema,
    RefusalError,
    ResponseParseError,
    ResponseSchema,
    openai_schema,
    response_schema,
)
from instructor_az.alias import target_of
from instructor_az.emulator import Emulator, Reply
from instructor_az.function_calls import generate_openai_schema
from instructor_az.utils import classproperty, disable_pydantic_error_url, is_async

MESSAGES = [{"role": "user", "content": "John is 30 years old"}]
JSON_MESSAGES = [{"role": "user", "content": "John is 30 years old. Answer in JSON."}]
ANSWER = {"name": "John", "age": 30}


class User(OpenAISchema):
    """A person mentioned in the text.

    Args:
        name: the person's first name
        age: how old they are, in years
    """

    name: str
    age: int


class Checked(ResponseSchema):
    name: str

    @field_validator("name")
    @classmethod
    def known(cls, value: str, info: ValidationInfo) -> str:
        allowed = (info.context or {}).get("allowed", [])
        if value not in allowed:
            raise ValueError(f"{value} is not one of {allowed}")
        return value


def _tool_call(raw: AzureOpenAI, model: type[ResponseSchema]) -> ChatCompletion:
    """A plain SDK call offering `model.openai_schema` as the tool, forced."""
    schema = model.openai_schema
    return raw.chat.completions.create(
        model="gpt-4o",
        messages=MESSAGES,  # type: ignore[arg-type]
        tools=[{"type": "function", "function": schema}],  # type: ignore[list-item]
        tool_choice={"type": "function", "function": {"name": schema["name"]}},
    )


def _text(raw: AzureOpenAI, **kwargs: Any) -> ChatCompletion:
    """A plain SDK call answered in text (the prompt says JSON, as `json_object` requires)."""
    return raw.chat.completions.create(model="gpt-4o", messages=JSON_MESSAGES, **kwargs)  # type: ignore[arg-type]


# --- the function definition --------------------------------------------------------------------------


def test_openai_schema_is_the_function_definition_with_docstring_descriptions() -> None:
    schema = User.openai_schema

    assert schema["name"] == "User"
    assert schema["description"].startswith("A person mentioned in the text.")
    parameters = schema["parameters"]
    assert "title" not in parameters
    assert "description" not in parameters
    assert parameters["required"] == ["age", "name"]
    assert parameters["properties"]["name"]["description"] == "the person's first name"
    assert parameters["properties"]["age"]["description"] == "how old they are, in years"
    assert schema is generate_openai_schema(User)  # built once per model


def test_a_model_without_docstring_gets_instructors_generic_description() -> None:
    class Dummy(OpenAISchema):
        attr: str

    assert Dummy.openai_schema["description"] == (
        "Correctly extracted `Dummy` with all the required parameters with correct types"
    )


def test_field_descriptions_win_over_the_docstring() -> None:
    from pydantic import Field

    class Item(OpenAISchema):
        """An item.

        Args:
            label: from the docstring
        """

        label: str = Field(description="from Field")

    assert Item.openai_schema["parameters"]["properties"]["label"]["description"] == "from Field"


def test_decorators_add_the_members_and_keep_the_json_schema() -> None:
    class Plain(BaseModel):
        """A plain model."""

        data: str

        def shout(self) -> str:
            return self.data.upper()

    for decorate in (openai_schema, response_schema):
        wrapped = decorate(Plain)
        assert wrapped.__name__ == "Plain"
        assert wrapped.__doc__ == "A plain model."
        assert issubclass(wrapped, Plain)
        assert issubclass(wrapped, ResponseSchema)
        assert wrapped.model_json_schema() == Plain.model_json_schema()
        assert wrapped.openai_schema["name"] == "Plain"  # type: ignore[attr-defined]
        assert wrapped(data="x").shout() == "X"


def test_decorating_something_else_is_a_type_error() -> None:
    class NotAModel:
        pass

    with pytest.raises(
        TypeError, match=r"response_model must be a subclass of pydantic\.BaseModel, got NotAModel"
    ):
        response_schema(NotAModel)  # type: ignore[type-var]


def test_exported_at_the_top_level_and_through_the_alias_paths() -> None:
    assert instructor_az.OpenAISchema is instructor_az.ResponseSchema
    assert instructor_az.openai_schema is instructor_az.response_schema
    for path in ("instructor.function_calls", "instructor.processing.function_calls"):
        assert target_of(path) == "instructor_az.function_calls"
    assert target_of("instructor.utils") == "instructor_az.utils"


# --- from_response over real completions -----------------------------------------------------------------


def test_from_response_reads_the_tool_call(
    azure_openai_client: AzureOpenAI, azure_emulator: Emulator
) -> None:
    azure_emulator.scripted.push(ANSWER)
    completion = _tool_call(azure_openai_client, User)

    assert azure_emulator.last_request.body["tools"][0]["function"] == User.openai_schema
    assert User.from_response(completion) == User(name="John", age=30)


def test_legacy_parse_tools_warns_and_reads_the_same(
    azure_openai_client: AzureOpenAI, azure_emulator: Emulator
) -> None:
    azure_emulator.scripted.push(ANSWER)
    completion = _tool_call(azure_openai_client, User)

    with pytest.warns(DeprecationWarning, match="from_response"):
        assert User.parse_tools(completion) == User(name="John", age=30)


@pytest.mark.parametrize(
    ("mode", "kwargs", "content"),
    [
        (Mode.JSON, {"response_format": {"type": "json_object"}}, '{"name": "John", "age": 30}'),
        (Mode.MD_JSON, {}, 'Here it is:\n```json\n{"name": "John", "age": 30}\n```'),
        ("json_mode", {"response_format": {"type": "json_object"}}, '{"name": "John", "age": 30}'),
    ],
)
def test_from_response_reads_the_content_in_the_json_modes(
    azure_openai_client: AzureOpenAI,
    azure_emulator: Emulator,
    mode: Any,
    kwargs: dict[str, Any],
    content: str,
) -> None:
    azure_emulator.scripted.push(Reply(content=content))
    completion = _text(azure_openai_client, **kwargs)

    assert User.from_response(completion, mode=mode) == User(name="John", age=30)


def test_a_cut_off_answer_is_incomplete_output(
    azure_openai_client: AzureOpenAI, azure_emulator: Emulator
) -> None:
    azure_emulator.scripted.push(Reply(content='{"name": "Jo', finish_reason="length"))
    completion = _text(azure_openai_client, response_format={"type": "json_object"})

    with pytest.raises(IncompleteOutputException) as caught:
        User.from_response(completion, mode=Mode.JSON)
    assert caught.value.completion is completion


def test_a_refusal_is_a_refusal_error_in_every_mode(
    azure_openai_client: AzureOpenAI, azure_emulator: Emulator
) -> None:
    for mode in (Mode.JSON_SCHEMA, Mode.TOOLS):
        azure_emulator.scripted.push(Reply(refusal="I can't help with that"))
        completion = _text(azure_openai_client)

        with pytest.raises(RefusalError) as caught:
            User.from_response(completion, mode=mode)
        assert caught.value.refusal == "I can't help with that"


def test_an_invalid_answer_is_pydantics_error_and_nothing_is_re_asked(
    azure_openai_client: AzureOpenAI, azure_emulator: Emulator
) -> None:
    azure_emulator.scripted.push({"name": "John", "age": "thirty"})
    completion = _tool_call(azure_openai_client, User)
    sent = len(azure_emulator.requests)

    with pytest.raises(ValidationError) as caught:
        User.from_response(completion)
    assert caught.value.errors()[0]["loc"] == ("age",)
    assert len(azure_emulator.requests) == sent


@pytest.mark.parametrize(
    "content",
    ['{"name": "John", "age": NaN}', '{"name": "John", "name": "Jane", "age": 30}'],
    ids=["nan", "repeated-key"],
)
def test_the_answer_json_rules_are_create_s(
    azure_openai_client: AzureOpenAI, azure_emulator: Emulator, content: str
) -> None:
    azure_emulator.scripted.push(Reply(content=content))
    completion = _text(azure_openai_client, response_format={"type": "json_object"})

    with pytest.raises(ResponseParseError):
        User.from_response(completion, mode=Mode.JSON)


def test_validation_context_reaches_validators(
    azure_openai_client: AzureOpenAI, azure_emulator: Emulator
) -> None:
    azure_emulator.scripted.push({"name": "John"}, {"name": "John"})
    completion = _tool_call(azure_openai_client, Checked)

    assert Checked.from_response(completion, validation_context={"allowed": ["John"]}).name == "John"
    assert Checked.from_response(completion, context={"allowed": ["John"]}).name == "John"
    with pytest.raises(ValidationError, match="not one of"):
        Checked.from_response(completion, validation_context={"allowed": ["Jane"]})


def test_strict_is_pydantics_strict_mode(azure_openai_client: AzureOpenAI, azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push({"name": "John", "age": "30"})
    completion = _tool_call(azure_openai_client, User)

    assert User.from_response(completion).age == 30
    with pytest.raises(ValidationError):
        User.from_response(completion, strict=True)


def test_the_first_call_is_read_whatever_it_names() -> None:
    # instructor reads the first tool call of a completion the caller got, without checking its name.
    completion = ChatCompletion.model_validate(
        {
            "id": "c1",
            "object": "chat.completion",
            "created": 0,
            "model": "gpt-4o",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "t1",
                                "type": "function",
                                "function": {"name": "Person", "arguments": '{"name": "John", "age": 30}'},
                            }
                        ],
                    },
                }
            ],
        }
    )

    assert User.from_response(completion, mode=Mode.TOOLS) == User(name="John", age=30)


def test_a_legacy_function_call_is_read_in_functions_mode() -> None:
    completion = ChatCompletion.model_validate(
        {
            "id": "c1",
            "object": "chat.completion",
            "created": 0,
            "model": "gpt-4o",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {
                        "role": "assistant",
                        "function_call": {"name": "User", "arguments": '{"name": "John", "age": 30}'},
                    },
                }
            ],
        }
    )

    assert User.from_response(completion, mode="function_call") == User(name="John", age=30)
    assert User.from_response(completion) == User(name="John", age=30)


def test_another_providers_mode_is_refused_clearly(
    azure_openai_client: AzureOpenAI, azure_emulator: Emulator
) -> None:
    azure_emulator.scripted.push(ANSWER)
    completion = _tool_call(azure_openai_client, User)

    with pytest.raises(ConfigurationError, match="not served by instructor-az"):
        User.from_response(completion, mode="anthropic_json")
    with pytest.raises(ConfigurationError, match="not served by instructor-az"):
        User.from_response(completion, provider="anthropic")


# --- instructor_az.utils ---------------------------------------------------------------------------------


def test_is_async_looks_through_wraps() -> None:
    async def fetch() -> int:
        return 1

    @functools.wraps(fetch)
    def wrapper() -> Any:
        return fetch()

    def plain() -> int:
        return 1

    assert is_async(fetch)
    assert is_async(wrapper)
    assert not is_async(plain)
    assert asyncio.run(wrapper()) == 1


def test_classproperty_is_computed_on_the_class() -> None:
    class Counter:
        calls = 0

        @classproperty
        def label(cls) -> str:
            return cls.__name__.lower()

    assert Counter.label == "counter"
    assert Counter().label == "counter"


def test_disable_pydantic_error_url_drops_the_links() -> None:
    class Model(BaseModel):
        number: int

    with pytest.raises(ValidationError) as before:
        Model.model_validate({"number": "x"})
    if "https://errors.pydantic.dev" not in str(before.value):
        pytest.skip("this pydantic prints no documentation links")
    original = ValidationError.__str__
    try:
        disable_pydantic_error_url()
        disable_pydantic_error_url()  # idempotent
        with pytest.raises(ValidationError) as after:
            Model.model_validate({"number": "x"})
        shown = str(after.value)
    finally:
        setattr(ValidationError, "__str__", original)  # noqa: B010 - other tests see pydantic's own messages
    assert "https://errors.pydantic.dev" not in shown
    assert "Input should be a valid integer" in shown
    assert after.value.errors()[0]["type"] == "int_parsing"
