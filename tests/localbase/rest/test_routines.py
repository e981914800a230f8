"""The plan stage's function resolution (routines.find), PostgREST's findProc, without a database."""

from __future__ import annotations

import pytest

from localbase.rest import routines
from localbase.rest.errors import RestError
from localbase.rest.schema_cache import Arg, Function, Schema
from localbase.rest.types import MediaType


def fn(name: str, *args: tuple[str, str, bool]) -> Function:
    return Function("public", name, 0, tuple(Arg(n, t, 0, default, False) for n, t, default in args), "text", 25,
                    False, None, False, False, "i")


def schema(*functions: Function) -> Schema:
    grouped: dict = {}
    for f in functions:
        grouped.setdefault(("public", f.name), []).append(f)
    for overloads in grouped.values():
        overloads.sort(key=Function.sort_key)
    return Schema({}, grouped, {}, ("public",))


def find(s: Schema, name: str, keys=(), content=MediaType.JSON, post=True) -> Function:
    return routines.find(s, "public", name, frozenset(keys), content, post=post)


def test_named_arguments_choose_the_overload():
    s = schema(fn("f", ("a", "text", False)), fn("f", ("b", "integer", False)), fn("f"))
    assert find(s, "f", ["b"]).args[0].name == "b"
    assert find(s, "f").args == ()


def test_one_unnamed_parameter_takes_a_raw_body_of_its_type():
    s = schema(fn("f", ("", "text", False)), fn("f", ("", "integer", False)), fn("f", ("", "bytea", False)))
    assert find(s, "f", content=MediaType.TEXT).args[0].type == "text"
    assert find(s, "f", content=MediaType.OCTET).args[0].type == "bytea"
    with pytest.raises(RestError) as err:  # f(integer) is never callable
        find(s, "f", content=MediaType.XML)
    assert (err.value.code, err.value.message, err.value.details, err.value.hint) == (
        "PGRST202", "Could not find the function public.f in the schema cache",
        "Searched for the function public.f with a single unnamed xml parameter, but no matches were found in the "
        "schema cache.", None)


def test_ambiguity_lists_the_candidates_in_postgrests_order():
    s = schema(fn("f", ("a", "text", False)), fn("f", ("a", "integer", False)), fn("f"))
    with pytest.raises(RestError) as err:
        find(s, "f", ["a"])
    assert err.value.status == 300 and err.value.message == \
        "Could not choose the best candidate function between: public.f(a => integer), public.f(a => text)"
    s = schema(fn("g", ("", "text", True)), fn("g"))
    with pytest.raises(RestError) as err:
        find(s, "g")
    assert err.value.message == "Could not choose the best candidate function between: public.g(), public.g( => text)"


def test_not_found_by_get_names_the_parameters():
    with pytest.raises(RestError) as err:
        find(schema(fn("f", ("a", "text", False))), "f", ["a", "b"], content=None, post=False)
    assert (err.value.message, err.value.details) == (
        "Could not find the function public.f(a, b) in the schema cache",
        "Searched for the function public.f with parameters a, b, but no matches were found in the schema cache.")
