"""`Mode`, under the module path instructor uses (`instructor.mode`, `instructor.core.mode`)."""

from __future__ import annotations

from ._mode import USABLE, Mode

__all__ = ["USABLE", "Mode"]
