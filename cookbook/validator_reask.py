"""A validator that rejects the first answer: the model is asked again with the error, and hooks see it.

The emulator's scripted backend plays the model: its first answer breaks the rule, its second obeys.
Run: python cookbook/validator_reask.py
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel

import instructor_az
from instructor_az.emulator import Emulator


def capitals(value: str) -> str:
    if not value.isupper():
        raise ValueError("name must be written in capitals")
    return value


class User(BaseModel):
    name: Annotated[str, AfterValidator(capitals)]
    age: int


def main() -> None:
    emulator = Emulator(backend="scripted")
    emulator.scripted.push({"name": "jason", "age": 25}, {"name": "JASON", "age": 25})

    client = instructor_az.from_openai(emulator.client())
    client.on("parse:error", lambda error: print(f"re-asking because: {str(error).splitlines()[-2].strip()}"))
    client.on("completion:response", lambda completion: print(f"answer used {completion.usage.total_tokens} tokens"))

    user, completion = client.chat.completions.create_with_completion(
        model="gpt-4o",
        response_model=User,
        max_retries=3,
        messages=[{"role": "user", "content": "jason is 25 years old"}],
    )
    print(f"result: {user!r} after {len(emulator.requests)} requests, {completion.usage.total_tokens} tokens in all")
    second = emulator.requests[-1].body["messages"]
    print(f"the re-ask sent back: {second[-1]['content']!r}")


if __name__ == "__main__":
    main()
