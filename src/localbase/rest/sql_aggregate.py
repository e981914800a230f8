"""SQL stage, aggregates (`select=status,count()`, `amount.sum()`, in embeds too): a node with an
aggregate is read as PostgREST reads it, grouped by its other columns. The node's own query (its
filters, its joins) becomes the inner query; this outer one groups, aggregates, orders and pages.
Embedded JSON values are grouped as jsonb (json has no equality)."""

from __future__ import annotations

from localbase.rest.plan import STAR, EmbedNode, Node, SelectCol

GROUPED = '"g"'


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def aggregated(node: Node) -> bool:
    return any(isinstance(item, SelectCol) and item.aggregate for item in node.select)


def output_names(node: Node) -> list[str]:
    """The keys a node's rows carry (what a spread of it adds to its parent's)."""
    names: list[str] = []
    for item in node.select:
        if isinstance(item, EmbedNode):
            if item.spread:
                names.extend(output_names(item.node))
            elif not item.hidden:
                names.append(item.name)
        elif item.field.name == STAR and not item.aggregate:
            source = node.source
            names.extend(source.table.columns if source.table is not None else source.columns)
        else:
            names.append(item.out)
    return names


class Grouping:
    """Collects, while the inner query's columns are rendered, what the outer query selects and groups by."""

    def __init__(self) -> None:
        self.outer: list[str] = []
        self.keys: list[str] = []
        self.inputs = 0

    def key(self, names: list[str]) -> None:
        for name in names:
            self.outer.append(f"{GROUPED}.{_ident(name)}")
            self.keys.append(f"{GROUPED}.{_ident(name)}")

    def aggregate(self, item: SelectCol, value_sql: str | None) -> str | None:
        """Record item's aggregate; returns the inner column feeding it (None for `count()`)."""
        if value_sql is None:
            call, inner = "count(*)", None
        else:
            self.inputs += 1
            column = f'"pgrst_a{self.inputs}"'
            call, inner = f"{item.aggregate}({GROUPED}.{column})", f"{value_sql} as {column}"
        if item.aggregate_cast:
            call = f"({call})::{item.aggregate_cast}"
        self.outer.append(f"{call} as {_ident(item.out)}")
        return inner

    def wrap(self, inner: str, tail: str) -> str:
        """The outer query over inner; tail is its ORDER BY / LIMIT / OFFSET (on the grouped rows)."""
        sql = f"select {', '.join(self.outer)} from ({inner}) as {GROUPED}"
        if self.keys:
            sql += " group by " + ", ".join(self.keys)
        return sql + tail
