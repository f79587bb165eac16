"""The Responses API's plan: how to ask (`text.format` or a function tool), where the answer is (the
response's `output` items), and how to re-ask (`previous_response_id`, or the input items).

A `ResponsesPlan` is a `Plan` whose request goes to `client.responses.create`; everything else of a
call (the re-ask loop, validation, hooks, usage, streaming through the same incremental parser) is
the chat path's. The request takes `input=` (a string or items) or chat `messages=` (converted: text
and image parts, assistant tool calls and tool results become Responses items).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from ._answer_checks import responses_checks
from ._errors import ConfigurationError, RefusalError, ResponseParseError
from ._mode import Mode
from ._plan import JSON, Plan, _json_text, format_errors
from ._schema import strict_schema
from ._targets import make_target

_TOOL_MODES = (Mode.RESPONSES_TOOLS, Mode.RESPONSES_TOOLS_WITH_INBUILT_TOOLS)
_CHAT_PARTS = {"text": "input_text"}


def compile_responses(response_model: Any, mode: Mode) -> ResponsesPlan:
    target = make_target(response_model)
    strict = strict_schema(target.schema)
    if mode in _TOOL_MODES:
        tool: JSON = {
            "type": "function",
            "name": target.name,
            "description": target.description or "",
            "parameters": strict.schema,
            "strict": True,
        }
        fragment: JSON = {"tools": [tool], "tool_choice": {"type": "function", "name": target.name}}
    else:
        fmt: JSON = {"type": "json_schema", "name": target.name, "schema": strict.schema, "strict": True}
        if target.description:
            fmt["description"] = target.description
        fragment = {"text": {"format": fmt}}
    return ResponsesPlan(mode, target, strict.schema, fragment, strict=strict)


class ResponsesPlan(Plan):
    api: ClassVar[str] = "responses"

    # --- the request ------------------------------------------------------------------------------

    def request(self, kwargs: Mapping[str, Any]) -> JSON:
        request = dict(kwargs)
        if "messages" in request:
            if "input" in request:
                raise ConfigurationError("pass input= or messages= (converted to input items), not both")
            request["input"] = request.pop("messages")
        if "input" not in request:
            raise ConfigurationError("input= (a string or a list of items) or messages= is required")
        for chat_name in ("max_tokens", "max_completion_tokens"):
            if chat_name in request:
                if "max_output_tokens" in request:
                    raise ConfigurationError(f"pass max_output_tokens= or {chat_name}=, not both")
                request["max_output_tokens"] = request.pop(chat_name)
        if "response_format" in request:
            raise ConfigurationError(
                "response_format= is chat completions'; on the Responses API response_model sets text.format"
            )
        request["input"] = responses_input(request["input"])
        tools = list(request.pop("tools", None) or [])
        if self.mode in _TOOL_MODES:
            if request.get("tool_choice") is not None:
                raise ConfigurationError(
                    f"tool_choice= is set by response_model in mode {self.mode.value!r}; remove it"
                )
            functions = [t for t in tools if isinstance(t, Mapping) and t.get("type") == "function"]
            if functions or (tools and self.mode is Mode.RESPONSES_TOOLS):
                raise ConfigurationError(
                    f"tools= is set by response_model in mode {self.mode.value!r}; remove it (built-in tools "
                    "such as web_search go with Mode.RESPONSES_TOOLS_WITH_INBUILT_TOOLS)"
                )
            request.update(self.fragment)
            request["tools"] = [*self.fragment["tools"], *tools]
            return request
        if tools:
            request["tools"] = tools
        text = request.get("text")
        if text is not None and not isinstance(text, Mapping):
            raise ConfigurationError(
                f"text= is the Responses API's text settings (a dict), got {type(text).__name__}"
            )
        if isinstance(text, Mapping) and text.get("format") is not None:
            raise ConfigurationError(
                f"text.format is set by response_model in mode {self.mode.value!r}; remove it, or pass "
                "response_model=None to send your own"
            )
        request["text"] = {**(text or {}), **self.fragment["text"]}
        return request

    # --- the answer -------------------------------------------------------------------------------

    def answer_texts(self, completion: Any, *, any_name: bool = False) -> list[tuple[str, str]]:
        output = getattr(completion, "output", None)
        if output is None:
            raise ResponseParseError("the response has no output")
        calls: list[tuple[str, str]] = []
        texts: list[str] = []
        refusals: list[str] = []
        for item in output:
            kind = getattr(item, "type", None)
            if kind == "function_call":
                calls.append((item.name, item.arguments))
            elif kind == "message":
                for part in item.content or ():
                    if part.type == "output_text":
                        texts.append(part.text)
                    elif part.type == "refusal":
                        refusals.append(part.refusal)
        if self.mode.is_tools and calls:
            if any_name:
                return calls[:1]
            wanted = [c for c in calls if c[0] == self.name]
            if not wanted:
                called = ", ".join(f"`{c[0]}`" for c in calls)
                raise ResponseParseError(
                    f"the model called {called}, not the function `{self.name}` it was asked to call",
                    text=calls[0][1],
                )
            return wanted[:1]
        if refusals:
            raise RefusalError("".join(refusals), completion=completion)
        text = "".join(texts)
        if self.mode.is_tools:
            if text:  # a deployment that answered in text despite tool_choice: JSON found there counts
                return [(self.name, _json_text(text))]
            raise ResponseParseError(
                f"the model did not call the tool `{self.name}` and gave no text", text=text
            )
        if not text:
            raise ResponseParseError("the model's answer is empty", text=text)
        return [(self.name, text)]

    def check_answer(self, completion: Any, usage: Any, total: Any) -> None:
        responses_checks(completion, usage, total)

    # --- re-asking --------------------------------------------------------------------------------

    def reask_request(
        self, request: JSON, completion: Any, error: BaseException, *, accepted: int = 0
    ) -> JSON:
        """The next attempt: the errors as a function call's output (tools) or a user message, after the
        answer. With `store` on (Azure's default) and a finished response, by `previous_response_id`
        (the service keeps the conversation); else the whole conversation is sent again as items."""
        errors = format_errors(error)
        if accepted:
            taken = "Item 1 of the list was" if accepted == 1 else f"Items 1 to {accepted} of the list were"
            errors += (
                f"\n{taken} accepted already: do not send them again. Answer with the items after them "
                f"only, starting from item {accepted + 1}."
            )
        output = list(getattr(completion, "output", None) or ())
        calls = [item for item in output if getattr(item, "type", None) == "function_call"]
        follow: list[JSON]
        if self.mode.is_tools and calls:
            follow = [
                {
                    "type": "function_call_output",
                    "call_id": call.call_id,
                    "output": f"Validation Error found:\n{errors}\n{self._recall(call.name)}",
                }
                for call in calls
            ]
        else:
            fix = (
                f"call the function {self._offered()}"
                if self.mode.is_tools
                else "answer again with the corrected JSON"
            )
            follow = [
                {
                    "role": "user",
                    "content": f"Correct your answer. Validation Error found:\n{errors}\nFix the errors and {fix}.",
                }
            ]
        response_id = getattr(completion, "id", None)
        finished = getattr(completion, "status", None) in ("completed", "incomplete")
        if request.get("store") is not False and response_id and finished:
            return {**request, "previous_response_id": response_id, "input": follow}
        echoed = [_as_input_item(item) for item in output]
        sent = request["input"]
        before = [{"role": "user", "content": sent}] if isinstance(sent, str) else list(sent)
        return {**request, "input": [*before, *echoed, *follow]}


def _as_input_item(item: Any) -> JSON:
    """An output item as an input item: without the ids and status the service assigned (an id names
    a stored item, which a conversation sent in full does not rely on)."""
    dumped: JSON = item.model_dump(exclude_none=True) if hasattr(item, "model_dump") else dict(item)
    dumped.pop("id", None)
    dumped.pop("status", None)
    if dumped.get("type") == "message":
        dumped["content"] = [
            {k: v for k, v in part.items() if k in ("type", "text", "refusal")}
            for part in dumped.get("content", [])
        ]
    return dumped


def responses_input(value: Any) -> Any:
    """`input=` as the Responses API takes it: a string stays a string; chat messages become items."""
    if isinstance(value, str):
        return value
    if not isinstance(value, Sequence) or isinstance(value, (bytes, bytearray)):
        raise ConfigurationError(
            f"input= is a string or a list of items / messages, got {type(value).__name__}"
        )
    items: list[Any] = []
    for i, message in enumerate(value):
        if not isinstance(message, Mapping):
            raise ConfigurationError(
                f"input[{i}] must be a dict (a message or an item), got {type(message).__name__}"
            )
        role = message.get("role")
        if role == "tool":
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": message.get("tool_call_id"),
                    "output": _text_of(message),
                }
            )
            continue
        if role is None:
            items.append(message)  # an item already (function_call_output, a message item, ...)
            continue
        converted = dict(message)
        for key in ("name", "tool_calls", "function_call", "refusal", "audio"):
            converted.pop(key, None)
        content = message.get("content")
        if isinstance(content, list) or (content is not None and not isinstance(content, str)):
            converted["content"] = _parts(content if isinstance(content, list) else [content], role)
        if content is not None or not message.get("tool_calls"):
            items.append(converted)
        for call in message.get("tool_calls") or ():
            function = call.get("function", {}) if isinstance(call, Mapping) else {}
            items.append(
                {
                    "type": "function_call",
                    "call_id": call.get("id") if isinstance(call, Mapping) else None,
                    "name": function.get("name"),
                    "arguments": function.get("arguments", ""),
                }
            )
    return items


def _parts(content: list[Any], role: Any) -> list[Any]:
    from .dsl._multimodal import _part

    out: list[Any] = []
    for part in content:
        converted = _part(part, Mode.RESPONSES_TOOLS, strict=False)
        if isinstance(converted, Mapping):
            kind = converted.get("type")
            if kind == "text":
                converted = {
                    "type": "output_text" if role == "assistant" else "input_text",
                    "text": converted.get("text"),
                }
            elif kind == "image_url":
                image = converted.get("image_url")
                url = image.get("url") if isinstance(image, Mapping) else image
                item: JSON = {"type": "input_image", "image_url": url}
                if isinstance(image, Mapping) and image.get("detail"):
                    item["detail"] = image["detail"]
                converted = item
            elif kind == "input_audio":
                raise ConfigurationError("Azure's Responses API takes no audio input; use chat completions")
        out.append(converted)
    return out


def _text_of(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return "" if content is None else str(content)
