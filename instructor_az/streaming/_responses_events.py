"""Accumulating a Responses API event stream into answer deltas and, at the end, one `Response`.

The Responses API streams typed events, not chat chunks: `response.output_item.added` announces a
function call (its name and `call_id`), `response.function_call_arguments.delta` and
`response.output_text.delta` carry the answer's text, `response.completed` / `response.incomplete` /
`response.failed` the whole response. `ResponsesAccumulator` has `StreamAccumulator`'s interface
(`add(event)` gives `(index, name, text)` deltas: -1 for text, the output index for a call;
`completion()` the response), so the same consumer, incremental parser and checks serve both APIs.
"""

from __future__ import annotations

import typing
from typing import Any

from openai.types.responses import (
    Response,
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputRefusal,
    ResponseOutputText,
)

from .._errors import AzureResponseError
from ._accumulate import _ToolCall

_FINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})


class ResponseStreamError(AzureResponseError):
    """An `error` event in a Responses stream (`code`, `message`): the service stopped the answer."""


class ResponsesAccumulator:
    def __init__(self) -> None:
        self.text: list[str] = []
        self.refusal: list[str] = []
        self.tool_calls: dict[int, _ToolCall] = {}
        self.started: Any = None  # the response as `response.created` announced it
        self.final: Any = None  # the response as the last event gave it
        self.usage: Any = None

    def add(self, event: Any) -> list[tuple[int, str, str]]:
        kind = getattr(event, "type", None)
        if kind == "response.output_text.delta":
            self.text.append(event.delta)
            return [(-1, "", event.delta)]
        if kind == "response.function_call_arguments.delta":
            call = self._call(event.output_index)
            call.pieces.append(event.delta)
            return [(event.output_index, call.name, event.delta)]
        if kind == "response.output_item.added":
            item = event.item
            if getattr(item, "type", None) == "function_call":
                call = self._call(event.output_index)
                call.id, call.name = item.call_id or "", item.name or ""
                if item.arguments:  # a call announced with its arguments already
                    call.pieces.append(item.arguments)
                    return [(event.output_index, call.name, item.arguments)]
            return []
        if kind == "response.refusal.delta":
            self.refusal.append(event.delta)
        elif kind in ("response.created", "response.in_progress"):
            self.started = event.response
        elif kind in _FINAL:
            self.final = event.response
            self.usage = getattr(event.response, "usage", None)
        elif kind == "error":
            raise ResponseStreamError(
                f"the response stream reported an error ({getattr(event, 'code', None)}: "
                f"{getattr(event, 'message', '')})"
            )
        return []

    def _call(self, index: int) -> _ToolCall:
        call = self.tool_calls.get(index)
        if call is None:
            call = self.tool_calls[index] = _ToolCall(index)
        return call

    def arguments(self, index: int) -> str:
        call = self.tool_calls.get(index)
        return "".join(call.pieces) if call else ""

    def completion(self) -> Any:
        """The response: as the stream's last event gave it, else built from what arrived (a stream
        stopped before its end), as a non-streamed call would have returned it so far."""
        if self.final is not None:
            return self.final
        output: list[Any] = [
            ResponseFunctionToolCall.model_construct(
                type="function_call", call_id=call.id, name=call.name, arguments="".join(call.pieces)
            )
            for _, call in sorted(self.tool_calls.items())
        ]
        parts: list[Any] = []
        if self.text:
            parts.append(
                ResponseOutputText.model_construct(
                    type="output_text", text="".join(self.text), annotations=[]
                )
            )
        if self.refusal:
            parts.append(ResponseOutputRefusal.model_construct(type="refusal", refusal="".join(self.refusal)))
        if parts:
            output.insert(
                0,
                ResponseOutputMessage.model_construct(
                    id="", type="message", role="assistant", content=parts, status="in_progress"
                ),
            )
        started = self.started
        return Response.model_construct(
            id=getattr(started, "id", "") or "",
            object="response",
            model=getattr(started, "model", "") or "",
            created_at=getattr(started, "created_at", 0) or 0,
            status=typing.cast(Any, "in_progress"),
            output=output,
            usage=None,
            parallel_tool_calls=False,
            tool_choice="auto",
            tools=[],
        )
