"""instructor's exception names, constructors and fields, its `Mode` members, and the public module paths
(`instructor_az.exceptions`, `.mode`, `.hooks`); calls go through the real SDK and the emulator."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from openai import AzureOpenAI
from pydantic import BaseModel, Field

import instructor_az
from instructor_az import exceptions, hooks, mode
from instructor_az.emulator import Emulator, Fault
from instructor_az.exceptions import (
    AsyncValidationError,
    AzureResponseError,
    ClientError,
    ConfigurationError,
    ContentFilterError,
    FailedAttempt,
    IncompleteOutputException,
    InstructorError,
    InstructorRetryException,
    ModeError,
    MultimodalError,
    PromptFilterError,
    ProviderError,
    RefusalError,
    ResponseParseError,
    ResponseParsingError,
    SchemaError,
    Usage,
    ValidationError,
)
from instructor_az.mode import Mode
from instructor_az.testing import TEST_API_KEY

MESSAGES = [{"role": "user", "content": "John is 30 years old"}]


class User(BaseModel):
    name: str
    age: int = Field(ge=0, le=130)


# --- the hierarchy: an `except` written for instructor catches ours --------------------------------


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (ContentFilterError, ProviderError),
        (PromptFilterError, ProviderError),
        (RefusalError, ProviderError),
        (AzureResponseError, ProviderError),
        (IncompleteOutputException, InstructorError),
        (ResponseParseError, ValidationError),
        (ResponseParseError, ResponseParsingError),
        (ResponseParseError, ValueError),
        (SchemaError, ConfigurationError),
        (ModeError, ConfigurationError),
        (ConfigurationError, ValueError),
        (MultimodalError, ValueError),
        (AsyncValidationError, ValueError),
        (ClientError, InstructorError),
    ],
)
def test_ours_fit_instructors_hierarchy(ours: type[Exception], theirs: type[Exception]) -> None:
    assert issubclass(ours, theirs)
    assert issubclass(ours, InstructorError)


def test_top_level_and_module_paths_export_the_same_names() -> None:
    for name in exceptions.__all__:
        assert getattr(instructor_az, name) is getattr(exceptions, name)
    assert mode.Mode is instructor_az.Mode
    assert hooks.Hooks is instructor_az.Hooks
    assert "completion:kwargs" in hooks.HOOK_NAMES


def test_azure_response_errors_name_their_provider() -> None:
    error = RefusalError("no")
    assert error.provider == "azure_openai"
    # instructor's wording (code matches on it), then ours, with no provider prefix
    assert str(error).startswith("Unable to generate a response due to no (the model refused to answer")


def test_instructor_error_renders_failed_attempts() -> None:
    attempts = [FailedAttempt(1, ValueError("bad age"), '{"age": 300}'), FailedAttempt(2, KeyError("name"))]
    error = ConfigurationError.from_exception(RuntimeError("gave up"), failed_attempts=attempts)
    assert isinstance(error, ConfigurationError)
    text = str(error)
    assert text.startswith("<failed_attempts>")
    assert 'number="1"' in text
    assert "bad age" in text
    assert '{"age": 300}' in text
    assert "<last_exception>\n    gave up\n</last_exception>" in text
    assert str(ConfigurationError("plain")) == "plain"


# --- InstructorRetryException: both constructors ---------------------------------------------------


def test_retry_exception_instructor_style() -> None:
    attempts = [FailedAttempt(1, ValueError("first"), "c1"), FailedAttempt(2, ValueError("second"), "c2")]
    exc = InstructorRetryException(
        "retries exhausted", n_attempts=2, total_usage=150, create_kwargs={"model": "m"}, failed_attempts=attempts
    )
    assert exc.total_usage == 150
    assert exc.total_usage_tokens == 150
    assert exc.create_kwargs == {"model": "m"}
    assert exc.failed_attempts == attempts
    assert exc.last_completion == "c2"  # from the attempts, as `attempts` does
    assert isinstance(exc.last_exception, ValueError)
    assert str(exc.last_exception) == "second"
    assert "<failed_attempts>" in str(exc)
    assert "retries exhausted" in str(exc)
    assert exc.messages is None
    bare = InstructorRetryException(n_attempts=3, total_usage=100)
    assert str(bare) == "3 attempts to get a valid response failed (100 tokens used)"


def test_retry_exception_from_a_real_call(azure_emulator: Emulator, azure_openai_client: AzureOpenAI) -> None:
    bad = {"name": "John", "age": 300}
    azure_emulator.scripted.push(bad, bad, bad)
    client = instructor_az.from_openai(azure_openai_client)
    with pytest.raises(InstructorRetryException) as caught:
        client.chat.completions.create(
            model="gpt-4o",
            response_model=User,
            messages=MESSAGES,
            max_retries=2,
            extra_headers={"api-key": TEST_API_KEY},
        )
    exc = caught.value
    n = exc.n_attempts
    assert n == len(exc.attempts) == len(azure_emulator.requests) >= 2
    assert isinstance(exc.total_usage, Usage)
    assert exc.total_usage.total_tokens > 0
    assert exc.total_usage_tokens == exc.total_usage.total_tokens
    assert [a.attempt_number for a in exc.failed_attempts or []] == list(range(1, n + 1))
    assert all(a.exception is b.exception for a, b in zip(exc.failed_attempts or [], exc.attempts, strict=True))
    assert exc.failed_attempts
    assert exc.failed_attempts[-1].completion is exc.last_completion
    assert exc.create_kwargs is not None
    assert exc.create_kwargs["model"] == "gpt-4o"
    assert exc.create_kwargs["extra_headers"] == {"api-key": "<redacted>"}
    assert TEST_API_KEY not in repr(exc.create_kwargs)
    assert exc.messages == exc.create_kwargs["messages"]
    assert str(exc).startswith(f"{n} attempts to get a valid User failed")  # our summary, not tags


# --- IncompleteOutputException: both constructors ---------------------------------------------------


def test_incomplete_output_instructor_style() -> None:
    exc = IncompleteOutputException(last_completion={"content": "partial"})
    assert exc.last_completion == {"content": "partial"} == exc.completion
    assert str(exc) == "The output is incomplete due to a max_tokens length limit."
    assert str(IncompleteOutputException(message="cut")) == "cut"
    assert IncompleteOutputException().last_completion is None


def test_incomplete_output_from_a_real_call(azure_emulator: Emulator, azure_openai_client: AzureOpenAI) -> None:
    long = {"name": "John " * 20, "age": 30}
    azure_emulator.scripted.push(Fault.length(after_chars=12), long)
    client = instructor_az.from_openai(azure_openai_client)
    with pytest.raises(IncompleteOutputException) as caught:
        client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES, max_retries=2)
    exc = caught.value
    assert len(azure_emulator.requests) == 1
    assert exc.last_completion is exc.completion
    assert exc.last_completion.choices[0].finish_reason == "length"
    assert "incomplete due to a max_tokens length limit" in str(exc)
    assert "max_completion_tokens" in str(exc)


def test_instructor_constructors_of_the_other_errors() -> None:
    assert str(ProviderError("openai", "rate limited")) == "openai: rate limited"
    error = ModeError("anthropic_tools", "openai", ["tools", "json"])
    assert (error.mode, error.provider, error.valid_modes) == ("anthropic_tools", "openai", ["tools", "json"])
    assert "Invalid mode 'anthropic_tools' for provider 'openai'. Valid modes: tools, json" in str(error)
    parsing = ResponseParsingError("no tool call", mode="tools", raw_response={"x": 1})
    assert str(parsing) == "no tool call (mode: tools)"
    assert parsing.raw_response == {"x": 1}
    media = MultimodalError("missing", content_type="image", file_path="/a.png")
    assert str(media) == "missing (content_type: image, file: /a.png)"
    assert AsyncValidationError("bad", errors=[ValueError("x")]).errors[0].args == ("x",)
    ours = ResponseParseError("not JSON", text="{")
    assert ours.raw_response == "{" == ours.text
    assert ours.mode is None
    assert str(ours) == "not JSON"


# --- Mode ----------------------------------------------------------------------------------------------


def test_mode_has_instructors_members_and_values() -> None:
    for name in ("FUNCTIONS", "JSON_O1", "RESPONSES_TOOLS", "ANTHROPIC_TOOLS", "GENAI_STRUCTURED_OUTPUTS"):
        assert isinstance(getattr(Mode, name), Mode)
    assert Mode("tool_call") is Mode.TOOLS
    assert Mode("json_mode") is Mode.JSON
    assert Mode.coerce("markdown_json_mode") is Mode.MD_JSON
    assert Mode.coerce("JSON_SCHEMA") is Mode.JSON_SCHEMA
    assert Mode.TOOLS.value == "tools"
    assert Mode.TOOLS in Mode.tool_modes()
    assert Mode.JSON not in Mode.tool_modes()
    assert Mode.JSON_SCHEMA in Mode.json_modes()
    assert Mode.PARALLEL_TOOLS in Mode.parallel_modes()


def test_other_providers_modes_are_a_mode_error(azure_openai_client: AzureOpenAI) -> None:
    with pytest.raises(ModeError) as caught:
        instructor_az.from_openai(azure_openai_client, mode=Mode.ANTHROPIC_TOOLS)
    error = caught.value
    assert error.mode == "anthropic_tools"
    assert error.provider == "openai"
    assert "tools" in error.valid_modes
    assert "Anthropic" in str(error)
    with pytest.raises(ModeError, match="Google GenAI"):
        Mode.coerce("genai_tools")


def test_retired_and_unsupported_openai_modes(azure_openai_client: AzureOpenAI) -> None:
    with pytest.raises(ConfigurationError, match=r"FUNCTIONS is deprecated.*Mode\.TOOLS"):
        instructor_az.from_openai(azure_openai_client, mode=Mode.FUNCTIONS)
    for responses in (Mode.RESPONSES_TOOLS, Mode.RESPONSES_TOOLS_WITH_INBUILT_TOOLS):  # the Responses API
        assert instructor_az.from_openai(azure_openai_client, mode=responses).mode is responses
    with pytest.warns(DeprecationWarning, match="JSON_SCHEMA"):
        client: Any = instructor_az.from_openai(azure_openai_client, mode=Mode.JSON_O1)
    assert client.mode is Mode.JSON_SCHEMA
    with pytest.raises(ConfigurationError, match="unknown mode"):
        Mode.coerce("nonsense")


def test_functions_deprecation_warning_is_shown_once() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Mode.warn_mode_functions_deprecation()
        Mode.warn_mode_functions_deprecation()
    assert len([w for w in caught if "FUNCTIONS mode is deprecated" in str(w.message)]) <= 1


# --- hooks: instructor's `HookName` enum or the strings ------------------------------------------------


def test_hooks_take_instructors_hook_names(azure_emulator: Emulator, azure_openai_client: AzureOpenAI) -> None:
    azure_emulator.scripted.push({"name": "John", "age": 300}, {"name": "John", "age": 30})
    client = instructor_az.from_openai(azure_openai_client)
    seen: list[str] = []
    client.on(hooks.HookName.COMPLETION_KWARGS, lambda **kwargs: seen.append("kwargs"))
    client.on(hooks.HookName.PARSE_ERROR, lambda error: seen.append("parse:error"))
    client.on("completion:response", lambda response: seen.append("response"))
    user = client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES, max_retries=3)
    assert user.age == 30
    assert seen == ["kwargs", "response", "parse:error", "kwargs", "response"]
    client.clear(hooks.HookName.PARSE_ERROR)
    assert hooks.HookName.PARSE_ERROR == "parse:error"
    assert [n.value for n in hooks.HookName] == list(hooks.HOOK_NAMES)
