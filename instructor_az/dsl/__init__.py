"""Building blocks for response models and messages: `Maybe`, `Image`, `Audio`."""

from __future__ import annotations

from ._maybe import Maybe
from ._multimodal import Audio, Image, MediaError, to_content_parts
from ._validators import Verdict, llm_validator

__all__ = ["Audio", "Image", "Maybe", "MediaError", "Verdict", "llm_validator", "to_content_parts"]
