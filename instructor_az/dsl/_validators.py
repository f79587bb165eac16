"""`llm_validator`: a pydantic validator that asks a deployment whether a value satisfies a rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from .._errors import ConfigurationError


class Verdict(BaseModel):
    """Whether the value satisfies the statement, and why not when it does not."""

    is_valid: bool = Field(description="True when the value satisfies the statement")
    reason: str | None = Field(
        default=None, description="Why the value does not satisfy it; null when it does"
    )


def llm_validator(
    statement: str,
    *,
    client: Any,
    model: str,
    temperature: float | None = 0,
    max_retries: int = 2,
    **create_kwargs: Any,
) -> Callable[[Any], Any]:
    """A validator for `Annotated[str, AfterValidator(llm_validator("...", client=..., model=...))]`.

    It asks the deployment `model` (through `client`, an `Instructor` from `from_openai`) whether the
    value satisfies `statement`; a "no" raises `ValueError` carrying the model's reason, so the
    outer call is re-asked with that reason. Needs a sync client (pydantic validators are sync).
    """
    from .._client import AsyncInstructor, Instructor

    if isinstance(client, AsyncInstructor):
        raise ConfigurationError(
            "llm_validator needs a sync client (from_openai(AzureOpenAI(...))): validators are sync"
        )
    if not isinstance(client, Instructor):
        raise ConfigurationError(
            "llm_validator(client=...) needs a client from instructor_az.from_openai(...)"
        )

    def validate(value: Any) -> Any:
        kwargs = dict(create_kwargs)
        if temperature is not None:
            kwargs.setdefault("temperature", temperature)
        verdict: Verdict = client.create(
            model=model,
            response_model=Verdict,
            max_retries=max_retries,
            messages=[
                {
                    "role": "system",
                    "content": "You are a strict validator. Decide whether the value satisfies the statement. "
                    "When it does not, give a short reason that says how to fix it.",
                },
                {"role": "user", "content": f"Statement: {statement}\n\nValue: {value!r}"},
            ],
            **kwargs,
        )
        if not verdict.is_valid:
            raise ValueError(verdict.reason or f"the value does not satisfy: {statement}")
        return value

    validate.__name__ = f"llm_validator({statement[:40]!r})"
    return validate
