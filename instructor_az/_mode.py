"""`Mode`: how a response model is asked for (tool call, JSON schema, JSON, fenced JSON).

Besides the modes used here, `Mode` has every member instructor 1.x's `Mode` has, so code naming
them imports and compares as before. A client refuses the ones it cannot use, before any request
(`Mode.coerce`): another provider's mode is a `ModeError` naming that provider, `FUNCTIONS` (the
retired `functions` API) a `ConfigurationError` saying what to use instead; `JSON_O1` is the JSON
schema mode (a `DeprecationWarning` says so), as in instructor's current API.
"""

from __future__ import annotations

import warnings
from enum import Enum

_functions_deprecation_shown = False


class Mode(str, Enum):
    """How the request asks for structured output, and where the answer is read from.

    - `TOOLS`: one function tool forced with `tool_choice`; the answer is the call's arguments.
    - `TOOLS_STRICT`: as `TOOLS` with `strict: true` (Azure structured outputs on the tool).
    - `PARALLEL_TOOLS`: one tool per member of `Iterable[Union[A, B]]`; every call is an answer.
    - `JSON`: `response_format: json_object` plus the schema in a system message.
    - `JSON_SCHEMA`: `response_format: json_schema` with `strict: true` (Azure structured outputs).
    - `MD_JSON`: the schema in a system message and the answer in a fenced ```json block, for
      deployments with neither tools nor `response_format`.
    - `AUTO`: `JSON_SCHEMA` where the client's api-version and the deployment serve structured
      outputs, `TOOLS` otherwise (decided per call; a deployment that answers "json_schema is not
      supported with this model" is asked again with tools, once, and remembered). The default of
      `from_azure`.
    - `RESPONSES_TOOLS` / `RESPONSES_JSON_SCHEMA`: the Responses API (`client.responses.create`): a strict
      function tool forced with `tool_choice`, or `text.format` json_schema. `RESPONSES_TOOLS_WITH_INBUILT_TOOLS`
      is `RESPONSES_TOOLS` that keeps the built-in tools (`web_search`, `file_search`, ...) you pass.

    The other members are instructor's, for code that names them; see the module docstring.
    """

    TOOLS = "tools"
    TOOLS_STRICT = "tools_strict"
    PARALLEL_TOOLS = "parallel_tools"
    JSON = "json"
    JSON_SCHEMA = "json_schema"
    MD_JSON = "md_json"
    AUTO = "auto"
    RESPONSES_JSON_SCHEMA = "responses_json_schema"

    # instructor's other OpenAI modes
    FUNCTIONS = "function_call"
    JSON_O1 = "json_o1"
    RESPONSES_TOOLS = "responses_tools"
    RESPONSES_TOOLS_WITH_INBUILT_TOOLS = "responses_tools_with_inbuilt_tools"

    # other providers' modes (instructor's values): members only, a client here refuses them
    XAI_JSON = "xai_json"
    XAI_TOOLS = "xai_tools"
    ANTHROPIC_TOOLS = "anthropic_tools"
    ANTHROPIC_REASONING_TOOLS = "anthropic_reasoning_tools"
    ANTHROPIC_JSON = "anthropic_json"
    ANTHROPIC_PARALLEL_TOOLS = "anthropic_parallel_tools"
    MISTRAL_TOOLS = "mistral_tools"
    MISTRAL_STRUCTURED_OUTPUTS = "mistral_structured_outputs"
    VERTEXAI_TOOLS = "vertexai_tools"
    VERTEXAI_JSON = "vertexai_json"
    VERTEXAI_PARALLEL_TOOLS = "vertexai_parallel_tools"
    GEMINI_JSON = "gemini_json"
    GEMINI_TOOLS = "gemini_tools"
    GENAI_TOOLS = "genai_tools"
    GENAI_JSON = "genai_json"
    GENAI_STRUCTURED_OUTPUTS = "genai_structured_outputs"
    COHERE_TOOLS = "cohere_tools"
    COHERE_JSON_SCHEMA = "json_object"
    CEREBRAS_TOOLS = "cerebras_tools"
    CEREBRAS_JSON = "cerebras_json"
    FIREWORKS_TOOLS = "fireworks_tools"
    FIREWORKS_JSON = "fireworks_json"
    WRITER_TOOLS = "writer_tools"
    WRITER_JSON = "writer_json"
    BEDROCK_TOOLS = "bedrock_tools"
    BEDROCK_JSON = "bedrock_json"
    PERPLEXITY_JSON = "perplexity_json"
    OPENROUTER_STRUCTURED_OUTPUTS = "openrouter_structured_outputs"

    @classmethod
    def _missing_(cls, value: object) -> Mode | None:
        # instructor's values for the modes used here ("tool_call", "json_mode", ...) and any case
        if isinstance(value, str):
            key = value.strip().lower()
            key = _INSTRUCTOR_VALUES.get(key, key)
            for mode in cls:
                if mode.value == key or mode.name.lower() == key:
                    return mode
        return None

    @classmethod
    def coerce(cls, value: Mode | str) -> Mode:
        """The mode a client uses, for an enum member or the string users type (`"tools"`,
        `"JSON_SCHEMA"`, instructor's `"tool_call"`, ...). A mode it cannot use raises here, before
        any request: `ModeError` for another provider's, `ConfigurationError` for the others."""
        from ._errors import ConfigurationError, ModeError

        mode = cls._missing_(value) if not isinstance(value, Mode) else value
        if mode is None:
            choices = ", ".join(repr(m.value) for m in USABLE)
            raise ConfigurationError(f"unknown mode {value!r}: use Mode.TOOLS or one of the strings {choices}")
        if mode in USABLE:
            return mode
        if mode is Mode.JSON_O1:
            warnings.warn(
                "Mode.JSON_O1 is deprecated: it is Mode.JSON_SCHEMA (structured outputs), which o1 and "
                "later models support; use Mode.JSON_SCHEMA",
                DeprecationWarning,
                stacklevel=3,
            )
            return Mode.JSON_SCHEMA
        if mode is Mode.FUNCTIONS:
            raise ConfigurationError(
                "Mode.FUNCTIONS is deprecated and not supported: it uses the retired `functions` / "
                "`function_call` parameters. Use Mode.TOOLS (the same function, sent as a tool)"
            )
        provider = mode.provider
        raise ModeError(
            mode.value,
            "openai",
            [m.value for m in USABLE],
            hint=f"Mode.{mode.name} is a mode of {provider}, not of OpenAI / Azure OpenAI; use Mode.TOOLS "
            "or another mode listed",
        )

    @property
    def provider(self) -> str:
        """The provider this mode belongs to ("OpenAI / Azure OpenAI" for instructor's OpenAI modes)."""
        return _PROVIDERS.get(self.name.split("_", 1)[0], "OpenAI / Azure OpenAI")

    @property
    def is_tools(self) -> bool:
        return self in (
            Mode.TOOLS,
            Mode.TOOLS_STRICT,
            Mode.PARALLEL_TOOLS,
            Mode.RESPONSES_TOOLS,
            Mode.RESPONSES_TOOLS_WITH_INBUILT_TOOLS,
        )

    @property
    def is_strict(self) -> bool:
        return self in (
            Mode.TOOLS_STRICT,
            Mode.JSON_SCHEMA,
            Mode.RESPONSES_TOOLS,
            Mode.RESPONSES_TOOLS_WITH_INBUILT_TOOLS,
            Mode.RESPONSES_JSON_SCHEMA,
        )

    @property
    def is_responses(self) -> bool:
        """A mode of the Responses API (`client.responses.create`)."""
        return self in RESPONSES_MODES

    def on_responses(self) -> Mode:
        """This mode's Responses API form: tools stay tools, every other mode is strict json_schema
        (`text.format`); `Mode.PARALLEL_TOOLS` has none."""
        from ._errors import ConfigurationError

        if self.is_responses:
            return self
        if self is Mode.PARALLEL_TOOLS:
            raise ConfigurationError(
                "Mode.PARALLEL_TOOLS has no Responses API form here: use Mode.RESPONSES_TOOLS with "
                "Iterable[Model], or chat completions"
            )
        return Mode.RESPONSES_TOOLS if self.is_tools else Mode.RESPONSES_JSON_SCHEMA

    @classmethod
    def tool_modes(cls) -> set[Mode]:
        """instructor's tool-call modes (of every provider)."""
        return {m for m in cls if m.name in _TOOL_NAMES or "TOOLS" in m.name or m.name in _BOTH}

    @classmethod
    def json_modes(cls) -> set[Mode]:
        """instructor's JSON modes (of every provider)."""
        return {m for m in cls if ("JSON" in m.name and "TOOLS" not in m.name) or m.name in _BOTH}

    @classmethod
    def parallel_modes(cls) -> set[Mode]:
        """The parallel tool-call modes (of every provider)."""
        return {m for m in cls if "PARALLEL" in m.name}

    @classmethod
    def warn_mode_functions_deprecation(cls) -> None:
        """Warn (once a process) that `FUNCTIONS` is deprecated, as instructor does."""
        global _functions_deprecation_shown
        if not _functions_deprecation_shown:
            warnings.warn(
                "The FUNCTIONS mode is deprecated and will be removed in future versions; use Mode.TOOLS",
                DeprecationWarning,
                stacklevel=2,
            )
            _functions_deprecation_shown = True

    def __str__(self) -> str:
        return self.value


#: the modes a client here can use
USABLE: tuple[Mode, ...] = (
    Mode.TOOLS,
    Mode.TOOLS_STRICT,
    Mode.PARALLEL_TOOLS,
    Mode.JSON,
    Mode.JSON_SCHEMA,
    Mode.MD_JSON,
    Mode.AUTO,
    Mode.RESPONSES_TOOLS,
    Mode.RESPONSES_TOOLS_WITH_INBUILT_TOOLS,
    Mode.RESPONSES_JSON_SCHEMA,
)
#: the Responses API's modes
RESPONSES_MODES = frozenset({Mode.RESPONSES_TOOLS, Mode.RESPONSES_TOOLS_WITH_INBUILT_TOOLS, Mode.RESPONSES_JSON_SCHEMA})

_INSTRUCTOR_VALUES = {
    "tool_call": "tools",
    "parallel_tool_call": "parallel_tools",
    "json_mode": "json",
    "markdown_json_mode": "md_json",
    "json_schema_mode": "json_schema",
}
_TOOL_NAMES = frozenset({"FUNCTIONS"})
_BOTH = frozenset({"OPENROUTER_STRUCTURED_OUTPUTS", "MISTRAL_STRUCTURED_OUTPUTS"})
_PROVIDERS = {
    "XAI": "xAI",
    "ANTHROPIC": "Anthropic",
    "MISTRAL": "Mistral",
    "VERTEXAI": "Vertex AI",
    "GEMINI": "Gemini",
    "GENAI": "Google GenAI",
    "COHERE": "Cohere",
    "CEREBRAS": "Cerebras",
    "FIREWORKS": "Fireworks",
    "WRITER": "Writer",
    "BEDROCK": "AWS Bedrock",
    "PERPLEXITY": "Perplexity",
    "OPENROUTER": "OpenRouter",
}
