"""Parse stage: (method, path, query pairs, headers, body) -> an immutable `ApiRequest`.

Pure and schema-blind: identifiers are kept as written (the planner checks them). The grammar is
PostgREST v12's (select/filter/order/logic-tree/columns), scanned by hand in one pass without
backtracking regexes. Every failure is an `ApiRequestError` carrying PostgREST's code, status and
message shape, e.g. PGRST100 `"failed to parse filter (zz.1)" (line 1, column 1)`.

Deliberately stricter than PostgREST, which silently ignores some input: trailing text after a
complete filter/key/order/list is an error; limit/offset that are not non-negative integers are
an error; a table mutation body that is a JSON scalar is an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from urllib.parse import parse_qsl

from localbase.rest import errors
from localbase.rest.parse.body import read_payload, request_content_type
from localbase.rest.parse.conditions import (
    embed_path_of,
    non_negative,
    parse_columns,
    parse_filter,
    parse_logic_tree,
    parse_order,
)
from localbase.rest.parse.constants import (
    MAX_DEPTH,  # noqa: F401 - public
    RESERVED,
)
from localbase.rest.parse.headers import (
    header_values,
    parse_accept,
    parse_preferences,
    parse_range_header,
    root_range,
)
from localbase.rest.parse.select import parse_select
from localbase.rest.types import (
    ROOT,
    STAR_SELECT,
    Action,
    ApiRequest,
    Condition,
    EmbedPath,
    MediaType,
    OrderTerm,
    SelectItem,
)

__all__ = ["parse_request", "query_pairs", "parse_filter", "parse_logic_tree", "parse_select", "parse_order",
           "parse_columns", "parse_preferences", "parse_accept", "MAX_DEPTH"]


# -- the request --------------------------------------------------------------------------------
_TABLE_ACTIONS = {"GET": Action.READ, "HEAD": Action.READ, "POST": Action.INSERT, "PATCH": Action.UPDATE,
                  "PUT": Action.UPSERT, "DELETE": Action.DELETE, "OPTIONS": Action.INFO}
_RPC_ACTIONS = {"GET": Action.CALL, "HEAD": Action.CALL, "POST": Action.CALL, "OPTIONS": Action.INFO}
_ROOT_ACTIONS = {"GET": Action.INFO_ROOT, "HEAD": Action.INFO_ROOT, "OPTIONS": Action.INFO_ROOT}
_CONTENT_PROFILE_METHODS = frozenset(("POST", "PATCH", "PUT", "DELETE"))
_LIMITED_METHODS = frozenset(("PATCH", "DELETE"))  # limit/offset need an order on these
_BAD_PATH_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def _target(method: str, path: str) -> tuple[Action, str, bool]:
    parts = path.split("/") if path else []
    if len(parts) == 1 and parts[0] and not _BAD_PATH_CHARS.search(parts[0]):
        action, target, is_rpc = _TABLE_ACTIONS.get(method), parts[0], False
    elif len(parts) == 2 and parts[0] == "rpc" and parts[1] and not _BAD_PATH_CHARS.search(parts[1]):
        action, target, is_rpc = _RPC_ACTIONS.get(method), parts[1], True
        if action is None and method in _TABLE_ACTIONS:
            raise errors.RPC_METHOD(method=method)
    elif not parts:
        action, target, is_rpc = _ROOT_ACTIONS.get(method), "", False
    else:
        raise errors.INVALID_PATH()
    if action is None:
        raise errors.UNSUPPORTED_METHOD(method=method)
    return action, target, is_rpc


def query_pairs(raw: bytes) -> list[tuple[str, str]]:
    """The raw query string -> its ordered, percent-decoded pairs (PGRST100 unless UTF-8). Nothing to
    decode (no `%`, no `+`, as most queries are): split as parse_qsl splits, for a fraction of its cost."""
    text = raw.decode("latin-1")
    if "%" not in text and "+" not in text:
        pairs = []  # (a loop: about a third less than a list comprehension over a generator)
        for piece in text.split("&"):
            if piece:
                name, _, value = piece.partition("=")
                pairs.append((name, value))
        return pairs
    try:
        return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise errors.QUERY_PARSE(message="Invalid query string: not valid UTF-8 after percent-decoding") from None


def parse_request(method: str, path: str, query: list[tuple[str, str]], headers: Mapping[str, str],
                  body: bytes) -> ApiRequest:
    """The parse stage. path is what follows /rest/v1/ (no leading slash); query is the ordered,
    percent-decoded pairs; headers a case-insensitive mapping (a plain dict is lower-cased)."""
    if type(headers) is dict:
        headers = {str(k).lower(): v for k, v in headers.items()}
    action, target, is_rpc = _target(method, path)
    rpc_read = is_rpc and method in ("GET", "HEAD")

    select: tuple[SelectItem, ...] = STAR_SELECT
    columns = on_conflict = None
    filters: dict[EmbedPath, list[Condition]] = {}
    orders: dict[EmbedPath, tuple[OrderTerm, ...]] = {}
    limits: dict[EmbedPath, int] = {}
    offsets: dict[EmbedPath, int] = {}
    raw_args: list[tuple[str, str]] = []
    for key, value in query:
        if key == "apikey":  # the gateway's (as Supabase's gateway strips it): never a column filter
            continue
        if key in RESERVED:
            if key == "select":
                select = parse_select(value)
            elif key == "columns":
                columns = parse_columns(value)
            else:
                on_conflict = parse_columns(value, "on_conflict parameter")
            continue
        last = key.rpartition(".")[2]
        if last == "order":
            orders.setdefault(embed_path_of(key), parse_order(value))
        elif last == "limit":
            limits[embed_path_of(key)] = non_negative(key, value)
        elif last == "offset":
            offsets[embed_path_of(key)] = non_negative(key, value)
        elif last == "and" or last == "or":
            where, tree = parse_logic_tree(key, value)
            filters.setdefault(where, []).append(tree)
        elif rpc_read:
            raw_args.append((key, value))
        else:
            where, flt = parse_filter(key, value)
            filters.setdefault(where, []).append(flt)

    range_header = parse_range_header(headers.get("range")) if method == "GET" else None
    if method == "PUT" and (ROOT in limits or ROOT in offsets):
        raise errors.PUT_LIMIT()
    if method in _LIMITED_METHODS and (limits or offsets) and not orders.get(ROOT):
        raise errors.LIMIT_WITHOUT_ORDER()
    ranges: dict[EmbedPath, tuple[int, int | None]] = {}
    for where in limits.keys() | offsets.keys():
        if where != ROOT:
            offset = offsets.get(where, 0)
            ranges[where] = (offset, limits.get(where))
    if ROOT in limits or ROOT in offsets or range_header is not None:
        ranges[ROOT] = root_range(offsets.get(ROOT), limits.get(ROOT), range_header, method)

    preferences = parse_preferences(header_values(headers, "prefer"))
    accept, explain = parse_accept(headers.get("accept"), action, is_rpc)
    profile = headers.get("content-profile" if method in _CONTENT_PROFILE_METHODS else "accept-profile")
    schema = str(profile).strip() if profile is not None else None

    content_type: MediaType | str = MediaType.JSON
    payload = None
    if action in (Action.INSERT, Action.UPDATE, Action.UPSERT) or (is_rpc and method == "POST"):
        content_type = request_content_type(headers)
        payload = read_payload(body, content_type, action, is_rpc, columns is not None)

    return ApiRequest(
        action=action, method=method, target=target, is_rpc=is_rpc, schema=schema or None, select=select,
        filters=MappingProxyType({k: tuple(v) for k, v in filters.items()}),
        orders=MappingProxyType(orders), ranges=MappingProxyType(ranges),
        columns=columns, on_conflict=on_conflict, preferences=preferences, accept=accept,
        content_type=content_type, payload=payload, raw_args=tuple(raw_args), explain=explain,
    )
