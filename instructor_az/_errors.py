"""Every error instructor-az raises, in one place.

```
InstructorError
├── ConfigurationError          bad arguments, found before any request (also a ValueError)
│   └── SchemaError             a response model that cannot be sent (strict rules, Azure's limits)
├── ResponseParseError          one answer that is not valid for the response model (re-asked)
├── InstructorRetryException    every attempt failed validation; carries each attempt
└── AzureResponseError          Azure answered, but not with an answer to use (never re-asked)
    ├── ContentFilterError      the prompt or the completion was filtered (.source, .categories)
    │   └── PromptFilterError   the prompt filter's HTTP 400: also the SDK's `openai.BadRequestError`
    ├── IncompleteOutputException   finish_reason "length": the answer was cut off
    └── RefusalError            the model refused (structured outputs' `refusal`)
```

Transport and HTTP errors are the openai SDK's own (`openai.RateLimitError`, `AuthenticationError`,
`APIConnectionError`, `APIStatusError`, ...) and surface unchanged: the SDK retries them, not us.
No message, repr or attribute here holds an API key or a bearer token: errors carry completions and
response bodies, and the SDK errors we raise (or build on, like `PromptFilterError`) have the
credential headers of their HTTP request replaced by `<redacted>` first (see `_redact`).
Bad arguments (a data dict as `response_model`, malformed `messages`, a tenacity policy with a None
strategy, a non-mapping `context`, a non-callable hook handler) are `ConfigurationError`s raised before
any request (see `_inputs`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from openai import APIStatusError, BadRequestError


class InstructorError(Exception):
    """Base class of every error instructor-az raises."""


class ConfigurationError(InstructorError, ValueError):
    """The call cannot be made as asked (unknown mode, a mode the response model cannot use, ...)."""


class SchemaError(ConfigurationError):
    """The response model's schema cannot be sent as is; `path` is the JSON path of the problem."""

    def __init__(self, message: str, *, path: str = "$") -> None:
        super().__init__(f"{message} (at {path})")
        self.path = path


@dataclass(frozen=True)
class Usage:
    """Token usage, summed over attempts.

    Azure reports usage per request, but not always: a stream stopped early (its answer already
    failed validation, so it is re-asked without reading the rest) never gets to the usage chunk, and
    a stream without `stream_options={"include_usage": True}` has none. Such a request's tokens are
    estimated (about 4 characters a token, prompt and answer) rather than counted as 0, and
    `estimated_requests` says how many requests the figures estimate; `estimated` is True if any.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    estimated_requests: int = 0

    @property
    def estimated(self) -> bool:
        """Whether some of the figures are estimates (see `estimated_requests`)."""
        return self.estimated_requests > 0

    def __str__(self) -> str:
        shown = f"{self.total_tokens} tokens ({self.prompt_tokens} prompt, {self.completion_tokens} completion)"
        return shown + _estimate_note(self)

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
            self.estimated_requests + other.estimated_requests,
        )

    @classmethod
    def of(cls, completion: Any) -> Usage:
        """What the completion reports (zero when it reports nothing; see `reported`)."""
        usage = getattr(completion, "usage", None)
        if usage is None:
            return cls()
        return cls(
            int(getattr(usage, "prompt_tokens", 0) or 0),
            int(getattr(usage, "completion_tokens", 0) or 0),
            int(getattr(usage, "total_tokens", 0) or 0),
        )

    @classmethod
    def reported(cls, completion: Any, request: Mapping[str, Any]) -> Usage:
        """What Azure reported for `completion`, or an estimate from `request` and the answer text."""
        if getattr(completion, "usage", None) is not None:
            return cls.of(completion)
        prompt = _estimate_tokens(request.get("messages"), request.get("tools"), request.get("response_format"))
        answer: list[Any] = []
        for choice in getattr(completion, "choices", None) or ():
            message = getattr(choice, "message", None)
            answer.append(getattr(message, "content", None) or "")
            for call in getattr(message, "tool_calls", None) or ():
                function = getattr(call, "function", None)
                answer.append(getattr(function, "name", "") or "")
                answer.append(getattr(function, "arguments", "") or "")
        text = "".join(str(a) for a in answer)
        completion_tokens = (len(text) + 3) // 4
        return cls(prompt, completion_tokens, prompt + completion_tokens, 1)


def _estimate_note(usage: Usage) -> str:
    if not usage.estimated_requests:
        return ""
    plural = "s" if usage.estimated_requests != 1 else ""
    return f", estimated for {usage.estimated_requests} request{plural} Azure did not report"


def _estimate_tokens(*parts: Any) -> int:
    text = "".join(json.dumps(p, default=str) for p in parts if p is not None)
    return (len(text) + 3) // 4


class ResponseParseError(InstructorError):
    """An answer that does not validate: not JSON, no tool call, or pydantic / jsonschema errors.

    `errors` lists each problem as `{"loc": ..., "msg": ..., "type": ...}`; `text` is the answer.
    """

    def __init__(
        self, message: str, *, text: str | None = None, errors: Sequence[Mapping[str, Any]] = ()
    ) -> None:
        super().__init__(message)
        self.text = text
        self.errors = list(errors)


@dataclass
class Attempt:
    """One request and what came of it."""

    number: int
    completion: Any
    exception: BaseException | None
    usage: Usage = field(default_factory=Usage)


class InstructorRetryException(InstructorError):
    """Every attempt's answer failed validation.

    `attempts` holds each attempt's completion and exception, `total_usage` the tokens spent on all of
    them, `messages` the conversation as last sent followed by the last answer and its errors (what a
    next attempt would send), `last_completion` the last one.
    """

    def __init__(
        self,
        *,
        response_model_name: str,
        attempts: Sequence[Attempt],
        total_usage: Usage,
        messages: Sequence[Any],
    ) -> None:
        self.attempts = list(attempts)
        self.total_usage = total_usage
        self.messages = list(messages)
        self.n_attempts = len(self.attempts)
        self.last_completion = self.attempts[-1].completion if self.attempts else None
        lines = [
            f"{self.n_attempts} attempt{'s' if self.n_attempts != 1 else ''} to get a valid {response_model_name} "
            f"failed ({total_usage.total_tokens} tokens used{_estimate_note(total_usage)}):"
        ]
        for attempt in self.attempts:
            lines.append(f"  attempt {attempt.number}: {_brief(attempt.exception)}")
        super().__init__("\n".join(lines))

    # instructor's names, for code written against it
    @property
    def total_usage_tokens(self) -> int:
        return self.total_usage.total_tokens

    @property
    def last_exception(self) -> BaseException | None:
        return self.attempts[-1].exception if self.attempts else None


def _brief(exc: BaseException | None, limit: int = 300) -> str:
    if exc is None:
        return "no error"
    errors = getattr(exc, "errors", None)
    if callable(errors):  # pydantic's ValidationError.errors()
        try:
            errors = errors(include_url=False)
        except TypeError:
            errors = None
    if isinstance(errors, list) and errors:
        parts = []
        for error in errors[:5]:
            loc = ".".join(str(p) for p in error.get("loc", ())) or "(root)"
            parts.append(f"{loc}: {error.get('msg', '')}")
        more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
        text = "; ".join(parts) + more
    else:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class AzureResponseError(InstructorError):
    """Azure answered without a usable answer. Never re-asked: asking again would not help."""

    def __init__(self, message: str, *, completion: Any = None, usage: Usage | None = None) -> None:
        # Not super(): PromptFilterError also derives from the SDK's error, whose __init__ differs.
        Exception.__init__(self, message)
        self.completion = completion
        self.usage = usage or Usage.of(completion)


@dataclass(frozen=True)
class CategoryResult:
    """One content-filter category: whether it filtered, and its severity or detection."""

    filtered: bool
    severity: str | None = None
    detected: bool | None = None

    @classmethod
    def parse(cls, raw: Any) -> CategoryResult:
        if not isinstance(raw, Mapping):
            return cls(filtered=False)
        return cls(
            filtered=bool(raw.get("filtered", False)),
            severity=raw.get("severity") if isinstance(raw.get("severity"), str) else None,
            detected=raw.get("detected") if isinstance(raw.get("detected"), bool) else None,
        )

    def describe(self) -> str:
        if self.severity is not None:
            return f"severity {self.severity}"
        if self.detected is not None:
            return "detected" if self.detected else "not detected"
        return "filtered" if self.filtered else "not filtered"


class ContentFilterError(AzureResponseError):
    """Azure's content filter blocked the prompt (`source == "prompt"`) or the completion.

    `categories` maps each category Azure reported (hate, sexual, violence, self_harm, jailbreak,
    protected_material_text, protected_material_code, ...) to its `CategoryResult`; `filtered_categories`
    names the ones that blocked; `partial_text` is what a filtered completion said before it stopped.
    """

    def __init__(
        self,
        *,
        source: str,
        categories: Mapping[str, CategoryResult],
        completion: Any = None,
        usage: Usage | None = None,
        partial_text: str | None = None,
    ) -> None:
        self.source = source
        self.categories = dict(categories)
        self.partial_text = partial_text
        blocked = self.filtered_categories
        named = (
            ", ".join(f"{name} ({self.categories[name].describe()})" for name in blocked)
            or "no category named"
        )
        what = "prompt" if source == "prompt" else "completion"
        advice = (
            "Change the input, or ask your Azure administrator about the deployment's content filter policy."
            if source == "prompt"
            else "The answer was withheld; asking again would be filtered again. Change the input or the "
            "deployment's content filter policy."
        )
        super().__init__(
            f"Azure's content filter blocked the {what}: {named}. {advice}",
            completion=completion,
            usage=usage,
        )

    @property
    def filtered_categories(self) -> list[str]:
        return [name for name, result in self.categories.items() if result.filtered]


class PromptFilterError(ContentFilterError, BadRequestError):
    """Azure's prompt filter (HTTP 400, `code: content_filter`).

    Both a `ContentFilterError` (`source == "prompt"`, `.categories`) and the SDK's own
    `openai.BadRequestError` (`.status_code`, `.body`, `.response`, `.request_id`), so code written
    for either keeps working.
    """

    def __init__(self, sdk_error: BadRequestError, categories: Mapping[str, CategoryResult]) -> None:
        ContentFilterError.__init__(self, source="prompt", categories=categories)
        text = str(self.args[0])
        APIStatusError.__init__(self, text, response=sdk_error.response, body=sdk_error.body)


class IncompleteOutputException(AzureResponseError):
    """The answer stopped at the token limit (`finish_reason: "length"`); `partial_text` is what came."""

    def __init__(
        self,
        *,
        partial_text: str,
        completion: Any = None,
        usage: Usage | None = None,
        answer_usage: Usage | None = None,
    ) -> None:
        self.partial_text = partial_text
        # The cut-off answer's own tokens: Azure's count, or an estimate when a stream reported none.
        answer = answer_usage if answer_usage is not None else Usage.of(completion)
        used = f"{answer.completion_tokens} completion tokens" + (", estimated" if answer.estimated else "")
        super().__init__(
            f"The answer was cut off at the token limit ({used}) before the JSON was complete. "
            "Raise max_tokens (or max_completion_tokens), or ask for less.",
            completion=completion,
            usage=usage,
        )


class RefusalError(AzureResponseError):
    """The model refused to answer (structured outputs report a `refusal` instead of content)."""

    def __init__(self, refusal: str, *, completion: Any = None, usage: Usage | None = None) -> None:
        self.refusal = refusal
        super().__init__(f"The model refused to answer: {refusal}", completion=completion, usage=usage)
