"""`localbase gen types --lang typescript`: the `Database` type supabase-js takes as its generic,
in the shape the Supabase CLI generates (Tables/Views/Functions/Enums with Row/Insert/Update)."""

from __future__ import annotations

import json

from localbase.typegen.model import Model, kind_of

HEADER = """export type Json =
  | string
  | number
  | boolean
  | null
  | { [key: string]: Json | undefined }
  | Json[]

"""


def _ts(pg_type: str, model: Model) -> str:
    kind, detail = kind_of(pg_type, model.enums)
    if kind == "array":
        inner = _ts(pg_type[:-2], model)
        return f"({inner})[]" if "|" in inner else f"{inner}[]"
    if kind == "enum":
        return " | ".join(json.dumps(label) for label in detail)
    return {"number": "number", "boolean": "boolean", "json": "Json"}.get(kind, "string")


def render(model: Model) -> str:
    out = [HEADER, "export type Database = {\n"]
    for schema_name in model.schema.exposed:
        tables = {k[1]: t for k, t in sorted(model.schema.tables.items()) if k[0] == schema_name}
        out.append(f"  {schema_name}: {{\n")
        for section, views in (("Tables", False), ("Views", True)):
            out.append(f"    {section}: {{\n")
            for name, table in tables.items():
                if table.is_view != views:
                    continue
                out.append(f"      {json.dumps(name)}: {{\n        Row: {{\n")
                for col in table.columns.values():
                    null = " | null" if col.nullable else ""
                    out.append(f"          {json.dumps(col.name)}: {_ts(col.type, model)}{null}\n")
                out.append("        }\n")
                if not views or table.insertable:
                    out.append("        Insert: {\n")
                    for col in table.columns.values():
                        if col.generated:
                            continue
                        optional = "?" if col.nullable or col.default is not None else ""
                        null = " | null" if col.nullable else ""
                        out.append(f"          {json.dumps(col.name)}{optional}: {_ts(col.type, model)}{null}\n")
                    out.append("        }\n        Update: {\n")
                    for col in table.columns.values():
                        if col.generated:
                            continue
                        null = " | null" if col.nullable else ""
                        out.append(f"          {json.dumps(col.name)}?: {_ts(col.type, model)}{null}\n")
                    out.append("        }\n")
                out.append("        Relationships: [\n")
                for fk in table.foreign_keys:
                    out.append(f"          {{ foreignKeyName: {json.dumps(fk.name)}; "
                               f"columns: {json.dumps(list(fk.columns))}; "
                               f"referencedRelation: {json.dumps(fk.ref_table)}; "
                               f"referencedColumns: {json.dumps(list(fk.ref_columns))} }},\n")
                out.append("        ]\n      }\n")
            out.append("    }\n")
        out.append("    Functions: {\n")
        for (sch, name), overloads in sorted(model.schema.functions.items()):
            if sch != schema_name:
                continue
            fn = overloads[0]
            args = "; ".join(f"{json.dumps(a.name)}{'?' if a.has_default else ''}: {_ts(a.type, model)}"
                             for a in fn.args if a.name)
            if fn.returns_void:
                returns = "undefined"
            elif fn.returns_composite:
                returned = model.schema.table(*fn.returns_table) if fn.returns_table else None
                cols = returned.columns.values() if returned is not None else fn.out_columns
                returns = "{ " + "; ".join(f"{json.dumps(c.name)}: {_ts(c.type, model)}" for c in cols) + " }"
            else:
                returns = _ts(fn.return_type, model)
            if fn.returns_set:
                returns = f"({returns})[]" if "|" in returns else f"{returns}[]"
            out.append(f"      {json.dumps(name)}: {{ Args: {{ {args} }}; Returns: {returns} }}\n")
        out.append("    }\n    Enums: {\n")
        for (sch, name), labels in sorted(model.enums.items()):
            if sch == schema_name:
                out.append(f"      {json.dumps(name)}: {' | '.join(json.dumps(label) for label in labels)}\n")
        out.append("    }\n    CompositeTypes: {}\n  }\n")
    out.append("}\n")
    return "".join(out)
