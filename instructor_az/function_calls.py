"""instructor's `OpenAISchema` / `ResponseSchema`: a pydantic model that knows its function definition
and reads itself out of a chat completion.

```python
from instructor_az import OpenAISchema

class User(OpenAISchema):
    \"\"\"A user mentioned in the text.\"\"\"
    name: str
    age: int

User.openai_schema                       # {"name": "User", "description": ..., "parameters": {...}}
completion = raw_client.chat.completions.create(..., tools=[{"type": "function", "function": User.openai_schema}])
user = User.from_response(completion)     # mode=Mode.TOOLS by default
```

`openai_schema(Model)` / `response_schema(Model)` give an existing model the same two members.

`from_response` reads a completion by the rules `create()` applies to every answer (one parser: the
plan compiled for the model and mode): Azure's content filter and `finish_reason: "length"`
(`IncompleteOutputException`) first, a refusal (`RefusalError`), then the answer's JSON (no NaN,
no repeated keys, bounded depth) validated by pydantic. Nothing is re-asked: an invalid answer is
pydantic's `ValidationError`, or `ResponseParseError` for an answer that is not JSON.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Mapping
from functools import wraps
from typing import Any, TypeVar, cast

import docstring_parser
from pydantic import BaseModel, ConfigDict, create_model
from typing_extensions import Self

from ._errors import ConfigurationError, Usage
from ._mode import Mode
from ._plan import compile_plan
from ._schema import tool_name
from .utils import classproperty

__all__ = [
    "OpenAISchema",
    "ResponseSchema",
    "generate_openai_schema",
    "openai_schema",
    "response_schema",
]

Model = TypeVar("Model", bound=BaseModel)

# instructor's mode names and values (1.x) for the OpenAI modes, as the plan's modes.
_OPENAI_MODES: dict[str, Mode] = {
    "functions": Mode.TOOLS,
    "function_call": Mode.TOOLS,
    "tools": Mode.TOOLS,
    "tool_call": Mode.TOOLS,
    "tools_strict": Mode.TOOLS_STRICT,
    "parallel_tools": Mode.PARALLEL_TOOLS,
    "parallel_tool_call": Mode.PARALLEL_TOOLS,
    "json": Mode.JSON,
    "json_mode": Mode.JSON,
    "md_json": Mode.MD_JSON,
    "markdown_json_mode": Mode.MD_JSON,
    "json_schema": Mode.JSON_SCHEMA,
    "json_schema_mode": Mode.JSON_SCHEMA,
    "json_o1": Mode.JSON_SCHEMA,
}
_OPENAI_PROVIDERS = {"openai", "azure", "azure_openai", "azureopenai"}


def _plan_mode(mode: Any) -> Mode:
    """The plan mode reading a completion of `mode` (ours, instructor's, or the string either uses)."""
    keys = [getattr(mode, "value", mode), getattr(mode, "name", None)]
    for key in keys:
        if isinstance(key, str) and key.strip().lower() in _OPENAI_MODES:
            return _OPENAI_MODES[key.strip().lower()]
    raise ConfigurationError(
        f"mode {mode!r} is not served by instructor-az: it reads OpenAI / Azure OpenAI chat completions "
        "(Mode.TOOLS, Mode.TOOLS_STRICT, Mode.PARALLEL_TOOLS, Mode.JSON, Mode.JSON_SCHEMA, Mode.MD_JSON); "
        "another provider's completion needs that provider's library"
    )


def _check_provider(provider: Any) -> None:
    if provider is None:
        return
    name = getattr(provider, "value", provider)
    if not (isinstance(name, str) and name.strip().lower() in _OPENAI_PROVIDERS):
        raise ConfigurationError(
            f"provider {provider!r} is not served by instructor-az: it reads OpenAI / Azure OpenAI "
            "chat completions only"
        )


@functools.lru_cache(maxsize=256)
def generate_openai_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The function definition for `model` (`name`, `description`, `parameters`), as instructor builds it.

    `parameters` is pydantic's JSON schema of the model without its `title` and `description`,
    `required` sorted, and each property that `Field` left undescribed described from the class
    docstring's parameter section (Google, NumPy or reST style). `description` is the model's own
    (its docstring or `model_config`), else the docstring's summary, else a generic sentence.
    Cached per model: the same dict is returned each time, do not mutate it.
    """
    schema = model.model_json_schema()
    parsed = docstring_parser.parse(model.__doc__ or "")
    parameters = {key: value for key, value in schema.items() if key not in ("title", "description")}
    properties = parameters.get("properties") or {}
    for param in parsed.params:
        prop = properties.get(param.arg_name)
        if isinstance(prop, dict) and param.description and "description" not in prop:
            prop["description"] = param.description
    parameters["required"] = sorted(schema.get("required", []))
    description = (
        schema.get("description")
        or parsed.short_description
        or (f"Correctly extracted `{model.__name__}` with all the required parameters with correct types")
    )
    title = schema.get("title")
    return {
        "name": tool_name(title if isinstance(title, str) else model.__name__),
        "description": description,
        "parameters": parameters,
    }


class ResponseSchema(BaseModel):
    """A pydantic model with its OpenAI function definition (`openai_schema`) and `from_response`.

    Subclass it instead of `BaseModel`, or decorate a model with `response_schema` / `openai_schema`.
    """

    model_config = ConfigDict(ignored_types=(classproperty,))

    @classproperty
    def openai_schema(cls) -> dict[str, Any]:
        """The function definition: `{"name", "description", "parameters"}` (see `generate_openai_schema`).

        The class docstring is the description the model reads: say there what the object is and how
        to fill it in.
        """
        return generate_openai_schema(cast("type[BaseModel]", cls))

    @classmethod
    def from_response(
        cls,
        completion: Any,
        validation_context: Mapping[str, Any] | None = None,
        strict: bool | None = None,
        mode: Any = Mode.TOOLS,
        provider: Any = None,
        *,
        context: Mapping[str, Any] | None = None,
    ) -> Self:
        """An instance read from an OpenAI / Azure OpenAI `ChatCompletion`, by the rules `create()` uses.

        - `mode`: where the answer is: `Mode.TOOLS` (the first tool call, whatever function it
          names, or a legacy `function_call`; instructor's `Mode.FUNCTIONS` reads the same way),
          `Mode.JSON` / `Mode.MD_JSON` / `Mode.JSON_SCHEMA` (the message content).
        - `validation_context` (or `context`): passed to pydantic validators as `info.context`.
        - `strict`: `True` validates in pydantic's strict mode (no `"1"` -> `1` coercion).

        Raises `IncompleteOutputException` (`finish_reason: "length"`), `ContentFilterError`,
        `RefusalError`, pydantic's `ValidationError` for an invalid answer, `ResponseParseError` for
        one that is not JSON, and `ConfigurationError` for another provider's mode.
        """
        _check_provider(provider)
        plan = compile_plan(cls, _plan_mode(mode))
        ctx = context if context is not None else validation_context
        # The checks every attempt of `create()` makes before reading the answer.
        usage = Usage.of(completion)
        plan.check_answer(completion, usage, usage)
        return cast(Self, plan.parse(completion, ctx, any_name=True, strict=strict))

    @classmethod
    def _legacy(cls, name: str, mode: Mode, completion: Any, context: Any, strict: bool | None) -> Self:
        warnings.warn(
            f"{cls.__name__}.{name}() is deprecated: use {cls.__name__}.from_response(completion, mode={mode})",
            DeprecationWarning,
            stacklevel=3,
        )
        return cls.from_response(completion, validation_context=context, strict=strict, mode=mode)

    @classmethod
    def parse_tools(
        cls, completion: Any, validation_context: Mapping[str, Any] | None = None, strict: bool | None = None
    ) -> Self:
        """Deprecated: `from_response(completion, mode=Mode.TOOLS)`."""
        return cls._legacy("parse_tools", Mode.TOOLS, completion, validation_context, strict)

    @classmethod
    def parse_functions(
        cls, completion: Any, validation_context: Mapping[str, Any] | None = None, strict: bool | None = None
    ) -> Self:
        """Deprecated: `from_response(completion, mode=Mode.TOOLS)` (a legacy `function_call` is read too)."""
        return cls._legacy("parse_functions", Mode.TOOLS, completion, validation_context, strict)

    @classmethod
    def parse_json(
        cls, completion: Any, validation_context: Mapping[str, Any] | None = None, strict: bool | None = None
    ) -> Self:
        """Deprecated: `from_response(completion, mode=Mode.JSON)`."""
        return cls._legacy("parse_json", Mode.JSON, completion, validation_context, strict)

    @classmethod
    def parse_md_json(
        cls, completion: Any, validation_context: Mapping[str, Any] | None = None, strict: bool | None = None
    ) -> Self:
        """Deprecated: `from_response(completion, mode=Mode.MD_JSON)`."""
        return cls._legacy("parse_md_json", Mode.MD_JSON, completion, validation_context, strict)


def response_schema(cls: type[Model]) -> type[Model]:
    """`cls` with `ResponseSchema`'s members (`openai_schema`, `from_response`): a subclass of both,
    with the same name, docstring, module and JSON schema as `cls`."""
    candidate: Any = cls  # typed as a model class, but called on anything at runtime
    if not (inspect.isclass(candidate) and issubclass(candidate, BaseModel)):
        got = candidate.__name__ if inspect.isclass(candidate) else type(candidate).__name__
        raise TypeError(f"response_model must be a subclass of pydantic.BaseModel, got {got}")
    combined: Any = create_model(cls.__name__, __base__=(cls, ResponseSchema), __module__=cls.__module__)
    return cast("type[Model]", wraps(cls, updated=())(combined))


#: instructor's older names for the same things.
OpenAISchema = ResponseSchema
openai_schema = response_schema
