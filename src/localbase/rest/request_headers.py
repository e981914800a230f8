"""A request's headers as the REST pipeline reads them, from the server's raw (name, value) pairs:

- `first`: lower-case names to values, a repeated header's first value (as Starlette's Headers.get
  answers), for the lookups of the stages (Authorization, Accept, Accept-Profile, Prefer, ...);
- `as_json`: the `request.headers` setting PostgreSQL gets, a JSON object in which a repeated
  header keeps its last value (as it always has).

A client sends the same headers with every request (its key, its token, its Accept), so both are
kept for the last distinct header lists seen (decoding and encoding them was about a twentieth of a
small read's own CPU). The same raw pairs always give the same two, and neither depends on anything
else; `first` is read-only, shared by the requests that sent those headers."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import orjson

SIZE = 512  # distinct header lists kept, the oldest dropped first

_seen: dict[tuple[tuple[bytes, bytes], ...], tuple[Mapping[str, str], str]] = {}


def decoded(raw: list[tuple[bytes, bytes]]) -> tuple[Mapping[str, str], str]:
    """(first, as_json) of the raw pairs (see the module's docstring)."""
    key = tuple(raw)
    found = _seen.get(key)
    if found is None:
        pairs = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw]
        found = MappingProxyType(dict(reversed(pairs))), orjson.dumps(dict(pairs)).decode()
        if len(_seen) >= SIZE:
            _seen.pop(next(iter(_seen)))
        _seen[key] = found
    return found
