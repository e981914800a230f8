"""Headers: Prefer, Accept (media types, explain), Range, Content-Type."""

from __future__ import annotations

from collections.abc import Mapping

from localbase.rest import errors
from localbase.rest.parse.constants import MAX_INT_DIGITS
from localbase.rest.types import (
    Action,
    Explain,
    MediaType,
    Preferences,
)

# -- headers ------------------------------------------------------------------------------------
_PREFS: dict[str, tuple[str, str]] = {
    f"{name}={value}": (attr, value)
    for name, attr, values in (
        ("return", "returning", ("minimal", "representation", "headers-only")),
        ("count", "count", ("exact", "planned", "estimated")),
        ("resolution", "resolution", ("merge-duplicates", "ignore-duplicates")),
        ("missing", "missing", ("default", "null")),
        ("handling", "handling", ("strict", "lenient")),
        ("tx", "tx", ("commit", "rollback")),
        ("params", "params", ("single-object",)),
    )
    for value in values
}


def header_values(headers: Mapping[str, str], name: str) -> list[str]:
    getlist = getattr(headers, "getlist", None) or getattr(headers, "get_list", None)
    if getlist is not None:
        return [str(v) for v in getlist(name)]
    value = headers.get(name)
    return [] if value is None else [str(value)]


def parse_preferences(values: list[str]) -> Preferences:
    """Prefer header values -> Preferences; raises PGRST122 for unknown ones with handling=strict."""
    found: dict[str, object] = {}
    invalid: list[str] = []
    for header in values:
        for raw in header.split(","):
            pref = raw.strip()
            if not pref:
                continue
            known = _PREFS.get(pref)
            if known is not None:
                found.setdefault(known[0], known[1])
            elif pref.startswith("max-affected=") and pref[13:].isascii() and pref[13:].isdigit() \
                    and len(pref) - 13 <= MAX_INT_DIGITS:
                found.setdefault("max_affected", int(pref[13:]))
            elif pref.startswith("timezone=") and len(pref) > 9:
                found.setdefault("timezone", pref[9:])
            else:
                invalid.append(pref)
    prefs = Preferences(**found, invalid=tuple(invalid))  # type: ignore[arg-type]
    if invalid and prefs.handling == "strict":
        raise errors.STRICT_PREFERENCES("Invalid preferences: " + ", ".join(invalid))
    return prefs


def split_media(text: str) -> tuple[str, dict[str, str]]:
    """`type/sub; a=b; c="d"` -> ('type/sub', {'a': 'b', 'c': 'd'}), names lower-cased."""
    parts = text.split(";")
    params = {}
    for part in parts[1:]:
        name, eq, value = part.partition("=")
        if eq:
            params[name.strip().lower()] = value.strip().strip('"')
    return parts[0].strip().lower(), params


_SIMPLE_TYPES = {
    "application/json": MediaType.JSON, "application/geo+json": MediaType.GEOJSON, "text/csv": MediaType.CSV,
    "text/plain": MediaType.TEXT, "text/xml": MediaType.XML, "application/openapi+json": MediaType.OPENAPI,
    "application/x-www-form-urlencoded": MediaType.FORM, "application/octet-stream": MediaType.OCTET,
}
_PLAN_OPTIONS = ("analyze", "verbose", "settings", "buffers", "wal")
_ANY = "*/*"


def decode_media(mime: str, params: dict[str, str]) -> MediaType | str:
    """A media type PostgREST knows, or the mime string itself ('*/*' included)."""
    simple = _SIMPLE_TYPES.get(mime)
    if simple is not None:
        return simple
    stripped = params.get("nulls") == "stripped"
    if mime in ("application/vnd.pgrst.object+json", "application/vnd.pgrst.object"):
        return MediaType.OBJECT_STRIPPED if stripped else MediaType.OBJECT
    if mime in ("application/vnd.pgrst.array+json", "application/vnd.pgrst.array"):
        return MediaType.ARRAY_STRIPPED if stripped else MediaType.JSON
    if mime in ("application/vnd.pgrst.plan", "application/vnd.pgrst.plan+text"):
        return MediaType.PLAN_TEXT
    if mime == "application/vnd.pgrst.plan+json":
        return MediaType.PLAN_JSON
    return mime


_READABLE = frozenset((MediaType.JSON, MediaType.OBJECT, MediaType.OBJECT_STRIPPED, MediaType.ARRAY_STRIPPED,
                       MediaType.CSV, MediaType.GEOJSON, MediaType.PLAN_TEXT, MediaType.PLAN_JSON))
_RPC_EXTRA = frozenset((MediaType.TEXT, MediaType.XML, MediaType.OCTET))


def parse_accept(value: str | None, action: Action, is_rpc: bool) -> tuple[MediaType, Explain | None]:
    """Negotiate Accept (q-values honoured, order kept among equals) -> (media type, EXPLAIN spec).

    No match -> 406 PGRST107. `*/*` answers JSON (OpenAPI on the root)."""
    root = action is Action.INFO_ROOT
    default = MediaType.OPENAPI if root else MediaType.JSON
    if value is None or not value.strip():
        return default, None
    offered: list[tuple[float, int, str, dict[str, str]]] = []
    for n, item in enumerate(value.split(",")):
        mime, params = split_media(item)
        if not mime:
            continue
        try:
            q = float(params.get("q", "1"))
        except ValueError:
            q = 1.0
        if not q > 0:  # q=0 means "not acceptable"; NaN is refused too
            continue
        offered.append((-q, n, mime, params))
    offered.sort(key=lambda o: (o[0], o[1]))
    allowed = {MediaType.OPENAPI, MediaType.JSON} if root else (_READABLE | _RPC_EXTRA if is_rpc else _READABLE)
    for _, _, mime, params in offered:
        media = decode_media(mime, params)
        if media == _ANY:
            return default, None
        if media in allowed:
            media = MediaType(media)
            if media in (MediaType.PLAN_TEXT, MediaType.PLAN_JSON):
                target = params.get("for")
                for_media = decode_media(*split_media(target)) if target else MediaType.JSON
                if for_media == _ANY or for_media not in _READABLE - {MediaType.PLAN_TEXT, MediaType.PLAN_JSON}:
                    for_media = MediaType.JSON
                options = params.get("options", "").split("|")
                return media, Explain("json" if media is MediaType.PLAN_JSON else "text", MediaType(for_media),
                                      tuple(o for o in _PLAN_OPTIONS if o in options))
            return media, None
    shown = ", ".join(mime for _, _, mime, _ in offered) or value.strip()
    raise errors.MEDIA_TYPE(accept=shown)


# -- ranges -------------------------------------------------------------------------------------
def parse_range_header(value: str | None) -> tuple[int, int | None] | None:
    """`Range: 0-9` -> (0, 9); `10-` -> (10, None); anything else is ignored (None), as PostgREST."""
    if not value:
        return None
    lower, dash, upper = value.strip().partition("-")
    if not dash or not lower.isascii() or not lower.isdigit() or len(lower) > MAX_INT_DIGITS:
        return None
    if upper and (not upper.isascii() or not upper.isdigit() or len(upper) > MAX_INT_DIGITS):
        return None
    return int(lower), (int(upper) if upper else None)


def root_range(offset: int | None, limit: int | None, header: tuple[int, int | None] | None,
                method: str) -> tuple[int, int | None]:
    low = offset or 0
    high = None if limit is None else low + limit - 1
    if limit == 0:
        return low, 0  # limit=0 is allowed whatever the Range header says
    if header is not None:
        h_low, h_high = header
        if h_high is not None and h_low > h_high:
            raise errors.RANGE_NOT_SATISFIABLE("The lower boundary must be lower than or equal to the upper "
                                                   "boundary in the Range header.")
        low = max(low, h_low)
        high = h_high if high is None else (high if h_high is None else min(high, h_high))
        if high is not None and low > high:
            raise errors.RANGE_NOT_SATISFIABLE("Limit should be greater than or equal to zero.")
    return low, (None if high is None else high - low + 1)
