"""The local backend's usage when an answer stops at the token limit (`finish_reason: "length"`)."""

from __future__ import annotations

from typing import Any

import pytest
from openai import AzureOpenAI
from pydantic import BaseModel

import instructor_az

pytestmark = pytest.mark.local_model

JOHN = [{"role": "user", "content": "John is 30 years old and lives in Seattle."}]


class User(BaseModel):
    name: str
    age: int
    city: str


def _forced_tool() -> dict[str, Any]:
    return {
        "tools": [{"type": "function", "function": {"name": "User", "parameters": User.model_json_schema()}}],
        "tool_choice": {"type": "function", "function": {"name": "User"}},
    }


def test_a_length_cut_reports_the_real_usage_streamed_or_not(local_azure_openai_client: AzureOpenAI) -> None:
    pytest.importorskip("llama_cpp")
    client = local_azure_openai_client
    completion = client.chat.completions.create(model="gpt-4o", messages=JOHN, max_tokens=5, **_forced_tool())  # type: ignore[arg-type]
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 5
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + 5

    chunks = list(
        client.chat.completions.create(
            model="gpt-4o",
            messages=JOHN,  # type: ignore[arg-type]
            max_tokens=5,
            stream=True,
            stream_options={"include_usage": True},
            **_forced_tool(),
        )
    )
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["length"]
    usage = chunks[-1].usage
    assert usage is not None
    assert (usage.completion_tokens, usage.prompt_tokens) == (5, completion.usage.prompt_tokens)

    wrapped = instructor_az.from_openai(client)
    with pytest.raises(instructor_az.IncompleteOutputException) as caught:
        wrapped.chat.completions.create(model="gpt-4o", response_model=User, messages=JOHN, max_tokens=5)
    assert "(5 completion tokens)" in str(caught.value)
