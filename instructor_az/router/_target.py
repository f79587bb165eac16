"""What a router routes to: `Target`s (one client, one deployment) and `Group`s of them.

A router's targets form a tree. A `Group` orders its members for each request by its strategy
(`weighted`, `least-busy`, `latency`, or `ordered`: the fallback order); a `Target` is a leaf. The
router tries the leaves in the order the tree gives, skipping the ones sitting out a cooldown, so
`Router(targets, fallbacks=[...])` is a group in `ordered` mode: first the targets (balanced by the
strategy), then each fallback.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .._errors import ConfigurationError
from .._versions import Capabilities, capabilities_of

Strategy = Literal["weighted", "least-busy", "latency", "ordered"]
STRATEGIES: tuple[str, ...] = ("weighted", "least-busy", "latency", "ordered")
SPILLOVER_HEADER = "x-ms-spillover-deployment"

#: Request keywords a target may not override: they are the call's, not the target's.
_NOT_OVERRIDABLE = frozenset({"messages", "stream", "tools", "tool_choice", "response_format"})


@dataclass(eq=False)
class Target:
    """One place a request can go: an SDK client and the deployment (`model`) to ask there.

    - `client`: an `AzureOpenAI` / `OpenAI` (or their async twins; all of a router's alike).
    - `name`: how hooks, errors and `router.health()` name it (default: the client's host and model).
    - `model`: the deployment (Azure) or model (OpenAI) asked on this target, whatever the call's
      `model=` says; None keeps the call's.
    - `weight`: its share under the `weighted` strategy (and the tie-break of the others).
    - `spillover`: the standard deployment a provisioned (PTU) deployment spills over to, sent as
      Azure's `x-ms-spillover-deployment` header.
    - `params`: other request keywords this target gets (`{"temperature": 0}`); Portkey's
      `override_params`.
    """

    client: Any
    name: str | None = None
    model: str | None = None
    weight: float = 1.0
    spillover: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.weight, bool) or not isinstance(self.weight, (int, float)):
            raise ConfigurationError(f"a target's weight must be a number, got {self.weight!r}")
        if not math.isfinite(self.weight) or self.weight <= 0:
            raise ConfigurationError(f"a target's weight must be a positive finite number, got {self.weight}")
        for label, value in (("name", self.name), ("model", self.model), ("spillover", self.spillover)):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ConfigurationError(f"a target's {label} must be a non-empty string, got {value!r}")
        if not isinstance(self.params, Mapping):
            raise ConfigurationError(f"a target's params must be a mapping, got {type(self.params).__name__}")
        bad = sorted(set(self.params) & _NOT_OVERRIDABLE)
        if bad:
            raise ConfigurationError(
                f"a target's params cannot set {', '.join(bad)}: those belong to the call, not the target"
            )
        if "model" in self.params:  # Portkey's override_params {"model": ...}
            params = dict(self.params)
            model = params.pop("model")
            if self.model is not None and model != self.model:
                raise ConfigurationError("a target's model is given twice (model= and params['model'])")
            self.model, self.params = model, params
        if self.name is None:
            self.name = _default_name(self.client, self.model)

    @property
    def label(self) -> str:
        assert self.name is not None
        return self.name

    def request(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The call's keywords as this target sends them: its deployment, its params, its spillover."""
        request = {**kwargs, **self.params}
        if self.model is not None:
            request["model"] = self.model
        if self.spillover is not None:
            headers = dict(request.get("extra_headers") or {})
            headers.setdefault(SPILLOVER_HEADER, self.spillover)
            request["extra_headers"] = headers
        return request

    def __repr__(self) -> str:  # never the client's repr: it may hold a key
        return f"Target(name={self.name!r}, model={self.model!r}, weight={self.weight})"


def _default_name(client: Any, model: str | None) -> str:
    base = getattr(client, "base_url", None)
    host = getattr(base, "host", None) or type(client).__name__
    return f"{host}/{model}" if model else str(host)


@dataclass(eq=False)
class Group:
    """Members (targets or groups) ordered for each request by `strategy`."""

    members: Sequence[Target | Group]
    strategy: Strategy = "weighted"
    weight: float = 1.0
    name: str | None = None

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ConfigurationError(
                f"unknown routing strategy {self.strategy!r}; strategies are {', '.join(STRATEGIES)}"
            )
        self.members = list(self.members)
        if not self.members:
            raise ConfigurationError("a router group needs at least one target")
        for member in self.members:
            if not isinstance(member, (Target, Group)):
                raise ConfigurationError(
                    f"router targets are instructor_az.router.Target (or Group) objects, got "
                    f"{type(member).__name__}: wrap a client as Target(client, model=...)"
                )
        if isinstance(self.weight, bool) or not isinstance(self.weight, (int, float)) or not self.weight > 0:
            raise ConfigurationError(f"a group's weight must be a positive number, got {self.weight!r}")

    def leaves(self) -> Iterable[Target]:
        for member in self.members:
            if isinstance(member, Target):
                yield member
            else:
                yield from member.leaves()


def check_tree(root: Group) -> list[Target]:
    """The tree's targets, checked: unique names, one kind of client (all sync or all async)."""
    from openai import AsyncOpenAI, OpenAI

    targets = list(root.leaves())
    seen: set[str] = set()
    for target in targets:
        if target.label in seen:
            raise ConfigurationError(
                f"two router targets are named {target.label!r}: give each a distinct name= (hooks, errors "
                "and health name them)"
            )
        seen.add(target.label)
        if not isinstance(target.client, (OpenAI, AsyncOpenAI)):
            raise ConfigurationError(
                f"target {target.label!r} needs an openai client (AzureOpenAI, OpenAI or their async "
                f"twins), got {type(target.client).__name__}"
            )
    return targets


def kind_of(targets: Sequence[Target]) -> Literal["sync", "async"]:
    from openai import AsyncOpenAI

    kinds = {isinstance(t.client, AsyncOpenAI) for t in targets}
    if len(kinds) > 1:
        raise ConfigurationError(
            "a router's targets must be all sync clients (Router) or all async clients (AsyncRouter), not a mix"
        )
    return "async" if kinds == {True} else "sync"


def capabilities(targets: Sequence[Target]) -> Capabilities:
    """What every target serves: the oldest dated api-version among them (v1 / OpenAI serve all)."""
    dated = [c for c in (capabilities_of(t.client) for t in targets) if not c.is_v1]
    if not dated:
        return Capabilities(None)
    from .._versions import _key

    return min(dated, key=lambda c: _key(c.api_version or ""))
