"""Deterministic JSON values for a JSON schema: what the emulator's "schema" backend answers with.

`value_for_schema(schema, text=...)` walks a JSON Schema (draft 2020-12 as pydantic v2 and OpenAI/Azure
tools emit it) and builds one value that is valid for it. The same (schema, text) always gives the same
value; nothing random or hash-seeded is involved. The rules:

* `$ref` (JSON pointers inside the root: `#/$defs/..`, `#/definitions/..`) and `allOf` are merged into
  one schema. `const` wins, then `enum` (the first member named in `text`, else the first member).
* `anyOf` / `oneOf`: the first branch that yields a valid value, non-null branches first (for `oneOf`
  the value must match no other branch). A `type` list is tried in order, `null` last.
* Objects get every property in `properties` order, required or not; `dict`-like objects (only
  `additionalProperties`) get one entry; `minProperties` adds `key`, `key2`, ... entries.
* Arrays get one item unless `minItems`/`maxItems`/`prefixItems` say otherwise; items differ by a
  "variant" number so `uniqueItems` holds.
* Recursion: once a `$ref` recurs on the current path, or past depth 8, values become minimal: `null`
  when allowed, `minItems` items, required properties only, a non-recursive `anyOf` branch.
* Strings: `pattern` is turned into a matching string by walking Python's regex parse tree (literals,
  classes, `\\d \\w \\s`, repeats, groups, alternation, anchors, backreferences; lookarounds are
  skipped and the result re-checked). `format` gives a fixed sample (date-time, date, time, duration,
  email, uri/url, uuid, ipv4, ipv6, hostname, and pydantic's uuidN/ip* formats). A property whose name
  ends in "name" or is like title/city/country/company takes a capitalized word from `text` (words
  that do not start a sentence first, each used once; format names such as JSON are skipped). Other
  strings read "example <property name>", trimmed or padded to `minLength`/`maxLength`.
* Numbers take the first unused number in `text` that satisfies the constraints, else 1 (1.0 for
  `number`) or the nearest value meeting `minimum`/`maximum`/exclusive bounds/`multipleOf`.
* Booleans are `true` (alternating with `false` across array items); a `true`/`{}` schema gets a string.

Keywords without a generator (`not`, `if`/`then`, `contains`, `patternProperties`, `dependent*`,
`unevaluated*`) are not steered; the finished value is always checked with `jsonschema` (format
checking on) and `SchemaValueError`, naming the JSON path, is raised rather than returning it invalid.
"""

from __future__ import annotations

import functools
import json
import math
import re
import string
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from jsonschema import FormatChecker  # type: ignore[import-untyped, unused-ignore]
from jsonschema.exceptions import SchemaError, best_match  # type: ignore[import-untyped, unused-ignore]
from jsonschema.validators import Draft202012Validator, validator_for  # type: ignore[import-untyped, unused-ignore]
from referencing.exceptions import Unresolvable  # jsonschema's own $ref machinery

from ._schema_strings import _FORMATS, SchemaValueError, _pattern_string

__all__ = ["SchemaValueError", "value_for_schema"]

JSON = dict[str, Any]

_SOFT_DEPTH = 8  # from here on values are minimal
_HARD_DEPTH = 32  # a branch nested deeper has no finite value; give up on it
_STEP_BUDGET = 20_000  # bounds anyOf backtracking over pathological recursive schemas
_INF = math.inf


def value_for_schema(schema: Mapping[str, Any], *, text: str = "") -> Any:
    """A deterministic JSON value valid for `schema` (JSON Schema draft 2020-12 as pydantic v2 and
    OpenAI/Azure tools emit it). `text` (the user's prompt) supplies plausible numbers and names."""
    if not isinstance(schema, (Mapping, bool)):
        raise SchemaValueError(f"$: a schema must be an object or a boolean, not {type(schema).__name__}")
    validator = _validator(json.dumps(schema, sort_keys=True, default=str))
    value = _Generator(schema, text, validator).gen(schema, _Ctx("$", "", 0, (), False, 0))
    try:
        error = best_match(validator.iter_errors(value))
    except Unresolvable as exc:  # a $ref the generator never had to follow
        raise SchemaValueError(f"$: cannot resolve a $ref: {exc}") from None
    if error is not None:
        raise SchemaValueError(f"{error.json_path}: could not produce a valid value ({error.message})")
    return value


# --- validation ---------------------------------------------------------------------------------------

_RFC3339_TIME = r"([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)"
_DURATION = re.compile(r"P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?", re.ASCII)
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?", re.ASCII)


def _is_datetime(v: str) -> bool:
    d, sep, t = v.partition("T") if "T" in v else v.partition("t")
    try:
        date.fromisoformat(d)
    except ValueError:
        return False
    return bool(sep) and re.fullmatch(_RFC3339_TIME, t, re.ASCII) is not None


def _is_uri(v: str) -> bool:
    return (
        re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", v) is not None and not re.search(r"\s", v) and bool(urlsplit(v))
    )


# The stdlib-only checkers jsonschema lacks without optional packages (rfc3339-validator, rfc3987, ...).
_EXTRA_FORMATS: dict[str, Callable[[str], bool]] = {
    "date-time": _is_datetime,
    "time": lambda v: re.fullmatch(_RFC3339_TIME, v, re.ASCII) is not None,
    "duration": lambda v: _DURATION.fullmatch(v) is not None,
    "uri": _is_uri,
    "url": _is_uri,
    "iri": _is_uri,
    "uri-reference": lambda v: not re.search(r"\s", v),
    "iri-reference": lambda v: not re.search(r"\s", v),
    "hostname": lambda v: _HOSTNAME.fullmatch(v) is not None,
}


@functools.lru_cache(maxsize=64)
def _validator(schema_json: str) -> Any:
    """One validator per distinct schema: the emulator sees the same tool schemas request after request."""
    schema = json.loads(schema_json)
    cls = validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        raise SchemaValueError(f"$: invalid schema at {exc.json_path}: {exc.message}") from None
    checker = FormatChecker(formats=())
    checker.checkers = dict(cls.FORMAT_CHECKER.checkers)
    for name, check in _EXTRA_FORMATS.items():
        if name not in checker.checkers:
            checker.checks(name)(lambda v, check=check: not isinstance(v, str) or check(v))
    return cls(schema, format_checker=checker)


# --- generation ---------------------------------------------------------------------------------------


class _Ctx(NamedTuple):
    path: str  # JSON path of the value being built, for error messages
    name: str  # property name (singular for array items), for placeholders and name heuristics
    depth: int
    refs: tuple[str, ...]  # $refs expanded on the way here, to notice recursion
    minimal: bool
    variant: int  # position among siblings, so array items differ

    def child(self, key: str | int, name: str, variant: int) -> _Ctx:
        if isinstance(key, int):
            path = f"{self.path}[{key}]"
        else:
            path = f"{self.path}.{key}" if key.isidentifier() else f"{self.path}[{json.dumps(key)}]"
        return self._replace(path=path, name=name, depth=self.depth + 1, variant=variant)


_NUMBER_RE = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]\d)")
_WORD_RE = re.compile(r"[^\W\d_]+")
# Property names (last word) whose values are proper nouns, so a capitalized word from the prompt fits.
_NAME_LIKE = re.compile(
    r".*name|title|city|country|company|author|person|organi[sz]ation|brand|employer|town|team"
)
# Words a prompt uses to name the answer's format (JSON mode must say "json"), never a name or a city.
_FORMAT_WORDS = frozenset({"JSON", "JSONL", "YAML", "XML", "CSV"})
_OBJECT_KEYS = ("properties", "required", "additionalProperties", "minProperties", "propertyNames")
_ARRAY_KEYS = ("items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains")
_STRING_KEYS = ("minLength", "maxLength", "pattern", "format")
_NUMBER_KEYS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
# With no "type", the keywords present say which kind of value the schema describes.
_TYPE_KEYS = {"object": _OBJECT_KEYS, "array": _ARRAY_KEYS, "string": _STRING_KEYS, "number": _NUMBER_KEYS}


def _words(name: str) -> list[str]:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").replace("-", " ").lower().split()


def _singular(name: str) -> str:
    return name[:-1] if len(name) > 3 and name.endswith("s") and not name.endswith("ss") else name


def _fit(text: str, lo: float, hi: float) -> str:
    """Trim or pad `text` to a length in [lo, hi] (lo <= hi is checked by the caller)."""
    if len(text) > hi:
        cut = text[: int(hi)]
        text = cut.rstrip() if len(cut.rstrip()) >= lo else cut
    if len(text) < lo:
        unit = (text or "x") + " "
        text = (unit * (int(lo) // len(unit) + 1))[: int(lo)]
        text = text[:-1] + "x" if text.endswith(" ") else text
    return text


class _Generator:
    def __init__(self, root: Any, text: str, validator: Any) -> None:
        self.root = root
        self.validator = validator
        self.text = text.lower()
        self.numbers = [int(m) if "." not in m else float(m) for m in _NUMBER_RE.findall(text)]
        inner: list[str] = []  # capitalized words that are not the first of a sentence: likely names
        first: list[str] = []
        for m in _WORD_RE.finditer(text):
            word, j = m.group(), m.start() - 1
            if len(word) < 2 or not word[0].isupper() or word.upper() in _FORMAT_WORDS:
                continue
            while j >= 0 and text[j].isspace():
                j -= 1
            (first if j < 0 or text[j] in ".!?" else inner).append(word)
        self.words = inner + first
        self.used_numbers: set[int] = set()
        self.used_words: set[int] = set()
        self.steps = 0
        self.flat: dict[int, tuple[Any, JSON, tuple[str, ...]]] = {}
        self.busy: list[Any] = []

    # -- $ref / allOf -----------------------------------------------------------------------------------

    def flatten(self, schema: Any, path: str) -> tuple[JSON, tuple[str, ...]]:
        """`schema` with `$ref` and `allOf` merged in, and the $refs that took; cached per schema object."""
        if schema is True:
            return {}, ()
        if schema is False:
            raise SchemaValueError(f"{path}: the schema is `false`, no value is valid")
        if not isinstance(schema, Mapping):
            raise SchemaValueError(f"{path}: a schema must be an object or a boolean, not {schema!r}")
        hit = self.flat.get(id(schema))
        if hit is not None and hit[0] is schema:  # identity check: ids of freed temporaries get reused
            return hit[1], hit[2]
        if not ("$ref" in schema or "allOf" in schema):
            return dict(schema), ()
        if any(s is schema for s in self.busy):
            raise SchemaValueError(f"{path}: circular $ref/allOf with no schema in between")
        self.busy.append(schema)
        try:
            out: JSON = {k: v for k, v in schema.items() if k not in ("$ref", "allOf")}
            refs: tuple[str, ...] = ()
            parts = list(schema.get("allOf", ()))
            if "$ref" in schema:
                parts.insert(0, self.resolve(schema["$ref"], path))
                refs = (schema["$ref"],)
            for part in parts:
                flat, sub = self.flatten(part, path)
                out, refs = _merge(out, flat, path), refs + sub
        finally:
            self.busy.pop()
        self.flat[id(schema)] = (schema, out, refs)
        return out, refs

    def resolve(self, ref: Any, path: str) -> Any:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise SchemaValueError(f"{path}: cannot resolve $ref {ref!r} (only refs within the schema)")
        node = self.root
        for raw in ref[1:].split("/")[1:]:
            token = re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m[1], 16)), raw)
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise SchemaValueError(f"{path}: cannot resolve $ref {ref!r}")
        return node

    # -- dispatch ---------------------------------------------------------------------------------------

    def gen(self, schema: Any, ctx: _Ctx) -> Any:
        flat, refs = self.flatten(schema, ctx.path)
        return self.node(flat, refs, ctx)

    def node(self, flat: JSON, refs: tuple[str, ...], ctx: _Ctx) -> Any:
        self.steps += 1
        if self.steps > _STEP_BUDGET or ctx.depth > _HARD_DEPTH:
            raise SchemaValueError(
                f"{ctx.path}: no finite value found (recursive schema without a base case?)"
            )
        if refs:
            ctx = ctx._replace(refs=ctx.refs + refs, minimal=ctx.minimal or any(r in ctx.refs for r in refs))
        if ctx.depth >= _SOFT_DEPTH and not ctx.minimal:
            ctx = ctx._replace(minimal=True)
        for key in ("anyOf", "oneOf"):
            if key in flat:
                return self.branches(flat, key, ctx)
        if "const" in flat:
            return flat["const"]
        if "enum" in flat:
            return self.enum(flat, ctx)
        types = self.types(flat, ctx)
        errors: list[SchemaValueError] = []
        for t in types:
            state = (set(self.used_numbers), set(self.used_words))
            try:
                return self.typed(t, flat, ctx)
            except SchemaValueError as exc:
                self.used_numbers, self.used_words = state
                errors.append(exc)
        raise errors[0] if errors else SchemaValueError(f"{ctx.path}: no type is allowed")

    def types(self, flat: JSON, ctx: _Ctx) -> list[str]:
        declared = flat.get("type")
        if declared is None:
            for kind, names in _TYPE_KEYS.items():
                if any(k in flat for k in names):
                    return [kind]
            return ["string"]  # any value is valid: a string reads best
        types = [declared] if isinstance(declared, str) else list(declared)
        nulls = [t for t in types if t == "null"]
        others = [t for t in types if t != "null"]
        return nulls + others if ctx.minimal else others + nulls

    def typed(self, t: str, flat: JSON, ctx: _Ctx) -> Any:
        if t == "object":
            return self.object(flat, ctx)
        if t == "array":
            return self.array(flat, ctx)
        if t == "string":
            return self.string(flat, ctx)
        if t in ("integer", "number"):
            return self.number(flat, ctx, integer=t == "integer")
        if t == "boolean":
            return ctx.variant % 2 == 0
        if t == "null":
            return None
        raise SchemaValueError(f"{ctx.path}: unknown type {t!r}")

    def is_valid(self, schema: Any, value: Any) -> bool:
        try:
            return bool(self.validator.evolve(schema=schema).is_valid(value))
        except Unresolvable as exc:
            raise SchemaValueError(f"$: cannot resolve a $ref: {exc}") from None

    def branches(self, flat: JSON, key: str, ctx: _Ctx) -> Any:
        rest = {k: v for k, v in flat.items() if k != key}
        options = list(flat[key])
        if ctx.minimal:  # null first, then branches that do not lead back into a $ref being expanded
            order = sorted(
                range(len(options)), key=lambda i: (not _is_null(options[i]), self.recurs(options[i], ctx))
            )
        else:  # in order, null last (sorting is stable)
            order = sorted(range(len(options)), key=lambda i: _is_null(options[i]))
        errors: list[str] = []
        for i in order:
            state = (set(self.used_numbers), set(self.used_words))
            try:
                bflat, brefs = self.flatten(options[i], ctx.path)
                merged = _merge(rest, bflat, ctx.path) if rest else bflat
                value = self.node(merged, brefs, ctx)
                if not self.is_valid(merged, value):
                    raise SchemaValueError(f"{ctx.path}: {key} branch value does not validate")
                if key == "oneOf" and any(self.is_valid(o, value) for j, o in enumerate(options) if j != i):
                    raise SchemaValueError(f"{ctx.path}: value matches more than one oneOf branch")
                return value
            except SchemaValueError as exc:
                self.used_numbers, self.used_words = state
                errors.append(str(exc))
        raise SchemaValueError(f"{ctx.path}: no {key} branch yields a valid value ({'; '.join(errors[:3])})")

    def recurs(self, schema: Any, ctx: _Ctx) -> bool:
        try:
            flat, refs = self.flatten(schema, ctx.path)
        except SchemaValueError:
            return True
        return any(r in ctx.refs for r in refs) or _mentions(flat, ctx.refs)

    def enum(self, flat: JSON, ctx: _Ctx) -> Any:
        members = list(flat["enum"])
        if not members:
            raise SchemaValueError(f"{ctx.path}: empty enum")
        mentioned = [
            i
            for i, m in enumerate(members)
            if isinstance(m, str) and m and re.search(rf"\b{re.escape(m.lower())}\b", self.text)
        ]
        start = mentioned[0] if mentioned else 0
        ordered = members[start:] + members[:start]
        ordered = ordered[ctx.variant % len(ordered) :] + ordered[: ctx.variant % len(ordered)]
        if flat.keys() <= {"enum", "title", "description"}:
            return ordered[0]
        for member in ordered:  # other keywords alongside enum: the first member they accept
            if self.is_valid(flat, member):
                return member
        raise SchemaValueError(f"{ctx.path}: no enum member satisfies the other constraints")

    # -- containers -------------------------------------------------------------------------------------

    def object(self, flat: JSON, ctx: _Ctx) -> JSON:
        props: Mapping[str, Any] = flat.get("properties", {})
        required = list(flat.get("required", []))
        extra = flat.get("additionalProperties", True)
        lo, hi = flat.get("minProperties", 0), flat.get("maxProperties", _INF)
        if lo > hi:
            raise SchemaValueError(f"{ctx.path}: minProperties {lo} > maxProperties {hi}")
        keys = [k for k in props if k in required or (props[k] is not False and not ctx.minimal)]
        keys += [k for k in required if k not in keys]
        optional = [k for k in keys if k not in required]
        while len(keys) > hi and optional:  # drop optional properties from the end
            keys.remove(optional.pop())
        if len(keys) > hi:
            raise SchemaValueError(f"{ctx.path}: {len(required)} required properties > maxProperties {hi}")
        out: JSON = {}
        for key in keys:
            sub = props.get(key, extra)
            if sub is False:
                raise SchemaValueError(f"{ctx.child(key, key, 0).path}: property is required but not allowed")
            out[key] = self.gen(sub, ctx.child(key, key, ctx.variant))
        dict_like = not props and isinstance(extra, Mapping) and not ctx.minimal
        target = max(lo, min(1, hi) if dict_like else 0)
        n = 0
        while len(out) < target:
            if extra is False:
                raise SchemaValueError(
                    f"{ctx.path}: minProperties {lo} needs properties that are not allowed"
                )
            n += 1
            if "propertyNames" in flat:
                key = self.gen(flat["propertyNames"], ctx._replace(name="key", variant=ctx.variant + n - 1))
            else:
                key = "key" if n == 1 else f"key{n}"
            if not isinstance(key, str) or key in out:
                raise SchemaValueError(f"{ctx.path}: cannot name another property ({key!r})")
            out[key] = self.gen(extra, ctx.child(key, "value", ctx.variant + n - 1))
        return out

    def array(self, flat: JSON, ctx: _Ctx) -> list[Any]:
        prefix, items = flat.get("prefixItems", []), flat.get("items", True)
        if isinstance(items, list):  # draft 2019 and older tuple form
            prefix, items = items, flat.get("additionalItems", True)
        lo, hi = flat.get("minItems", 0), flat.get("maxItems", _INF)
        if lo > hi:
            raise SchemaValueError(f"{ctx.path}: minItems {lo} > maxItems {hi}")
        count = lo if ctx.minimal else max(lo, min(len(prefix) or 1, hi))
        if items is False and count > len(prefix):
            if lo > len(prefix):
                raise SchemaValueError(f"{ctx.path}: minItems {lo} > {len(prefix)} allowed items")
            count = len(prefix)
        unique = bool(flat.get("uniqueItems"))
        out: list[Any] = []
        seen: list[str] = []
        for i in range(int(count)):
            sub = prefix[i] if i < len(prefix) else items
            for attempt in range(6 if unique else 1):  # retry with other variants until distinct
                variant = ctx.variant + i + attempt * int(count)
                state = (set(self.used_numbers), set(self.used_words))
                value = self.gen(sub, ctx.child(i, _singular(ctx.name), variant))
                canon = json.dumps(value, sort_keys=True)
                if not unique or canon not in seen:
                    break
                self.used_numbers, self.used_words = state
            else:
                raise SchemaValueError(f"{ctx.path}[{i}]: cannot make {count} distinct items")
            out.append(value)
            seen.append(canon)
        return out

    # -- scalars ----------------------------------------------------------------------------------------

    def string(self, flat: JSON, ctx: _Ctx) -> str:
        lo, hi = flat.get("minLength", 0), flat.get("maxLength", _INF)
        if lo > hi:
            raise SchemaValueError(f"{ctx.path}: minLength {lo} > maxLength {hi}")
        if "pattern" in flat:
            return _pattern_string(flat["pattern"], ctx.path, ctx.variant, lo, hi)
        fmt = flat.get("format")
        if fmt in _FORMATS:
            value = _FORMATS[fmt](ctx.variant, ctx.path)
            if not lo <= len(value) <= hi:
                raise SchemaValueError(f"{ctx.path}: a {fmt} ({value!r}) does not fit length [{lo}, {hi}]")
            return value
        words = _words(ctx.name)
        if words and _NAME_LIKE.fullmatch(words[-1]):
            for i, word in enumerate(self.words):
                if i not in self.used_words and lo <= len(word) <= hi:
                    self.used_words.add(i)
                    return word
        suffix = f" {ctx.variant + 1}" if ctx.variant else ""
        base = " ".join(["example", *words])
        if hi >= len(suffix) + 1:
            return _fit(base, max(0, lo - len(suffix)), hi - len(suffix)) + suffix
        # too short for a number suffix: vary the letter instead
        return _fit(string.ascii_lowercase[ctx.variant % 26], lo, hi)

    def number(self, flat: JSON, ctx: _Ctx, *, integer: bool) -> int | float:
        kind = "integer" if integer else "number"
        lo, hi = flat.get("minimum", -_INF), flat.get("maximum", _INF)
        xlo, xhi = flat.get("exclusiveMinimum", -_INF), flat.get("exclusiveMaximum", _INF)
        if xlo is True or xhi is True:  # draft 4 spelling: booleans that make minimum/maximum exclusive
            xlo, xhi = (lo if xlo is True else -_INF), (hi if xhi is True else _INF)
        xlo, xhi = (-_INF if xlo is False else xlo), (_INF if xhi is False else xhi)
        mult = flat.get("multipleOf")
        low, high = max(lo, xlo), min(hi, xhi)
        if low > high or (low == high and (xlo == low or xhi == high)):
            bounds = ", ".join(f"{k} {flat[k]}" for k in _NUMBER_KEYS[:4] if k in flat)
            raise SchemaValueError(f"{ctx.path}: no {kind} satisfies {bounds}")

        def ok(v: float) -> bool:
            if not (lo <= v <= hi and xlo < v < xhi) or (integer and v != int(v)):
                return False
            return mult is None or _multiple_of(v, mult)

        for i, n in enumerate(self.numbers):
            if i not in self.used_numbers and ok(n):
                self.used_numbers.add(i)
                return int(n) if integer else float(n)
        # Variant-shifted values first (distinct array items), then the plain ones.
        candidates: list[float] = [1 + ctx.variant, low + ctx.variant, high - ctx.variant, 1]
        for bound, step in ((low, 1), (high, -1)):
            candidates += [bound, bound + step, bound + step / 2]
        if math.isfinite(low) and math.isfinite(high):
            candidates += [
                round((low + high) / 2, 10),
                (low + high) / 2,
            ]  # rounded: 0.15, not 0.15000000000000002
        candidates += [0, -1]
        for c in filter(math.isfinite, candidates):
            if integer:
                c = math.ceil(c)
            if mult is not None:
                c = _snap(c, mult)
            if ok(c):
                return int(c) if integer else float(c)
        raise SchemaValueError(f"{ctx.path}: found no {kind} in [{low}, {high}] that is a multiple of {mult}")


def _multiple_of(v: float, mult: int | float) -> bool:
    """jsonschema's own multipleOf test, so floats that it rejects are never produced."""
    if isinstance(mult, float):
        q = v / mult
        return math.isfinite(q) and int(q) == q
    return not v % mult


def _snap(v: float, mult: float) -> float:
    """The smallest multiple of `mult` at or above `v`, computed in decimal to avoid 0.30000000000000004."""
    k = math.ceil(Decimal(repr(v)) / Decimal(repr(mult)))
    result = Decimal(k) * Decimal(repr(mult))
    return int(result) if result == int(result) and not isinstance(mult, float) else float(result)


def _mentions(node: Any, refs: tuple[str, ...]) -> bool:
    """Whether a `$ref` to one of `refs` appears anywhere in `node` (refs are not followed)."""
    if isinstance(node, Mapping):
        return node.get("$ref") in refs or any(_mentions(v, refs) for v in node.values())
    return isinstance(node, list) and any(_mentions(v, refs) for v in node)


def _is_null(schema: Any) -> bool:
    return isinstance(schema, Mapping) and (schema.get("type") == "null" or schema.get("const", 0) is None)


def _covered(x: JSON, y: JSON, own: str, catch_all: str) -> JSON:
    """`y` with `x[catch_all]` folded into the `y[own]` entries that `x` leaves to it: once merged,
    `x`'s `items` would no longer reach `y`'s `prefixItems`, nor its `additionalProperties` `y`'s
    `properties`."""
    rule = x.get(catch_all, True)
    if rule is True or not isinstance(rule, (Mapping, bool)) or own not in y:
        return y
    if own == "prefixItems":  # when both have prefixItems they are merged position by position
        return y if own in x else {**y, own: [{"allOf": [p, rule]} for p in y[own]]}
    mine = x.get(own, {})
    return {**y, own: {k: v if k in mine else rule and {"allOf": [v, rule]} for k, v in y[own].items()}}


def _merge(a: JSON, b: JSON, path: str) -> JSON:
    """Both schemas at once (allOf semantics), for the keywords that can be combined exactly."""
    a, b = _covered(b, a, "prefixItems", "items"), _covered(a, b, "prefixItems", "items")
    a, b = (
        _covered(b, a, "properties", "additionalProperties"),
        _covered(a, b, "properties", "additionalProperties"),
    )
    out = dict(a)
    for key, bv in b.items():
        if key not in out or out[key] == bv:
            out[key] = bv
            continue
        av = out[key]
        if key in ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"):
            out[key] = max(av, bv)
        elif key in ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"):
            out[key] = min(av, bv)
        elif key == "required":
            out[key] = list(av) + [r for r in bv if r not in av]
        elif key == "properties":
            out[key] = {**av, **{k: {"allOf": [av[k], v]} if k in av else v for k, v in bv.items()}}
        elif key == "type":
            at, bt = ([t] if isinstance(t, str) else list(t) for t in (av, bv))
            both = [t for t in at if t in bt or (t == "integer" and "number" in bt)]
            both += ["integer"] if "number" in at and "integer" in bt and "integer" not in both else []
            if not both:
                raise SchemaValueError(f"{path}: type {av!r} contradicts type {bv!r}")
            out[key] = both
        elif key == "enum":
            out[key] = [m for m in av if m in bv]
        elif key in ("anyOf", "oneOf"):
            out[key] = [{"allOf": [x, y]} for x in av for y in bv]
        elif key == "not":
            out[key] = {"anyOf": [av, bv]}
        elif key == "prefixItems":
            out[key] = (
                [{"allOf": [x, y]} for x, y in zip(av, bv, strict=False)] + av[len(bv) :] + bv[len(av) :]
            )
        elif key in ("const", "pattern", "format", "multipleOf"):
            raise SchemaValueError(f"{path}: cannot satisfy both {key} {av!r} and {key} {bv!r}")
        elif isinstance(av, (Mapping, bool)) and isinstance(bv, (Mapping, bool)):
            out[key] = {"allOf": [av, bv]}  # items, additionalProperties, propertyNames, ...
        # anything else is an annotation (title, description, ...): the first one stays
    return out
