"""Request validation with Azure's error bodies (400 invalid_request_error, 404 unrecognized argument)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from . import _wire as wire
from ._api_versions import ARGUMENT_SINCE, JSON_SCHEMA_SINCE, at_least
from ._deployments import Deployment
from ._strict_schema import check_strict_schema

_ROLES = ("system", "assistant", "user", "function", "tool", "developer")
_FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _fail_type(param: str, expected: str, value: Any) -> wire.AzureError:
    return wire.invalid_type(param, expected, value)


def check_api_version_arguments(body: Mapping[str, Any], api_version: str | None) -> None:
    if api_version is None:
        return
    for name, since in ARGUMENT_SINCE.items():
        if name in body and not at_least(api_version, since):
            raise wire.unrecognized_argument(name)
    fmt = body.get("response_format")
    if (
        isinstance(fmt, Mapping)
        and fmt.get("type") == "json_schema"
        and not at_least(api_version, JSON_SCHEMA_SINCE)
    ):
        raise wire.AzureError(
            400,
            {
                "error": {
                    "code": "BadRequest",
                    "message": "response_format value as json_schema is enabled only for api versions "
                    f"{JSON_SCHEMA_SINCE} and later",
                }
            },
        )


def validate_chat(body: Mapping[str, Any], deployment: Deployment, api_version: str | None) -> None:
    """Raise the `AzureError` Azure would answer this chat request with, if any."""
    check_api_version_arguments(body, api_version)
    if "messages" not in body:
        raise wire.missing_parameter("messages")
    messages = body["messages"]
    if not isinstance(messages, list):
        raise _fail_type("messages", "an array", messages)
    if not messages:
        raise wire.invalid_request("[] is too short - 'messages'", param="messages", code="empty_array")
    _validate_messages(messages, deployment)
    _validate_sampling(body)
    tools = _validate_tools(body, deployment)
    _validate_tool_choice(body, tools)
    _validate_response_format(body, deployment, messages)
    if "stream" in body and not isinstance(body["stream"], bool):
        raise _fail_type("stream", "a boolean", body["stream"])
    if body.get("stream_options") is not None and not body.get("stream"):
        raise wire.invalid_request(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
            code="invalid_value",
        )
    n = body.get("n", 1)
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 128):
        raise wire.invalid_value("n", f"Invalid 'n': expected an integer between 1 and 128, got {n!r}.")


def _validate_messages(messages: list[Any], deployment: Deployment) -> None:
    pending_calls: dict[str, int] = {}
    last_with_calls: int | None = None
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, Mapping):
            raise _fail_type(where, "an object", message)
        if "role" not in message:
            raise wire.missing_parameter(f"{where}.role")
        role = message["role"]
        if role not in _ROLES:
            raise wire.invalid_value(
                f"{where}.role",
                f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', 'function', "
                "'tool', and 'developer'.",
            )
        if role != "tool" and pending_calls:
            raise _unanswered_tool_calls(pending_calls, last_with_calls)
        content = message.get("content")
        if role == "assistant":
            if content is None and not message.get("tool_calls") and not message.get("function_call"):
                raise wire.missing_parameter(f"{where}.content")
            for j, call in enumerate(message.get("tool_calls") or []):
                if not isinstance(call, Mapping) or "id" not in call:
                    raise wire.missing_parameter(f"{where}.tool_calls[{j}].id")
                function = call.get("function")
                if not isinstance(function, Mapping) or "name" not in function:
                    raise wire.missing_parameter(f"{where}.tool_calls[{j}].function")
                pending_calls[str(call["id"])] = i
            if message.get("tool_calls"):
                last_with_calls = i
        elif role == "tool":
            call_id = message.get("tool_call_id")
            if call_id is None:
                raise wire.missing_parameter(f"{where}.tool_call_id")
            if str(call_id) not in pending_calls:
                raise wire.invalid_request(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
                    "with 'tool_calls'.",
                    param=f"{where}.role",
                )
            del pending_calls[str(call_id)]
        if role != "assistant" and "content" not in message:
            raise wire.missing_parameter(f"{where}.content")
        _validate_content(content, where, deployment, role)
    if pending_calls:
        raise _unanswered_tool_calls(pending_calls, last_with_calls)


def _unanswered_tool_calls(pending: dict[str, int], index: int | None) -> wire.AzureError:
    ids = ", ".join(pending)
    return wire.invalid_request(
        "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
        f"'tool_call_id'. The following tool_call_ids did not have response messages: {ids}",
        param=f"messages.[{index}].role" if index is not None else "messages",
    )


def _validate_content(content: Any, where: str, deployment: Deployment, role: str) -> None:
    if content is None or isinstance(content, str):
        return
    if not isinstance(content, list):
        raise _fail_type(f"{where}.content", "one of a string or array of objects", content)
    for k, part in enumerate(content):
        at = f"{where}.content[{k}]"
        if not isinstance(part, Mapping):
            raise _fail_type(at, "an object", part)
        kind = part.get("type")
        if kind == "text":
            if not isinstance(part.get("text"), str):
                raise wire.missing_parameter(f"{at}.text")
        elif kind == "image_url":
            if role != "user":
                raise wire.invalid_value(
                    f"{at}.type",
                    f"Image URLs are only allowed for messages with role 'user', but this message with role '{role}' contains an image URL.",
                )
            if not deployment.vision:
                raise wire.invalid_request(
                    "Invalid content type. image_url is only supported by certain models.", param=f"{at}.type"
                )
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, Mapping) else None
            if not isinstance(url, str) or not url:
                raise wire.missing_parameter(f"{at}.image_url.url")
            if not (url.startswith(("http://", "https://")) or url.startswith("data:image/")):
                raise wire.invalid_value(
                    f"{at}.image_url.url",
                    "Invalid image URL: expected an http(s) URL or a base64 data URL of an image.",
                )
        elif kind == "input_audio":
            audio = part.get("input_audio")
            if not isinstance(audio, Mapping) or not isinstance(audio.get("data"), str):
                raise wire.missing_parameter(f"{at}.input_audio.data")
            if audio.get("format") not in ("wav", "mp3"):
                raise wire.invalid_value(
                    f"{at}.input_audio.format",
                    f"Invalid value: '{audio.get('format')}'. Supported values are: 'wav' and 'mp3'.",
                )
        elif kind == "file":
            # A file (a PDF) sent inline as a data URL, or by the id of an uploaded file; the models that
            # read images read files too. The error for one that does not is the service's own.
            if not deployment.vision:
                raise wire.invalid_value(
                    f"{at}.type", "Invalid Value: 'file'. This model does not support file content types."
                )
            file = part.get("file")
            if not isinstance(file, Mapping):
                raise wire.missing_parameter(f"{at}.file")
            data, file_id = file.get("file_data"), file.get("file_id")
            if not (isinstance(data, str) and data) and not (isinstance(file_id, str) and file_id):
                raise wire.missing_parameter(f"{at}.file.file_data")
            if isinstance(data, str) and data and not data.startswith("data:"):
                raise wire.invalid_value(
                    f"{at}.file.file_data", "Invalid file data: expected a base64 data URL (data:<type>;base64,...)."
                )
        elif kind is None:
            raise wire.missing_parameter(f"{at}.type")
        else:
            raise wire.invalid_value(
                f"{at}.type",
                f"Invalid value: '{kind}'. Supported values are: 'text', 'image_url', 'input_audio', 'refusal', "
                "'audio', and 'file'.",
            )


def _validate_sampling(body: Mapping[str, Any]) -> None:
    for name, low, high in (
        ("temperature", 0, 2),
        ("top_p", 0, 1),
        ("presence_penalty", -2, 2),
        ("frequency_penalty", -2, 2),
    ):
        if name not in body or body[name] is None:
            continue
        value = body[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail_type(name, "a decimal", value)
        if value > high:
            raise wire.invalid_request(
                f"Invalid '{name}': decimal above maximum value. Expected a value <= {high}, but got {value} instead.",
                param=name,
                code="decimal_above_max_value",
            )
        if value < low:
            raise wire.invalid_request(
                f"Invalid '{name}': decimal below minimum value. Expected a value >= {low}, but got {value} instead.",
                param=name,
                code="decimal_below_min_value",
            )
    for name in ("max_tokens", "max_completion_tokens", "seed"):
        if name in body and body[name] is not None:
            value = body[name]
            if isinstance(value, bool) or not isinstance(value, int):
                raise _fail_type(name, "an integer", value)
            if name != "seed" and value < 1:
                raise wire.invalid_request(
                    f"Invalid '{name}': integer below minimum value. Expected a value >= 1, but got {value} instead.",
                    param=name,
                    code="integer_below_min_value",
                )
    if body.get("max_tokens") is not None and body.get("max_completion_tokens") is not None:
        raise wire.invalid_request(
            "max_tokens is not supported with this model. Use 'max_completion_tokens' instead; do not send both.",
            param="max_tokens",
            code="unsupported_parameter",
        )


def _validate_tools(body: Mapping[str, Any], deployment: Deployment) -> list[str]:
    if "tools" not in body or body["tools"] is None:
        return []
    tools = body["tools"]
    if not isinstance(tools, list):
        raise _fail_type("tools", "an array", tools)
    if not deployment.tools:
        raise wire.invalid_request(
            f"tools is not supported with this model ({deployment.response_model}).",
            param="tools",
            code="unsupported_parameter",
        )
    if len(tools) > 128:
        raise wire.invalid_request(
            f"Invalid 'tools': array too long. Expected an array with maximum length 128, but got an array with length {len(tools)} instead.",
            param="tools",
            code="array_above_max_length",
        )
    names: list[str] = []
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        if not isinstance(tool, Mapping):
            raise _fail_type(where, "an object", tool)
        if tool.get("type") != "function":
            raise wire.invalid_value(
                f"{where}.type", f"Invalid value: '{tool.get('type')}'. Supported values are: 'function'."
            )
        function = tool.get("function")
        if not isinstance(function, Mapping):
            raise wire.missing_parameter(f"{where}.function")
        check_function(function, f"{where}.function", names)
    return names


def check_name(value: Any, param: str) -> str:
    """A function or schema name as Azure checks it: present, and `^[a-zA-Z0-9_-]+$` (64 at most)."""
    if not isinstance(value, str):
        raise wire.missing_parameter(param)
    if not _FUNCTION_NAME.match(value):
        raise wire.invalid_value(
            param,
            f"Invalid '{param}': string does not match pattern. Expected a string that matches the "
            "pattern '^[a-zA-Z0-9_-]+$'.",
        )
    return value


def check_function(function: Mapping[str, Any], where: str, names: list[str]) -> None:
    """A function definition (chat's `tools[i].function`, the Responses API's flat `tools[i]`): its
    name (pattern, not given twice: added to `names`), its parameters, strict schema rules."""
    name = check_name(function.get("name"), f"{where}.name")
    if name in names:
        raise wire.invalid_request(
            f"Invalid 'tools': duplicate function name '{name}'.", param="tools", code="invalid_value"
        )
    names.append(name)
    params = function.get("parameters")
    if params is not None and not isinstance(params, Mapping):
        raise _fail_type(f"{where}.parameters", "an object", params)
    if function.get("strict") is True:
        problem = check_strict_schema(
            params if params is not None else {"type": "object", "properties": {}},
            name=name,
            kind="function",
            param=f"{where}.parameters",
        )
        if problem is not None:
            raise wire.invalid_request(problem.message, param=problem.param, code=problem.code)


def _validate_tool_choice(body: Mapping[str, Any], tool_names: list[str]) -> None:
    if body.get("tool_choice") is None:
        return
    choice = body["tool_choice"]
    if not tool_names:
        raise wire.invalid_request(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            param="tool_choice",
        )
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise wire.invalid_value(
                "tool_choice",
                f"Invalid value: '{choice}'. Supported values are: 'none', 'auto', and 'required'.",
            )
        return
    if not isinstance(choice, Mapping):
        raise _fail_type("tool_choice", "one of a string or object", choice)
    function = choice.get("function")
    name = function.get("name") if isinstance(function, Mapping) else None
    if choice.get("type") != "function" or not isinstance(name, str):
        raise wire.missing_parameter("tool_choice.function.name")
    if name not in tool_names:
        raise wire.invalid_request(
            f"Invalid value for 'tool_choice': function '{name}' is not one of the functions in 'tools' "
            f"({', '.join(tool_names)}).",
            param="tool_choice",
        )


def _mentions_json(messages: list[Any]) -> bool:
    for message in messages:
        content = message.get("content")
        if isinstance(content, str) and "json" in content.lower():
            return True
        if isinstance(content, list):
            for part in content:
                if isinstance(part, Mapping) and "json" in str(part.get("text", "")).lower():
                    return True
    return False


def _validate_response_format(body: Mapping[str, Any], deployment: Deployment, messages: list[Any]) -> None:
    fmt = body.get("response_format")
    if fmt is None:
        return
    if not isinstance(fmt, Mapping):
        raise _fail_type("response_format", "an object", fmt)
    kind = fmt.get("type")
    if kind == "text":
        return
    if kind == "json_object":
        if not deployment.json_mode:
            raise wire.invalid_request(
                "Invalid parameter: 'response_format' of type 'json_object' is not supported with this model.",
                param="response_format",
            )
        if not _mentions_json(messages):
            raise wire.invalid_request(
                "'messages' must contain the word 'json' in some form, to use 'response_format' of type "
                "'json_object'.",
                param="messages",
            )
        return
    if kind == "json_schema":
        if not deployment.structured_outputs:
            raise wire.invalid_request(
                "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model. "
                "Structured outputs need a model version that supports them (for example gpt-4o 2024-08-06).",
                param="response_format",
            )
        spec = fmt.get("json_schema")
        if not isinstance(spec, Mapping):
            raise wire.missing_parameter("response_format.json_schema")
        name = check_name(spec.get("name"), "response_format.json_schema.name")
        schema = spec.get("schema")
        if schema is not None and not isinstance(schema, Mapping):
            raise _fail_type("response_format.json_schema.schema", "an object", schema)
        if spec.get("strict") is True:
            problem = check_strict_schema(
                schema if schema is not None else {},
                name=name,
                kind="response_format",
                param="response_format",
            )
            if problem is not None:
                raise wire.invalid_request(problem.message, param=problem.param, code=problem.code)
        return
    raise wire.invalid_value(
        "response_format.type",
        f"Invalid value: '{kind}'. Supported values are: 'json_object', 'json_schema', and 'text'.",
    )


def validate_completions(body: Mapping[str, Any], api_version: str | None) -> None:
    if "prompt" not in body:
        raise wire.missing_parameter("prompt")
    prompt = body["prompt"]
    if not isinstance(prompt, (str, list)):
        raise _fail_type("prompt", "a string or array", prompt)
    _validate_sampling(body)


def validate_embeddings(body: Mapping[str, Any], deployment: Deployment) -> list[str]:
    """The embedding inputs as texts (token-id inputs are rendered as their ids)."""
    if "input" not in body:
        raise wire.missing_parameter("input")
    raw = body["input"]
    if isinstance(raw, str):
        inputs: list[Any] = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(x, int) for x in raw):
        inputs = [raw]
    elif isinstance(raw, list):
        inputs = raw
    else:
        raise _fail_type("input", "one of a string or array", raw)
    if not inputs:
        raise wire.invalid_request("[] is too short - 'input'", param="input", code="empty_array")
    if len(inputs) > 2048:
        raise wire.invalid_request(
            "Too many inputs. The max number of inputs is 2048.", param="input", code="array_above_max_length"
        )
    texts = []
    for i, item in enumerate(inputs):
        if isinstance(item, str):
            if not item:
                raise wire.invalid_request(
                    f"'$.input[{i}]' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
                    param=f"input[{i}]",
                )
            texts.append(item)
        elif isinstance(item, list) and all(isinstance(t, int) for t in item):
            texts.append(" ".join(str(t) for t in item))
        else:
            raise _fail_type(f"input[{i}]", "a string or an array of integers", item)
    fmt = body.get("encoding_format", "float")
    if fmt not in ("float", "base64", None):
        raise wire.invalid_value(
            "encoding_format", f"Invalid value: '{fmt}'. Supported values are: 'float' and 'base64'."
        )
    dims = body.get("dimensions")
    if dims is not None:
        if isinstance(dims, bool) or not isinstance(dims, int):
            raise _fail_type("dimensions", "an integer", dims)
        if not deployment.model.startswith("text-embedding-3"):
            raise wire.invalid_request(
                "This model does not support specifying dimensions.", param="dimensions", code="invalid_value"
            )
        if not 1 <= dims <= deployment.embedding_dimensions:
            raise wire.invalid_request(
                f"Invalid 'dimensions': expected a value between 1 and {deployment.embedding_dimensions}, got {dims}.",
                param="dimensions",
                code="invalid_value",
            )
    return texts
