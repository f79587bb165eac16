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

from ._client import AsyncInstructor, Instructor, from_azure, from_openai
from ._errors import (
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
from .dsl import Audio, Image, Maybe, MediaError, llm_validator
from .streaming._assemble import Partial, PartialModel

__version__ = "0.1.0"

__all__ = [
    "HOOK_NAMES",
    "AsyncInstructor",
    "Attempt",
    "Audio",
    "AzureResponseError",
    "CategoryResult",
    "ConfigurationError",
    "ContentFilterError",
    "Hooks",
    "Image",
    "IncompleteOutputException",
    "Instructor",
    "InstructorError",
    "InstructorRetryException",
    "Maybe",
    "MediaError",
    "Mode",
    "Partial",
    "PartialModel",
    "PromptFilterError",
    "RefusalError",
    "ResponseParseError",
    "SchemaError",
    "Usage",
    "__version__",
    "from_azure",
    "from_openai",
    "llm_validator",
]
