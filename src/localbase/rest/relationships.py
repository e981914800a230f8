"""Relationship discovery for resource embedding, as PostgREST does it: through foreign keys,
many-to-one, one-to-many, one-to-one and many-to-many (through a junction table whose key holds
both foreign keys), disambiguated by a hint (`rel!fk_name`, `rel!column`, `rel!junction`); and
computed relationships: a function of the parent's row type returning rows of a table
(`setof cities`: to-many; `setof cities rows 1`: to-one), embedded by its name, taking precedence."""

from __future__ import annotations

from dataclasses import dataclass

from localbase.rest.errors import RestError
from localbase.rest.schema_cache import ForeignKey, Schema, Table


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

    @property
    def to_one(self) -> bool:
        return self.cardinality in ("many-to-one", "one-to-one")

    def describe(self) -> dict:
        if self.junction is not None:
            rel = f"{self.fk.name}, {self.junction_target_fk.name}"  # type: ignore[union-attr]
        else:
            rel = f"{self.fk.name} using {self.fk.table}({', '.join(self.fk.columns)}) and " \
                  f"{self.fk.ref_table}({', '.join(self.fk.ref_columns)})"
        return {"cardinality": self.cardinality, "embedding": f"{self.fk.table} with {self.target.name}",
                "relationship": rel}


def _is_unique(table: Table, columns: tuple[str, ...]) -> bool:
    return any(set(key) == set(columns) for key in table.unique_keys)


def _computed(schema: Schema, parent: Table, name: str) -> list[Relationship]:
    found = []
    for fn in schema.function_overloads(parent.schema, name):
        if len(fn.args) != 1 or fn.args[0].type_oid != parent.row_type or fn.returns_table is None:
            continue
        target = schema.table(*fn.returns_table)
        if target is None:
            continue
        fk = ForeignKey(fn.name, parent.schema, parent.name, (), target.schema, target.name, ())
        to_many = fn.returns_set and fn.rows != 1  # `returns setof t rows 1`: to-one, as PostgREST reads it
        found.append(Relationship("one-to-many" if to_many else "many-to-one", target, fk, function=(fn.schema, fn.name)))
    return found


def candidates(schema: Schema, parent: Table, name: str) -> list[Relationship]:
    computed = _computed(schema, parent, name)
    if computed:
        return computed
    found: list[Relationship] = []
    target = schema.table(parent.schema, name)
    if target is not None:
        for fk in parent.foreign_keys:  # parent refers to target
            if (fk.ref_schema, fk.ref_table) == (target.schema, target.name):
                card = "one-to-one" if _is_unique(parent, fk.columns) else "many-to-one"
                found.append(Relationship(card, target, fk, outgoing=True))
        for fk in parent.referenced_by:  # target refers to parent
            if (fk.schema, fk.table) == (target.schema, target.name):
                card = "one-to-one" if _is_unique(target, fk.columns) else "one-to-many"
                found.append(Relationship(card, target, fk))
        # many-to-many through a junction whose primary key contains both foreign keys
        for to_parent in parent.referenced_by:
            junction = schema.table(to_parent.schema, to_parent.table)
            if junction is None or junction is target or junction is parent:
                continue
            for to_target in junction.foreign_keys:
                if to_target is to_parent or (to_target.ref_schema, to_target.ref_table) != (target.schema, target.name):
                    continue
                pk = set(junction.primary_key)
                if set(to_parent.columns) <= pk and set(to_target.columns) <= pk:
                    found.append(Relationship("many-to-many", target, to_parent, junction, to_target))
    else:
        # `rel` names a foreign key column or constraint of the parent: many-to-one through it
        for fk in parent.foreign_keys:
            if fk.via_view and not parent.is_view:  # `col(...)` means the table the column refers to
                continue
            if name == fk.name or (len(fk.columns) == 1 and fk.columns[0] == name):
                ref = schema.table(fk.ref_schema, fk.ref_table)
                if ref is not None:
                    found.append(Relationship("many-to-one", ref, fk, outgoing=True))
    return found


def _matches_hint(rel: Relationship, hint: str) -> bool:
    fks = [rel.fk] + ([rel.junction_target_fk] if rel.junction_target_fk else [])
    if any(hint == fk.name for fk in fks):
        return True
    if any(hint in fk.columns or hint in fk.ref_columns for fk in fks):
        return True
    return rel.junction is not None and hint == rel.junction.name


def resolve(schema: Schema, parent: Table, name: str, hint: str | None) -> Relationship:
    found = candidates(schema, parent, name)
    if hint is not None:
        found = [rel for rel in found if _matches_hint(rel, hint)]
    if not found:
        shown = f"{name}!{hint}" if hint else name
        raise RestError(
            400, "PGRST200",
            f"Could not find a relationship between '{parent.name}' and '{shown}' in the schema cache",
            f"Searched for a foreign key relationship between '{parent.name}' and '{shown}' in the schema "
            f"'{parent.schema}', but no matches were found.",
            None)
    if len(found) > 1:
        options = ", ".join(f"'{name}!{rel.fk.name if rel.junction is None else rel.junction.name}'" for rel in found)
        raise RestError(
            300, "PGRST201",
            f"Could not embed because more than one relationship was found for '{parent.name}' and '{name}'",
            [rel.describe() for rel in found],  # type: ignore[arg-type]
            f"Try changing '{name}' to one of the following: {options}. Find the desired relationship in the "
            f"'details' key.")
    return found[0]
