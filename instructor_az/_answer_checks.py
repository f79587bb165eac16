"""Azure's verdicts on an answer, before it is parsed: a content filter stopped it, or it was cut off.

Both end the call (`ContentFilterError`, `IncompleteOutputException`): asking again would not help.
Chat completions say so in `finish_reason`; the Responses API in `status: "incomplete"` and
`incomplete_details.reason` (`content_filter`, `max_output_tokens`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._errors import (
    AzureResponseError,
    CategoryResult,
    ContentFilterError,
    IncompleteOutputException,
    Usage,
)


def content_filter_categories(raw: Any) -> dict[str, CategoryResult]:
    if not isinstance(raw, Mapping):
        return {}
    return {name: CategoryResult.parse(value) for name, value in raw.items() if isinstance(value, Mapping)}


def extra(obj: Any, name: str) -> Any:
    """A field the SDK's model does not declare (Azure's additions), wherever the SDK kept it."""
    value = getattr(obj, name, None)
    if value is None:
        found = getattr(obj, "model_extra", None) or {}
        value = found.get(name)
    return value


def tool_arguments(message: Any) -> str:
    calls = getattr(message, "tool_calls", None) or []
    return "".join(c.function.arguments for c in calls if getattr(c, "function", None))


def chat_checks(completion: Any, usage: Usage, total: Usage) -> None:
    """A chat completion's `finish_reason`: `content_filter` or `length` end the call."""
    choices = getattr(completion, "choices", None) or []
    if not choices:
        return
    choice = choices[0]
    reason = choice.finish_reason
    if reason == "content_filter":
        message = choice.message
        raise ContentFilterError(
            source="completion",
            categories=content_filter_categories(extra(choice, "content_filter_results")),
            completion=completion,
            usage=total,
            partial_text=message.content or tool_arguments(message),
        )
    if reason == "length":
        raise IncompleteOutputException(
            partial_text=choice.message.content or tool_arguments(choice.message),
            completion=completion,
            usage=total,
            answer_usage=usage,
        )


def response_text(response: Any) -> str:
    """A Responses API answer's text: its output text, else its function calls' arguments."""
    texts: list[str] = []
    arguments: list[str] = []
    for item in getattr(response, "output", None) or ():
        kind = getattr(item, "type", None)
        if kind == "message":
            texts.extend(getattr(p, "text", "") or "" for p in item.content or () if p.type == "output_text")
        elif kind == "function_call":
            arguments.append(getattr(item, "arguments", "") or "")
    return "".join(texts) or "".join(arguments)


class ResponseFailedError(AzureResponseError):
    """A Responses API answer with `status: "failed"` (its `error` says why): the service could not
    finish it. Not re-asked; retry the call."""


def responses_checks(response: Any, usage: Usage, total: Usage) -> None:
    """A Responses API answer's `status`: `incomplete` (content filter, output limit) or `failed`."""
    status = getattr(response, "status", None)
    if status == "failed":
        error = getattr(response, "error", None)
        detail = f"{getattr(error, 'code', '')}: {getattr(error, 'message', '')}" if error else "no detail"
        raise ResponseFailedError(f"the response failed ({detail})", completion=response, usage=total)
    if status != "incomplete":
        return
    details = getattr(response, "incomplete_details", None)
    reason = getattr(details, "reason", None)
    if reason == "content_filter":
        raise ContentFilterError(
            source="completion",
            categories=_response_filter_categories(response),
            completion=response,
            usage=total,
            partial_text=response_text(response),
        )
    raise IncompleteOutputException(
        partial_text=response_text(response), completion=response, usage=total, answer_usage=usage
    )


def _response_filter_categories(response: Any) -> dict[str, CategoryResult]:
    """Azure's filter results on a Responses answer: on the response (`content_filter_results`), or
    in its `content_filters` list (each with `content_filter_results`)."""
    direct = extra(response, "content_filter_results")
    if isinstance(direct, Mapping):
        return content_filter_categories(direct)
    found: dict[str, CategoryResult] = {}
    for entry in extra(response, "content_filters") or ():
        if isinstance(entry, Mapping):
            for name, result in content_filter_categories(entry.get("content_filter_results")).items():
                if result.filtered or name not in found:
                    found[name] = result
    return found
