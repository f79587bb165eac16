"""One streamed attempt, sans-IO: SDK chunks in, partial objects or complete items out.

`StreamConsumer.feed(chunk)` returns what to yield for that chunk; `completion()` is the stream as a
`ChatCompletion` for the final checks and parse. The sync and async drivers in `_run.py` only move
chunks from the SDK to here and objects from here to the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter

from .._answer_json import answer_parser
from .._errors import AnswerJSONError, ConfigurationError, ResponseParseError
from .._mode import Mode
from .._plan import Plan
from .._targets import ListTarget, ModelTarget
from ._accumulate import StreamAccumulator
from ._assemble import ItemsBuilder, PartialBuilder
from ._json import JsonParseError
from ._partial_class import finished
from ._responses_events import ResponsesAccumulator

StreamKind = Literal["partial", "iterable"]
_OPENERS = ("{", "[")


def check_streamable(plan: Plan, kind: StreamKind) -> None:
    """A clear error, before any request, for a response model that cannot stream this way."""
    if kind == "partial":
        if not isinstance(plan.target, ModelTarget):
            raise ConfigurationError(
                f"streaming partial objects needs a pydantic model as response_model (got {plan.target.display_name}); "
                "for a list of objects use create_iterable / Iterable[Model]"
            )
        if plan.mode is Mode.PARALLEL_TOOLS:
            raise ConfigurationError("Mode.PARALLEL_TOOLS streams complete objects: use create_iterable")
    elif not isinstance(plan.target, ListTarget):
        raise ConfigurationError(f"create_iterable needs Iterable[Model] (got {plan.target.display_name})")


class _Source:
    """One JSON document arriving in pieces (a tool call's arguments, or the message content).

    Content may carry text before the JSON: JSON modes start at the first `{` or `[`; the fenced
    mode (`fenced=True`) starts after a ``` fence line, or at once when the answer opens with JSON,
    so brackets in prose before the fence are not taken for the answer.
    """

    def __init__(self, *, content: bool, fenced: bool = False) -> None:
        self.parser = answer_parser(trailing_text=content)
        self.fenced = fenced
        self.started = not content
        self._preamble = ""

    def _start(self, text: str) -> str | None:
        """The part of `text` where the JSON begins, or None while it has not begun."""
        seen = self._preamble + text
        if self.fenced:
            stripped = seen.lstrip()
            if stripped[:1] in ("{", "["):
                return stripped
            fence = seen.find("```")
            newline = seen.find("\n", fence) if fence != -1 else -1
            if newline == -1:
                self._preamble = seen[-4096:]  # keep a bounded tail while waiting for the fence
                return None
            return seen[newline + 1 :]
        cut = min((i for i in (seen.find(c) for c in _OPENERS) if i != -1), default=-1)
        return seen[cut:] if cut != -1 else None

    def feed(self, text: str) -> list[Any]:
        if self.parser.done:
            return []  # a closing fence or trailing text after the JSON
        if not self.started:
            begun = self._start(text)
            if begun is None:
                return []
            self.started, self._preamble, text = True, "", begun
        try:
            return self.parser.feed(text)
        except JsonParseError as exc:
            raise AnswerJSONError(f"the streamed answer is not valid JSON: {exc}", pos=exc.offset) from None


class StreamConsumer:
    def __init__(self, plan: Plan, kind: StreamKind, context: Mapping[str, Any] | None) -> None:
        self.plan = plan
        self.kind = kind
        self.context = context
        # Chat chunks or Responses events: the same deltas, the same completion at the end.
        self.acc: StreamAccumulator | ResponsesAccumulator = (
            ResponsesAccumulator() if plan.api == "responses" else StreamAccumulator()
        )
        self._sources: dict[int, _Source] = {}
        self._partial: PartialBuilder | None = None
        self._items: dict[int, ItemsBuilder] = {}
        self._item_adapter: TypeAdapter[Any] | None = None
        # Read once: what each delta is checked against.
        self._tools = plan.mode.is_tools
        self._parallel = plan.mode is Mode.PARALLEL_TOOLS
        self._one_call = self._tools and not self._parallel
        self._name = plan.name if self._one_call else ""
        self._calls_seen, self._first = 0, -1
        if kind == "iterable" and plan.mode is not Mode.PARALLEL_TOOLS:
            assert isinstance(plan.target, ListTarget)
            self._item_adapter = TypeAdapter(plan.target.item)

    def _source(self, index: int) -> _Source:
        source = self._sources.get(index)
        if source is None:
            source = self._sources[index] = _Source(
                content=index == -1, fenced=self.plan.mode is Mode.MD_JSON
            )
        return source

    def feed(self, chunk: Any) -> list[Any]:
        out: list[Any] = []
        for index, name, text in self.acc.add(chunk):
            if self._tools:
                if index == -1:
                    continue  # text beside tool calls; the final parse falls back to it if no call came
                if self._one_call:
                    if index != self._first_call():
                        continue
                    if name != self._name:  # the name arrives with the call's first delta
                        raise ResponseParseError(
                            f"the model called `{name}`, not the function `{self._name}` it was asked to call"
                        )
            elif index != -1:
                continue
            source = self._source(index)
            events = source.feed(text)
            if not events:
                continue
            if self._parallel:
                if source.parser.done:
                    out.append(self._parallel_item(name, source))
            elif self.kind == "partial":
                builder = self._partial_builder(source)
                if builder.feed(events) and builder.root is not None:
                    out.append(builder.root)
            else:
                out.extend(self._items_builder(index, source).feed(events))
        return out

    def _first_call(self) -> int:
        """The lowest index of the tool calls seen so far: the one a single-call mode reads."""
        calls = self.acc.tool_calls
        if len(calls) != self._calls_seen:
            self._calls_seen, self._first = len(calls), min(calls)
        return self._first

    def _partial_builder(self, source: _Source) -> PartialBuilder:
        if self._partial is None:
            target = self.plan.target
            assert isinstance(target, ModelTarget)
            self._partial = PartialBuilder(target.model, source.parser, self.context)
        return self._partial

    def _items_builder(self, index: int, source: _Source) -> ItemsBuilder:
        builder = self._items.get(index)
        if builder is None:
            adapter = self._item_adapter
            assert adapter is not None
            context = dict(self.context) if self.context is not None else None
            plan = self.plan

            def validate(value: Any) -> Any:
                # As the whole answer would be judged: strict-mode nulls dropped first.
                return adapter.validate_python(plan.drop_added_nulls(value, "$.tasks[*]"), context=context)

            builder = ItemsBuilder(source.parser, ("tasks",), validate)
            self._items[index] = builder
        return builder

    def _parallel_item(self, name: str, source: _Source) -> Any:
        target = self.plan.tools.get(name)
        if target is None:
            raise ResponseParseError(
                f"the model called `{name}`, which is not one of {', '.join(self.plan.tools)}"
            )
        return target.validate_object(source.parser.value(), self.context)

    def completion(self) -> Any:
        return self.acc.completion()

    @property
    def yielded_final_items(self) -> bool:
        return self.kind == "iterable"


def final_value(kind: StreamKind, value: Any) -> list[Any]:
    """What to yield after the final parse: the complete object for partial streams, nothing more for items."""
    if kind == "partial" and isinstance(value, BaseModel):
        return [finished(value)]  # the validated value, with a partial's accessors (every field complete)
    return []
