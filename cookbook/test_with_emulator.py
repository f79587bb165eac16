"""The docs' example (docs/emulator.md): testing extraction code offline with the pytest fixtures."""

import openai
import pytest
from pydantic import BaseModel, Field

import instructor_az
from instructor_az.emulator import Fault


class Invoice(BaseModel):
    number: str
    total: float = Field(ge=0)


def extract_invoice(client, text: str) -> Invoice:
    """Your code under test: any function that takes an AzureOpenAI client."""
    return instructor_az.from_openai(client).chat.completions.create(
        model="gpt-4o", response_model=Invoice, messages=[{"role": "user", "content": text}]
    )


def test_extracts_the_invoice(azure_emulator, azure_openai_client):
    azure_emulator.scripted.push({"number": "INV-7", "total": 120.5})
    assert extract_invoice(azure_openai_client, "Invoice INV-7, 120.50 EUR") == Invoice(
        number="INV-7", total=120.5
    )
    sent = azure_emulator.last_request.body
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "Invoice"}}


def test_a_negative_total_is_asked_again(azure_emulator, azure_openai_client):
    azure_emulator.scripted.push({"number": "INV-7", "total": -1}, {"number": "INV-7", "total": 1})
    assert extract_invoice(azure_openai_client, "...").total == 1
    assert len(azure_emulator.requests) == 2


def test_rate_limits_are_retried_by_the_sdk(azure_emulator, azure_openai_client):
    azure_emulator.inject(Fault.rate_limit(retry_after_ms=10))
    azure_emulator.scripted.push({"number": "INV-8", "total": 3})
    assert extract_invoice(azure_openai_client, "...").number == "INV-8"
    assert [r.status for r in azure_emulator.requests] == [429, 200]


def test_prompt_filter_is_an_sdk_error(azure_emulator, azure_openai_client):
    azure_emulator.inject(Fault.prompt_filter(violence="high"))
    with pytest.raises(openai.BadRequestError) as caught:
        azure_openai_client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "..."}]
        )
    assert caught.value.body["code"] == "content_filter"
