"""`import instructor` served by instructor-az, for code written against instructor 1.x.

The documented migration is one line, `import instructor_az as instructor`. Code that cannot be edited
(a notebook, a test suite, a library importing `instructor` itself) can opt in to an alias instead:

```python
import instructor_az.alias
instructor_az.alias.install()      # from now on `import instructor` gives instructor_az

import instructor                  # instructor_az
from instructor.core.exceptions import InstructorRetryException
```

or, without touching the code, `pytest -p instructor_az.alias` (a pytest plugin installing it before
collection), or `python -m instructor_az.alias script.py [args]`. For every Python process started
with it (the subprocesses a test suite starts too), put the folder `python -m instructor_az.alias
--pythonpath` prints on `PYTHONPATH`: its `sitecustomize` installs the alias at start-up (it takes the
place of any other `sitecustomize` on the path).

The alias never shadows a real instructor: `install()` raises `AliasError` when an `instructor`
package is importable, unless `force=True`. Module paths map to their public equivalents here
(`instructor.core.exceptions` -> `instructor_az.exceptions`, `instructor.dsl.partial` ->
`instructor_az.dsl.partial`, `instructor.v2.*` as the same path without `v2`, ...); a path with no
equivalent is a `ModuleNotFoundError` that says so.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import runpy
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["AliasError", "install", "installed", "shim_dir", "target_of", "uninstall"]

ALIAS = "instructor"
TARGET = "instructor_az"

# instructor's module paths (after dropping a `v2.` segment) -> the module here that holds their names.
_PATHS: dict[str, str] = {
    "": "",
    "core": "exceptions",
    "core.exceptions": "exceptions",
    "exceptions": "exceptions",
    "core.hooks": "hooks",
    "hooks": "hooks",
    "core.patch": "patch",
    "patch": "patch",
    "core.client": "client",
    "client": "client",
    "core.mode": "mode",
    "mode": "mode",
    "core.errors": "exceptions",
    "auto_client": "auto_client",
    "function_calls": "function_calls",
    "core.function_calls": "function_calls",
    "processing": "function_calls",
    "processing.function_calls": "function_calls",
    "processing.schema": "function_calls",
    "multimodal": "multimodal",
    "core.multimodal": "multimodal",
    "processing.multimodal": "multimodal",
    "core.remote": "multimodal",
    "validation": "validation",
    "validation.llm_validators": "validation",
    "processing.validators": "validation",
    "core.validators": "validation",
    "core.response_model": "utils",
    "validators": "validation",
    "dsl": "dsl",
    "dsl.partial": "dsl.partial",
    "dsl.iterable": "dsl.iterable",
    "dsl.maybe": "dsl.maybe",
    "dsl.citation": "dsl.citation",
    "dsl.simple_type": "dsl.simple_type",
    "dsl.validators": "validation",
    "core.providers": "providers",
    "providers": "providers",
    "core.registry": "registry",
    "registry": "registry",
    "utils": "utils",
    "utils.core": "utils",
}


class AliasError(RuntimeError):
    """The alias cannot be installed (a real instructor is importable)."""


def target_of(fullname: str) -> str | None:
    """The instructor_az module serving `instructor[.path]`, or None for a path with no equivalent."""
    if fullname != ALIAS and not fullname.startswith(ALIAS + "."):
        return None
    path = fullname[len(ALIAS) + 1 :]
    if path == "v2" or path.startswith("v2."):
        path = path[3:]
    mapped = _PATHS.get(path)
    if mapped is None:
        return None
    return f"{TARGET}.{mapped}" if mapped else TARGET


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        # The alias is the very module object: `instructor.Mode is instructor_az.Mode`, one set of classes.
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        pass  # already executed under its own name


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != ALIAS and not fullname.startswith(ALIAS + "."):
            return None
        serving = target_of(fullname)
        if serving is None:
            raise ModuleNotFoundError(
                f"{fullname} has no equivalent in instructor-az (the alias `instructor` -> `instructor_az` "
                "serves instructor's public API for OpenAI / Azure OpenAI; see docs/migrating.md)",
                name=fullname,
            )
        is_package = True  # so that `instructor.x.y` is looked up through this finder too
        spec = importlib.machinery.ModuleSpec(fullname, _AliasLoader(serving), is_package=is_package)
        spec.submodule_search_locations = []
        return spec


_finder: _AliasFinder | None = None


def installed() -> bool:
    return _finder is not None


def _installed_package(name: str) -> bool:
    """A regular module or package `name` is importable (a bare folder of that name, a namespace
    package such as a project's `instructor/` directory on the path, does not count)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin is not None


def install(*, force: bool = False) -> None:
    """Make `import instructor` (and its submodules) import instructor_az. Idempotent."""
    global _finder
    if _finder is not None:
        return
    if not force:
        existing = sys.modules.get(ALIAS)
        real = existing is not None and not existing.__name__.startswith(TARGET)
        if real or (existing is None and _installed_package(ALIAS)):
            raise AliasError(
                "a real `instructor` package is installed: the alias would shadow it. Uninstall it, use "
                "`import instructor_az as instructor`, or call install(force=True)"
            )
    _finder = _AliasFinder()
    sys.meta_path.insert(0, _finder)


def uninstall() -> None:
    """Remove the alias and forget the `instructor` modules it served."""
    global _finder
    if _finder is None:
        return
    sys.meta_path.remove(_finder)
    _finder = None
    for name in [n for n in sys.modules if n == ALIAS or n.startswith(ALIAS + ".")]:
        module = sys.modules[name]
        if getattr(module, "__name__", "").startswith(TARGET):
            del sys.modules[name]


# --- as a pytest plugin: `pytest -p instructor_az.alias` -------------------------------------------


def pytest_load_initial_conftests(early_config: Any, parser: Any, args: list[str]) -> None:
    install()


def shim_dir() -> str:
    """The folder whose `sitecustomize` installs the alias in every process that has it on PYTHONPATH."""
    return str(Path(__file__).resolve().parent / "_alias_shim")


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m instructor_az.alias script.py [args]`: run a script with the alias installed;
    `--pythonpath`: print the folder to put on PYTHONPATH for every process to have it."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--pythonpath"]:
        print(shim_dir())
        return
    if not args:
        print("usage: python -m instructor_az.alias SCRIPT [ARGS...] | --pythonpath", file=sys.stderr)
        raise SystemExit(2)
    install()
    sys.argv = args
    runpy.run_path(args[0], run_name="__main__")


if __name__ == "__main__":  # pragma: no cover
    main()
