"""instructor's `instructor.client` / `instructor.core.client` names: the wrapped clients and their factories.

```python
from instructor_az.client import Instructor, AsyncInstructor, from_openai
```
"""

from __future__ import annotations

from ._azure import from_azure
from ._client import AsyncInstructor, Instructor, from_openai
from .auto_client import from_provider
from .patch import apatch, patch

__all__ = ["AsyncInstructor", "Instructor", "apatch", "from_azure", "from_openai", "from_provider", "patch"]
