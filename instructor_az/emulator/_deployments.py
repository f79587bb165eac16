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

    def __post_init__(self) -> None:
        if self.sku not in SKUS:
            raise ValueError(f"unknown deployment sku {self.sku!r}; expected one of {', '.join(SKUS)}")
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
