"""SQL for the MySQL reader: one query (table, joins, conditions, fields), filters compiled to
parameterised SQL with the gateway's shared semantics, sort keys, and keyset-paging conditions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from suitecrm_ext.crm.base import Cond, Filter, ValidationError
from suitecrm_ext.crm.mysql.schema import TEXT_TYPES, TableMeta
from suitecrm_ext.crm.mysql.values import db_value


@dataclass
class Query:
    """One SELECT being built: the module's table, output fields, WHERE parts and their parameters."""

    module: str
    meta: TableMeta
    names: list[str]  # output field names, in order
    where: list[str]
    params: list[Any]
    joins: list[str] = field(default_factory=list)
    need_cstm: bool = False
    types: dict[str, str] = field(default_factory=dict)
    converters: list[Any] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)  # e-mail fields to add from email_addresses

    def from_sql(self) -> str:
        """The FROM clause: the table as ``t``, its ``_cstm`` as ``c`` when a custom field is used."""
        sql = f"`{self.meta.name}` t"
        if self.need_cstm and self.meta.cstm:
            sql += f" LEFT JOIN `{self.meta.cstm}` c ON c.id_c = t.id"
        return sql + "".join(" " + j for j in self.joins)


def compile_filter(q: Query, f: Filter | Cond) -> tuple[str, list[Any]]:
    """``(sql, params)`` of a filter on ``q``'s table, with the gateway's shared filter semantics."""
    if isinstance(f, Filter):
        parts, params = [], []
        for item in f.items:
            sql, p = compile_filter(q, item)
            parts.append(sql)
            params.extend(p)
        if not parts:
            return ("1=1" if f.op == "and" else "1=0"), []
        return "(" + f" {f.op.upper()} ".join(parts) + ")", params
    meta = q.meta
    if not meta.has(f.field):
        raise ValidationError(f"{q.module} has no field {f.field!r} (in filter)", fields=[f.field],
                              transport="mysql", module=q.module)
    if f.field not in meta.columns:
        q.need_cstm = True
    col = meta.columns.get(f.field) or meta.cstm_columns[f.field]
    e = meta.expr(f.field)
    text = col.data_type in TEXT_TYPES
    op, v = f.op, f.value
    if op == "is_null" or (op == "eq" and v is None):
        return (f"({e} IS NULL OR {e} = '')" if text else f"{e} IS NULL"), []
    if op == "not_null" or (op == "neq" and v is None):
        return (f"({e} IS NOT NULL AND {e} <> '')" if text else f"{e} IS NOT NULL"), []
    if op == "in":
        values = [db_value(x, q.module, f.field) for x in v]
        if not values:
            return "1=0", []
        return f"{e} IN ({', '.join(['%s'] * len(values))})", values
    value = db_value(v, q.module, f.field)
    if op == "eq":
        return f"{e} = %s", [value]
    if op == "neq":
        return f"({e} <> %s OR {e} IS NULL)", [value]
    if op == "like":
        return f"{e} LIKE %s", [value]
    sym = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
    if text:
        return f"({e} {sym} %s AND {e} <> '')", [value]
    return f"{e} {sym} %s", [value]

def order_keys(q: Query, order: Sequence[str] | str | None) -> list[tuple[str, str, bool]]:
    """[(sql expr, field name, descending)], always ending with id for a total order."""
    if order is None:
        items = []  # id order: the primary key makes every keyset page an index range read
    elif isinstance(order, str):
        items = [p.strip() for p in order.split(",")]
    else:
        items = list(order)
    keys: list[tuple[str, str, bool]] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ValidationError(f"{q.module}: bad order item {item!r}; use a field name, '-name' for "
                                  "descending", transport="mysql", module=q.module)
        desc = item.startswith("-")
        name = item[1:].strip() if desc else item.strip()
        if not q.meta.has(name):
            raise ValidationError(f"{q.module} has no field {name!r} (in order)", fields=[name],
                                  transport="mysql", module=q.module)
        if name not in q.meta.columns:
            q.need_cstm = True
        keys.append((q.meta.expr(name), name, desc))
    if "id" not in [k[1] for k in keys]:
        keys.append(("t.`id`", "id", keys[-1][2] if len(keys) == 1 and keys[0][1] == "date_modified"
                      else False))
    return keys

def select_sql(q: Query, keys: list[tuple[str, str, bool]]) -> str:
    """``SELECT fields, id, deleted, sort keys FROM ... WHERE ...`` (no ORDER BY / LIMIT)."""
    cols = [q.meta.expr(n) for n in q.names] + ["t.id", "t.deleted"] + [k[0] for k in keys]
    where_sql = f" WHERE {' AND '.join(q.where)}" if q.where else ""
    return f"SELECT {', '.join(cols)} FROM {q.from_sql()}{where_sql}"


def keyset_plan(keys: list[tuple[str, str, bool]]) -> list[tuple[str, str, bool]] | None:
    """The keys when keyset paging applies: (id) or (date_modified, id), one direction."""
    names = [k[1] for k in keys]
    dirs = {k[2] for k in keys}
    if len(dirs) == 1 and names in (["id"], ["date_modified", "id"]):
        return keys
    return None


def resume_after(keys: list[tuple[str, str, bool]], last: tuple) -> tuple[str, list[Any]]:
    """``WHERE`` part that resumes after ``last`` in ``keys`` order (same direction for every key)."""
    if len(keys) == 1:
        e, _, d = keys[0]
        return f"{e} {'<' if d else '>'} %s", [last[0]]
    (e1, _, d), (e2, _, _) = keys
    op = "<" if d else ">"
    return f"({e1} {op} %s OR ({e1} = %s AND {e2} {op} %s))", [last[0], last[0], last[1]]
