"""Extract typed objects with the async client: `await create(response_model=...)`, several at once.

Run: python cookbook/async_extract.py

The same code runs on Azure: build `AsyncAzureOpenAI` from your endpoint and key and drop the
`http_client=` line (the emulator here answers in-process, so no network or key is needed).
"""

from __future__ import annotations

import asyncio

from openai import AsyncAzureOpenAI
from pydantic import BaseModel, Field

import instructor_az
from instructor_az.emulator import Emulator


class User(BaseModel):
    """A person the text mentions."""

    name: str
    age: int = Field(ge=0, le=130)


TEXTS = [
    "John is 30 years old.",
    "Our new colleague Maria turned 41 last week.",
    "Kenji turned 27 yesterday.",
]


async def extract(client: instructor_az.AsyncInstructor, text: str) -> User:
    # Not streamed: one awaited call returns the validated User (re-asked if it fails validation).
    return await client.chat.completions.create(
        model="gpt-4o",  # your deployment name
        response_model=User,
        messages=[{"role": "user", "content": text}],
    )


async def main() -> None:
    emulator = Emulator(backend="schema")  # deterministic answers lifted from each prompt; no Azure needed
    client = instructor_az.from_openai(
        AsyncAzureOpenAI(
            api_key="emulator-key",  # os.environ["AZURE_OPENAI_API_KEY"] on Azure
            api_version="2024-10-21",
            azure_endpoint="https://emulator.openai.azure.com",  # os.environ["AZURE_OPENAI_ENDPOINT"]
            http_client=emulator.async_http_client(),  # drop this line on Azure
        )
    )
    try:
        # One call...
        user = await extract(client, TEXTS[0])
        print(f"one call:  {user!r}")

        # ...or several concurrently: each is its own request, validated on its own.
        users = await asyncio.gather(*(extract(client, text) for text in TEXTS))
        for text, found in zip(TEXTS, users, strict=True):
            print(f"{text!r:50} -> {found.model_dump_json()}")
    finally:
        await client.client.close()
        emulator.close()


if __name__ == "__main__":
    asyncio.run(main())
