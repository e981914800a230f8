"""Plan stage, functions: which overload an /rpc call names, as PostgREST's findProc picks it, and
PostgREST's PGRST202 / PGRST203 errors word for word (clients show them).

A call names a function and a set of argument keys (the JSON object's keys, the query string's
arguments). Overloads whose parameters fit the keys win; failing those, a POST whose body is raw
(JSON, text, XML or bytes) reaches the overload with one unnamed parameter of the matching type,
called with the whole body. Overloads PostgREST cannot call (several unnamed parameters, or one of
another type) are not candidates at all."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import orjson

from localbase.rest import errors, fuzzy
from localbase.rest.errors import RestError
from localbase.rest.parse import parse_filter, parse_logic_tree
from localbase.rest.plan import NOT_RAW
from localbase.rest.schema_cache import Function, Schema
from localbase.rest.types import ApiRequest, Condition, MediaType

# The body a single unnamed parameter of each type takes, by the request's Content-Type.
_RAW_BODY = {MediaType.JSON: ("json", "jsonb"), MediaType.TEXT: ("text",), MediaType.XML: ("xml",),
             MediaType.OCTET: ("bytea",)}
_RAW_ONLY = (MediaType.TEXT, MediaType.XML, MediaType.OCTET)
_AMBIGUOUS_HINT = "Try renaming the parameters or the function itself in the database so function overloading " \
                  "can be resolved"


def takes_raw_body(fn: Function, content_type, post: bool) -> bool:
    """A POST whose body is the single unnamed argument of fn, whole."""
    return post and len(fn.args) == 1 and not fn.args[0].name \
        and fn.args[0].type in _RAW_BODY.get(content_type, ())


def _fits(fn: Function, keys: frozenset[str], content_type, post: bool) -> bool:
    if not fn.args:
        return not keys and not (post and content_type in _RAW_ONLY)
    required = {a.name for a in fn.args if not a.has_default}
    optional = {a.name for a in fn.args if a.has_default}
    return keys - optional == required


def find(schema: Schema, schema_name: str, name: str, keys: frozenset[str], content_type, *,
         post: bool) -> Function:
    overloads = [fn for fn in schema.function_overloads(schema_name, name) if fn.callable]
    fitting = [fn for fn in overloads if _fits(fn, keys, content_type, post)]
    if not fitting:
        fitting = [fn for fn in overloads if takes_raw_body(fn, content_type, post)]
    if len(fitting) == 1:
        return fitting[0]
    if fitting:
        raise ambiguous(fitting)
    raise not_found(schema, schema_name, name, sorted(keys), content_type, post, overloads)


def ambiguous(candidates: list[Function]) -> RestError:
    shown = ", ".join(f"{fn.schema}.{fn.name}({', '.join(f'{a.name} => {a.type}' for a in fn.args)})"
                      for fn in candidates)
    return errors.AMBIGUOUS_FUNCTION(None, _AMBIGUOUS_HINT, candidates=shown)


def not_found(schema: Schema, schema_name: str, name: str, keys: list[str], content_type, post: bool,
              overloads: list[Function], *, single_object: bool = False) -> RestError:
    qualified = f"{schema_name}.{name}"
    if single_object:  # `Prefer: params=single-object` looks for one json/jsonb parameter only
        return errors.FUNCTION_NOT_FOUND(f"Searched for the function {qualified} with a single json/jsonb "
                                         "parameter, but no matches were found in the schema cache.",
                                         name=qualified, signature="")
    listed = ", ".join(keys)
    raw_only = post and content_type in _RAW_ONLY
    signature = "" if raw_only else f"({listed})" if keys else " without parameters"
    searched = f" with parameter{'s' if len(keys) > 1 else ''} {listed}" if keys else " without parameters"
    if post and content_type is MediaType.TEXT:
        searched = " with a single unnamed text parameter"
    elif post and content_type is MediaType.XML:
        searched = " with a single unnamed xml parameter"
    elif post and content_type is MediaType.OCTET:
        searched = " with a single unnamed bytea parameter"
    elif post and content_type is MediaType.JSON:
        searched += " or with a single unnamed json/jsonb parameter"
    hint = None if raw_only else _hint(schema, schema_name, name, keys, overloads)
    return errors.FUNCTION_NOT_FOUND(f"Searched for the function {qualified}{searched}, but no matches were "
                                     "found in the schema cache.", hint, name=qualified, signature=signature)


def _hint(schema: Schema, schema_name: str, name: str, keys: list[str], overloads: list[Function]) -> str | None:
    """Another function of the schema named alike, or the parameters of an overload named alike."""
    def listed(names) -> str:
        return "(" + ", ".join(sorted(names)) + ")"

    if overloads:
        found = fuzzy.best([listed(a.name for a in fn.args) for fn in overloads], listed(keys))
        return f"Perhaps you meant to call the function {schema_name}.{name}{found}" if found else None
    names = [n for (s, n), fns in schema.functions.items() if s == schema_name and any(fn.callable for fn in fns)]
    found = fuzzy.best(names, name, 0.75)
    return f"Perhaps you meant to call the function {schema_name}.{found}" if found else None


@dataclass(frozen=True, slots=True)
class Call:
    """What an /rpc request calls: the function, its named arguments or its raw argument, and the
    request with the query-string pairs that were not arguments added to its filters."""
    request: ApiRequest
    function: Function
    args: dict[str, Any]
    raw: Any  # the one unnamed parameter's value, or NOT_RAW
    read_only: bool


def resolve(schema: Schema, schema_name: str, req: ApiRequest, body: bytes) -> Call:
    post = req.method == "POST"
    args: dict[str, Any]
    if not post:
        known = {a.name for fn in schema.function_overloads(schema_name, req.target) for a in fn.args}
        args = {}
        extra: list[tuple[tuple[str, ...], Condition]] = []
        for key, value in req.raw_args:
            if key in known:
                args[key] = value
            elif key.rsplit(".", 1)[-1] in ("or", "and"):
                extra.append(parse_logic_tree(key, value))
            else:
                extra.append(parse_filter(key, value))
        if extra:
            filters = dict(req.filters)
            for path, cond in extra:
                filters[path] = (*filters.get(path, ()), cond)
            req = replace(req, filters=filters)
        content_type = None
    else:
        args = req.payload if isinstance(req.payload, dict) else {}
        content_type = req.content_type
    if post and req.preferences.params == "single-object":  # PostgREST < 12: the whole body, one json argument
        fits = [fn for fn in schema.function_overloads(schema_name, req.target)
                if len(fn.args) == 1 and fn.args[0].type in ("json", "jsonb")]
        if len(fits) != 1:
            raise ambiguous(fits) if fits else not_found(schema, schema_name, req.target, [], content_type, post, [],
                                                         single_object=True)
        fn = fits[0]
    else:
        fn = find(schema, schema_name, req.target, frozenset(args), content_type, post=post)
    raw: Any = NOT_RAW
    if len(fn.args) == 1 and (not fn.args[0].name or req.preferences.params == "single-object"):
        if not post:
            raw = orjson.dumps(args).decode()
        elif isinstance(req.payload, bytes):
            raw = req.payload
        elif isinstance(req.payload, str):
            raw = req.payload
        else:
            raw = body.decode() if body.strip() else None
        args = {}
    return Call(req, fn, args, raw, not post or fn.volatility in ("i", "s"))
