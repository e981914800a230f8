"""A request's headers as the REST pipeline reads them (rest/request_headers.py): the first of a
repeated header for lookups, as Starlette's Headers.get answers; the last in the JSON PostgreSQL
gets; the same answer for the same raw pairs, read-only, and a bounded number of lists kept."""

from __future__ import annotations

import orjson
import pytest
from starlette.datastructures import Headers

from localbase.rest import request_headers

RAW = [(b"accept", b"application/json"), (b"x-tag", b"one"), (b"authorization", b"Bearer t"),
       (b"x-tag", b"two"), (b"x-latin", "caf\u00e9".encode("latin-1"))]


def test_lookups_answer_as_starlettes_headers_and_the_json_keeps_the_last():
    first, as_json = request_headers.decoded(list(RAW))
    starlette = Headers(raw=list(RAW))
    for name in ("accept", "x-tag", "authorization", "x-latin", "prefer"):
        assert first.get(name) == starlette.get(name)
    assert orjson.loads(as_json) == {"accept": "application/json", "x-tag": "two", "authorization": "Bearer t",
                                     "x-latin": "caf\u00e9"}


def test_the_same_pairs_give_the_same_answer_which_is_read_only():
    first, as_json = request_headers.decoded(list(RAW))
    again = request_headers.decoded([(bytes(bytearray(n)), bytes(bytearray(v))) for n, v in RAW])
    assert again == (first, as_json)
    with pytest.raises(TypeError):
        first["accept"] = "text/csv"  # type: ignore[index]
    other = request_headers.decoded([*RAW, (b"prefer", b"count=exact")])
    assert other[0].get("prefer") == "count=exact" and first.get("prefer") is None


def test_a_bounded_number_of_header_lists_is_kept():
    for i in range(request_headers.SIZE + 50):
        request_headers.decoded([(b"x-n", str(i).encode())])
    assert len(request_headers._seen) <= request_headers.SIZE
    assert request_headers.decoded([(b"x-n", b"7")])[0].get("x-n") == "7"
