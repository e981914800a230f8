"""Policies in plain words (unit)."""

from __future__ import annotations

from localbase.studio.catalog import Policy
from localbase.studio.wording import describe, humanize


def policy(command: str, using: str | None, check: str | None = None, roles=("authenticated",),
           permissive: bool = True) -> Policy:
    return Policy("public", "t", "p", permissive, list(roles), command, using, check)


def test_common_idioms_read_out():
    assert humanize("(owner = ( SELECT auth.uid() AS uid))") == "owner = the caller's user id"
    assert humanize("((auth.jwt() ->> 'aal'::text) = 'aal2'::text)") == \
        "(the caller's JWT claims ->> 'aal'::text) = 'aal2'::text"
    assert humanize("true") == "every row" and humanize("false") == "no row"


def test_each_command():
    assert describe(policy("SELECT", "true", roles=["public"])) == "every role may read every row."
    assert describe(policy("INSERT", None, "(owner = auth.uid())")) == \
        "authenticated may insert rows that satisfy owner = the caller's user id."
    update = policy("UPDATE", "(owner = auth.uid())", "(status <> 'locked'::text)", roles=["anon", "authenticated"])
    assert describe(update) == "anon and authenticated may update rows where owner = the caller's user id and " \
        "written rows must satisfy status <> 'locked'::text."
    assert describe(policy("DELETE", "(owner = auth.uid())", permissive=False)) == "Restrictive: whatever other " \
        "policies allow, authenticated may delete only rows where owner = the caller's user id."
