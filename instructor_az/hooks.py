"""Hooks, under the module path instructor uses (`instructor.hooks`, `instructor.core.hooks`).

`Hooks` holds handlers per hook name; `HOOK_NAMES` lists the names (`completion:kwargs`,
`completion:response`, `completion:error`, `completion:last_attempt`, `parse:error`), `HookName`
is their type. See `_hooks` for what each handler is called with.
"""

from __future__ import annotations

from ._hooks import HOOK_NAMES, Handler, HookName, Hooks

__all__ = ["HOOK_NAMES", "Handler", "HookName", "Hooks"]
