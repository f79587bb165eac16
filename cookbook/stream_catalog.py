"""Stream a catalog: partial objects for a UI, then each item as soon as it is complete.

Run: python cookbook/stream_catalog.py
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field

import instructor_az
from instructor_az.emulator import Emulator


class Item(BaseModel):
    name: str
    price: float = Field(ge=0)


class Catalog(BaseModel):
    title: str
    items: list[Item]


ANSWER = {"title": "Spring sale", "items": [{"name": "Kettle", "price": 24.5}, {"name": "Teapot", "price": 18.0}]}


def main() -> None:
    emulator = Emulator(backend="scripted", chunk_chars=6)  # the "model" answers in 6-character deltas
    client = instructor_az.from_openai(emulator.client())
    messages = [{"role": "user", "content": "Make a small catalog."}]

    print("partial objects:")
    emulator.scripted.push(ANSWER)
    for partial in client.chat.completions.create_partial(model="gpt-4o", response_model=Catalog, messages=messages):
        done = sorted(partial.completed_fields)
        print(f"  {partial.model_dump()}  complete: {done}")

    print("\neach item as soon as it closes:")
    emulator.scripted.push({"tasks": ANSWER["items"]})
    for item in client.chat.completions.create_iterable(model="gpt-4o", response_model=Item, messages=messages):
        print(f"  {item!r}")

    async def streamed_async() -> None:
        emulator.scripted.push(ANSWER)
        async_client = instructor_az.from_openai(emulator.async_client())
        partials = []
        async for partial in async_client.chat.completions.create(
            model="gpt-4o", response_model=Catalog, stream=True, messages=messages
        ):
            partials.append(partial)
        print(f"\nasync: {len(partials)} updates, final object: {partials[-1]!r}")

    asyncio.run(streamed_async())


if __name__ == "__main__":
    main()
