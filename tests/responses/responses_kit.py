"""The Responses API through the real SDK's `responses` resource against the emulator."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

import instructor_az
from instructor_az import Mode
from instructor_az.emulator import Emulator

#: The first api-version serving the Responses API is 2025-03-01-preview; the emulator's newest preview.
API_VERSION = "2025-04-01-preview"
TEXT = "John is 30 years old"
RESPONSES_MODES = [Mode.RESPONSES_TOOLS, Mode.RESPONSES_JSON_SCHEMA]


class User(BaseModel):
    name: str
    age: int


def wrap(emulator: Emulator, mode: Mode, flavor: str = "sync", **options: Any) -> Any:
    raw = (
        emulator.client(api_version=API_VERSION, max_retries=0)
        if flavor == "sync"
        else emulator.async_client(api_version=API_VERSION, max_retries=0)
    )
    return instructor_az.from_openai(raw, mode=mode, model="gpt-4o", **options)


def responses_requests(emulator: Emulator) -> list[Any]:
    return [r for r in emulator.requests if r.path.endswith("/responses")]
