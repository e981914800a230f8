"""Types of the parse stage: an HTTP request to /rest/v1 as a typed, immutable value.

Produced by `localbase.rest.parse.parse_request`; consumed by the planner, which checks every
identifier against the schema cache. Nothing here knows the schema: names are kept as written.

Embedded scoping: filters, orders and ranges are keyed by an `EmbedPath`, the tuple of embed
names from the root (`()` is the root table; `("clients", "projects")` is the `projects` embed
inside `clients`). An embed's name is its alias if it has one, else its relation name, exactly as
written in `select=`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from localbase.rest.errors import RestError

EmbedPath = tuple[str, ...]
ROOT: EmbedPath = ()


class Action(StrEnum):
    READ = "read"            # GET/HEAD on a table or view
    INSERT = "insert"        # POST on a table
    UPDATE = "update"        # PATCH
    UPSERT = "upsert"        # PUT: upsert of one row identified by pk filters (PostgREST's PUT)
    DELETE = "delete"        # DELETE
    CALL = "call"            # GET/HEAD/POST on rpc/<fn>
    INFO = "info"            # OPTIONS on a table or function
    INFO_ROOT = "info_root"  # GET/HEAD/OPTIONS on the root: the OpenAPI document


class MediaType(StrEnum):
    """Media types PostgREST understands (values are the canonical mime strings)."""
    JSON = "application/json"
    OBJECT = "application/vnd.pgrst.object+json"                          # single object
    OBJECT_STRIPPED = "application/vnd.pgrst.object+json;nulls=stripped"  # single, nulls removed
    ARRAY_STRIPPED = "application/vnd.pgrst.array+json;nulls=stripped"    # array, nulls removed
    CSV = "text/csv"
    GEOJSON = "application/geo+json"
    PLAN_TEXT = "application/vnd.pgrst.plan+text"                         # EXPLAIN, see ApiRequest.explain
    PLAN_JSON = "application/vnd.pgrst.plan+json"
    OPENAPI = "application/openapi+json"
    FORM = "application/x-www-form-urlencoded"
    TEXT = "text/plain"
    XML = "text/xml"
    OCTET = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class JsonStep:
    """One arrow of a JSON path: `->key` (as_text False), `->>key` (True); int keys index arrays."""
    key: str | int
    as_text: bool


@dataclass(frozen=True, slots=True)
class Field:
    """A column, optionally followed by a JSON path: `data->a->>0` is Field('data', (...))."""
    name: str
    json_path: tuple[JsonStep, ...] = ()


@dataclass(frozen=True, slots=True)
class SelectField:
    """A column in `select=`: `alias:name->path::cast`, or `*` (Field name '*').

    aggregate is one of count/sum/avg/max/min (`col.sum()`, or `count()` on Field('*'));
    aggregate_cast is the `::type` written after the aggregate. PostgREST refuses aggregates
    unless enabled (PGRST123): the planner decides."""
    field: Field
    alias: str | None = None
    cast: str | None = None
    aggregate: str | None = None
    aggregate_cast: str | None = None


@dataclass(frozen=True, slots=True)
class Embed:
    """A resource embedding in `select=`: `alias:relation!hint!inner(...)` or `...relation(...)`."""
    relation: str
    alias: str | None = None
    hint: str | None = None
    join: Literal["left", "inner"] | None = None
    spread: bool = False
    select: tuple[SelectItem, ...] = ()

    @property
    def name(self) -> str:
        """The name used in embed paths and in the JSON output."""
        return self.alias or self.relation


SelectItem = SelectField | Embed
STAR_SELECT: tuple[SelectItem, ...] = (SelectField(Field("*")),)


@dataclass(frozen=True, slots=True)
class Filter:
    """`field=[not.]operator[(quantifier|language)].value`.

    operator: eq neq gt gte lt lte like ilike match imatch is isdistinct in cs cd ov sl sr nxr nxl
    adj fts plfts phfts wfts. value: a str, except for `in` (a tuple of str, unquoted). `is`
    values are lower-cased (null, not_null, true, false, unknown). like/ilike values have `*`
    already turned into `%`. Array, range and JSON literals (`{a,b}`, `[1,2)`, `["x"]`) and
    quantified values (`eq(any).{a,b}`) stay raw strings for the planner to cast."""
    field: Field
    operator: str
    negated: bool
    value: str | tuple[str, ...]
    quantifier: Literal["any", "all"] | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class LogicTree:
    """`or=(a.eq.1,and(b.gt.2,c.lt.3))`; `not.or=(...)` is negated."""
    operator: Literal["and", "or"]
    negated: bool
    children: tuple[Filter | LogicTree, ...]


Condition = Filter | LogicTree


@dataclass(frozen=True, slots=True)
class OrderTerm:
    """`order=field.desc.nullsfirst`; relation is set for `order=rel(field)` (a to-one embed).

    descending/nulls_first are None when not written (PostgreSQL's defaults apply)."""
    field: Field
    relation: str | None = None
    descending: bool | None = None
    nulls_first: bool | None = None


@dataclass(frozen=True, slots=True)
class Preferences:
    """The `Prefer` header (RFC 7240 as PostgREST reads it: first occurrence of each wins).

    Values are the strings after `=` (e.g. returning='representation'); None when absent.
    `invalid` lists the preferences not understood (an error only with handling=strict).
    timezone is not checked here: the planner must check it against pg_timezone_names."""
    returning: Literal["minimal", "representation", "headers-only"] | None = None
    count: Literal["exact", "planned", "estimated"] | None = None
    resolution: Literal["merge-duplicates", "ignore-duplicates"] | None = None
    missing: Literal["default", "null"] | None = None
    handling: Literal["strict", "lenient"] | None = None
    tx: Literal["commit", "rollback"] | None = None
    params: Literal["single-object"] | None = None
    max_affected: int | None = None
    timezone: str | None = None
    invalid: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Explain:
    """Accept: application/vnd.pgrst.plan+<format>; for="<media>"; options=a|b."""
    format: Literal["text", "json"]
    for_media: MediaType
    options: tuple[str, ...] = ()  # subset of analyze, verbose, settings, buffers, wal


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """A parsed request. Mappings are read-only; a missing path means "nothing given".

    ranges map an EmbedPath to (offset, limit or None); the root range already combines the
    `Range` header (GET only) with limit/offset as PostgREST does. select is STAR_SELECT when no
    `select=` was sent. payload is the parsed body (JSON value, CSV rows as a list of dicts,
    form fields as a dict, str for text/xml, bytes for octet-stream) or None when there is no
    body to read. raw_args holds, for GET/HEAD on rpc/<fn>, every non-reserved query pair in
    order: function arguments or filters, which only the planner can tell apart (it calls
    parse.parse_filter on the ones that are not arguments)."""
    action: Action
    method: str
    target: str                     # table/view name, function name, or '' for the root
    is_rpc: bool
    schema: str | None              # Accept-Profile (GET/HEAD/OPTIONS) or Content-Profile
    select: tuple[SelectItem, ...]
    filters: Mapping[EmbedPath, tuple[Condition, ...]]
    orders: Mapping[EmbedPath, tuple[OrderTerm, ...]]
    ranges: Mapping[EmbedPath, tuple[int, int | None]]
    columns: tuple[str, ...] | None
    on_conflict: tuple[str, ...] | None
    preferences: Preferences
    accept: MediaType
    content_type: MediaType | str
    payload: Any
    raw_args: tuple[tuple[str, str], ...] = ()
    explain: Explain | None = None

    @property
    def strip_nulls(self) -> bool:
        return self.accept in (MediaType.OBJECT_STRIPPED, MediaType.ARRAY_STRIPPED)

    @property
    def single(self) -> bool:
        return self.accept in (MediaType.OBJECT, MediaType.OBJECT_STRIPPED)

    @property
    def csv(self) -> bool:
        return self.accept == MediaType.CSV


# The parse stage's errors are the pipeline's one error type (PostgREST's shape, any status).
ApiRequestError = RestError
