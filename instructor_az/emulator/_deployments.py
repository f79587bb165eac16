"""Deployments: the names requests address, the model behind each, and what that model can do."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from ._backends import Backend

Kind = Literal["chat", "completions", "embeddings", "images", "speech", "transcriptions"]

#: Azure's deployment types by their "SKU name in code" (learn.microsoft.com/azure/ai-foundry/
#: foundry-models/concepts/deployment-types): global, data zone and regional; standard (pay per
#: token), provisioned (PTU) and batch; `Developer` is for fine-tuned models.
Sku = Literal[
    "GlobalStandard",
    "DataZoneStandard",
    "Standard",
    "GlobalProvisionedManaged",
    "DataZoneProvisionedManaged",
    "ProvisionedManaged",
    "GlobalBatch",
    "DataZoneBatch",
    "Developer",
]
SKUS: tuple[str, ...] = (
    "GlobalStandard",
    "DataZoneStandard",
    "Standard",
    "GlobalProvisionedManaged",
    "DataZoneProvisionedManaged",
    "ProvisionedManaged",
    "GlobalBatch",
    "DataZoneBatch",
    "Developer",
)
#: The deployment types the Batch API accepts (a batch job on any other fails validation).
BATCH_SKUS = frozenset({"GlobalBatch", "DataZoneBatch"})
#: Provisioned (PTU) deployment types, each with the standard type it may spill over to: Azure's spillover
#: needs "a standard deployment in the same resource" whose "data processing level ... must match"
#: (spillover-traffic-management.md): global with global, data zone with data zone, regional with regional.
PROVISIONED_SKUS: dict[str, str] = {
    "GlobalProvisionedManaged": "GlobalStandard",
    "DataZoneProvisionedManaged": "DataZoneStandard",
    "ProvisionedManaged": "Standard",
}


@dataclass
class Deployment:
    """A model deployment on the emulated resource.

    `model` is the model name (`gpt-4o`), `version` its version (`2024-08-06`); responses report
    `response_model` (Azure reports e.g. `gpt-4o-2024-08-06`). `backend` None means the emulator's
    default backend. The capability flags mirror Azure's model matrix: a request using a feature the
    model lacks gets Azure's 400.

    `sku` is the deployment type (`SKUS`). The default is `GlobalStandard`, the type Azure's deployment
    guide recommends as the starting point and its portal offers first. Batch jobs need a `GlobalBatch`
    or `DataZoneBatch` deployment (`BATCH_SKUS`); online calls are served whatever the type.
    `enqueued_tokens` is a batch deployment's enqueued-token quota: the tokens of its unfinished batch
    jobs may not pass it (None: no limit). Both can be changed after construction, e.g.
    `emulator.deployment("gpt-4o-batch").enqueued_tokens = 90_000`.

    `spillover_deployment_name` (Azure's `spilloverDeploymentName` property) is, on a provisioned (PTU)
    deployment, the standard deployment its overage spills over to: a request it would answer with a
    429, a 500 or 503, or a long-context 400 is served by that deployment instead (see `_spillover`).
    It must name a standard deployment of the emulator with the same model and version and the matching
    data processing level (`PROVISIONED_SKUS`); the emulator checks that when the deployment is added.
    `max_context_tokens` is the longest prompt a deployment takes (None: no limit): a longer one gets the
    400 `context_length_exceeded`, as Azure's PTU deployments of the gpt-4.1 series answer prompts of
    128K tokens and more (a 400 that spills over).
    """

    name: str
    model: str
    version: str = ""
    kind: Kind = "chat"
    backend: Backend | None = None
    tools: bool = True
    json_mode: bool = True
    structured_outputs: bool = True
    vision: bool = False
    parallel_tool_calls: bool = True
    embedding_dimensions: int = 0
    min_api_version: str | None = None
    response_model: str = field(default="")
    sku: Sku = "GlobalStandard"
    enqueued_tokens: int | None = None
    spillover_deployment_name: str | None = None
    max_context_tokens: int | None = None

    def __post_init__(self) -> None:
        if self.sku not in SKUS:
            raise ValueError(f"unknown deployment sku {self.sku!r}; expected one of {', '.join(SKUS)}")
        target = self.spillover_deployment_name
        if target is not None:
            if not isinstance(target, str) or not target.strip():
                raise ValueError(f"spillover_deployment_name must be a deployment's name, got {target!r}")
            if self.sku not in PROVISIONED_SKUS:
                raise ValueError(
                    f"deployment {self.name!r} is {self.sku}: spillover_deployment_name is a provisioned "
                    f"deployment's setting (sku {', '.join(PROVISIONED_SKUS)})"
                )
            if target == self.name:
                raise ValueError(f"deployment {self.name!r} cannot spill over to itself")
        context = self.max_context_tokens
        if context is not None and (isinstance(context, bool) or not isinstance(context, int) or context < 1):
            raise ValueError(f"max_context_tokens must be a whole number from 1, or None (got {context!r})")
        limit = self.enqueued_tokens
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValueError(f"enqueued_tokens must be a whole number from 1, or None (got {limit!r})")
        if not self.response_model:
            self.response_model = f"{self.model}-{self.version}" if self.version else self.model

    def renamed(self, name: str) -> Deployment:
        return replace(self, name=name)

    @property
    def is_batch(self) -> bool:
        """Whether batch jobs can use this deployment (a `GlobalBatch` or `DataZoneBatch` one)."""
        return self.sku in BATCH_SKUS

    @property
    def is_provisioned(self) -> bool:
        """Whether this is a provisioned (PTU) deployment, which can spill over."""
        return self.sku in PROVISIONED_SKUS


def spillover_problem(source: Deployment, target: Deployment) -> str | None:
    """Why `target` cannot take `source`'s spillover, or None when it can: Azure spills a provisioned
    deployment over to a standard one in the same resource, of the same data processing level, and its
    portal enables spillover when a pay-as-you-go deployment "matches the model and version"."""
    wanted = PROVISIONED_SKUS.get(source.sku)
    if wanted is None:
        return f"{source.name!r} is {source.sku}, not a provisioned deployment"
    if target.sku != wanted:
        return (
            f"{target.name!r} is {target.sku}; a {source.sku} deployment spills over to a {wanted} "
            "deployment (Azure: the data processing level must match)"
        )
    if (target.model, target.version) != (source.model, source.version):
        return (
            f"{target.name!r} serves {target.model} {target.version or '(no version)'}; "
            f"{source.name!r} serves {source.model} {source.version or '(no version)'} (the model and "
            "version must match)"
        )
    return None


def default_deployments() -> list[Deployment]:
    """The deployments the seeds and Azure's samples use, each with its real model's capabilities."""
    return [
        Deployment(
            "gpt-4",
            "gpt-4",
            "turbo-2024-04-09",
            tools=True,
            json_mode=True,
            structured_outputs=False,
            vision=True,
            response_model="gpt-4",
        ),
        Deployment("gpt-4o", "gpt-4o", "2024-08-06", vision=True),
        Deployment("gpt-4o-mini", "gpt-4o-mini", "2024-07-18", vision=True),
        # Global Batch deployments of the same models, for the Batch API (`_batches`).
        Deployment("gpt-4o-batch", "gpt-4o", "2024-08-06", vision=True, sku="GlobalBatch"),
        Deployment("gpt-4o-mini-batch", "gpt-4o-mini", "2024-07-18", vision=True, sku="GlobalBatch"),
        # A provisioned (PTU) deployment of gpt-4o; it spills over to `gpt-4o` when a request names it in
        # `x-ms-spillover-deployment`, or always once `spillover_deployment_name = "gpt-4o"` is set.
        Deployment("gpt-4o-ptu", "gpt-4o", "2024-08-06", vision=True, sku="GlobalProvisionedManaged"),
        Deployment(
            "gpt-35-turbo-instruct",
            "gpt-35-turbo-instruct",
            "0914",
            kind="completions",
            tools=False,
            json_mode=False,
            structured_outputs=False,
            response_model="gpt-35-turbo-instruct",
        ),
        Deployment(
            "text-embedding-3-large",
            "text-embedding-3-large",
            "1",
            kind="embeddings",
            tools=False,
            json_mode=False,
            structured_outputs=False,
            embedding_dimensions=3072,
            response_model="text-embedding-3-large",
        ),
        # Media models (Azure's model names): no chat features, so every capability flag is off.
        Deployment(
            "dall-e-3",
            "dall-e-3",
            "3.0",
            kind="images",
            tools=False,
            json_mode=False,
            structured_outputs=False,
            response_model="dall-e-3",
        ),
        Deployment(
            "tts",
            "tts",
            "001",
            kind="speech",
            tools=False,
            json_mode=False,
            structured_outputs=False,
            response_model="tts",
        ),
        Deployment(
            "tts-hd",
            "tts-hd",
            "001",
            kind="speech",
            tools=False,
            json_mode=False,
            structured_outputs=False,
            response_model="tts-hd",
        ),
        Deployment(
            "whisper",
            "whisper",
            "001",
            kind="transcriptions",
            tools=False,
            json_mode=False,
            structured_outputs=False,
            response_model="whisper",
        ),
    ]
