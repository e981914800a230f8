"""Policies in plain words (a pure stage): who may do what to which rows, with the common
Supabase idioms (auth.uid(), auth.jwt(), `(select auth.uid())`) read out."""

from __future__ import annotations

import re

from localbase.studio.catalog import Policy

VERBS = {"ALL": "read, insert, update and delete", "SELECT": "read", "INSERT": "insert", "UPDATE": "update",
         "DELETE": "delete"}
_IDIOMS = [
    (re.compile(r"\(\s*SELECT\s+(auth\.\w+\(\))\s+AS\s+\w+\s*\)", re.IGNORECASE), r"\1"),  # the cached-call idiom
    (re.compile(r"\bauth\.uid\(\)"), "the caller's user id"),
    (re.compile(r"\bauth\.role\(\)"), "the caller's role"),
    (re.compile(r"\bauth\.email\(\)"), "the caller's email"),
    (re.compile(r"\bauth\.jwt\(\)"), "the caller's JWT claims"),
    (re.compile(r"\bcurrent_setting\('request\.jwt\.claims'::text, true\)"), "the caller's JWT claims"),
]


def humanize(expression: str) -> str:
    text = expression.strip()
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    if text.lower() == "true":
        return "every row"
    if text.lower() == "false":
        return "no row"
    for pattern, words in _IDIOMS:
        text = pattern.sub(words, text)
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for c in text:
        depth += c == "("
        depth -= c == ")"
        if depth < 0:
            return False
    return depth == 0


def who(roles: list[str]) -> str:
    if not roles or roles == ["public"]:
        return "every role"
    return " and ".join(roles) if len(roles) <= 2 else ", ".join(roles[:-1]) + " and " + roles[-1]


def describe(policy: Policy) -> str:
    verb = VERBS.get(policy.command, policy.command.lower())
    if not policy.permissive:
        rule = _rows(policy)
        return f"Restrictive: whatever other policies allow, {who(policy.roles)} may {verb} only {rule}."
    return f"{who(policy.roles)} may {verb} {_rows(policy)}."


def _rows(policy: Policy) -> str:
    parts = []
    if policy.command != "INSERT":
        parts.append("every row" if policy.using is None else _where(policy.using))
    if policy.command in ("INSERT", "UPDATE", "ALL"):
        check = policy.check if policy.check is not None else policy.using
        if policy.command == "INSERT":
            parts.append("rows" + ("" if check is None else " that satisfy " + _where_plain(check)))
        elif check is not None and (policy.check is not None and policy.check != policy.using):
            parts.append(f"and written rows must satisfy {_where_plain(check)}")
    return " ".join(parts)


def _where(expression: str) -> str:
    words = humanize(expression)
    return words if words in ("every row", "no row") else f"rows where {words}"


def _where_plain(expression: str) -> str:
    return humanize(expression)
