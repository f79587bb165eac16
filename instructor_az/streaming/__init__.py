"""Streaming structured outputs: an incremental JSON parser for answers that arrive as text deltas."""

from __future__ import annotations

from ._assemble import Partial, PartialModel, partial_class
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
