"""`Mode`: how a response model is asked for (tool call, JSON schema, JSON, fenced JSON)."""

from __future__ import annotations

from enum import Enum


class Mode(str, Enum):
    """How the request asks for structured output, and where the answer is read from.

    - `TOOLS`: one function tool forced with `tool_choice`; the answer is the call's arguments.
    - `TOOLS_STRICT`: as `TOOLS` with `strict: true` (Azure structured outputs on the tool).
    - `PARALLEL_TOOLS`: one tool per member of `Iterable[Union[A, B]]`; every call is an answer.
    - `JSON`: `response_format: json_object` plus the schema in a system message.
    - `JSON_SCHEMA`: `response_format: json_schema` with `strict: true` (Azure structured outputs).
    - `MD_JSON`: the schema in a system message and the answer in a fenced ```json block, for
      deployments with neither tools nor `response_format`.
    """

    TOOLS = "tools"
    TOOLS_STRICT = "tools_strict"
    PARALLEL_TOOLS = "parallel_tools"
    JSON = "json"
    JSON_SCHEMA = "json_schema"
    MD_JSON = "md_json"

    @classmethod
    def coerce(cls, value: Mode | str) -> Mode:
        """The mode for an enum member or the string users type (`"tools"`, `"JSON_SCHEMA"`, ...)."""
        if isinstance(value, Mode):
            return value
        if isinstance(value, str):
            key = value.strip().lower()
            for mode in cls:
                if mode.value == key:
                    return mode
        from ._errors import ConfigurationError

        choices = ", ".join(repr(m.value) for m in cls)
        raise ConfigurationError(f"unknown mode {value!r}: use Mode.TOOLS or one of the strings {choices}")

    @property
    def is_tools(self) -> bool:
        return self in (Mode.TOOLS, Mode.TOOLS_STRICT, Mode.PARALLEL_TOOLS)

    @property
    def is_strict(self) -> bool:
        return self in (Mode.TOOLS_STRICT, Mode.JSON_SCHEMA)

    def __str__(self) -> str:
        return self.value
