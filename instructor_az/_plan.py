"""A plan: for one (response model, mode), how to ask, where the answer is, and how to re-ask.

Plans are compiled once and cached: no schema work is repeated per call.
"""

from __future__ import annotations

import json
import re
import threading
import typing
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from ._answer_checks import chat_checks
from ._answer_json import load_answer
from ._errors import ConfigurationError, RefusalError, ResponseParseError
from ._mode import Mode
from ._schema import StrictSchema, strict_schema
from ._targets import ListTarget, ModelTarget, SchemaTarget, Target, make_target, pydantic_errors
from .dsl._multimodal import to_content_parts

JSON = dict[str, Any]

# kwargs a plan sets; a caller passing them too would silently lose them, so that is an error.
_OWNED = {
    Mode.TOOLS: ("tools", "tool_choice"),
    Mode.TOOLS_STRICT: ("tools", "tool_choice"),
    Mode.PARALLEL_TOOLS: ("tools", "tool_choice"),
    Mode.JSON: ("response_format",),
    Mode.JSON_SCHEMA: ("response_format",),
    Mode.MD_JSON: (),
}
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


def _message(completion: Any) -> Any:
    choices = getattr(completion, "choices", None)
    if not choices:
        raise ResponseParseError("the completion has no choices")
    return choices[0].message


def _json_text(content: str) -> str:
    """The JSON in an answer: a fenced block if there is one, else the outermost braces."""
    match = _FENCE.search(content)
    if match:
        return match.group(1).strip()
    text = content.strip()
    if text.startswith(("{", "[")):
        return text
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        return text[start : end + 1]
    return text


def validation_errors(error: BaseException) -> list[Mapping[str, Any]]:
    """A validation error's problems, one mapping each (`loc` or `path`, `msg`, `input`)."""
    if isinstance(error, ValidationError):
        return list(pydantic_errors(error))
    if isinstance(error, ResponseParseError) and error.errors:
        return list(error.errors)
    return []


def format_errors(error: BaseException) -> str:
    """Validation errors as short lines for a re-ask message."""
    items: Sequence[Mapping[str, Any]] = validation_errors(error)
    if not items:
        return str(error)
    lines = []
    for item in items:
        loc = item.get("path") or ".".join(str(p) for p in item.get("loc", ())) or "(root)"
        value = item.get("input")
        shown = json.dumps(value, default=str) if value is not None else "null"
        if len(shown) > 120:
            shown = shown[:117] + "..."
        lines.append(f"- {loc}: {item.get('msg', '')} (got {shown})")
    return "\n".join(lines)


@dataclass
class Plan:
    """How to ask for one response model in one mode, read the answer, and re-ask."""

    mode: Mode
    target: Target
    schema: JSON
    fragment: JSON
    instruction: str | None = None
    strict: StrictSchema | None = None
    tools: dict[str, Target] = field(default_factory=dict)
    #: the SDK resource this plan's requests go to: `chat.completions`, or `responses` (`_responses`)
    api: ClassVar[str] = "chat"

    @property
    def name(self) -> str:
        return self.target.name

    def check_answer(self, completion: Any, usage: Any, total: Any) -> None:
        """Azure's verdict on an answer before it is parsed (content filter, cut off): final errors."""
        chat_checks(completion, usage, total)

    # --- the request ------------------------------------------------------------------------------

    def request(self, kwargs: Mapping[str, Any]) -> JSON:
        """The SDK kwargs for the first attempt: the caller's, plus what this plan sets."""
        for key in _OWNED[self.mode]:
            if kwargs.get(key) is not None:
                raise ConfigurationError(
                    f"{key}= is set by response_model in mode {self.mode.value!r}; remove it, or pass "
                    "response_model=None to send your own"
                )
        if "messages" not in kwargs:
            raise ConfigurationError("messages= is required")
        messages = kwargs["messages"]
        from ._inputs import check_messages  # here, not at the top: this method is all _inputs adds

        check_messages(messages)
        request = dict(kwargs)
        request.update(self.fragment)
        messages = to_content_parts(messages)
        if self.instruction is not None:
            messages = _with_system(messages, self.instruction)
        request["messages"] = messages
        return request

    # --- the answer -------------------------------------------------------------------------------

    def answer_texts(self, completion: Any, *, any_name: bool = False) -> list[tuple[str, str]]:
        """(tool or schema name, JSON text) pairs found in the completion, per mode.

        `any_name`: take the first call whatever function it names (a completion the caller got
        elsewhere, read by `from_response`), instead of requiring the one this plan offered.
        """
        message = _message(completion)
        if self.mode.is_tools:
            calls = getattr(message, "tool_calls", None) or []
            found = [(c.function.name, c.function.arguments) for c in calls if getattr(c, "function", None)]
            legacy = getattr(message, "function_call", None)  # the deprecated `functions=` answer
            if not found and legacy is not None and getattr(legacy, "arguments", None) is not None:
                found = [(legacy.name, legacy.arguments)]
            if found:
                if any_name and self.mode is not Mode.PARALLEL_TOOLS:
                    return found[:1]
                if self.mode is not Mode.PARALLEL_TOOLS:
                    wanted = [f for f in found if f[0] == self.name]
                    if not wanted:
                        called = ", ".join(f"`{f[0]}`" for f in found)
                        raise ResponseParseError(
                            f"the model called {called}, not the function `{self.name}` it was asked to call",
                            text=found[0][1],
                        )
                    return wanted[:1]
                return found
            refusal = getattr(message, "refusal", None)
            if isinstance(refusal, str) and refusal:  # no call, a refusal: final, as in the JSON modes
                raise RefusalError(refusal, completion=completion)
            if self.mode is Mode.PARALLEL_TOOLS:  # text cannot say which tool it answers for
                raise ResponseParseError(
                    f"the model called none of the functions {self._offered()}", text=message.content
                )
            if message.content:
                # Some deployments answer in text despite tool_choice; accept JSON found there.
                return [(self.name, _json_text(message.content))]
            raise ResponseParseError(
                f"the model did not call the tool `{self.name}` and gave no content", text=message.content
            )
        refusal = getattr(message, "refusal", None)
        if isinstance(refusal, str) and refusal:
            raise RefusalError(refusal, completion=completion)
        content = message.content
        if not content:
            raise ResponseParseError("the model's answer is empty", text=content)
        if self.mode is Mode.MD_JSON or self.mode is Mode.JSON:
            return [(self.name, _json_text(content))]
        return [(self.name, content)]

    def parse(
        self,
        completion: Any,
        context: Mapping[str, Any] | None,
        *,
        any_name: bool = False,
        strict: bool | None = None,
    ) -> Any:
        """The validated value in a completion; raises pydantic's `ValidationError` or `ResponseParseError`.

        `any_name`: see `answer_texts`; `strict=True`: pydantic's strict mode (no type coercion).
        """
        pairs = self.answer_texts(completion, any_name=any_name)
        if self.mode is Mode.PARALLEL_TOOLS:
            out = []
            for name, text in pairs:
                target = self.tools.get(name)
                if target is None:
                    raise ResponseParseError(
                        f"the model called `{name}`, which is not one of {', '.join(self.tools)}", text=text
                    )
                out.append(self._validate(target, text, context, strict))
            return out
        return self._validate(self.target, pairs[0][1], context, strict)

    def _validate(
        self, target: Target, text: str, context: Mapping[str, Any] | None, strict: bool | None = None
    ) -> Any:
        # One reading of JSON for every path (see `_answer_json`): no NaN, no repeated key, bounded depth.
        obj = load_answer(text)
        if self.strict is not None and self.strict.nullable_added:
            _drop_added_nulls(obj, self.strict.schema, "$", self.strict)
            return target.validate_object(obj, context, strict=strict)
        if isinstance(target, SchemaTarget):
            return target.validate_object(obj, context)
        return target.validate_text(text, context, strict=strict)

    def drop_added_nulls(self, obj: Any, path: str = "$") -> Any:
        """`obj` (the answer at schema path `path`) without the nulls only the strict transform allowed.

        Streamed items go through this too, so a streamed answer is judged as the same answer sent at once.
        """
        if self.strict is not None and self.strict.nullable_added:
            node: Any = self.strict.schema
            for step in path.removeprefix("$").replace("[*]", ".[*]").split("."):
                if not step or not isinstance(node, Mapping):
                    continue
                node = node.get("items") if step == "[*]" else (node.get("properties") or {}).get(step)
            if isinstance(node, Mapping):
                _drop_added_nulls(obj, node, path, self.strict)
        return obj

    # --- re-asking --------------------------------------------------------------------------------

    def _offered(self) -> str:
        """The functions the request offered, as a re-ask names them."""
        names = list(self.tools) if self.mode is Mode.PARALLEL_TOOLS else [self.name]
        return " or ".join(f"`{name}`" for name in names)

    def _recall(self, called: str) -> str:
        offered = self.tools if self.mode is Mode.PARALLEL_TOOLS else (self.name,)
        if called not in offered:
            return f"`{called}` is not a function you can call; call {self._offered()} instead."
        return f"Recall the function `{called}` with the errors fixed."

    def reask_request(self, request: JSON, completion: Any, error: BaseException, *, accepted: int = 0) -> JSON:
        """The next attempt's request: the conversation extended with the answer and its errors."""
        reask = self.reask_messages(completion, error, accepted=accepted)
        return {**request, "messages": [*request["messages"], *reask]}

    def reask_messages(self, completion: Any, error: BaseException, *, accepted: int = 0) -> list[JSON]:
        """The messages that show the model its last answer and what was wrong with it.

        `accepted`: items of an iterable already taken from earlier answers of a stream; the model is
        asked for the items after them only.
        """
        message = _message(completion)
        errors = format_errors(error)
        if accepted:
            taken = "Item 1 of the list was" if accepted == 1 else f"Items 1 to {accepted} of the list were"
            errors += (
                f"\n{taken} accepted already: do not send them again. Answer with the items after them "
                f"only, starting from item {accepted + 1}."
            )
        calls = (message.tool_calls or []) if self.mode.is_tools else []
        if calls:
            assistant: JSON = {
                "role": "assistant",
                "content": message.content,
                "tool_calls": [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.function.name, "arguments": c.function.arguments},
                    }
                    for c in calls
                ],
            }
            replies = [
                {
                    "role": "tool",
                    "tool_call_id": c.id,
                    "content": f"Validation Error found:\n{errors}\n{self._recall(c.function.name)}",
                }
                for c in calls
            ]
            return [assistant, *replies]
        content = message.content or ""
        fix = (
            f"call the function {self._offered()}"
            if self.mode.is_tools
            else "answer again with only the corrected JSON"
            + (" in a ```json block" if self.mode is Mode.MD_JSON else "")
        )
        return [
            {"role": "assistant", "content": content},
            {
                "role": "user",
                "content": f"Correct your answer. Validation Error found:\n{errors}\nFix the errors and {fix}.",
            },
        ]


def _drop_added_nulls(obj: Any, schema: Mapping[str, Any], path: str, strict: StrictSchema) -> None:
    """Remove nulls the strict transform allowed only to make optional properties required.

    Walks the answer alongside the sent schema; `path` names the schema node as `StrictSchema`
    records it (`$`, `$.meta`, `$.tags[*]`, `$defs.Name`, `$.x.anyOf[0]`). An explicit stack, not
    recursion: the answer's depth is the model's to choose.
    """
    definitions = strict.schema.get("$defs") or {}
    todo: list[tuple[Any, Mapping[str, Any], str]] = [(obj, schema, path)]
    while todo:
        obj, schema, path = todo.pop()
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.split("/")[-1]
            definition = definitions.get(name)
            if isinstance(definition, Mapping):
                todo.append((obj, definition, f"$defs.{name}"))
            continue
        if ref == "#":
            todo.append((obj, strict.schema, "$"))
            continue
        if isinstance(obj, dict):
            added = strict.nullable_added.get(path, frozenset())
            for name in [k for k, v in obj.items() if v is None and k in added]:
                del obj[name]
            properties = schema.get("properties") or {}
            todo.extend((v, properties[k], f"{path}.{k}") for k, v in obj.items() if k in properties)
        elif isinstance(obj, list):
            items = schema.get("items")
            if isinstance(items, Mapping):
                todo.extend((v, items, f"{path}[*]") for v in obj)
        if isinstance(obj, (dict, list)):
            for i, branch in enumerate(schema.get("anyOf") or []):
                if isinstance(branch, Mapping) and branch.get("type") != "null":
                    todo.append((obj, branch, f"{path}.anyOf[{i}]"))


def _with_system(messages: Sequence[Any], instruction: str) -> list[Any]:
    out = list(messages)
    if out and isinstance(out[0], Mapping) and out[0].get("role") in ("system", "developer"):
        first = dict(out[0])
        content = first.get("content")
        if isinstance(content, str):
            first["content"] = f"{content}\n\n{instruction}"
            out[0] = first
            return out
    return [{"role": "system", "content": instruction}, *out]


def _schema_instruction(schema: Mapping[str, Any], *, fenced: bool) -> str:
    dumped = json.dumps(schema, indent=2)
    if fenced:
        return (
            "Answer with a single JSON object that matches this JSON schema, inside a ```json fenced block, "
            f"and nothing else:\n\n{dumped}"
        )
    return f"Answer with a JSON object that matches this JSON schema, and nothing else:\n\n{dumped}"


def _tool(target: Target, schema: JSON, *, strict: bool) -> JSON:
    function: JSON = {"name": target.name, "description": target.description or "", "parameters": schema}
    if strict:
        function["strict"] = True
    return {"type": "function", "function": function}


def _union_members(tp: Any) -> list[Any]:
    origin = typing.get_origin(tp)
    if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        return list(typing.get_args(tp))
    import types

    if isinstance(tp, types.UnionType):
        return list(typing.get_args(tp))
    return [tp]


def _compile(response_model: Any, mode: Mode) -> Plan:
    if mode.is_responses:
        from ._responses import compile_responses

        return compile_responses(response_model, mode)
    if mode is Mode.PARALLEL_TOOLS:
        target = make_target(response_model)
        if not isinstance(target, ListTarget):
            raise ConfigurationError(
                "Mode.PARALLEL_TOOLS needs response_model=Iterable[Union[A, B, ...]] (or Iterable[A]); "
                f"got {response_model!r}. Use Mode.TOOLS for a single model."
            )
        members = _union_members(target.item)
        tools: dict[str, Target] = {}
        for member in members:
            if not (isinstance(member, type) and issubclass(member, BaseModel)):
                raise ConfigurationError(
                    f"Mode.PARALLEL_TOOLS needs pydantic models in Iterable[Union[...]]; {member!r} is not one"
                )
            member_target = ModelTarget(member)
            tools[member_target.name] = member_target
        parallel: JSON = {
            "tools": [_tool(t, t.schema, strict=False) for t in tools.values()],
            "tool_choice": "auto",
        }
        return Plan(mode, target, target.schema, parallel, tools=tools)

    target = make_target(response_model)
    schema = target.schema
    fragment: JSON
    if mode in (Mode.TOOLS, Mode.TOOLS_STRICT):
        strict = strict_schema(schema) if mode is Mode.TOOLS_STRICT else None
        sent = strict.schema if strict else schema
        fragment = {
            "tools": [_tool(target, sent, strict=strict is not None)],
            "tool_choice": {"type": "function", "function": {"name": target.name}},
        }
        return Plan(mode, target, sent, fragment, strict=strict)
    if mode is Mode.JSON_SCHEMA:
        strict = strict_schema(schema)
        json_schema: JSON = {"name": target.name, "schema": strict.schema, "strict": True}
        if target.description:
            json_schema["description"] = target.description
        fragment = {"response_format": {"type": "json_schema", "json_schema": json_schema}}
        return Plan(mode, target, strict.schema, fragment, strict=strict)
    if mode is Mode.JSON:
        fragment = {"response_format": {"type": "json_object"}}
        return Plan(mode, target, schema, fragment, instruction=_schema_instruction(schema, fenced=False))
    if mode is Mode.MD_JSON:
        return Plan(mode, target, schema, {}, instruction=_schema_instruction(schema, fenced=True))
    raise ConfigurationError(f"unsupported mode {mode!r}")  # pragma: no cover


#: Plans kept at most (least recently used dropped first). A plan costs a few KB; a fixed set of
#: response models never reaches the bound, schemas built per call (dynamic models, dict schemas) do.
PLAN_CACHE_SIZE = 512
_cache: OrderedDict[Any, Plan] = OrderedDict()
_cache_lock = threading.Lock()


def compile_plan(response_model: Any, mode: Mode) -> Plan:
    """The plan for `(response_model, mode)`, compiled once and cached (LRU, `PLAN_CACHE_SIZE` plans)."""
    try:
        key: Any = (response_model, mode)
        hash(key)
    except TypeError:
        key = ("schema", json.dumps(response_model, sort_keys=True, default=str), mode)
    with _cache_lock:
        plan = _cache.get(key)
        if plan is not None:
            _cache.move_to_end(key)
            return plan
    plan = _compile(response_model, mode)
    with _cache_lock:
        plan = _cache.setdefault(key, plan)
        _cache.move_to_end(key)
        while len(_cache) > PLAN_CACHE_SIZE:
            _cache.popitem(last=False)
    return plan
