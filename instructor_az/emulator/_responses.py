"""Turning backend replies into Azure's response bodies and SSE chunk sequences."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import struct
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from . import _wire as wire
from ._api_versions import at_least
from ._backends import ChatRequest, Generation, Reply
from ._deployments import Deployment
from ._faults import Fault

JSON = dict[str, Any]


@dataclass
class Shaped:
    """A reply after the request's limits and faults: what is said, and why it stopped."""

    content: str | None
    tool_calls: list[tuple[str, str, str]]  # (id, name, arguments)
    refusal: str | None
    finish_reason: str
    flagged: dict[str, str] = field(default_factory=dict)
    #: counts a backend measured with its tokenizer (None: estimated from the text)
    tokens: int | None = None
    prompt: int | None = None
    #: a reply still being generated: its pieces are streamed as they come
    live: Generation | None = None

    @property
    def completion_tokens(self) -> int:
        if self.tokens is not None:
            return self.tokens
        total = wire.count_tokens(self.content or "") + wire.count_tokens(self.refusal or "")
        for _, name, arguments in self.tool_calls:
            total += wire.count_tokens(arguments) + wire.count_tokens(name) + 3
        return total


def _cut_to_tokens(text: str, limit: int) -> tuple[str, bool]:
    if wire.count_tokens(text) <= limit:
        return text, False
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if wire.count_tokens(text[:mid]) <= limit:
            low = mid
        else:
            high = mid - 1
    return text[:low], True


def shape(
    request: ChatRequest, reply: Reply, faults: Sequence[Fault], *, default_max_tokens: int | None
) -> Shaped:
    """Apply `max_tokens`, and the completion-filter and length faults, to a reply."""
    forced = request.forced_tool is not None
    calls = [
        (call.id or wire.random_id("call_", 24), call.name, call.arguments_json) for call in reply.tool_calls
    ]
    content = reply.content
    if content is None and not calls and reply.refusal is None:
        content = ""
    finish = reply.finish_reason or ("tool_calls" if calls and not forced else "stop")
    flagged: dict[str, str] = {}
    measured = reply.completion_tokens

    def cut(after: int | None) -> None:
        nonlocal measured
        measured = None  # the text changed: estimate its tokens
        nonlocal content, calls
        if calls:
            name_id, name, arguments = calls[0]
            keep = len(arguments) // 2 if after is None else after
            calls = [(name_id, name, arguments[:keep])]
        elif content is not None:
            keep = len(content) // 2 if after is None else after
            content = content[:keep]

    for fault in faults:
        if fault.kind == "completion_filter":
            cut(fault.after_chars)
            finish, flagged = "content_filter", fault.flagged
        elif fault.kind == "length":
            cut(fault.after_chars)
            finish = "length"

    limit = request.body.get("max_completion_tokens") or request.body.get("max_tokens") or default_max_tokens
    if reply.completion_tokens is not None:
        limit = None  # the backend counted real tokens and applied the limit while generating
    if isinstance(limit, int) and finish not in ("content_filter", "length"):
        if calls:
            used = 0
            kept: list[tuple[str, str, str]] = []
            for call_id, name, arguments in calls:
                cut_args, was_cut = _cut_to_tokens(arguments, max(limit - used, 0))
                kept.append((call_id, name, cut_args))
                used += wire.count_tokens(cut_args)
                if was_cut:
                    finish = "length"
                    break
            calls = kept
        elif content is not None:
            content, was_cut = _cut_to_tokens(content, limit)
            if was_cut:
                finish = "length"
    return Shaped(content, calls, reply.refusal, finish, flagged, measured, reply.prompt_tokens)


def live(generation: Generation) -> Shaped:
    """A reply still being generated; `chat_chunks` streams its pieces and reads the rest at the end."""
    calls = [(wire.random_id("call_", 24), generation.tool, "")] if generation.tool else []
    return Shaped(None if calls else "", calls, None, "stop", live=generation)


def _prompt_total(request: ChatRequest, choices: Sequence[Shaped]) -> int:
    measured = [s.prompt for s in choices if s.prompt is not None]
    return measured[0] if measured else prompt_tokens(request)


def prompt_tokens(request: ChatRequest) -> int:
    if request.operation == "completions":
        return sum(wire.count_tokens(str(m.get("content", ""))) for m in request.messages)
    total = 0
    for message in request.messages:
        total += 4
        content = message.get("content")
        if isinstance(content, str):
            total += wire.count_tokens(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, Mapping):
                    if part.get("type") == "text":
                        total += wire.count_tokens(str(part.get("text", "")))
                    elif part.get("type") == "image_url":
                        total += 85  # a low-detail image tile
                    elif part.get("type") == "input_audio":
                        total += 50
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            total += wire.count_tokens(str(function.get("arguments", ""))) + 3
    if request.tools:
        total += wire.count_tokens(json.dumps(request.tools))
    fmt = request.response_format
    if fmt and fmt.get("type") == "json_schema":
        total += wire.count_tokens(json.dumps(fmt.get("json_schema")))
    return total + 3


def usage(prompt: int, completion: int) -> JSON:
    return {"completion_tokens": completion, "prompt_tokens": prompt, "total_tokens": prompt + completion}


def _protected(api_version: str | None) -> bool:
    return api_version is None or at_least(api_version, "2024-05-01-preview")


def _message(shaped: Shaped) -> JSON:
    message: JSON = {"role": "assistant", "content": shaped.content, "refusal": shaped.refusal}
    if shaped.tool_calls:
        message["tool_calls"] = [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
            for call_id, name, arguments in shaped.tool_calls
        ]
    return message


def _fingerprint(deployment: Deployment) -> str:
    return "fp_" + hashlib.sha256(deployment.response_model.encode()).hexdigest()[:10]


def chat_completion(
    request: ChatRequest, deployment: Deployment, choices: Sequence[Shaped], api_version: str | None
) -> JSON:
    prompt = _prompt_total(request, choices)
    return {
        "choices": [
            {
                "content_filter_results": wire.completion_filter_results(
                    shaped.flagged, protected_material=_protected(api_version)
                ),
                "finish_reason": shaped.finish_reason,
                "index": i,
                "logprobs": None,
                "message": _message(shaped),
            }
            for i, shaped in enumerate(choices)
        ],
        "created": int(time.time()),
        "id": wire.random_id("chatcmpl-"),
        "model": deployment.response_model,
        "object": "chat.completion",
        "prompt_filter_results": wire.prompt_filter_results(_prompt_count(request)),
        "system_fingerprint": _fingerprint(deployment),
        "usage": usage(prompt, sum(s.completion_tokens for s in choices)),
    }


def _prompt_count(request: ChatRequest) -> int:
    # Azure annotates each prompt "part" it filtered; one per request in the common case, plus one per image.
    images = 0
    for message in request.messages:
        content = message.get("content")
        if isinstance(content, list):
            images += sum(1 for p in content if isinstance(p, Mapping) and p.get("type") == "image_url")
    return 1 + images


def _pieces(text: str, size: int) -> Iterator[str]:
    for start in range(0, len(text), size):
        yield text[start : start + size]


def chat_chunks(
    request: ChatRequest,
    deployment: Deployment,
    choices: Sequence[Shaped],
    api_version: str | None,
    *,
    chunk_chars: int,
) -> Iterator[JSON]:
    """The SSE data objects of a streamed chat completion, in Azure's order."""
    completion_id = wire.random_id("chatcmpl-")
    created = int(time.time())
    include_usage = bool((request.body.get("stream_options") or {}).get("include_usage"))
    protected = _protected(api_version)
    base: JSON = {
        "created": created,
        "id": completion_id,
        "model": deployment.response_model,
        "object": "chat.completion.chunk",
        "system_fingerprint": _fingerprint(deployment),
    }
    if include_usage:
        base["usage"] = None

    def chunk(index: int, delta: JSON, finish: str | None = None, filters: JSON | None = None) -> JSON:
        return {
            "choices": [
                {
                    "content_filter_results": filters if filters is not None else {},
                    "delta": delta,
                    "finish_reason": finish,
                    "index": index,
                    "logprobs": None,
                }
            ],
            **base,
        }

    # Azure's first chunk: no choices, no id, only the prompt's filter results.
    if api_version is None or at_least(api_version, "2023-06-01-preview"):
        yield {
            "choices": [],
            "created": 0,
            "id": "",
            "model": "",
            "object": "",
            "prompt_filter_results": wire.prompt_filter_results(_prompt_count(request)),
        }
    safe = wire.completion_filter_results(protected_material=protected)
    for index, shaped in enumerate(choices):
        if shaped.tool_calls:
            yield chunk(index, {"role": "assistant", "content": None, "refusal": None})
            for position, (call_id, name, arguments) in enumerate(shaped.tool_calls):
                yield chunk(
                    index,
                    {
                        "tool_calls": [
                            {
                                "index": position,
                                "id": call_id,
                                "type": "function",
                                "function": {"name": name, "arguments": ""},
                            }
                        ]
                    },
                )
                pieces = _stream_live(shaped) if shaped.live else _pieces(arguments, chunk_chars)
                for piece in pieces:
                    yield chunk(
                        index, {"tool_calls": [{"index": position, "function": {"arguments": piece}}]}
                    )
        else:
            yield chunk(index, {"role": "assistant", "content": "", "refusal": None})
            pieces = _stream_live(shaped) if shaped.live else _pieces(shaped.content or "", chunk_chars)
            for piece in pieces:
                yield chunk(index, {"content": piece}, filters=safe)
            if shaped.refusal:
                for piece in _pieces(shaped.refusal, chunk_chars):
                    yield chunk(index, {"refusal": piece}, filters=safe)
        finish_filters: JSON = {}
        if shaped.finish_reason == "content_filter":
            finish_filters = wire.completion_filter_results(shaped.flagged, protected_material=protected)
        yield chunk(index, {}, shaped.finish_reason, finish_filters)
    if include_usage:
        yield {
            **base,
            "choices": [],
            "usage": usage(_prompt_total(request, choices), sum(s.completion_tokens for s in choices)),
        }


def _stream_live(shaped: Shaped) -> Iterator[str]:
    """The pieces of a live generation, recording its text, finish and counts as they become known."""
    generation = shaped.live
    assert generation is not None
    return live_pieces(shaped, generation)


def live_pieces(shaped: Shaped, generation: Any) -> Iterator[str]:
    """A live generation's pieces, written into `shaped` as they come (the forced tool call's arguments,
    else the content); its finish and counts at the end. Chat chunks and Responses events both read it."""
    try:
        for piece in generation:
            if shaped.tool_calls:
                call_id, name, arguments = shaped.tool_calls[0]
                shaped.tool_calls[0] = (call_id, name, arguments + piece)
            else:
                shaped.content = (shaped.content or "") + piece
            yield piece
        shaped.finish_reason = generation.finish_reason
        shaped.tokens = generation.completion_tokens
        shaped.prompt = generation.prompt_tokens
    finally:
        generation.close()


def text_completion(
    request: ChatRequest, deployment: Deployment, choices: Sequence[Shaped], api_version: str | None
) -> JSON:
    return {
        "choices": [
            {
                "content_filter_results": wire.completion_filter_results(
                    shaped.flagged, protected_material=False
                ),
                "finish_reason": shaped.finish_reason,
                "index": i,
                "logprobs": None,
                "text": shaped.content or "",
            }
            for i, shaped in enumerate(choices)
        ],
        "created": int(time.time()),
        "id": wire.random_id("cmpl-"),
        "model": deployment.response_model,
        "object": "text_completion",
        "prompt_filter_results": wire.prompt_filter_results(1, jailbreak=False),
        "system_fingerprint": None,
        "usage": usage(_prompt_total(request, choices), sum(s.completion_tokens for s in choices)),
    }


def text_completion_chunks(
    request: ChatRequest, deployment: Deployment, choices: Sequence[Shaped], *, chunk_chars: int
) -> Iterator[JSON]:
    completion_id = wire.random_id("cmpl-")
    created = int(time.time())
    yield {
        "choices": [],
        "created": 0,
        "id": "",
        "model": "",
        "object": "",
        "prompt_filter_results": wire.prompt_filter_results(1, jailbreak=False),
    }
    safe = wire.completion_filter_results(protected_material=False)
    for index, shaped in enumerate(choices):
        for piece in _pieces(shaped.content or "", chunk_chars):
            yield {
                "choices": [
                    {
                        "content_filter_results": safe,
                        "finish_reason": None,
                        "index": index,
                        "logprobs": None,
                        "text": piece,
                    }
                ],
                "created": created,
                "id": completion_id,
                "model": deployment.response_model,
                "object": "text_completion",
            }
        yield {
            "choices": [
                {
                    "content_filter_results": wire.completion_filter_results(
                        shaped.flagged, protected_material=False
                    )
                    if shaped.flagged
                    else {},
                    "finish_reason": shaped.finish_reason,
                    "index": index,
                    "logprobs": None,
                    "text": "",
                }
            ],
            "created": created,
            "id": completion_id,
            "model": deployment.response_model,
            "object": "text_completion",
        }


# --- embeddings -----------------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _word_vector(word: str, dims: int) -> tuple[float, ...]:
    seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
    rng = random.Random(seed)
    return tuple(rng.gauss(0.0, 1.0) for _ in range(dims))


def embedding_vector(text: str, dims: int, *, native_dims: int) -> list[float]:
    """A deterministic unit vector; texts sharing words get similar vectors (a bag of hashed words)."""
    words = [m.lower() for m in wire._TOKEN.findall(text)] or [""]
    acc = [0.0] * native_dims
    for word in words:
        for i, x in enumerate(_word_vector(word, native_dims)):
            acc[i] += x
    acc = acc[:dims]
    norm = sum(x * x for x in acc) ** 0.5 or 1.0
    return [x / norm for x in acc]


def embeddings(texts: Sequence[str], deployment: Deployment, body: Mapping[str, Any]) -> JSON:
    native = deployment.embedding_dimensions or 1536
    dims = body.get("dimensions") or native
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for i, text in enumerate(texts):
        vector = embedding_vector(text, dims, native_dims=native)
        encoded: Any = (
            base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode() if as_base64 else vector
        )
        data.append({"embedding": encoded, "index": i, "object": "embedding"})
    tokens = sum(wire.count_tokens(t) for t in texts)
    return {
        "data": data,
        "model": deployment.response_model,
        "object": "list",
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
