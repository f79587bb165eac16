"""Routing across deployments, regions and resources: `Router` / `AsyncRouter` (docs/azure.md "Routing").

```python
from instructor_az.router import Router, Target

router = Router(
    [Target(east, name="eastus", model="gpt-4o", weight=2), Target(west, name="westus", model="gpt-4o")],
    fallbacks=[Target(OpenAI(), name="openai", model="gpt-4o-2024-08-06")],
)
client = instructor_az.from_openai(router)   # every attempt, re-ask and stream is routed
```
"""

from __future__ import annotations

from ._client import AsyncRouter, RoutedResponse, Router
from ._config import from_config
from ._errors import Failover, NoTargetAvailable, Served, StreamInterrupted
from ._health import TargetHealth
from ._stream import AsyncRoutedStream, RoutedStream
from ._target import SPILLOVER_HEADER, STRATEGIES, Group, Target

__all__ = [
    "SPILLOVER_HEADER",
    "STRATEGIES",
    "AsyncRoutedStream",
    "AsyncRouter",
    "Failover",
    "Group",
    "NoTargetAvailable",
    "RoutedResponse",
    "RoutedStream",
    "Router",
    "Served",
    "StreamInterrupted",
    "Target",
    "TargetHealth",
    "from_config",
]
