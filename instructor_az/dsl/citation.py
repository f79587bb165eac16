"""`CitationMixin`: quotes the model cites, checked against the source text and snapped to it.

```python
class Answer(CitationMixin):
    answer: str

answer = client.chat.completions.create(
    model="gpt-4o", response_model=Answer, messages=..., validation_context={"context": source}
)
assert all(quote in source for quote in answer.substring_quotes)
```

With a `"context"` string in the validation context, each quote is looked up in it: found exactly, or
with at most 5 edits (a character inserted, deleted or replaced), it is replaced by the text it matched,
so every quote kept is a real substring of the source; a quote not found at all is dropped. Without
one, the quotes are kept as the model wrote them. Quotes are matched as literal text.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, Field, ValidationInfo, model_validator

__all__ = ["CitationMixin", "find_quote"]

MAX_EDITS = 5


class CitationMixin(BaseModel):
    """A mixin adding `substring_quotes`: the exact passages of the source an answer is based on."""

    substring_quotes: list[str] = Field(
        description="List of unique and specific substrings of the quote that was used to answer the question.",
    )

    @model_validator(mode="after")
    def validate_sources(self, info: ValidationInfo) -> CitationMixin:
        """Snap each quote to the source text in `info.context["context"]`; drop quotes not in it."""
        source = (info.context or {}).get("context") if isinstance(info.context, dict) else None
        if not isinstance(source, str):
            return self
        self.substring_quotes = [source[start:end] for start, end in self.get_spans(source)]
        return self

    def get_spans(self, context: str) -> Iterator[tuple[int, int]]:
        """The `(start, end)` span in `context` of each quote found there (at most 5 edits away)."""
        for quote in self.substring_quotes:
            span = find_quote(quote, context)
            if span is not None:
                yield span


def find_quote(quote: str, text: str, max_edits: int = MAX_EDITS) -> tuple[int, int] | None:
    """The span of `text` closest to `quote`: the fewest edits (at most `max_edits`), then the leftmost.

    An exact occurrence wins outright. Otherwise the fewest edits needed to turn some substring of
    `text` into `quote` is found; among the substrings that need that many, the leftmost start, and
    from it the length closest to the quote's (the longer on a tie).
    """
    exact = text.find(quote)
    if exact >= 0:
        return exact, exact + len(quote)
    if not quote:
        return None
    # Edits for the best match starting at each position of text: the search run on both reversed.
    costs = _best_costs(quote[::-1], text[::-1])  # costs[j]: best match ending at reversed position j
    n = len(text)
    best = min(costs) if costs else len(quote)
    if best > max_edits:
        return None
    # Reversed position j (1-based end) is original start n - j: the leftmost start is the largest j.
    start = n - max(j + 1 for j, cost in enumerate(costs) if cost == best)
    return start, start + _best_length(quote, text[start : start + len(quote) + best], best)


def _best_costs(pattern: str, text: str) -> list[int]:
    """For each position j of `text`: the fewest edits turning a substring ending at j into `pattern`.

    Myers' bit-parallel algorithm (1999): one column of the edit-distance table per character of
    `text`, held as bit vectors of vertical differences, so the work is len(text) big-int steps.
    """
    m = len(pattern)
    mask = (1 << m) - 1
    high = 1 << (m - 1)
    peq: dict[str, int] = {}
    for i, char in enumerate(pattern):
        peq[char] = peq.get(char, 0) | (1 << i)
    pv, mv, score = mask, 0, m
    costs: list[int] = []
    for char in text:
        eq = peq.get(char, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | (~(xh | pv) & mask)
        mh = pv & xh
        if ph & high:
            score += 1
        elif mh & high:
            score -= 1
        ph = (ph << 1) & mask
        mh = (mh << 1) & mask
        pv = mh | (~(xv | ph) & mask)
        mv = ph & xv
        costs.append(score)
    return costs


def _best_length(quote: str, window: str, best: int) -> int:
    """The length of the prefix of `window` within `best` edits of `quote`, closest to len(quote)."""
    m = len(quote)
    row = list(range(m + 1))  # edits between quote[:i] and window[:0]
    lengths = [0] if row[m] <= best else []
    for k, char in enumerate(window, start=1):
        prev, row = row, [k] + [0] * m
        for i in range(1, m + 1):
            row[i] = min(prev[i] + 1, row[i - 1] + 1, prev[i - 1] + (quote[i - 1] != char))
        if row[m] <= best:
            lengths.append(k)
    return min(lengths, key=lambda k: (abs(k - m), -k))
