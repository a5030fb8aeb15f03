"""The MariaDB tables SuiteCRM creates when a plugin's package is installed, from the same schema.

:func:`ddl` returns the statements (``CREATE TABLE IF NOT EXISTS`` / ``ALTER TABLE … ADD COLUMN IF NOT
EXISTS``, so running them twice is harmless): each new module's table with SuiteCRM's standard columns
(``id``, ``name``, ``date_entered``, ``date_modified``, ``modified_user_id``, ``created_by``,
``description``, ``deleted``, ``assigned_user_id`` for assignable modules) plus its fields, its
``<table>_audit`` table when audited, ``<table>_cstm`` columns for custom fields on stock modules, and
relationship join tables (also those joining a module of a required package: the requiring package
creates them). :func:`create_tables` creates the required packages' tables first. Column types follow
SuiteCRM's MySQL type map as seen in a 7.14.6 dump.

Identifiers come only from a validated schema (letters, digits, ``_``) and are backquoted; default
values are escaped literals (DDL cannot take bound parameters).
"""

from __future__ import annotations

from typing import Any

from pymysql.converters import escape_string

from suitecrm_ext.packaging.requires import requirement_order
from suitecrm_ext.packaging.schema import Field, Module, Relationship, Schema

__all__ = ["column_type", "create_tables", "ddl"]


def column_type(f: Field) -> str:
    """MariaDB column type of a stored field (SuiteCRM's mapping)."""
    t = f.type
    if t == "varchar":
        return f"varchar({f.length or 255})"
    if t == "text":
        return "text"
    if t == "int":
        return "int(11)"
    if t == "decimal":
        return f"decimal({f.length or 18},{f.precision if f.precision is not None else 8})"
    if t == "currency":
        return "decimal(26,6)"
    if t == "bool":
        return "tinyint(1)"
    if t == "date":
        return "date"
    if t == "datetime":
        return "datetime"
    if t == "enum":
        return f"varchar({f.length or 100})"
    if t == "multienum":
        return "text"
    if t in ("id", "currency_id"):
        return "char(36)"
    raise ValueError(f"field {f.name}: type {t!r} has no column")


def _column(f: Field) -> str:
    sql = f"`{f.name}` {column_type(f)}"
    if f.default is not None and f.type not in ("text", "multienum"):
        sql += f" DEFAULT '{escape_string(f.default)}'"
    elif f.type == "bool":
        sql += " DEFAULT 0"
    else:
        sql += " DEFAULT NULL"
    return sql


def stored_fields(m: Module) -> list[Field]:
    """The columns a module's fields make: stored fields, relate id fields, ``currency_id``."""
    out: list[Field] = []
    for f in m.fields:
        if f.stored:
            out.append(f)
        elif f.id_field:
            out.append(Field(name=f.id_field, type="id", label=f.label))
    if any(f.type == "currency" for f in m.fields):
        out.append(Field(name="currency_id", type="currency_id", label=m.singular))
    return out


def _module_table(m: Module) -> list[str]:
    cols = [
        "`id` char(36) NOT NULL",
        "`name` varchar(255) DEFAULT NULL",
        "`date_entered` datetime DEFAULT NULL",
        "`date_modified` datetime DEFAULT NULL",
        "`modified_user_id` char(36) DEFAULT NULL",
        "`created_by` char(36) DEFAULT NULL",
        "`description` text DEFAULT NULL",
        "`deleted` tinyint(1) DEFAULT 0",
    ]
    if m.assignable:
        cols.append("`assigned_user_id` char(36) DEFAULT NULL")
    cols += [_column(f) for f in stored_fields(m)]
    cols.append("PRIMARY KEY (`id`)")
    out = [_create(m.table, cols)]
    if m.audited:
        out.append(_create(f"{m.table}_audit", [
            "`id` char(36) NOT NULL",
            "`parent_id` char(36) NOT NULL",
            "`date_created` datetime DEFAULT NULL",
            "`created_by` varchar(36) DEFAULT NULL",
            "`field_name` varchar(100) DEFAULT NULL",
            "`data_type` varchar(100) DEFAULT NULL",
            "`before_value_string` varchar(255) DEFAULT NULL",
            "`after_value_string` varchar(255) DEFAULT NULL",
            "`before_value_text` text DEFAULT NULL",
            "`after_value_text` text DEFAULT NULL",
            "PRIMARY KEY (`id`)",
            f"KEY `idx_{m.table}_parent_id` (`parent_id`)",
        ]))
    return out


def _join_table(r: Relationship) -> str:
    ka, kb = r.join_key_lhs, r.join_key_rhs
    base = r.name.lower()
    cols = [
        "`id` varchar(36) NOT NULL",
        "`date_modified` datetime DEFAULT NULL",
        "`deleted` tinyint(1) DEFAULT 0",
        f"`{ka}` varchar(36) DEFAULT NULL",
        f"`{kb}` varchar(36) DEFAULT NULL",
    ]
    if "Documents" in (r.lhs, r.rhs):
        cols.append("`document_revision_id` varchar(36) DEFAULT NULL")
    cols.append("PRIMARY KEY (`id`)")
    if r.type == "one-to-many":
        cols.append(f"KEY `{base}_ida1` (`{ka}`)")
        cols.append(f"KEY `{base}_alt` (`{kb}`)")
    else:
        cols.append(f"KEY `{base}_alt` (`{ka}`,`{kb}`)")
    return _create(r.join_table, cols)


def _create(table: str, cols: list[str]) -> str:
    body = ",\n  ".join(cols)
    return f"CREATE TABLE IF NOT EXISTS `{table}` (\n  {body}\n) ENGINE=InnoDB DEFAULT CHARSET=utf8"


def ddl(schema: Schema) -> list[str]:
    """MariaDB statements creating every table and column the schema's package makes SuiteCRM create."""
    out: list[str] = []
    for m in schema.modules:
        out += _module_table(m)
    for module, fields in schema.custom_fields.items():
        cstm = f"{schema.table_of(module)}_cstm"
        out.append(_create(cstm, ["`id_c` char(36) NOT NULL", "PRIMARY KEY (`id_c`)"]))
        for f in fields:
            out.append(f"ALTER TABLE `{cstm}` ADD COLUMN IF NOT EXISTS {_column(f)}")
    for r in schema.relationships:
        out.append(_join_table(r))
    return out


def create_tables(conn: Any, schema: Schema) -> list[str]:
    """Run :func:`ddl` on a DB-API connection (pymysql), after the DDL of the packages the schema
    requires (installed first in SuiteCRM); returns the statements run."""
    statements = [stmt for s in requirement_order(schema) for stmt in ddl(s)]
    with conn.cursor() as cur:
        for stmt in statements:
            cur.execute(stmt)
    conn.commit()
    return statements
