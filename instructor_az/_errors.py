"""Every error instructor-az raises, in one place.

```
InstructorError                 (`failed_attempts`: instructor's `FailedAttempt`s, when known)
├── ConfigurationError          bad arguments, found before any request (also a ValueError)
│   ├── SchemaError             a response model that cannot be sent (strict rules, Azure's limits)
│   └── ModeError               a mode this client cannot use (another provider's, a retired one)
├── ValidationError             an answer failed validation (instructor's name)
│   └── ResponseParseError      one answer that is not valid for the response model (re-asked)
├── ResponseParsingError        an answer that cannot be parsed (also a ValueError)
│   └── ResponseParseError
├── InstructorRetryException    every attempt failed validation; carries each attempt
├── ProviderError               the provider's error (`.provider`)
│   └── AzureResponseError      Azure answered, but not with an answer to use (never re-asked)
│       ├── ContentFilterError      the prompt or the completion was filtered (.source, .categories)
│       │   └── PromptFilterError   the prompt filter's HTTP 400: also the SDK's `openai.BadRequestError`
│       ├── IncompleteOutputException   finish_reason "length": the answer was cut off
│       └── RefusalError            the model refused (structured outputs' `refusal`)
├── ClientError, MultimodalError, AsyncValidationError   (instructor's names; the last two ValueErrors)
```

Every name instructor 1.x raises or exports exists here with its constructor and fields, so an
`except` written for instructor catches ours, and instructor-style code can raise them
(`InstructorRetryException(n_attempts=3, total_usage=100)`); see docs/errors.md.

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
from typing import Any, NamedTuple

from openai import APIStatusError, BadRequestError
from typing_extensions import Self


class FailedAttempt(NamedTuple):
    """One failed attempt, as instructor reports it: its number (from 1), its exception, its completion."""

    attempt_number: int
    exception: BaseException
    completion: Any | None = None


class InstructorError(Exception):
    """Base class of every error instructor-az raises.

    `failed_attempts` lists the attempts that failed before it (`FailedAttempt`s), or is None; when
    set, `str()` shows each attempt's exception and completion before the message, in tags
    (`<failed_attempts>`, `<last_exception>`), as instructor does.
    """

    failed_attempts: list[FailedAttempt] | None = None

    def __init__(self, *args: Any, failed_attempts: list[FailedAttempt] | None = None) -> None:
        super().__init__(*args)
        self.failed_attempts = failed_attempts

    @classmethod
    def from_exception(cls, exception: BaseException, failed_attempts: list[FailedAttempt] | None = None) -> Self:
        """This error class, with another exception's message (and optionally the failed attempts)."""
        return cls(str(exception), failed_attempts=failed_attempts)

    def __str__(self) -> str:
        message = super().__str__()
        if not self.failed_attempts:
            return message
        return _with_attempts(message, self.failed_attempts)


def _with_attempts(message: str, attempts: Sequence[FailedAttempt]) -> str:
    lines = ["<failed_attempts>"]
    for attempt in attempts:
        lines += [
            f'<generation number="{attempt.attempt_number}">',
            "<exception>",
            f"    {attempt.exception}",
            "</exception>",
            "<completion>",
            f"    {attempt.completion}",
            "</completion>",
            "</generation>",
        ]
    lines += ["</failed_attempts>", "", "<last_exception>", f"    {message}", "</last_exception>"]
    return "\n".join(lines)


class ConfigurationError(InstructorError, ValueError):
    """The call cannot be made as asked (unknown mode, a mode the response model cannot use, ...)."""


class ModeError(ConfigurationError):
    """A mode this client cannot use: `mode`, the `provider` it was asked of, and its `valid_modes`.

    instructor's constructor, `ModeError(mode, provider, valid_modes)`; `hint` says what to do.
    """

    def __init__(
        self,
        mode: Any,
        provider: str,
        valid_modes: Sequence[str],
        *args: Any,
        hint: str = "",
        failed_attempts: list[FailedAttempt] | None = None,
    ) -> None:
        self.mode = mode
        self.provider = provider
        self.valid_modes = list(valid_modes)
        message = f"Invalid mode '{mode}' for provider '{provider}'. Valid modes: {', '.join(self.valid_modes)}"
        super().__init__(message + (f". {hint}" if hint else ""), *args, failed_attempts=failed_attempts)


class ClientError(InstructorError):
    """The client given cannot be used (not an openai client, not initialised, ...)."""


class ValidationError(InstructorError):
    """An answer failed validation (instructor's name; not pydantic's `ValidationError`)."""


class ResponseParsingError(InstructorError, ValueError):
    """The answer could not be parsed; `mode` is the mode in use, `raw_response` the answer."""

    def __init__(
        self,
        message: str,
        *args: Any,
        mode: str | None = None,
        raw_response: Any = None,
        failed_attempts: list[FailedAttempt] | None = None,
    ) -> None:
        self.mode = mode
        self.raw_response = raw_response
        shown = f"{message} (mode: {mode})" if mode else message
        super().__init__(shown, *args, failed_attempts=failed_attempts)


class MultimodalError(InstructorError, ValueError):
    """An image, audio or file part that cannot be used; `content_type`, `file_path` when known."""

    def __init__(
        self,
        message: str,
        *args: Any,
        content_type: str | None = None,
        file_path: str | None = None,
        failed_attempts: list[FailedAttempt] | None = None,
    ) -> None:
        self.content_type = content_type
        self.file_path = file_path
        where = [f"content_type: {content_type}"] if content_type else []
        where += [f"file: {file_path}"] if file_path else []
        shown = f"{message} ({', '.join(where)})" if where else message
        super().__init__(shown, *args, failed_attempts=failed_attempts)


class AsyncValidationError(InstructorError, ValueError):
    """Async validation failed; `errors` holds each validator's `ValueError`."""

    def __init__(
        self,
        message: str,
        *args: Any,
        errors: Sequence[ValueError] | None = None,
        failed_attempts: list[FailedAttempt] | None = None,
    ) -> None:
        self.errors = list(errors) if errors is not None else []
        super().__init__(message, *args, failed_attempts=failed_attempts)


class ProviderError(InstructorError):
    """An error of the provider (`provider`: "openai", "azure_openai", ...); the message names it."""

    provider: str = "azure_openai"

    def __init__(
        self, provider: str, message: str, *args: Any, failed_attempts: list[FailedAttempt] | None = None
    ) -> None:
        self.provider = provider
        super().__init__(f"{provider}: {message}", *args, failed_attempts=failed_attempts)


class SchemaError(ConfigurationError):
    """The response model's schema cannot be sent as is; `path` is the JSON path of the problem."""

    def __init__(
        self, message: str, *, path: str = "$", failed_attempts: list[FailedAttempt] | None = None
    ) -> None:
        super().__init__(f"{message} (at {path})", failed_attempts=failed_attempts)
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
        return cls(  # chat's names, else the Responses API's
            int(getattr(usage, "prompt_tokens", None) or getattr(usage, "input_tokens", 0) or 0),
            int(getattr(usage, "completion_tokens", None) or getattr(usage, "output_tokens", 0) or 0),
            int(getattr(usage, "total_tokens", 0) or 0),
        )

    @classmethod
    def reported(cls, completion: Any, request: Mapping[str, Any]) -> Usage:
        """What Azure reported for `completion`, or an estimate from `request` and the answer text."""
        if getattr(completion, "usage", None) is not None:
            return cls.of(completion)
        prompt = _estimate_tokens(
            request.get("messages", request.get("input")),
            request.get("tools"),
            request.get("response_format", request.get("text")),
        )
        answer: list[Any] = []
        for item in _listed(getattr(completion, "output", None)):  # a Responses API answer
            for part in _listed(getattr(item, "content", None)):
                answer.append(getattr(part, "text", "") or "")
            answer.append(getattr(item, "arguments", "") or "")
        for choice in _listed(getattr(completion, "choices", None)):
            message = getattr(choice, "message", None)
            answer.append(getattr(message, "content", None) or "")
            for call in _listed(getattr(message, "tool_calls", None)):
                function = getattr(call, "function", None)
                answer.append(getattr(function, "name", "") or "")
                answer.append(getattr(function, "arguments", "") or "")
        text = "".join(str(a) for a in answer)
        completion_tokens = (len(text) + 3) // 4
        return cls(prompt, completion_tokens, prompt + completion_tokens, 1)


def _listed(value: Any) -> Sequence[Any]:
    # a completion built by hand (a test double) may hold anything: only a list is read as one
    return value if isinstance(value, (list, tuple)) else ()


def _estimate_note(usage: Usage) -> str:
    if not usage.estimated_requests:
        return ""
    plural = "s" if usage.estimated_requests != 1 else ""
    return f", estimated for {usage.estimated_requests} request{plural} Azure did not report"


def _estimate_tokens(*parts: Any) -> int:
    text = "".join(json.dumps(p, default=str) for p in parts if p is not None)
    return (len(text) + 3) // 4


class ResponseParseError(ResponseParsingError, ValidationError):
    """An answer that does not validate: not JSON, no tool call, or pydantic / jsonschema errors.

    `errors` lists each problem as `{"loc": ..., "msg": ..., "type": ...}`; `text` is the answer
    (also `raw_response`). Both of instructor's `ResponseParsingError` and `ValidationError`.
    """

    def __init__(
        self,
        message: str,
        *,
        text: str | None = None,
        errors: Sequence[Mapping[str, Any]] = (),
        failed_attempts: list[FailedAttempt] | None = None,
    ) -> None:
        super().__init__(message, raw_response=text, failed_attempts=failed_attempts)
        self.text = text
        self.errors = list(errors)


class AnswerJSONError(ResponseParseError, json.JSONDecodeError):
    """An answer that is not JSON by the answer rules (`docs/answers.md`): also a `json.JSONDecodeError`
    (so an `except json.JSONDecodeError` written for instructor catches it); `pos` is where it broke."""

    def __init__(self, message: str, *, text: str | None = None, pos: int = 0) -> None:
        doc = text or ""
        # JSONDecodeError's own fields (msg, doc, pos, lineno, colno); then ResponseParseError's, set
        # here because the two constructors do not chain.
        json.JSONDecodeError.__init__(self, message, doc, max(0, min(pos, len(doc))))
        self.args = (message,)
        self.mode, self.raw_response, self.failed_attempts = None, text, None
        self.text, self.errors = text, []

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_answer_json_error, (self.msg, self.text, self.pos))

    def __str__(self) -> str:
        return self.msg


def _rebuild_answer_json_error(message: str, text: str | None, pos: int) -> AnswerJSONError:
    return AnswerJSONError(message, text=text, pos=pos)


@dataclass
class Attempt:
    """One request and what came of it."""

    number: int
    completion: Any
    exception: BaseException | None
    usage: Usage = field(default_factory=Usage)


class InstructorRetryException(InstructorError):
    """Every attempt's answer failed validation.

    `attempts` holds each attempt's completion and exception (`failed_attempts`: the failed ones, as
    instructor's `FailedAttempt`s), `n_attempts` how many were made, `total_usage` the tokens spent on
    all of them (a `Usage` when raised here), `messages` the conversation as last sent followed by the
    last answer and its errors (what a next attempt would send), `last_completion` the last answer,
    `create_kwargs` the last request's keyword arguments (credential headers redacted).

    Raised here with `attempts=`; instructor's constructor works too:
    `InstructorRetryException("message", n_attempts=3, total_usage=100, failed_attempts=[...])`.
    """

    def __init__(
        self,
        *args: Any,
        last_completion: Any = None,
        messages: Sequence[Any] | None = None,
        n_attempts: int | None = None,
        total_usage: Any = None,
        create_kwargs: Mapping[str, Any] | None = None,
        failed_attempts: list[FailedAttempt] | None = None,
        attempts: Sequence[Attempt] | None = None,
        response_model_name: str | None = None,
    ) -> None:
        if attempts is None:
            attempts = [Attempt(f.attempt_number, f.completion, f.exception) for f in failed_attempts or ()]
        elif failed_attempts is None:
            failed_attempts = [
                FailedAttempt(a.number, a.exception, a.completion) for a in attempts if a.exception is not None
            ]
        self.attempts = list(attempts)
        self.n_attempts = n_attempts if n_attempts is not None else len(self.attempts)
        if total_usage is None:
            total_usage = sum((a.usage for a in self.attempts), Usage())
        self.total_usage = total_usage
        self.messages = list(messages) if messages is not None else None
        self.create_kwargs = dict(create_kwargs) if create_kwargs is not None else None
        if last_completion is None and self.attempts:
            last_completion = self.attempts[-1].completion
        self.last_completion = last_completion
        # instructor's style (a message given) renders the failed attempts; ours is a summary of them
        self._summarised = not args
        if not args:
            args = (self._summary(response_model_name or "response"),)
        super().__init__(*args, failed_attempts=failed_attempts)

    def _summary(self, name: str) -> str:
        tokens = self.total_usage_tokens
        spent = ""
        if tokens is not None:
            note = _estimate_note(self.total_usage) if isinstance(self.total_usage, Usage) else ""
            spent = f" ({tokens} tokens used{note})"
        plural = "s" if self.n_attempts != 1 else ""
        lines = [f"{self.n_attempts} attempt{plural} to get a valid {name} failed{spent}" + (":" if self.attempts else "")]
        for attempt in self.attempts:
            lines.append(f"  attempt {attempt.number}: {_brief(attempt.exception)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return Exception.__str__(self) if self._summarised else super().__str__()

    @property
    def total_usage_tokens(self) -> int | None:
        """The tokens spent, whether `total_usage` is a usage object or (instructor style) a number."""
        if isinstance(self.total_usage, int):
            return self.total_usage
        tokens = getattr(self.total_usage, "total_tokens", None)
        return tokens if isinstance(tokens, int) else None

    @property
    def last_exception(self) -> BaseException | None:
        """The last attempt's exception."""
        return self.attempts[-1].exception if self.attempts else None


class TokenBudgetError(InstructorRetryException):
    """Retrying stopped at a token budget (`budget`): instructor's name, kept for `except` clauses."""

    def __init__(self, *args: Any, budget: int, **kwargs: Any) -> None:
        self.budget = budget
        super().__init__(*args, **kwargs)


class TokenBudgetExceeded(TokenBudgetError):
    """A retry would have gone past the token budget."""


class TokenUsageUnavailableError(TokenBudgetError):
    """A token budget could not be enforced: the provider reported no usage."""


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


class AzureResponseError(ProviderError):
    """Azure answered without a usable answer. Never re-asked: asking again would not help.

    A `ProviderError` (`provider == "azure_openai"`); `completion` is Azure's answer, `usage` the tokens.
    """

    def __init__(
        self,
        message: str,
        *,
        completion: Any = None,
        usage: Usage | None = None,
        failed_attempts: list[FailedAttempt] | None = None,
    ) -> None:
        # Not super(): PromptFilterError also derives from the SDK's error, whose __init__ differs.
        Exception.__init__(self, message)
        self.failed_attempts = failed_attempts
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


_INCOMPLETE = "The output is incomplete due to a max_tokens length limit."


class IncompleteOutputException(AzureResponseError):
    """The answer stopped at the token limit (`finish_reason: "length"`); never re-asked.

    `partial_text` is what came, `completion` (also `last_completion`) Azure's answer. instructor's
    constructor works too: `IncompleteOutputException(last_completion=..., message=...)`.
    """

    def __init__(
        self,
        *args: Any,
        partial_text: str | None = None,
        completion: Any = None,
        usage: Usage | None = None,
        answer_usage: Usage | None = None,
        last_completion: Any = None,
        message: str | None = None,
        failed_attempts: list[FailedAttempt] | None = None,
    ) -> None:
        completion = completion if completion is not None else last_completion
        self.partial_text = partial_text
        if message is None and partial_text is None:
            message = _INCOMPLETE
        elif message is None:
            # The cut-off answer's own tokens: Azure's count, or an estimate when a stream reported none.
            answer = answer_usage if answer_usage is not None else Usage.of(completion)
            used = f"{answer.completion_tokens} completion tokens" + (", estimated" if answer.estimated else "")
            message = (
                f"{_INCOMPLETE[:-1]}: the answer was cut off ({used}) before the JSON was complete. "
                "Raise max_tokens (or max_completion_tokens), or ask for less."
            )
        super().__init__(message, completion=completion, usage=usage, failed_attempts=failed_attempts)
        if args:
            self.args = (message, *args)

    @property
    def last_completion(self) -> Any:
        """The cut-off completion (instructor's name for `completion`)."""
        return self.completion


class RefusalError(AzureResponseError):
    """The model refused to answer (structured outputs report a `refusal` instead of content)."""

    def __init__(self, refusal: str, *, completion: Any = None, usage: Usage | None = None) -> None:
        self.refusal = refusal
        # instructor's wording first (code matches on it), then what to do.
        super().__init__(
            f"Unable to generate a response due to {refusal} (the model refused to answer; a re-ask would "
            "be refused too: change the request)",
            completion=completion,
            usage=usage,
        )
