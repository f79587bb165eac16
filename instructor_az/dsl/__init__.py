"""Building blocks for response models and messages: `Maybe`, `Image`, `Audio`."""

from __future__ import annotations

from ._maybe import Maybe
from ._multimodal import Audio, Image, MediaError, to_content_parts
from ._validators import Verdict, llm_validator
from .citation import CitationMixin
from .iterable import IterableBase, IterableModel
from .partial import Partial, PartialLiteralMixin
from .simple_type import ModelAdapter, is_simple_type

__all__ = [
    "Audio",
    "CitationMixin",
    "Image",
    "IterableBase",
    "IterableModel",
    "Maybe",
    "MediaError",
    "ModelAdapter",
    "Partial",
    "PartialLiteralMixin",
    "Verdict",
    "is_simple_type",
    "llm_validator",
    "to_content_parts",
]
