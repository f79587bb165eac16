"""The plan cache is bounded: response models built per call (dynamic models, dict schemas) do not grow
memory without end, and the models a program keeps using stay compiled."""

from __future__ import annotations

import gc
import weakref
from typing import Any

from pydantic import BaseModel, create_model

import instructor_az
from instructor_az import _plan
from instructor_az.emulator import Emulator


class User(BaseModel):
    name: str
    age: int


def test_dynamic_schemas_are_evicted_least_recently_used_first(
    azure_emulator: Emulator, azure_openai_client: Any
) -> None:
    client = instructor_az.from_openai(azure_openai_client)
    messages = [{"role": "user", "content": "John is 30"}]
    n = _plan.PLAN_CACHE_SIZE + 200
    azure_emulator.scripted.on(lambda request: request.forced_tool == "User", {"name": "John", "age": 30})
    client.chat.completions.create(model="gpt-4o", response_model=User, messages=messages)
    kept = _plan.compile_plan(User, client.mode)
    first = create_model("Dynamic0", field_0=(int, 0))
    first_ref = weakref.ref(first)
    for i in range(n):
        model = first if i == 0 else create_model(f"Dynamic{i}", **{f"field_{i}": (int, 0)})
        azure_emulator.scripted.push({f"field_{i}": i})
        assert getattr(client.chat.completions.create(model="gpt-4o", response_model=model, messages=messages), f"field_{i}") == i
        schema = {"type": "object", "title": f"Schema{i}", "properties": {f"f{i}": {"type": "integer"}}}
        _plan.compile_plan(schema, client.mode)
        if i % 50 == 0:  # a model the program keeps using
            client.chat.completions.create(model="gpt-4o", response_model=User, messages=messages)
    assert len(_plan._cache) == _plan.PLAN_CACHE_SIZE
    assert _plan.compile_plan(User, client.mode) is kept  # used recently: never recompiled
    del first, model
    gc.collect()
    assert first_ref() is None  # evicted, and nothing else holds the class alive


def test_a_call_with_a_dynamic_model_compiles_it_once_while_cached(
    azure_emulator: Emulator, azure_openai_client: Any
) -> None:
    client = instructor_az.from_openai(azure_openai_client)
    Dynamic = create_model("Dynamic", name=(str, ...))
    azure_emulator.scripted.push({"name": "a"}, {"name": "b"})
    for expected in ("a", "b"):
        value = client.chat.completions.create(
            model="gpt-4o", response_model=Dynamic, messages=[{"role": "user", "content": "x"}]
        )
        assert value.name == expected
    assert _plan.compile_plan(Dynamic, client.mode) is _plan.compile_plan(Dynamic, client.mode)
