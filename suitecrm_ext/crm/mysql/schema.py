"""What the MySQL transport knows about SuiteCRM's tables: columns, module tables, relationship rows."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from suitecrm_ext.crm.base import FieldInfo

#: a plain (unquoted) SQL identifier
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*\Z")

#: Columns of stock 7.14.6 tables holding password hashes or stored credentials (vardefs marked
#: ``sensitive`` or of type password/encrypt). SuiteCRM's APIs never return them; neither does this
#: reader (they are left out of ``fields``, records and filters), so they cannot reach events or logs.
SECRET_COLUMNS: dict[str, frozenset[str]] = {
    "users": frozenset({"user_hash"}),
    "users_password_link": frozenset({"keyhash"}),
    "inbound_email": frozenset({"email_password"}),
    "outbound_email": frozenset({"mail_smtppass"}),
    "oauth2clients": frozenset({"secret"}),
    "oauth2tokens": frozenset({"access_token", "refresh_token"}),
    "oauth_consumer": frozenset({"c_secret"}),
    "oauth_tokens": frozenset({"secret"}),
    "external_oauth_connections": frozenset({"client_secret", "access_token", "refresh_token"}),
    "external_oauth_providers": frozenset({"client_secret"}),
}


@dataclass(frozen=True)
class Column:
    """One column as information_schema describes it."""

    name: str
    data_type: str  # varchar, char, int, tinyint, datetime, ...
    column_type: str  # varchar(150), tinyint(1), ...
    length: int | None = None


@dataclass(frozen=True)
class TableMeta:
    """A module table, its ``_cstm`` table (if any) and their columns (in table order)."""

    name: str
    columns: dict[str, Column]
    cstm: str | None = None
    cstm_columns: dict[str, Column] = field(default_factory=dict)

    def expr(self, column: str) -> str:
        """The qualified SQL expression of a field (``t.`name``` or ``c.`x_c```)."""
        if column in self.columns:
            return f"t.`{column}`"
        return f"c.`{column}`"

    def has(self, column: str) -> bool:
        """True when the field is a column of the table or of its ``_cstm``."""
        return column in self.columns or (column in self.cstm_columns and column != "id_c")


@dataclass(frozen=True)
class Relationship:
    """One row of SuiteCRM's ``relationships`` table."""

    name: str
    lhs_module: str
    lhs_table: str
    lhs_key: str
    rhs_module: str
    rhs_table: str
    rhs_key: str
    join_table: str | None
    join_key_lhs: str | None
    join_key_rhs: str | None
    relationship_type: str
    role_column: str | None
    role_value: str | None


#: SQL column types holding text (``is_null`` also matches "" on them, as SuiteCRM stores "" for empty)
TEXT_TYPES = {"char", "varchar", "text", "tinytext", "mediumtext", "longtext", "enum", "set"}


def sql_type_to_suitecrm(col: Column) -> str:
    """Best-effort SuiteCRM field type of a column from its SQL type."""
    t, ct = col.data_type, col.column_type
    if t == "tinyint" and ct.startswith("tinyint(1)"):
        return "bool"
    if t in ("tinyint", "smallint", "mediumint", "int", "bigint"):
        return "int"
    if t in ("datetime", "timestamp"):
        return "datetime"
    if t in ("date", "time"):
        return t
    if t == "decimal":
        return "decimal"
    if t in ("float", "double"):
        return "float"
    if t in ("text", "mediumtext", "longtext", "tinytext"):
        return "text"
    if t == "char" and col.length == 36:
        return "id"
    if "blob" in t or "binary" in t:
        return "blob"
    return "varchar"



def stock_fields(module: str) -> dict[str, FieldInfo]:
    """Stock 7.14 field metadata of a module."""
    from suitecrm_ext.crm.stock_modules import STOCK_FIELDS

    return {f.name: f for f in STOCK_FIELDS.get(module, ())}
