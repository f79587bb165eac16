"""Accumulating an SDK chat stream into answer deltas and, at the end, one completion.

`StreamAccumulator.add(chunk)` takes each `ChatCompletionChunk` the SDK yields and returns the text that
chunk added to the answer the plan reads (the forced tool's arguments, every tool call's arguments in
parallel mode, or the message content). Pieces are kept in lists and joined once, at the end, into a
`ChatCompletion` built like a non-streamed one, so the same checks, parsing and re-ask messages apply.
Azure's chunks with empty `choices` (the prompt-filter chunk, the usage chunk) are handled here.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Any

from openai.types.chat import ChatCompletion, ChatCompletionMessage, ChatCompletionMessageToolCall
from openai.types.chat.chat_completion import Choice
from openai.types.chat.chat_completion_message_tool_call import Function
from openai.types.completion_usage import CompletionUsage


@dataclass
class _ToolCall:
    index: int
    id: str = ""
    name: str = ""
    pieces: list[str] = field(default_factory=list)


class StreamAccumulator:
    """Collects one streamed choice (index 0): content, tool calls, finish reason, filters, usage."""

    def __init__(self) -> None:
        self.content: list[str] = []
        self.refusal: list[str] = []
        self.tool_calls: dict[int, _ToolCall] = {}
        self.finish_reason: str | None = None
        self.content_filter_results: dict[str, Any] = {}
        self.usage: Any = None
        self.prompt_filter_results: Any = None
        self.id = ""
        self.model = ""
        self.created = 0
        self.system_fingerprint: str | None = None

    def add(self, chunk: Any) -> list[tuple[int, str, str]]:
        """The (tool call index or -1 for content, tool name, text) deltas this chunk carries."""
        if chunk.usage is not None:
            self.usage = chunk.usage
        if not chunk.choices:
            # Azure's first chunk: the prompt's filter results, which a non-streamed completion carries too.
            prompt_filters = (chunk.model_extra or {}).get("prompt_filter_results")
            if prompt_filters is not None:
                self.prompt_filter_results = prompt_filters
            return []
        if not self.id and chunk.id:
            self.id, self.model, self.created = chunk.id, chunk.model, chunk.created
            self.system_fingerprint = chunk.system_fingerprint
        out: list[tuple[int, str, str]] = []
        for choice in chunk.choices:
            if choice.index != 0:
                continue
            if choice.delta is not None:  # None in Azure's asynchronous-filter annotations
                out.extend(self._add_delta(choice.delta))
            if choice.finish_reason is not None:
                self.finish_reason = choice.finish_reason
            filters = (choice.model_extra or {}).get("content_filter_results")
            if isinstance(filters, dict) and filters:
                # Azure annotates chunks as its filter runs; a blocking result must not be overwritten.
                for name, result in filters.items():
                    previous = self.content_filter_results.get(name)
                    if not (isinstance(previous, dict) and previous.get("filtered")):
                        self.content_filter_results[name] = result
        return out

    def _add_delta(self, delta: Any) -> list[tuple[int, str, str]]:
        out: list[tuple[int, str, str]] = []
        if delta.content:
            self.content.append(delta.content)
            out.append((-1, "", delta.content))
        if delta.refusal:
            self.refusal.append(delta.refusal)
        for call in delta.tool_calls or ():
            state = self.tool_calls.get(call.index)
            if state is None:
                state = self.tool_calls[call.index] = _ToolCall(call.index)
            if call.id:
                state.id = call.id
            function = call.function
            if function is not None:
                if function.name:
                    state.name += function.name
                if function.arguments:
                    state.pieces.append(function.arguments)
                    out.append((call.index, state.name, function.arguments))
        return out

    def arguments(self, index: int) -> str:
        state = self.tool_calls.get(index)
        return "".join(state.pieces) if state else ""

    def completion(self) -> ChatCompletion:
        """The stream so far as a `ChatCompletion` (what a non-streamed call would have returned)."""
        calls: list[Any] = [
            ChatCompletionMessageToolCall.model_construct(
                id=state.id,
                type="function",
                function=Function.model_construct(name=state.name, arguments="".join(state.pieces)),
            )
            for _, state in sorted(self.tool_calls.items())
        ]
        message = ChatCompletionMessage.model_construct(
            role="assistant",
            content="".join(self.content) if self.content else None,
            refusal="".join(self.refusal) if self.refusal else None,
            tool_calls=calls or None,
        )
        choice = Choice.model_construct(
            index=0,
            finish_reason=typing.cast(Any, self.finish_reason),
            logprobs=None,
            message=message,
            content_filter_results=self.content_filter_results,
        )
        usage = self.usage
        if usage is not None and not isinstance(usage, CompletionUsage):
            usage = CompletionUsage.model_validate(usage)
        extra = (
            {}
            if self.prompt_filter_results is None
            else {"prompt_filter_results": self.prompt_filter_results}
        )
        return ChatCompletion.model_construct(
            id=self.id,
            choices=[choice],
            created=self.created,
            model=self.model,
            object="chat.completion",
            system_fingerprint=self.system_fingerprint,
            usage=usage,
            **extra,
        )
