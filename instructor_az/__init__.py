"""instructor-az: validated, typed data from Azure OpenAI.

```python
from openai import AzureOpenAI
from pydantic import BaseModel
import instructor_az

class User(BaseModel):
    name: str
    age: int

client = instructor_az.from_openai(AzureOpenAI(...))
user = client.chat.completions.create(
    model="gpt-4o", response_model=User, messages=[{"role": "user", "content": "John is 30 years old"}]
)
```
"""

from __future__ import annotations

from . import exceptions, hooks, mode  # instructor's module attributes (instructor.hooks, ...)
from ._auth import AzureAuthError
from ._azure import from_azure
from ._client import AsyncInstructor, Instructor, from_openai
from ._errors import (
    AnswerJSONError,
    Attempt,
    AzureResponseError,
    CategoryResult,
    ConfigurationError,
    ContentFilterError,
    IncompleteOutputException,
    InstructorError,
    InstructorRetryException,
    PromptFilterError,
    RefusalError,
    ResponseParseError,
    SchemaError,
    Usage,
)
from ._hooks import HOOK_NAMES, Hooks
from ._mode import Mode
from .auto_client import from_provider
from .dsl import Audio, CitationMixin, Image, IterableModel, Maybe, MediaError, llm_validator
from .dsl.partial import PartialLiteralMixin
from .exceptions import (
    AsyncValidationError,
    ClientError,
    FailedAttempt,
    ModeError,
    MultimodalError,
    ProviderError,
    ResponseParsingError,
    TokenBudgetError,
    TokenBudgetExceeded,
    TokenUsageUnavailableError,
)
from .exceptions import ValidationError as ValidationError  # not in `*`: pydantic's has the name
from .function_calls import (
    OpenAISchema,
    ResponseSchema,
    generate_openai_schema,
    openai_schema,
    response_schema,
)
from .multimodal import PDF
from .patch import apatch, patch
from .pipeline import aextract_many, extract_many
from .providers import Provider
from .streaming._partial_class import Partial, PartialModel
from .validation import openai_moderation

__version__ = "0.1.0"

__all__ = [
    "HOOK_NAMES",
    "PDF",
    "AnswerJSONError",
    "AsyncInstructor",
    "AsyncValidationError",
    "Attempt",
    "Audio",
    "AzureAuthError",
    "AzureResponseError",
    "CategoryResult",
    "CitationMixin",
    "ClientError",
    "ConfigurationError",
    "ContentFilterError",
    "FailedAttempt",
    "Hooks",
    "Image",
    "IncompleteOutputException",
    "Instructor",
    "InstructorError",
    "InstructorRetryException",
    "IterableModel",
    "Maybe",
    "MediaError",
    "Mode",
    "ModeError",
    "MultimodalError",
    "OpenAISchema",
    "Partial",
    "PartialLiteralMixin",
    "PartialModel",
    "PromptFilterError",
    "Provider",
    "ProviderError",
    "RefusalError",
    "ResponseParseError",
    "ResponseParsingError",
    "ResponseSchema",
    "SchemaError",
    "TokenBudgetError",
    "TokenBudgetExceeded",
    "TokenUsageUnavailableError",
    "Usage",
    "__version__",
    "aextract_many",
    "apatch",
    "exceptions",
    "extract_many",
    "from_azure",
    "from_openai",
    "from_provider",
    "generate_openai_schema",
    "hooks",
    "llm_validator",
    "mode",
    "openai_moderation",
    "openai_schema",
    "patch",
    "response_schema",
]
