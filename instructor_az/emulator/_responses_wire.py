"""The Responses API's wire format: `Response` bodies, output items and the SSE event stream.

Modelled on Azure's own bodies (the Responses how-to's outputs; a v1 `POST /openai/v1/responses` body
captured from Azure and quoted publicly) and on the event classes of the openai SDK
(`openai.types.responses`), never on this project's own code:

- ids: `resp_`, `msg_` and `fc_` followed by 50 hex digits (Azure's current ids; its 2025 docs show
  32), `call_` followed by 24 letters and digits.
- a `Response` carries Azure's `content_filters` (one entry for the prompt, one for the completion,
  each `blocked`, `source_type`, `content_filter_results`, `content_filter_offsets`), `usage` with
  `input_tokens_details.cached_tokens` and `output_tokens_details.reasoning_tokens`, `store`, and the
  request's settings echoed (`tools`, `tool_choice`, `text.format`, `temperature`, ...).
- `status` is "completed", or "incomplete" with `incomplete_details.reason` "max_output_tokens" (a
  length cut) or "content_filter" (a filtered completion: the completion's filter entry `blocked`), or
  "failed" (a stream that fails in-band).
- a stream is `event: <type>` / `data: <json>` pairs with increasing `sequence_number` from 0:
  response.created, response.in_progress, then per output item output_item.added, (for a message)
  content_part.added, output_text.delta..., output_text.done, content_part.done, (for a function call)
  function_call_arguments.delta..., function_call_arguments.done, then output_item.done; it ends with
  response.completed or response.incomplete, without `data: [DONE]`. A stream that fails in-band ends
  with response.failed and then an `error` event whose error is nested (`{"type": "error", "error":
  {...}}`), as Azure sends it (maximhq/bifrost #6419, #6652, #6302); the openai SDK raises `APIError` on
  that last event.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import _wire as wire
from ._deployments import Deployment
from ._responses import Shaped, live_pieces

JSON = dict[str, Any]

#: Azure's Responses API rate-limit headers, as reported (openai/openai-dotnet #838): the token counts
#: read -1 and the reset 0, and `retry-after` is missing.
RATE_LIMIT_HEADERS = {
    "x-ratelimit-limit-tokens": "-1",
    "x-ratelimit-remaining-tokens": "-1",
    "x-ratelimit-reset-tokens": "0",
}


def hex_id(prefix: str) -> str:
    """An id as Azure's Responses API writes them: a prefix and 50 hex digits."""
    return prefix + secrets.token_hex(25)


@dataclass
class ItemIds:
    """The ids of one response's output items, chosen before its answer is known."""

    message: str = field(default_factory=lambda: hex_id("msg_"))
    calls: list[str] = field(default_factory=list)

    def call(self, index: int) -> str:
        while len(self.calls) <= index:
            self.calls.append(hex_id("fc_"))
        return self.calls[index]


def status_of(shaped: Shaped) -> tuple[str, str | None]:
    """`(status, incomplete reason)` of a response that stopped for `shaped.finish_reason`."""
    if shaped.finish_reason == "content_filter":
        return "incomplete", "content_filter"
    if shaped.finish_reason == "length":
        return "incomplete", "max_output_tokens"
    return "completed", None


def _message_item(item_id: str, shaped: Shaped, status: str) -> JSON:
    content: list[JSON] = []
    if shaped.content or not shaped.refusal:
        content.append(_text_part(shaped.content or ""))
    if shaped.refusal:
        content.append({"type": "refusal", "refusal": shaped.refusal})
    return {"id": item_id, "type": "message", "status": status, "content": content, "role": "assistant"}


def _text_part(text: str) -> JSON:
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}


def _call_item(item_id: str, call: tuple[str, str, str], status: str) -> JSON:
    call_id, name, arguments = call
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": call_id,
        "name": name,
    }


def has_message(shaped: Shaped) -> bool:
    return shaped.content is not None or shaped.refusal is not None or not shaped.tool_calls


def output_items(shaped: Shaped, ids: ItemIds) -> list[JSON]:
    """A message item (text and / or a refusal) and one `function_call` item per call, in that order;
    the last is "incomplete" when the answer was cut."""
    status, _ = status_of(shaped)
    items: list[JSON] = []
    if has_message(shaped):
        items.append(_message_item(ids.message, shaped, "completed"))
    for index, call in enumerate(shaped.tool_calls):
        items.append(_call_item(ids.call(index), call, "completed"))
    if status == "incomplete" and items:
        items[-1]["status"] = "incomplete"
    return items


def output_text_of(items: Sequence[Mapping[str, Any]]) -> str:
    return "".join(
        str(part.get("text", ""))
        for item in items
        if item.get("type") == "message"
        for part in item.get("content") or []
        if part.get("type") == "output_text"
    )


def usage(input_tokens: int, output_tokens: int) -> JSON:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


def content_filters(
    prompt_chars: int,
    completion_chars: int,
    flagged: Mapping[str, str] | None = None,
    *,
    blocked: bool = False,
) -> list[JSON]:
    """Azure's `content_filters`: the prompt's entry and the completion's (`blocked`: the completion was
    filtered, `flagged` its categories and severities)."""
    prompt = wire.prompt_filter_results(1)[0]["content_filter_results"]
    completion = wire.completion_filter_results(dict(flagged or {}), protected_material=True)

    def entry(source: str, blocked: bool, results: JSON, end: int) -> JSON:
        return {
            "blocked": blocked,
            "source_type": source,
            "content_filter_raw": [],
            "content_filter_results": results,
            "content_filter_offsets": {"start_offset": 0, "end_offset": end, "check_offset": 0},
        }

    return [
        entry("prompt", False, prompt, prompt_chars),
        entry("completion", blocked, completion, completion_chars),
    ]


def _echo_tool(tool: Mapping[str, Any]) -> JSON:
    return {
        "type": "function",
        "description": tool.get("description"),
        "name": tool.get("name"),
        "parameters": tool.get("parameters"),
        "strict": tool.get("strict"),
    }


def _given(request: Mapping[str, Any], name: str, default: Any) -> Any:
    value = request.get(name)
    return default if value is None else value


@dataclass
class Skeleton:
    """What every state of one response shares: its id, creation time and the request's settings."""

    request: Mapping[str, Any]
    deployment: Deployment
    response_id: str = field(default_factory=lambda: hex_id("resp_"))
    created_at: int = field(default_factory=lambda: int(time.time()))
    store: bool = True

    def body(
        self,
        status: str,
        *,
        output: Sequence[JSON] = (),
        usage: JSON | None = None,
        incomplete_reason: str | None = None,
        filters: list[JSON] | None = None,
        error: JSON | None = None,
    ) -> JSON:
        request = self.request
        text = request.get("text")
        fmt = text.get("format") if isinstance(text, Mapping) else None
        given = request.get("reasoning")
        reasoning: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
        return {
            "id": self.response_id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": False,
            "completed_at": int(time.time()) if status in ("completed", "incomplete", "failed") else None,
            "content_filters": filters,
            "error": error,
            "frequency_penalty": 0.0,
            "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
            "instructions": request.get("instructions"),
            "max_output_tokens": request.get("max_output_tokens"),
            "max_tool_calls": request.get("max_tool_calls"),
            "model": self.deployment.response_model,
            "output": list(output),
            "parallel_tool_calls": _given(request, "parallel_tool_calls", True),
            "presence_penalty": 0.0,
            "previous_response_id": request.get("previous_response_id"),
            "prompt_cache_key": request.get("prompt_cache_key"),
            "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
            "safety_identifier": request.get("safety_identifier"),
            "service_tier": "default",
            "store": self.store,
            "temperature": _given(request, "temperature", 1.0),
            "text": {"format": dict(fmt) if isinstance(fmt, Mapping) else {"type": "text"}},
            "tool_choice": _given(request, "tool_choice", "auto"),
            "tools": [_echo_tool(t) for t in request.get("tools") or []],
            "top_logprobs": _given(request, "top_logprobs", 0),
            "top_p": _given(request, "top_p", 1.0),
            "truncation": _given(request, "truncation", "disabled"),
            "usage": usage,
            "user": request.get("user"),
            "metadata": request.get("metadata") or {},
        }

    def started(self) -> JSON:
        """The response as response.created and response.in_progress show it."""
        return self.body("in_progress")


def final_body(
    skeleton: Skeleton, shaped: Shaped, ids: ItemIds, input_tokens: int, prompt_chars: int
) -> JSON:
    """The finished response for an answer."""
    status, reason = status_of(shaped)
    items = output_items(shaped, ids)
    completion_chars = len(output_text_of(items)) + sum(len(c[2]) for c in shaped.tool_calls)
    blocked = shaped.finish_reason == "content_filter"
    return skeleton.body(
        status,
        output=items,
        usage=usage(input_tokens, shaped.completion_tokens),
        incomplete_reason=reason,
        filters=content_filters(
            prompt_chars, completion_chars, shaped.flagged if blocked else None, blocked=blocked
        ),
    )


# --- the event stream -------------------------------------------------------------------------------


class Sequencer:
    """Numbers events from 0, as the Responses API does."""

    def __init__(self) -> None:
        self.next = 0

    def __call__(self, kind: str, **fields: Any) -> JSON:
        event = {"type": kind, "sequence_number": self.next, **fields}
        self.next += 1
        return event


def _pieces(text: str, size: int) -> Iterator[str]:
    for start in range(0, len(text), size):
        yield text[start : start + size]


def events(
    skeleton: Skeleton,
    shaped: Shaped,
    ids: ItemIds,
    finish: Callable[[], JSON],
    *,
    chunk_chars: int,
) -> Iterator[JSON]:
    """The SSE events of a streamed response, in the Responses API's order. With `shaped.live` the
    message text (or the one call's arguments) is streamed as the backend produces it. `finish()` gives
    the final response once every piece is out."""
    seq = Sequencer()
    started = skeleton.started()
    yield seq("response.created", response=started)
    yield seq("response.in_progress", response=started)
    index = 0
    generation = shaped.live
    if has_message(shaped):
        item_id = ids.message
        pending = {
            "id": item_id,
            "type": "message",
            "status": "in_progress",
            "content": [],
            "role": "assistant",
        }
        yield seq("response.output_item.added", output_index=index, item=pending)
        part = 0
        if shaped.content or not shaped.refusal:
            at = {"item_id": item_id, "output_index": index, "content_index": part}
            yield seq("response.content_part.added", **at, part=_text_part(""))
            text = shaped.content or ""
            source = live_pieces(shaped, generation) if generation else _pieces(text, chunk_chars)
            for piece in source:
                yield seq("response.output_text.delta", **at, delta=piece, logprobs=[])
            text = shaped.content or ""
            yield seq("response.output_text.done", **at, text=text, logprobs=[])
            yield seq("response.content_part.done", **at, part=_text_part(text))
            part += 1
        if shaped.refusal:
            at = {"item_id": item_id, "output_index": index, "content_index": part}
            yield seq("response.content_part.added", **at, part={"type": "refusal", "refusal": ""})
            for piece in _pieces(shaped.refusal, chunk_chars):
                yield seq("response.refusal.delta", **at, delta=piece)
            yield seq("response.refusal.done", **at, refusal=shaped.refusal)
            yield seq("response.content_part.done", **at, part={"type": "refusal", "refusal": shaped.refusal})
        yield seq("response.output_item.done", output_index=index, item=_done_item(shaped, ids, index))
        index += 1
    for position in range(len(shaped.tool_calls)):
        item_id = ids.call(position)
        call_id, name, arguments = shaped.tool_calls[position]
        pending = _call_item(item_id, (call_id, name, ""), "in_progress")
        yield seq("response.output_item.added", output_index=index, item=pending)
        source = live_pieces(shaped, generation) if generation else _pieces(arguments, chunk_chars)
        for piece in source:
            yield seq(
                "response.function_call_arguments.delta", item_id=item_id, output_index=index, delta=piece
            )
        arguments = shaped.tool_calls[position][2]
        yield seq(
            "response.function_call_arguments.done", item_id=item_id, output_index=index, arguments=arguments
        )
        yield seq("response.output_item.done", output_index=index, item=_done_item(shaped, ids, index))
        index += 1
    body = finish()
    kind = "response.incomplete" if body["status"] == "incomplete" else "response.completed"
    yield seq(kind, response=body)


def _done_item(shaped: Shaped, ids: ItemIds, index: int) -> JSON:
    return output_items(shaped, ids)[index]


def failure(
    skeleton: Skeleton, sent: Sequence[JSON], error: JSON, *, response_error: JSON | None
) -> list[JSON]:
    """How a stream that already sent `sent` fails in-band: response.failed (the output so far, the
    response's `error`), then an `error` event carrying `error` nested."""
    seq = Sequencer()
    seq.next = len(sent)
    output = [e["item"] for e in sent if e["type"] == "response.output_item.done"]
    failed = skeleton.body("failed", output=output, error=response_error)
    return [seq("response.failed", response=failed), seq("error", error=error)]


def server_error_body() -> JSON:
    """The `error` a response that failed on the service's side carries (the SDK's `ResponseError`)."""
    return {
        "code": "server_error",
        "message": "The server had an error processing your request. Sorry about that! You can retry your "
        "request, or contact us through an Azure support request at: https://go.microsoft.com/fwlink/?linkid=2213926 "
        "if you keep seeing this error.",
    }
