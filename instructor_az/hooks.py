"""Hooks, under the module path instructor uses (`instructor.hooks`, `instructor.core.hooks`).

`Hooks` holds handlers per hook name; `HOOK_NAMES` lists the names (`completion:kwargs`,
`completion:response`, `completion:error`, `completion:last_attempt`, `parse:error`); `HookName`
is instructor's enum of them (`HookName.PARSE_ERROR`), usable wherever a name is. See `_hooks`.
"""

from __future__ import annotations

from ._hooks import HOOK_NAMES, Handler, HookName, Hooks

__all__ = ["HOOK_NAMES", "Handler", "HookName", "Hooks"]
