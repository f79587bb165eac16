"""Stored responses of the Responses API: what `store` (on by default, as on Azure) keeps.

Azure's Responses how-to: "By default response data is retained for 30 days" (so `store` defaults to
true), `GET /responses/{id}` retrieves one, `DELETE` removes it, `GET /responses/{id}/input_items` lists
its input, and `previous_response_id` continues the conversation a stored response ended. Here the store
is in memory, bounded (the oldest response goes first once `max_responses` are held), emptied by
`Emulator.reset()`, and shared by the dated and the v1 routes (one resource). Thread-safe.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

#: How many responses an emulator keeps by default (Azure keeps them 30 days; tests need far fewer).
DEFAULT_MAX_RESPONSES = 10_000


@dataclass(frozen=True)
class StoredResponse:
    """One stored response: the `Response` body as it was answered, the input items of its request (each
    with an id, as `input_items` lists them), and the whole conversation up to its answer (the previous
    responses' items, this input, this output) that a `previous_response_id` continues."""

    body: JSON
    input_items: tuple[JSON, ...] = ()
    conversation: tuple[JSON, ...] = ()
    deployment: str | None = None

    @property
    def id(self) -> str:
        return str(self.body["id"])


class ResponseStore:
    """`emulator.responses`: the responses stored with `store` on, by id (oldest first)."""

    def __init__(self, max_responses: int = DEFAULT_MAX_RESPONSES) -> None:
        if isinstance(max_responses, bool) or not isinstance(max_responses, int) or max_responses < 1:
            raise ValueError(f"max_responses must be a whole number from 1, got {max_responses!r}")
        self.max_responses = max_responses
        self._items: OrderedDict[str, StoredResponse] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ResponseStore({len(self)} stored, max {self.max_responses})"

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, response_id: object) -> bool:
        with self._lock:
            return response_id in self._items

    def __iter__(self) -> Iterator[StoredResponse]:
        with self._lock:
            return iter(list(self._items.values()))

    def put(
        self,
        body: JSON,
        *,
        input_items: Sequence[JSON] = (),
        conversation: Sequence[JSON] = (),
        deployment: str | None = None,
    ) -> StoredResponse:
        """Keep a response (a deep copy: later changes to `body` do not reach the store)."""
        stored = StoredResponse(
            copy.deepcopy(body),
            tuple(copy.deepcopy(list(input_items))),
            tuple(copy.deepcopy(list(conversation))),
            deployment,
        )
        with self._lock:
            self._items[stored.id] = stored
            self._items.move_to_end(stored.id)
            while len(self._items) > self.max_responses:
                self._items.popitem(last=False)
        return stored

    def get(self, response_id: str) -> StoredResponse | None:
        with self._lock:
            return self._items.get(response_id)

    def body(self, response_id: str) -> JSON | None:
        """A copy of a stored response's body (None: not stored)."""
        stored = self.get(response_id)
        return copy.deepcopy(stored.body) if stored is not None else None

    def delete(self, response_id: str) -> bool:
        """Remove a response; False when it was not stored."""
        with self._lock:
            return self._items.pop(response_id, None) is not None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    @property
    def ids(self) -> list[str]:
        """The stored responses' ids, oldest first."""
        with self._lock:
            return list(self._items)
