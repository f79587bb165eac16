"""Which (provider, mode) pairs instructor-az serves, under the names instructor's registry uses."""

from __future__ import annotations

from ._mode import Mode
from .providers import SERVED_PROVIDERS, Provider

#: The modes every served provider (Azure OpenAI, OpenAI) answers with a structured call.
SERVED_MODES = (Mode.TOOLS, Mode.TOOLS_STRICT, Mode.PARALLEL_TOOLS, Mode.JSON, Mode.JSON_SCHEMA, Mode.MD_JSON)


class ModeRegistry:
    """A read-only view: instructor-az has one plan per mode, not handlers registered per provider."""

    def list_modes(self) -> list[tuple[Provider, Mode]]:
        """Every (provider, mode) pair served, sorted as instructor sorts them."""
        pairs = [(p, m) for p in SERVED_PROVIDERS for m in SERVED_MODES]
        return sorted(pairs, key=lambda pair: (pair[0].value, pair[1].value))

    def is_registered(self, provider: Provider, mode: Mode) -> bool:
        return provider in SERVED_PROVIDERS and mode in SERVED_MODES


mode_registry = ModeRegistry()

__all__ = ["SERVED_MODES", "ModeRegistry", "mode_registry"]
