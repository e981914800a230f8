"""What the schema cache derives beyond the catalog's own keys, as PostgREST does: computed
fields (functions of a table's row type returning one value) and relationships through views (a
view of a table that shows its key columns under their own names shares the table's keys)."""

from __future__ import annotations

from localbase.rest.schema_cache import Column, ForeignKey, Function, Table

# The base-table columns each view (or materialized view) reads, from its rewrite rule's
# dependencies: the ground for relationships through views.
VIEW_SOURCES_SQL = """
select distinct r.ev_class as view_oid, d.refobjid as base_oid, a.attname as column
from pg_rewrite r
join pg_class v on v.oid = r.ev_class and v.relkind in ('v', 'm')
join pg_namespace n on n.oid = v.relnamespace
join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid
                and d.refclassid = 'pg_class'::regclass and d.refobjsubid > 0 and d.refobjid <> r.ev_class
join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
where n.nspname = any($1::text[])
"""


def relationships_through_views(rows, by_oid: dict[int, Table], tables: dict[tuple[str, str], Table]) -> None:
    """A view that shows a base table's key columns under their own names takes part in that
    table's foreign keys (both ways) and unique keys, so `big_cities?select=name,countries(name)`
    and `countries?select=big_cities(name)` embed as PostgREST allows. A view column whose name
    two of its base tables share is ambiguous and left out."""
    used: dict[int, dict[str, list[int]]] = {}  # view oid -> column name -> base tables using it
    for r in rows:
        used.setdefault(r["view_oid"], {}).setdefault(r["column"], []).append(r["base_oid"])
    for view_oid, columns in used.items():
        view = by_oid.get(view_oid)
        if view is None:
            continue
        mapped: dict[int, set[str]] = {}  # base oid -> its columns the view shows under the same name
        for name, bases in columns.items():
            if len(bases) == 1 and name in view.columns:
                mapped.setdefault(bases[0], set()).add(name)
        for base_oid, names in mapped.items():
            base = by_oid.get(base_oid)
            if base is not None and not base.is_view:  # one level: a view of a table
                _inherit_keys(view, base, names, tables)


def _inherit_keys(view: Table, base: Table, names: set[str], tables: dict[tuple[str, str], Table]) -> None:
    for fk in list(base.foreign_keys):  # the base refers out: so does the view
        if set(fk.columns) <= names:
            copy = ForeignKey(fk.name, view.schema, view.name, fk.columns, fk.ref_schema, fk.ref_table, fk.ref_columns,
                              via_view=True)
            view.foreign_keys.append(copy)
            if (target := tables.get((fk.ref_schema, fk.ref_table))) is not None:
                target.referenced_by.append(copy)
    for fk in list(base.referenced_by):  # others refer to the base: to the view as well
        if set(fk.ref_columns) <= names and (fk.schema, fk.table) != (view.schema, view.name):
            copy = ForeignKey(fk.name, fk.schema, fk.table, fk.columns, view.schema, view.name, fk.ref_columns,
                              via_view=True)
            view.referenced_by.append(copy)
            if (source := tables.get((fk.schema, fk.table))) is not None:
                source.foreign_keys.append(copy)
    view.unique_keys = (*view.unique_keys, *(k for k in base.unique_keys if set(k) <= names))


def computed_fields(functions: dict[tuple[str, str], list[Function]], by_row_type: dict[int, Table]) -> None:
    """PostgREST's computed fields: `create function full_name(people) returns text` is readable as
    `people?select=full_name` (filters and order too; never in `*`). A field never hides a column."""
    for t in by_row_type.values():
        t.read_columns = t.columns
    for (schema, name), overloads in functions.items():
        for fn in overloads:
            if len(fn.args) != 1 or fn.returns_set or fn.returns_void or fn.args[0].variadic \
                    or fn.returns_table is not None:  # rows of a table: a computed relationship
                continue
            table = by_row_type.get(fn.args[0].type_oid)
            if table is None or name in table.columns:
                continue
            if table.read_columns is table.columns:
                table.read_columns = dict(table.columns)
            table.read_columns[name] = Column(name, fn.return_type, fn.return_type_oid, True, None, False, 0,
                                              (schema, name))
