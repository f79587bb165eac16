"""Streaming structured outputs: an incremental JSON parser for answers that arrive as text deltas."""

from __future__ import annotations

from ._json import (
    EndArray,
    EndObject,
    Event,
    JsonEventParser,
    JsonParseError,
    Key,
    Path,
    Scalar,
    StartArray,
    StartObject,
    StringChunk,
    parse_events,
)
from ._partial_class import Partial, PartialModel, partial_class

__all__ = [
    "EndArray",
    "EndObject",
    "Event",
    "JsonEventParser",
    "JsonParseError",
    "Key",
    "Partial",
    "PartialModel",
    "Path",
    "Scalar",
    "StartArray",
    "StartObject",
    "StringChunk",
    "parse_events",
    "partial_class",
]
