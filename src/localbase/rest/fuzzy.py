"""Fuzzy matching for PostgREST's "Perhaps you meant ..." hints, scored as PostgREST scores them
(the fuzzyset algorithm: cosine similarity of 3-grams, else 2-grams, of the normalized strings,
the best 50 re-scored by normalized Levenshtein similarity), so a client sees the same hint."""

from __future__ import annotations

import math
from collections import Counter

_SIZES = (3, 2)


def _normalized(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum() or c.isspace() or c == ",")


def _grams(text: str, size: int) -> Counter[str]:
    padded = f"-{_normalized(text)}-"
    return Counter(padded[i:i + size] for i in range(len(padded) - size + 1))


def _levenshtein_similarity(a: str, b: str) -> float:
    if not a and not b:
        return 1.0
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return 1 - previous[-1] / max(len(a), len(b))


def matches(candidates: list[str], query: str, min_score: float = 0.33) -> list[tuple[float, str]]:
    """(score, candidate) best first; an exact (case-insensitive) match alone scores 1."""
    key = query.lower()
    originals: dict[str, str] = {}
    for value in reversed(candidates):  # the first of two values equal but for case is kept
        originals.setdefault(value.lower(), value)
    if key in originals:
        return [(1.0, originals[key])]
    for size in _SIZES:
        wanted = _grams(key, size)
        magnitude = math.sqrt(sum(n * n for n in wanted.values()))
        scored = []
        for entry in originals:
            have = _grams(entry, size)
            dot = sum(n * have[g] for g, n in wanted.items() if g in have)
            if dot:
                scored.append((dot / (magnitude * math.sqrt(sum(n * n for n in have.values()))), entry))
        scored.sort(key=lambda s: -s[0])
        rescored = sorted(((_levenshtein_similarity(key, entry), entry) for _, entry in scored[:50]),
                          key=lambda s: -s[0])
        found = [(score, originals[entry]) for score, entry in rescored if score >= min_score]
        if found:
            return found
    return []


def best(candidates: list[str], query: str, min_score: float = 0.33) -> str | None:
    found = matches(candidates, query, min_score)
    return found[0][1] if found else None
