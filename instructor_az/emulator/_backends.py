"""Backends: what writes the emulator's answers.

One small interface, `Backend.reply(request) -> Reply | Fault`, chosen per deployment:

- `ScriptedBackend`: answers you queue (`push`) or rules you register (`on`), for tests.
- `SchemaBackend`: a deterministic value valid for the JSON schema the request carries.
- `LocalBackend` (`instructor_az.emulator.local`): a real small model run by llama.cpp.

A backend only decides *what* the model says. The emulator turns a `Reply` into Azure's wire format
(completion or SSE chunks, content-filter annotations, usage), so every backend streams the same way.
A backend that produces text over time (a real model) may also offer `stream(request)`, returning a
`Generation` whose pieces the emulator forwards as SSE chunks as they are produced.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from ._faults import Fault
from ._schema_values import SchemaValueError, value_for_schema


@dataclass(frozen=True)
class ToolCall:
    """A tool call in an answer. `arguments` is the JSON text, or any JSON value (serialized for you)."""

    name: str
    arguments: Any = field(default_factory=dict)
    id: str | None = None

    @property
    def arguments_json(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)


@dataclass(frozen=True)
class Reply:
    """What the model answers: text `content`, `tool_calls`, or a `refusal`.

    `finish_reason` is computed when left None: "tool_calls" for tool calls the model chose, "stop"
    otherwise (Azure, like OpenAI, reports "stop" when `tool_choice` forced a named function).
    """

    content: str | None = None
    tool_calls: Sequence[ToolCall] = ()
    refusal: str | None = None
    finish_reason: str | None = None
    #: Token counts measured by the backend (a real tokenizer); None lets the emulator estimate them.
    #: A backend that reports `completion_tokens` has applied `max_tokens` itself.
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True)
class ChatRequest:
    """A chat (or legacy completions) request as a backend sees it."""

    deployment: str
    model: str
    body: Mapping[str, Any]
    operation: str = "chat"  # "chat" or "completions"

    @property
    def messages(self) -> list[Mapping[str, Any]]:
        if self.operation == "completions":
            prompt = self.body.get("prompt", "")
            text = prompt if isinstance(prompt, str) else "\n".join(str(p) for p in prompt)
            return [{"role": "user", "content": text}]
        return list(self.body.get("messages") or [])

    @property
    def tools(self) -> list[Mapping[str, Any]]:
        return list(self.body.get("tools") or [])

    @property
    def tool_choice(self) -> Any:
        return self.body.get("tool_choice")

    @property
    def response_format(self) -> Mapping[str, Any] | None:
        fmt = self.body.get("response_format")
        return fmt if isinstance(fmt, Mapping) else None

    @property
    def forced_tool(self) -> str | None:
        """The function name `tool_choice` forces, if any."""
        choice = self.tool_choice
        if isinstance(choice, Mapping):
            function = choice.get("function")
            if isinstance(function, Mapping) and isinstance(function.get("name"), str):
                return str(function["name"])
        return None

    def tool_schema(self, name: str) -> Mapping[str, Any] | None:
        for tool in self.tools:
            function = tool.get("function") or {}
            if function.get("name") == name:
                params = function.get("parameters")
                return params if isinstance(params, Mapping) else {"type": "object", "properties": {}}
        return None

    @property
    def answer_tool(self) -> str | None:
        """The tool a structured answer goes to: the forced one, else the first when tools are on offer."""
        if self.forced_tool:
            return self.forced_tool
        if self.tools and self.tool_choice != "none":
            function = self.tools[0].get("function") or {}
            name = function.get("name")
            return name if isinstance(name, str) else None
        return None

    @property
    def response_schema(self) -> Mapping[str, Any] | None:
        """The JSON schema an answer must follow: the answer tool's parameters or `json_schema`."""
        tool = self.answer_tool
        if tool is not None:
            return self.tool_schema(tool)
        fmt = self.response_format
        if fmt and fmt.get("type") == "json_schema":
            spec = fmt.get("json_schema") or {}
            schema = spec.get("schema")
            return schema if isinstance(schema, Mapping) else {"type": "object"}
        if fmt and fmt.get("type") == "json_object":
            return self.prompt_schema or {"type": "object"}
        return None

    @property
    def prompt_schema(self) -> Mapping[str, Any] | None:
        """A JSON schema written into the messages (how JSON mode and fenced-JSON prompts carry it)."""
        for message in self.messages:
            if message.get("role") not in ("system", "developer", "user"):
                continue
            for value in json_objects_in(_text_of(message.get("content"))):
                if "properties" in value or value.get("type") == "object":
                    return value
        return None

    @property
    def wants_fenced_json(self) -> bool:
        """Whether the prompt asks for the answer in a ```json block."""
        return any(
            "```json" in _text_of(m.get("content")) for m in self.messages if m.get("role") != "assistant"
        )

    @property
    def after_tool_result(self) -> bool:
        """Whether the conversation ends with a tool's result (the model's turn to use it)."""
        messages = self.messages
        return bool(messages) and messages[-1].get("role") == "tool"

    @property
    def reask_reason(self) -> str | None:
        """When this request re-asks (an answer, then a message carrying "Validation Error found:"), the
        validation error of that previous answer; None otherwise."""
        reason = None
        answered = False
        for message in self.messages:
            role = message.get("role")
            if role == "assistant":
                answered = True
            elif answered and role in ("tool", "user"):
                text = _text_of(message.get("content"))
                at = text.find(REASK_MARK)
                if at != -1:
                    reason = text[at + len(REASK_MARK) :]
        if reason is None:
            return None
        lines = [line for line in reason.strip().splitlines() if line.strip()]
        while lines and lines[-1].startswith(("Recall the function", "Fix the errors")):
            lines.pop()  # instructor-az's instruction to the model, not part of the error
        return _truncate(" ".join(line.strip() for line in lines), REASK_REASON_CHARS)

    @property
    def last_user_text(self) -> str:
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return _text_of(message.get("content"))
        return ""


#: What a re-ask's message carries before the previous answer's validation error.
REASK_MARK = "Validation Error found:"
REASK_REASON_CHARS = 600


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit].rstrip()}... ({len(text) - limit} more characters)"


_DECODER = json.JSONDecoder()


def json_objects_in(text: str) -> Iterator[dict[str, Any]]:
    """The JSON objects written in a prompt's text, first to last (a prompt nested too deeply for
    Python's JSON reader, or not JSON at all, has none)."""
    start = text.find("{")
    while start != -1:
        try:
            value, _ = _DECODER.raw_decode(text, start)
        except (ValueError, RecursionError):
            value = None
        if isinstance(value, dict):
            yield value
        start = text.find("{", start + 1)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return ""


Answer: TypeAlias = "Reply | Fault | str | Mapping[str, Any] | list[Any] | int | float | bool | Callable[[ChatRequest], Any] | None"


def structured_reply(request: ChatRequest, value: Any) -> Reply:
    """Put a JSON value where this request expects the answer: a tool call, or JSON content."""
    tool = request.answer_tool
    if tool is not None:
        return Reply(tool_calls=[ToolCall(tool, value)])
    return Reply(content=json.dumps(value))


def to_reply(request: ChatRequest, answer: Any) -> Reply | Fault:
    """Normalize any scripted answer to a `Reply` or a `Fault`."""
    if callable(answer) and not isinstance(answer, (Reply, Fault)):
        answer = answer(request)
    if isinstance(answer, (Reply, Fault)):
        return answer
    if isinstance(answer, str):
        return Reply(content=answer)
    if isinstance(answer, ToolCall):
        return Reply(tool_calls=[answer])
    return structured_reply(request, answer)


class Generation(ABC):
    """A reply being generated: its text arrives piece by piece (a real model streaming tokens).

    Iterate it for the pieces (iteration may block while the model works); once exhausted,
    `finish_reason`, `prompt_tokens` and `completion_tokens` are final. `tool` names the function the
    text is the arguments of (None: the text is the message content). `close()` stops generation
    early (the client went away) and must be safe to call at any time, more than once.
    """

    tool: str | None = None
    finish_reason: str = "stop"
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    @abstractmethod
    def __iter__(self) -> Iterator[str]: ...

    @abstractmethod
    def close(self) -> None: ...


class Backend(ABC):
    """Writes answers for one or more deployments."""

    #: True when `reply` blocks for long (a real model): the emulator then runs it in a worker thread.
    blocking: bool = False

    @abstractmethod
    def reply(self, request: ChatRequest) -> Reply | Fault:
        """The answer to `request`, or a `Fault` to fail it with."""

    def stream(self, request: ChatRequest) -> Generation | None:
        """A `Generation` streaming the answer as it is produced, or None to have `reply` chunked.

        Only called for streamed chat requests with one choice and no fault shaping the answer.
        """
        return None


class ScriptExhaustedError(LookupError):
    """The scripted backend was asked for an answer it had not been given.

    When the request was a re-ask, `reask_reason` is the validation error of the previous answer
    (truncated), and the message says so: the queue ran dry because an answer was rejected.
    """

    def __init__(self, message: str, *, reask_reason: str | None = None) -> None:
        if reask_reason is not None:
            message = (
                f"{message}. This request is a re-ask: the previous answer failed validation with: "
                f"{reask_reason} (queue a corrected answer after it, or fix the one you queued)"
            )
        super().__init__(message)
        self.reask_reason = reask_reason


Predicate = Callable[[ChatRequest], bool]


class ScriptedBackend(Backend):
    """Answers queued with `push` (first in, first out) or produced by rules registered with `on`.

    An answer is a `Reply`, a `Fault`, a `ToolCall`, a string (text content), any other JSON value
    (placed where the request expects structured output: the forced or first tool, else JSON content),
    or a callable taking the `ChatRequest` and returning one of these. Queued answers are used before
    rules. With neither, the request fails with a 400 telling you to queue an answer, unless a
    `fallback` backend is set.
    """

    def __init__(self, fallback: Backend | None = None) -> None:
        self.fallback = fallback
        self._queue: deque[tuple[str | None, Any]] = deque()
        self._rules: list[tuple[Predicate, Any]] = []
        self._lock = threading.Lock()

    def push(self, *answers: Any, deployment: str | None = None) -> ScriptedBackend:
        """Queue answers, in order; `deployment` restricts them to requests for that deployment."""
        with self._lock:
            self._queue.extend((deployment, answer) for answer in answers)
        return self

    def on(self, predicate: Predicate, answer: Any) -> ScriptedBackend:
        """Answer every request matching `predicate` with `answer` (when nothing is queued for it)."""
        with self._lock:
            self._rules.append((predicate, answer))
        return self

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self._rules.clear()

    @property
    def pending(self) -> int:
        """How many queued answers have not been used yet."""
        return len(self._queue)

    def reply(self, request: ChatRequest) -> Reply | Fault:
        answer = self._next(request)
        if answer is _NOTHING:
            if self.fallback is not None:
                return self.fallback.reply(request)
            raise ScriptExhaustedError(
                f"the scripted backend has no answer for deployment {request.deployment!r}: queue one with "
                "emulator.scripted.push(...) (or POST /_emulator/scripted) or register a rule with "
                "emulator.scripted.on(...)",
                reask_reason=request.reask_reason,
            )
        return to_reply(request, answer)

    def _next(self, request: ChatRequest) -> Any:
        with self._lock:
            for i, (deployment, answer) in enumerate(self._queue):
                if deployment in (None, request.deployment):
                    del self._queue[i]
                    return answer
            rules = list(self._rules)
        for predicate, answer in rules:
            if predicate(request):
                return answer
        return _NOTHING


_NOTHING = object()


class SchemaBackend(Backend):
    """A deterministic answer valid for the request's schema; plain requests get a fixed sentence.

    Not a model: values come from the schema's constraints, with numbers and capitalized words lifted
    from the last user message where they fit (so "John is 30 years old" gives name "John", age 30).

    - Tools on offer: the answer calls the forced tool (`tool_choice` naming a function), else the
      first tool. Once the conversation ends with a tool's result, the model's turn is to use it: the
      answer is text (or the `response_format`'s JSON), unless `tool_choice` forces a function or is
      `"required"`, or the tool result is a re-ask ("Validation Error found: ..."), which gets a new call.
    - JSON mode (`response_format: json_object`): the schema written in the prompt; without one, an
      example object in the prompt (its keys, values of the same types), or the keys the prompt names
      ("return JSON with keys name and age"; numbers for keys such as age, count, year, price, strings
      otherwise). With none of these the request fails with a 400 asking for a schema in the prompt.
    """

    def reply(self, request: ChatRequest) -> Reply | Fault:
        if request.tools and request.after_tool_result and not _keeps_calling(request):
            request = dataclasses.replace(
                request, body={k: v for k, v in request.body.items() if k not in ("tools", "tool_choice")}
            )
            if request.response_schema is None and not request.wants_fenced_json:
                result = _text_of(request.messages[-1].get("content")).strip()
                return Reply(
                    content="This is the Azure OpenAI emulator's schema backend answering with the tool's "
                    f"result: {_truncate(result, 60)}"
                )
        schema = request.response_schema
        fenced = False
        fmt = request.response_format
        if request.answer_tool is None and fmt and fmt.get("type") == "json_object":
            schema = request.prompt_schema or _prompt_keys_schema(request)
        if schema is None and request.wants_fenced_json:
            schema, fenced = request.prompt_schema, True
        if schema is None:
            text = request.last_user_text.strip()
            snippet = (text[:60] + "...") if len(text) > 60 else text
            return Reply(content=f"This is the Azure OpenAI emulator's schema backend answering: {snippet}")
        try:
            value = value_for_schema(schema, text=request.last_user_text)
        except SchemaValueError as exc:
            raise BackendError(f"the schema backend cannot produce a value for this schema: {exc}") from None
        if fenced:
            return Reply(content=f"```json\n{json.dumps(value, indent=2)}\n```")
        return structured_reply(request, value)


def _keeps_calling(request: ChatRequest) -> bool:
    """After a tool result: whether the answer is still a tool call (forced, required, or a re-ask)."""
    if request.forced_tool is not None or request.tool_choice == "required":
        return True
    return REASK_MARK in _text_of(request.messages[-1].get("content"))


_KEYS_PHRASE = re.compile(r"\b(?:keys|fields|properties)\b(?:\s+(?:named|called))?\s*:?\s*([^.\n;]+)", re.I)
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_INTEGER_KEYS = re.compile(r"(?:^|_)(?:age|count|year|years|quantity|number|num|n|qty|id|index|rank)$", re.I)
_NUMBER_KEYS = re.compile(r"(?:^|_)(?:price|total|amount|score|cost|rate|weight|height|value)$", re.I)
_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}


def _prompt_keys_schema(request: ChatRequest) -> Mapping[str, Any]:
    """JSON mode without a schema: the keys of an example object in the prompt, or the keys it names."""
    texts = [
        _text_of(m.get("content"))
        for m in request.messages
        if m.get("role") in ("system", "developer", "user")
    ]
    for text in reversed(texts):
        for value in json_objects_in(text):
            if value:
                return _object_schema(
                    {k: {"type": _JSON_TYPES.get(type(v), "string")} for k, v in value.items()}
                )
    for text in reversed(texts):
        for match in _KEYS_PHRASE.finditer(text):
            keys: list[str] = []
            for word in re.split(r",|\band\b|\bor\b|/", match.group(1)):
                key = word.strip().strip("`'\"").strip()
                if not _KEY.match(key):
                    break
                keys.append(key)
            if keys:
                return _object_schema({k: {"type": _key_type(k)} for k in keys})
    raise BackendError(
        "Emulator: the schema backend cannot tell what JSON to return: the request uses JSON mode "
        '(response_format {"type": "json_object"}) but its messages carry no JSON schema. Put the schema '
        "in the prompt (e.g. json.dumps(Model.model_json_schema())), an example object, or name the keys "
        '("return JSON with keys name and age"); or use a scripted backend.',
        code="EmulatorNeedsSchema",
        param="response_format",
    )


def _key_type(key: str) -> str:
    if _INTEGER_KEYS.search(key):
        return "integer"
    if _NUMBER_KEYS.search(key):
        return "number"
    return "string"


def _object_schema(properties: Mapping[str, Any]) -> Mapping[str, Any]:
    return {"type": "object", "properties": dict(properties), "required": list(properties)}


class BackendError(RuntimeError):
    """A backend could not answer; the emulator reports it as a 400 naming the reason.

    With `code` (an Azure error code such as `context_length_exceeded`), the 400 carries that code
    and the message as Azure words it; otherwise the code is `EmulatorBackendError`.
    """

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.param = param
