"""Respond stage: the statement's row -> status, Content-Range, Preference-Applied and body."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from localbase.rest import errors
from localbase.rest.errors import RestError

JSON = "application/json; charset=utf-8"
OBJECT = "application/vnd.pgrst.object+json; charset=utf-8"
CSV = "text/csv; charset=utf-8"
GEOJSON = "application/geo+json; charset=utf-8"


def error_response(err: RestError) -> Response:
    headers = dict(err.headers)
    return Response(err.body(), status_code=err.status, media_type=JSON, headers=headers)


def content_range(offset: int, page_total: int, total: int | None) -> str:
    shown = "*" if total is None else str(total)
    if page_total == 0:
        return f"*/{shown}"
    return f"{offset}-{offset + page_total - 1}/{shown}"


def single_check(page_total: int) -> None:
    if page_total != 1:
        raise errors.SINGULAR(details=f"The result contains {page_total} rows")


def one_row(row) -> None:
    """A single object's read: its statement's row counted exactly one."""
    single_check(row["page_total"])


def preference_applied(prefs, action: str | None = None) -> list[str]:
    """Prefer values honoured, for Preference-Applied, in PostgREST's order (return, count, resolution,
    missing); `action` is the request's (insert, update, upsert, delete), None for a read or a call."""
    applied = [f"return={prefs.returning}"] if action and prefs.returning else []
    if prefs.count:
        applied.append(f"count={prefs.count}")
    if action == "insert" and prefs.resolution:
        applied.append(f"resolution={prefs.resolution}")
    if action and prefs.missing == "default":
        applied.append("missing=default")
    return applied


def row_checks(single: bool, prefs, *, max_affected: bool = True,
               changed_limit: int | None = None) -> Callable[[Any], None] | None:
    """What must hold of the statement's row before its transaction commits (raising rolls it back):
    one row for a single object; with `handling=strict`, at most `max-affected` rows (PostgREST 13:
    PATCH, DELETE and functions returning a set); a limited PATCH/DELETE changed at most `limit` rows
    (PostgREST 12)."""
    limit = prefs.max_affected if max_affected and prefs.handling == "strict" else None
    if not single and limit is None and changed_limit is None:
        return None

    def check(row) -> None:
        if single:
            single_check(row["page_total"])
        if limit is not None and row["page_total"] > limit:
            raise errors.MAX_AFFECTED(f"The query affects {row['page_total']} rows")
        if changed_limit is not None and row["page_total"] > changed_limit:
            raise errors.TOO_MANY_CHANGED(f"Results contain {row['page_total']} rows changed but the maximum "
                                          f"number allowed is {changed_limit}")
    return check


def allow_response(methods: list[str]) -> Response:
    """OPTIONS: the methods allowed, in `Allow` (with CORS's wildcard origin, as PostgREST answers)."""
    return Response(b"", status_code=200, headers={"Allow": ",".join(methods), "Access-Control-Allow-Origin": "*"})


def call_response(row, planned: int | None, plan, *, count: str | None, head: bool, single: bool,
                  csv: bool, geojson: bool, preference_applied: list[str]) -> Response:
    """A function's answer: 204 for void; rows (paged) for a set or rows with columns; else one value."""
    if plan.function.returns_void:
        return Response(b"", status_code=204)
    total = row["total"] if count in ("exact", "estimated") else None
    if plan.root is None and plan.function.returns_set and not single:
        return read_response(row["body"], offset=plan.offset, page_total=row["page_total"], total=total, head=head,
                             single=False, preference_applied=preference_applied)
    if plan.root is None:
        return read_response(row["body"] or "null", offset=0, page_total=1, total=total, head=head, single=False,
                             preference_applied=preference_applied)
    return read_response(row["body"], offset=plan.root.offset, page_total=row["page_total"],
                         total=total if total is not None else planned, head=head, single=single,
                         preference_applied=preference_applied, csv=csv, geojson=geojson)


def _media(single: bool, csv: bool, geojson: bool = False) -> str:
    return GEOJSON if geojson else CSV if csv else OBJECT if single else JSON


class Encoded(Response):
    """A Response made of headers already encoded (lower-case names, in the order Response would
    list them): what Response's constructor makes of a dict of headers, without encoding them again
    for every answer. For the answers of every read."""

    def __init__(self, body: bytes, status: int, raw_headers: list[tuple[bytes, bytes]]):
        self.status_code = status
        self.background = None
        self.body = body
        self.raw_headers = raw_headers


_MEDIA_BYTES = {media: media.encode("latin-1") for media in (JSON, OBJECT, CSV, GEOJSON)}


def read_response(body: str | None, *, offset: int, page_total: int, total: int | None, head: bool,
                  single: bool, preference_applied: list[str], csv: bool = False, geojson: bool = False) -> Response:
    if total is not None and offset > 0 and offset >= total and page_total == 0 and total > 0:
        raise errors.RANGE_NOT_SATISFIABLE(f"An offset of {offset} was requested, but there are only {total} rows.",
                                           headers={"Content-Range": f"*/{total}"})
    status = 206 if total is not None and page_total < total and page_total > 0 else 200
    headers = [(b"content-range", content_range(offset, page_total, total).encode("latin-1"))]
    if preference_applied:
        headers.append((b"preference-applied", ", ".join(preference_applied).encode("latin-1")))
    content = b"" if head else (body or "[]").encode()
    headers.append((b"content-length", str(len(content)).encode("latin-1")))  # (a HEAD's: 0)
    headers.append((b"content-type", _MEDIA_BYTES[_media(single, csv, geojson)]))
    return Encoded(content, status, headers)


def mutation_response(kind: str, body: str | None, *, page_total: int, minimal: bool, single: bool,
                      count_exact: bool, preference_applied: list[str], csv: bool = False,
                      inserted: int | None = None, put: bool = False, geojson: bool = False) -> Response:
    """inserted: how many rows an upsert inserted rather than updated (None when not counted): an
    upsert that only updated answers 200, as PostgREST; a PUT without a body to return, 204."""
    total = str(page_total) if count_exact else "*"
    if kind in ("insert", "upsert"):
        status = 200 if inserted is not None and inserted <= 0 else 201
        if put and minimal:
            status = 204
        rng = f"*/{total}"
    else:
        status = 204 if minimal else 200
        rng = f"0-{page_total - 1}/{total}" if page_total else f"*/{total}"
    headers = {"Content-Range": rng}
    if preference_applied:
        headers["Preference-Applied"] = ", ".join(preference_applied)
    if minimal:
        return Response(b"", status_code=status, headers=headers)
    return Response((body or "[]").encode(), status_code=status, media_type=_media(single, csv, geojson),
                    headers=headers)
