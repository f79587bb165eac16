"""`llm_validator`: a pydantic validator that asks a deployment whether a value satisfies a rule.

One mechanism, two spellings: `instructor_az.llm_validator` (this module: answered as a `Verdict`) and
instructor's `instructor_az.validation.llm_validator` (answered as a `Validator`, the rule and the value
sent as one JSON object). Both take instructor's arguments, `(statement, client, allow_override=False,
model=..., temperature=0)`; this one also passes `max_retries=` and other `create()` keywords on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from pydantic import BaseModel, Field

from .._errors import ConfigurationError

DEFAULT_MODEL = "gpt-3.5-turbo"  # instructor's default; on Azure, pass your deployment's name


class Verdict(BaseModel):
    """Whether the value satisfies the statement, why not when it does not, and a value that would."""

    is_valid: bool = Field(description="True when the value satisfies the statement")
    reason: str | None = Field(
        default=None, description="Why the value does not satisfy it; null when it does"
    )
    fixed_value: str | None = Field(
        default=None, description="A value that would satisfy the statement, when this one does not"
    )


class _Answer(Protocol):
    is_valid: bool
    reason: str | None
    fixed_value: str | None


def check_validator_client(client: Any) -> None:
    """Refuse, before any call, a client that cannot answer `create(response_model=...)` synchronously."""
    from openai import AsyncOpenAI, OpenAI

    from .._client import AsyncInstructor

    if isinstance(client, AsyncInstructor):
        raise ConfigurationError(
            "llm_validator needs a sync client (from_openai(AzureOpenAI(...))): validators are sync"
        )
    if isinstance(client, (OpenAI, AsyncOpenAI)) or not hasattr(client, "chat"):
        raise ConfigurationError(
            "llm_validator(client=...) needs a client from instructor_az.from_openai(...), not the SDK client"
        )


def make_llm_validator(
    client: Any,
    *,
    response_model: type[BaseModel],
    messages: Callable[[Any], list[dict[str, Any]]],
    allow_override: bool,
    no_reason: str,
    create_kwargs: dict[str, Any],
    name: str,
) -> Callable[[Any], Any]:
    """The validator both spellings return: ask, then keep the value, use the fix, or raise."""
    check_validator_client(client)

    def validate(value: Any) -> Any:
        answer: _Answer = client.chat.completions.create(
            response_model=response_model, messages=messages(value), **create_kwargs
        )
        if answer.is_valid:
            return value
        if allow_override and answer.fixed_value is not None:
            return answer.fixed_value
        raise ValueError(answer.reason or no_reason)

    validate.__name__ = f"llm_validator({name[:40]!r})"
    return validate


def llm_validator(
    statement: str,
    client: Any,
    allow_override: bool = False,
    model: str = DEFAULT_MODEL,
    temperature: float | None = 0,
    *,
    max_retries: int = 2,
    **create_kwargs: Any,
) -> Callable[[Any], Any]:
    """A validator for `Annotated[str, AfterValidator(llm_validator("...", client=..., model=...))]`.

    It asks the deployment `model` (through `client`, a sync `Instructor` from `from_openai`) whether
    the value satisfies `statement`; a "no" raises `ValueError` carrying the model's reason, so the
    outer call is re-asked with that reason; with `allow_override=True` a suggested `fixed_value`
    replaces the value instead. `temperature=None` sends none; other keywords go to `create()`.
    """
    kwargs: dict[str, Any] = {"model": model, "max_retries": max_retries, **create_kwargs}
    if temperature is not None:
        kwargs.setdefault("temperature", temperature)

    def messages(value: Any) -> list[dict[str, Any]]:
        return [
            {
                "role": "system",
                "content": "You are a strict validator. Decide whether the value satisfies the statement. "
                "When it does not, give a short reason that says how to fix it.",
            },
            {"role": "user", "content": f"Statement: {statement}\n\nValue: {value!r}"},
        ]

    return make_llm_validator(
        client,
        response_model=Verdict,
        messages=messages,
        allow_override=allow_override,
        no_reason=f"the value does not satisfy: {statement}",
        create_kwargs=kwargs,
        name=statement,
    )
