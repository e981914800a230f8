"""GET /rest/v1/: an OpenAPI (Swagger 2.0) description of the exposed schema, as PostgREST serves."""

from __future__ import annotations

from localbase.rest.schema_cache import Column, Schema

_JSON_TYPES = {
    "integer": "integer", "bigint": "integer", "smallint": "integer", "numeric": "number", "real": "number",
    "double precision": "number", "boolean": "boolean", "json": "object", "jsonb": "object",
}


def _property(column: Column, pk: bool) -> dict:
    base = column.type.split("(")[0]
    prop: dict = {"format": column.type}
    if column.type.endswith("[]"):
        prop.update(type="array", items={"type": _JSON_TYPES.get(base[:-2], "string")})
    else:
        prop["type"] = _JSON_TYPES.get(base, "string")
    if column.default is not None:
        prop["default"] = column.default
    if pk:
        prop["description"] = "Note:\nThis is a Primary Key.<pk/>"
    return prop


def document(schema: Schema, schema_name: str, api_url: str) -> dict:
    paths: dict = {"/": {"get": {"produces": ["application/openapi+json", "application/json"],
                                  "responses": {"200": {"description": "OK"}}, "summary": "OpenAPI description"}}}
    definitions: dict = {}
    for (sch, name), table in sorted(schema.tables.items()):
        if sch != schema_name:
            continue
        verbs = {"get": {"responses": {"200": {"description": "OK"}}, "tags": [name]}}
        if table.insertable:
            verbs["post"] = {"responses": {"201": {"description": "Created"}}, "tags": [name]}
        if table.updatable:
            verbs["patch"] = {"responses": {"204": {"description": "No Content"}}, "tags": [name]}
        if table.deletable:
            verbs["delete"] = {"responses": {"204": {"description": "No Content"}}, "tags": [name]}
        paths[f"/{name}"] = verbs
        definitions[name] = {
            "type": "object",
            "required": [c.name for c in table.columns.values() if not c.nullable and c.default is None],
            "properties": {c.name: _property(c, c.name in table.primary_key) for c in table.columns.values()},
        }
    for sch, name in sorted(schema.functions):
        if sch == schema_name:
            paths[f"/rpc/{name}"] = {"post": {"responses": {"200": {"description": "OK"}}, "tags": ["(rpc) " + name]}}
    return {"swagger": "2.0", "info": {"title": "Localbase REST API", "version": "12"},
            "host": api_url.split("://", 1)[-1], "basePath": "/rest/v1", "schemes": ["http"],
            "consumes": ["application/json"], "produces": ["application/json"],
            "paths": paths, "definitions": definitions}
