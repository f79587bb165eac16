"""A Responses API request, checked as Azure checks it and translated for the backends.

What is checked (Azure's Responses how-to and the openai SDK's request types, `openai.types.responses`):
`input` is a string or a list of items: messages (roles user, system, developer with `input_text`,
`input_image`, `input_file` parts; assistant with `output_text` / `refusal` parts), `function_call` and
`function_call_output` items; `tools` are flat function definitions (`{"type": "function", "name",
"description", "parameters", "strict"}`); `tool_choice` is "none", "auto", "required" or
`{"type": "function", "name": ...}`; `text.format` is text, json_object or a flat json_schema
(`{"type": "json_schema", "name", "schema", "strict"}`), its strict schema held to the same rules as chat's
(`_strict_schema`); `max_output_tokens` is at least 16 (OpenAI's 400 wording, which Azure's Responses
backend shares). A `function_call_output` needs its `function_call` earlier in the conversation, and a
`function_call` its output before the conversation goes on (OpenAI's wording for both).

The backends see a chat request (`ChatRequest`): `instructions` becomes the first system message, the
items become messages (function calls an assistant message's `tool_calls`, their outputs `tool`
messages), `text.format` becomes `response_format`, flat tools chat tools, `max_output_tokens`
`max_completion_tokens`. So a backend answers a Responses call as it answers a chat call.

Hosted tools (web search, file search, code interpreter, MCP, ...), `background`, `conversation` and
`item_reference` items are not emulated: they get a 400 saying so (`code: "EmulatorUnsupported"`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import _validate as validate
from . import _wire as wire
from ._deployments import Deployment
from ._strict_schema import check_strict_schema

JSON = dict[str, Any]

_ROLES = ("assistant", "system", "developer", "user")
_USER_PARTS = ("input_text", "input_image", "input_file")
_ASSISTANT_PARTS = ("output_text", "refusal")
#: The least `max_output_tokens` the Responses API takes.
MIN_OUTPUT_TOKENS = 16
#: Request fields the emulator answers with a 400 rather than pretend to honour.
_UNSUPPORTED = {
    "background": "background mode",
    "conversation": "conversations (the Conversations API)",
    "prompt": "prompt templates",
}


def unsupported(what: str, param: str) -> wire.AzureError:
    return wire.invalid_request(
        f"Emulator: {what} is not emulated; the emulator serves text, function tools, structured outputs "
        "and stored responses of the Responses API.",
        param=param,
        code="EmulatorUnsupported",
    )


def _type_error(param: str, expected: str, value: Any) -> wire.AzureError:
    return wire.invalid_type(param, expected, value)


def input_items(body: Mapping[str, Any]) -> list[JSON]:
    """The request's `input` as a list of items, each with its `type` (a string is one user message)."""
    if "input" not in body or body["input"] is None:
        return []
    raw = body["input"]
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": raw}]
    if not isinstance(raw, list):
        raise _type_error("input", "one of a string or array of objects", raw)
    items: list[JSON] = []
    for i, item in enumerate(raw):
        where = f"input[{i}]"
        if not isinstance(item, Mapping):
            raise _type_error(where, "an object", item)
        kind = item.get("type", "message" if "role" in item else None)
        if kind is None:
            raise wire.missing_parameter(f"{where}.type")
        if kind == "message":
            _check_message(item, where)
        elif kind == "function_call":
            for name in ("call_id", "name", "arguments"):
                if not isinstance(item.get(name), str):
                    raise wire.missing_parameter(f"{where}.{name}")
        elif kind == "function_call_output":
            if not isinstance(item.get("call_id"), str):
                raise wire.missing_parameter(f"{where}.call_id")
            if "output" not in item:
                raise wire.missing_parameter(f"{where}.output")
            if not isinstance(item["output"], (str, list)):
                raise _type_error(f"{where}.output", "one of a string or array of objects", item["output"])
        elif kind == "reasoning":
            pass  # a reasoning model's item sent back: nothing for a chat backend to read
        elif kind == "item_reference":
            raise unsupported("item_reference input items", f"{where}.type")
        else:
            raise wire.invalid_value(
                f"{where}.type",
                f"Invalid value: '{kind}'. Supported values are: 'message', 'function_call', "
                "'function_call_output' and 'reasoning' (the emulator does not run hosted tools).",
            )
        items.append({**item, "type": kind})
    return items


def _check_message(item: Mapping[str, Any], where: str) -> None:
    if "role" not in item:
        raise wire.missing_parameter(f"{where}.role")
    role = item["role"]
    if role not in _ROLES:
        raise wire.invalid_value(
            f"{where}.role",
            f"Invalid value: '{role}'. Supported values are: 'assistant', 'system', 'developer', and 'user'.",
        )
    if "content" not in item:
        raise wire.missing_parameter(f"{where}.content")
    content = item["content"]
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise _type_error(f"{where}.content", "one of a string or array of objects", content)
    allowed = _ASSISTANT_PARTS if role == "assistant" else _USER_PARTS
    for k, part in enumerate(content):
        at = f"{where}.content[{k}]"
        if not isinstance(part, Mapping):
            raise _type_error(at, "an object", part)
        kind = part.get("type")
        if kind is None:
            raise wire.missing_parameter(f"{at}.type")
        if kind not in allowed:
            names = ", ".join(f"'{a}'" for a in allowed[:-1]) + f" and '{allowed[-1]}'"
            raise wire.invalid_value(f"{at}.type", f"Invalid value: '{kind}'. Supported values are: {names}.")
        if kind in ("input_text", "output_text") and not isinstance(part.get("text"), str):
            raise wire.missing_parameter(f"{at}.text")
        if kind == "refusal" and not isinstance(part.get("refusal"), str):
            raise wire.missing_parameter(f"{at}.refusal")
        if kind == "input_image":
            url, file_id = part.get("image_url"), part.get("file_id")
            if not (isinstance(url, str) and url) and not (isinstance(file_id, str) and file_id):
                raise wire.missing_parameter(f"{at}.image_url")
            if isinstance(url, str) and url and not url.startswith(("http://", "https://", "data:image/")):
                raise wire.invalid_value(
                    f"{at}.image_url",
                    "Invalid image URL: expected an http(s) URL or a base64 data URL of an image.",
                )
        if kind == "input_file" and not any(
            isinstance(part.get(k), str) and part.get(k) for k in ("file_id", "file_data", "file_url")
        ):
            raise wire.missing_parameter(f"{at}.file_id")


def validate_request(
    body: Mapping[str, Any], items: Sequence[Mapping[str, Any]], deployment: Deployment
) -> None:
    """Raise the `AzureError` Azure would answer this Responses request with (beyond `input`), if any."""
    for name, what in _UNSUPPORTED.items():
        if body.get(name):
            raise unsupported(what, name)
    if not items and not body.get("previous_response_id"):
        raise wire.missing_parameter("input")
    for name in ("instructions", "previous_response_id"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise _type_error(name, "a string", body[name])
    for name in ("stream", "store", "parallel_tool_calls"):
        if body.get(name) is not None and not isinstance(body[name], bool):
            raise _type_error(name, "a boolean", body[name])
    validate._validate_sampling({k: body[k] for k in ("temperature", "top_p") if k in body})
    limit = body.get("max_output_tokens")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise _type_error("max_output_tokens", "an integer", limit)
        if limit < MIN_OUTPUT_TOKENS:
            raise wire.invalid_request(
                f"Invalid 'max_output_tokens': integer below minimum value. Expected a value >= "
                f"{MIN_OUTPUT_TOKENS}, but got {limit} instead.",
                param="max_output_tokens",
                code="integer_below_min_value",
            )
    if any(_has_image(item) for item in items) and not deployment.vision:
        raise wire.invalid_request(
            "Invalid content type. image_url is only supported by certain models.", param="input"
        )
    names = _validate_tools(body, deployment)
    _validate_tool_choice(body, names)
    _validate_text(body, deployment, items)


def _has_image(item: Mapping[str, Any]) -> bool:
    content = item.get("content")
    return isinstance(content, list) and any(
        isinstance(p, Mapping) and p.get("type") == "input_image" for p in content
    )


def _validate_tools(body: Mapping[str, Any], deployment: Deployment) -> list[str]:
    tools = body.get("tools")
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise _type_error("tools", "an array", tools)
    if tools and not deployment.tools:
        raise wire.invalid_request(
            f"tools is not supported with this model ({deployment.response_model}).",
            param="tools",
            code="unsupported_parameter",
        )
    names: list[str] = []
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        if not isinstance(tool, Mapping):
            raise _type_error(where, "an object", tool)
        kind = tool.get("type")
        if kind is None:
            raise wire.missing_parameter(f"{where}.type")
        if kind != "function":
            raise unsupported(f"the hosted tool {kind!r}", f"{where}.type")
        validate.check_function(tool, where, names)
    return names


def _validate_tool_choice(body: Mapping[str, Any], names: list[str]) -> None:
    choice = body.get("tool_choice")
    if choice is None:
        return
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise wire.invalid_value(
                "tool_choice",
                f"Invalid value: '{choice}'. Supported values are: 'none', 'auto', and 'required'.",
            )
        if choice == "required" and not names:
            raise wire.invalid_request(
                "Tool choice 'required' must be specified with 'tools' parameter.", param="tool_choice"
            )
        return
    if not isinstance(choice, Mapping):
        raise _type_error("tool_choice", "one of a string or object", choice)
    if choice.get("type") != "function":
        raise unsupported(f"tool_choice of type {choice.get('type')!r}", "tool_choice.type")
    name = choice.get("name")
    if not isinstance(name, str):
        raise wire.missing_parameter("tool_choice.name")
    if name not in names:
        raise wire.invalid_request(
            f"Tool choice '{name}' not found in 'tools' parameter.", param="tool_choice", code="invalid_value"
        )


def text_format(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, Mapping) else None
    return fmt if isinstance(fmt, Mapping) else None


def _validate_text(
    body: Mapping[str, Any], deployment: Deployment, items: Sequence[Mapping[str, Any]]
) -> None:
    text = body.get("text")
    if text is None:
        return
    if not isinstance(text, Mapping):
        raise _type_error("text", "an object", text)
    fmt = text.get("format")
    if fmt is None:
        return
    if not isinstance(fmt, Mapping):
        raise _type_error("text.format", "an object", fmt)
    kind = fmt.get("type")
    if kind == "text":
        return
    if kind == "json_object":
        if not deployment.json_mode:
            raise wire.invalid_request(
                "Invalid parameter: 'text.format' of type 'json_object' is not supported with this model.",
                param="text.format",
            )
        texts = [body.get("instructions") or ""] + [_item_text(item) for item in items]
        if not any("json" in t.lower() for t in texts):
            raise wire.invalid_request(
                "Response input messages must contain the word 'json' in some form to use 'text.format' of "
                "type 'json_object'.",
                param="input",
            )
        return
    if kind != "json_schema":
        raise wire.invalid_value(
            "text.format.type",
            f"Invalid value: '{kind}'. Supported values are: 'text', 'json_object', and 'json_schema'.",
        )
    if not deployment.structured_outputs:
        raise wire.invalid_request(
            "Invalid parameter: 'text.format' of type 'json_schema' is not supported with this model. "
            "Structured outputs need a model version that supports them (for example gpt-4o 2024-08-06).",
            param="text.format",
        )
    name = validate.check_name(fmt.get("name"), "text.format.name")
    if "schema" not in fmt:
        raise wire.missing_parameter("text.format.schema")
    schema = fmt["schema"]
    if not isinstance(schema, Mapping):
        raise _type_error("text.format.schema", "an object", schema)
    if fmt.get("strict") is True:
        problem = check_strict_schema(schema, name=name, kind="response_format", param="text.format.schema")
        if problem is not None:
            raise wire.invalid_request(problem.message, param=problem.param, code=problem.code)


def _item_text(item: Mapping[str, Any]) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(p.get("text") or p.get("refusal") or "") for p in content if isinstance(p, Mapping)
        )
    output = item.get("output")
    if isinstance(output, str):
        return output
    return ""


# --- translation for the backends ------------------------------------------------------------------


def to_messages(items: Sequence[Mapping[str, Any]], instructions: str | None) -> list[JSON]:
    """Chat messages for a conversation of Responses items (checking calls and their outputs pair up)."""
    messages: list[JSON] = []
    if instructions:
        messages.append({"role": "system", "content": instructions})
    pending: dict[str, str] = {}  # call_id -> function name, calls still waiting for their output
    called: set[str] = set()
    for item in items:
        kind = item.get("type")
        if kind != "function_call_output" and kind != "function_call" and pending:
            raise _no_tool_output(next(iter(pending)))
        if kind == "message":
            messages.append(_message(item))
        elif kind == "function_call":
            call = {
                "id": item["call_id"],
                "type": "function",
                "function": {"name": item["name"], "arguments": item["arguments"]},
            }
            last = messages[-1] if messages else None
            if last is not None and last.get("role") == "assistant":
                last.setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
            pending[item["call_id"]] = item["name"]
            called.add(item["call_id"])
        elif kind == "function_call_output":
            call_id = item["call_id"]
            if call_id not in called:
                raise wire.invalid_request(
                    f"No tool call found for function call output with call_id {call_id}.", param="input"
                )
            pending.pop(call_id, None)
            messages.append(
                {"role": "tool", "tool_call_id": call_id, "content": _output_text(item["output"])}
            )
    if pending:
        raise _no_tool_output(next(iter(pending)))
    return messages


def _no_tool_output(call_id: str) -> wire.AzureError:
    return wire.invalid_request(f"No tool output found for function call {call_id}.", param="input")


def _message(item: Mapping[str, Any]) -> JSON:
    role = item["role"]
    content = item["content"]
    if isinstance(content, str):
        return {"role": role, "content": content}
    if role == "assistant":
        text = "".join(str(p.get("text") or p.get("refusal") or "") for p in content)
        return {"role": "assistant", "content": text}
    parts: list[JSON] = []
    for part in content:
        kind = part.get("type")
        if kind == "input_text":
            parts.append({"type": "text", "text": part["text"]})
        elif kind == "input_image":
            url = part.get("image_url") or f"file-id:{part.get('file_id')}"
            image: JSON = {"url": url}
            if part.get("detail"):
                image["detail"] = part["detail"]
            parts.append({"type": "image_url", "image_url": image})
        elif kind == "input_file":
            file = {k: part[k] for k in ("file_id", "file_data", "filename") if part.get(k)}
            parts.append({"type": "file", "file": file})
    return {"role": role, "content": parts}


def _output_text(output: Any) -> str:
    if isinstance(output, str):
        return output
    return " ".join(str(p.get("text", "")) for p in output if isinstance(p, Mapping))


def chat_body(body: Mapping[str, Any], messages: list[JSON]) -> JSON:
    """The chat request a backend answers for this Responses request."""
    chat: JSON = {"messages": messages}
    tools = [
        {
            "type": "function",
            "function": {
                k: v
                for k, v in (
                    ("name", tool["name"]),
                    ("description", tool.get("description")),
                    ("parameters", tool.get("parameters") or {"type": "object", "properties": {}}),
                    ("strict", tool.get("strict")),
                )
                if v is not None
            },
        }
        for tool in body.get("tools") or []
    ]
    if tools:
        chat["tools"] = tools
        choice = body.get("tool_choice")
        if isinstance(choice, Mapping):
            chat["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
        elif choice is not None:
            chat["tool_choice"] = choice
        if body.get("parallel_tool_calls") is not None:
            chat["parallel_tool_calls"] = body["parallel_tool_calls"]
    fmt = text_format(body)
    if fmt is not None and fmt.get("type") == "json_schema":
        spec = {k: fmt[k] for k in ("name", "description", "schema", "strict") if k in fmt}
        chat["response_format"] = {"type": "json_schema", "json_schema": spec}
    elif fmt is not None and fmt.get("type") == "json_object":
        chat["response_format"] = {"type": "json_object"}
    for name, chat_name in (
        ("max_output_tokens", "max_completion_tokens"),
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("stream", "stream"),
    ):
        if body.get(name) is not None:
            chat[chat_name] = body[name]
    return chat


def stored_item(item: Mapping[str, Any], item_id: str) -> JSON:
    """An input item as the API lists it (`input_items`): with an id and a status; a message's text
    content as parts (`input_text`, or `output_text` for the assistant)."""
    kind = item.get("type")
    if kind == "message":
        content = item["content"]
        if isinstance(content, str):
            part = "output_text" if item["role"] == "assistant" else "input_text"
            content = [
                {"type": part, "text": content, **({"annotations": []} if part == "output_text" else {})}
            ]
        return {
            "id": item.get("id") or item_id,
            "type": "message",
            "role": item["role"],
            "content": content,
            "status": "completed",
        }
    return {**dict(item), "id": item.get("id") or item_id, "status": item.get("status") or "completed"}
