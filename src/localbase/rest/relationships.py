"""Relationship discovery for resource embedding, as PostgREST's findRel does it: through foreign
keys, many-to-one, one-to-many, one-to-one and many-to-many (through a junction table whose key
holds both foreign keys), named by the target table, a foreign key's constraint name or its column,
disambiguated by a hint (`rel!fk_name`, `rel!column`, `rel!junction`); a self-referencing foreign
key embeds the children by the table's name and the parent by the column's; and computed
relationships: a function of the parent's row type returning rows of a table (`setof cities`:
to-many; `setof cities rows 1`: to-one), embedded by its name, taking precedence. Candidates are
ordered, and the errors worded, as PostgREST orders and words them (clients show them)."""

from __future__ import annotations

from dataclasses import dataclass

from localbase.rest import errors, fuzzy
from localbase.rest.schema_cache import ForeignKey, Schema, Table

_RANK = {"one-to-many": 0, "many-to-one": 1, "one-to-one": 2, "many-to-many": 3}


@dataclass(frozen=True, slots=True)
class Relationship:
    cardinality: str  # "many-to-one", "one-to-many", "one-to-one", "many-to-many"
    target: Table
    # pairs (parent column, target column) joined by equality; for m2m the pairs go through the junction
    fk: ForeignKey
    junction: Table | None = None
    junction_target_fk: ForeignKey | None = None
    outgoing: bool = False  # the parent holds the foreign key (to-one through its own columns)
    function: tuple[str, str] | None = None  # a computed relationship: (schema, name), called with the parent row
    origin: Table | None = None  # the parent (for PostgREST's descriptions)

    @property
    def to_one(self) -> bool:
        return self.cardinality in ("many-to-one", "one-to-one")

    @property
    def is_self(self) -> bool:
        return self.origin is not None and (self.origin.schema, self.origin.name) == (self.target.schema,
                                                                                        self.target.name)

    @property
    def columns(self) -> list[tuple[str, str]]:
        """(parent column, target column) pairs of a foreign-key relationship."""
        if self.outgoing:
            return list(zip(self.fk.columns, self.fk.ref_columns, strict=True))
        return list(zip(self.fk.ref_columns, self.fk.columns, strict=True))

    def sort_key(self) -> tuple:
        """PostgREST's order of the candidates (its Relationship type's derived order)."""
        if self.function is not None:
            return (1,)
        if self.junction is not None:
            detail: tuple = (self.junction.schema, self.junction.name, self.fk.name,
                             self.junction_target_fk.name)  # type: ignore[union-attr]
        else:
            detail = (self.fk.name, self.columns)
        return (0, self.target.schema, self.target.name, self.is_self, _RANK[self.cardinality], detail,
                self.origin is not None and self.origin.is_view, self.target.is_view)

    def describe(self) -> dict:
        origin = self.origin.name if self.origin is not None else self.fk.table
        if self.junction is not None:
            target_fk = self.junction_target_fk
            rel = f"{self.junction.name} using {self.fk.name}({', '.join(self.fk.columns)}) and " \
                  f"{target_fk.name}({', '.join(target_fk.columns)})"  # type: ignore[union-attr]
        else:
            pairs = self.columns
            rel = f"{self.fk.name} using {origin}({', '.join(p for p, _ in pairs)}) and " \
                  f"{self.target.name}({', '.join(t for _, t in pairs)})"
        return {"cardinality": self.cardinality, "embedding": f"{origin} with {self.target.name}",
                "relationship": rel}

    def hint_name(self) -> str:
        return self.junction.name if self.junction is not None else self.fk.name


def _is_unique(table: Table, columns: tuple[str, ...]) -> bool:
    return any(set(key) == set(columns) for key in table.unique_keys)


def _computed(schema: Schema, parent: Table) -> list[Relationship]:
    found = []
    for (fn_schema, _), overloads in schema.functions.items():
        if fn_schema != parent.schema:
            continue
        for fn in overloads:
            if len(fn.args) != 1 or fn.args[0].type_oid != parent.row_type or fn.returns_table is None:
                continue
            target = schema.table(*fn.returns_table)
            if target is None:
                continue
            fk = ForeignKey(fn.name, parent.schema, parent.name, (), target.schema, target.name, ())
            to_many = fn.returns_set and fn.rows != 1  # `returns setof t rows 1`: to-one, as PostgREST reads it
            found.append(Relationship("one-to-many" if to_many else "many-to-one", target, fk,
                                      function=(fn.schema, fn.name), origin=parent))
    return found


def relationships(schema: Schema, parent: Table) -> list[Relationship]:
    """Every relationship of parent (as PostgREST's schema cache holds them), in PostgREST's order. A
    computed relationship named after a table replaces the foreign-key relationships to that table.
    Derived once per schema cache."""
    key = ("relationships", parent.schema, parent.name)
    cached = schema.memo.get(key)
    if cached is None:
        cached = schema.memo[key] = _relationships(schema, parent)
    return cached


def _relationships(schema: Schema, parent: Table) -> list[Relationship]:
    found: list[Relationship] = []
    for fk in parent.foreign_keys:  # the parent refers out: to-one
        target = schema.table(fk.ref_schema, fk.ref_table)
        if target is not None:
            card = "one-to-one" if _is_unique(parent, fk.columns) else "many-to-one"
            found.append(Relationship(card, target, fk, outgoing=True, origin=parent))
    for fk in parent.referenced_by:  # others refer to the parent: to-many (to-one on a unique key)
        source = schema.table(fk.schema, fk.table)
        if source is not None:
            card = "one-to-one" if _is_unique(source, fk.columns) else "one-to-many"
            found.append(Relationship(card, source, fk, origin=parent))
    for to_parent in parent.referenced_by:  # through a junction whose primary key holds both foreign keys
        junction = schema.table(to_parent.schema, to_parent.table)
        if junction is None:
            continue
        pk = set(junction.primary_key)
        for to_target in junction.foreign_keys:
            target = schema.table(to_target.ref_schema, to_target.ref_table)
            if to_target.name == to_parent.name or target is None:
                continue
            if set(to_parent.columns) | set(to_target.columns) <= pk:
                found.append(Relationship("many-to-many", target, to_parent, junction, to_target, origin=parent))
    computed = _computed(schema, parent)
    replaced = {rel.fk.name for rel in computed}
    found = [rel for rel in found if rel.target.name not in replaced] + computed
    return sorted(found, key=Relationship.sort_key)


def _single_column(rel: Relationship, origin_side: bool) -> str | None:
    if rel.junction is not None or rel.function is not None:
        return None
    pairs = rel.columns
    if len(pairs) != 1:
        return None
    return pairs[0][0] if origin_side else pairs[0][1]


def _matches(rel: Relationship, name: str, hint: str | None) -> bool:
    """PostgREST's findRel: does embedding `name!hint` from the parent mean rel?"""
    if rel.function is not None:
        return name == rel.function[1]
    by_table = name == rel.target.name
    if rel.is_self:
        if hint is None:  # children by the table's name, the parent by its column's
            return by_table and rel.cardinality == "one-to-many" or \
                _single_column(rel, True) == name and rel.cardinality == "many-to-one"
        return by_table and rel.cardinality == "one-to-many" and _single_column(rel, False) == hint
    fk_based = rel.junction is None
    if hint is None:
        return by_table or not rel.target.is_view and fk_based and (
            name == rel.fk.name or _single_column(rel, True) == name)
    return by_table and (fk_based and (hint == rel.fk.name or hint in (_single_column(rel, True),
                                                                        _single_column(rel, False)))
                         or rel.junction is not None and hint == rel.junction.name)


def resolve(schema: Schema, parent: Table, name: str, hint: str | None) -> Relationship:
    everything = relationships(schema, parent)
    found = [rel for rel in everything if _matches(rel, name, hint)]
    if not found:
        using = f"' using the hint '{hint}" if hint else ""
        raise errors.NO_RELATIONSHIP(
            f"Searched for a foreign key relationship between '{parent.name}' and '{name}{using}' in the schema "
            f"'{parent.schema}', but no matches were found.", _no_relationship_hint(schema, parent, name, everything),
            parent=parent.name, child=name)
    if len(found) > 1:
        options = ", ".join(f"'{name}!{rel.hint_name()}'" for rel in found)
        raise errors.AMBIGUOUS_EMBED(
            [rel.describe() for rel in found],  # type: ignore[arg-type]
            f"Try changing '{name}' to one of the following: {options}. Find the desired relationship in the "
            f"'details' key.", parent=parent.name, child=name)
    return found[0]


def _no_relationship_hint(schema: Schema, parent: Table, name: str, rels: list[Relationship]) -> str | None:
    """PostgREST's suggestion: another target of the parent named alike (none when the name is one), or,
    for a parent without relationships, another table of the schema that has some."""
    if rels:
        targets = [rel.target.name for rel in rels]
        close = [value for score, value in fuzzy.matches(targets, name) if score < 1.0]
        return f"Perhaps you meant '{close[0]}' instead of '{name}'." if close else None
    parents = [t.name for t in schema.tables.values()
               if t.schema == parent.schema and (t.foreign_keys or t.referenced_by)]
    found = fuzzy.best(parents, parent.name)
    return f"Perhaps you meant '{found}' instead of '{parent.name}'." if found else None
