"""Every exception instructor-az raises, under the module path instructor uses.

`instructor_az.exceptions` is what `instructor.core.exceptions` / `instructor.exceptions` import as
through the alias (`instructor_az.alias`). It holds instructor 1.x's names with their constructors
and fields, and ours, fitted into instructor's hierarchy (see `_errors` and docs/errors.md).
"""

from __future__ import annotations

from ._errors import (
    AsyncValidationError,
    Attempt,
    AzureResponseError,
    CategoryResult,
    ClientError,
    ConfigurationError,
    ContentFilterError,
    FailedAttempt,
    IncompleteOutputException,
    InstructorError,
    InstructorRetryException,
    ModeError,
    MultimodalError,
    PromptFilterError,
    ProviderError,
    RefusalError,
    ResponseParseError,
    ResponseParsingError,
    SchemaError,
    TokenBudgetError,
    TokenBudgetExceeded,
    TokenUsageUnavailableError,
    Usage,
    ValidationError,
)

__all__ = [
    "AsyncValidationError",
    "Attempt",
    "AzureResponseError",
    "CategoryResult",
    "ClientError",
    "ConfigurationError",
    "ContentFilterError",
    "FailedAttempt",
    "IncompleteOutputException",
    "InstructorError",
    "InstructorRetryException",
    "ModeError",
    "MultimodalError",
    "PromptFilterError",
    "ProviderError",
    "RefusalError",
    "ResponseParseError",
    "ResponseParsingError",
    "SchemaError",
    "TokenBudgetError",
    "TokenBudgetExceeded",
    "TokenUsageUnavailableError",
    "Usage",
    "ValidationError",
]
