"""Compile a structured filter into the SQL ``query`` / ``order_by`` strings of REST/SOAP v4_1.

SuiteCRM pastes ``query`` into the WHERE clause of its own SELECT (which joins ``<table>_cstm`` for custom
fields) and ``order_by`` into its ORDER BY. Both are SQL, so they are built **only** here, from a
:class:`~suitecrm_ext.crm.base.Filter` and the module's field metadata:

- field names must be identifiers known to the module; in ``query`` they are qualified with the module's
  table (``accounts.name``) or, for custom fields (``FieldInfo.source == "custom_fields"``), with the
  custom table (``accounts_cstm.inn_c``); in ``order_by`` they are **bare** (``name DESC, id ASC``):
  SuiteCRM's ``SugarBean::process_order_by`` keeps only keys that are vardef names (it qualifies them
  itself) and silently drops ``accounts.name`` - which made every qualified sort a no-op and offset
  paging repeat and skip rows. ``non-db`` fields are refused (SuiteCRM would answer "Database failure");
- values are always string literals: a quote is doubled (``''``), so no value can end the literal (also on
  a server whose ``sql_mode`` has NO_BACKSLASH_ESCAPES, where ``\\'`` would end it); a value holding a
  character MySQL would need a backslash for (backslash, double quote, NUL, CR, LF, Ctrl-Z) is sent as a
  hex literal ``_utf8 X'...'`` instead. The real SuiteCRM checks every ``query`` with its SQL parser
  (``SugarSQLValidate``), which misreads a backslash before a quote (``'x\\'``, ``'\\''``) and then
  refuses the call as "Access Denied" (error 40), so no backslash is ever sent inside a literal;
- semantics match FakeCRM: ``neq`` also matches NULL, ``is_null`` / ``not_null`` (and ``eq`` / ``neq`` with
  ``""``) treat '' and NULL alike for text fields, ``in []`` matches nothing, ``like`` keeps ``%``/``_``
  and ``\\`` escapes. (tests/crm/test_rest_v4_sqlfilter.py checks this on a real MariaDB.)

Raw text from a user never reaches SuiteCRM through any other path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from suitecrm_ext.crm.base import (
    Cond,
    FieldInfo,
    Filter,
    ValidationError,
    parse_bool,
    parse_date,
    parse_datetime,
    to_crm,
)

IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: Types whose empty value is NULL only (for text types '' counts as empty too).
NON_TEXT_TYPES = {"datetime", "datetimecombo", "date", "bool", "int", "float", "decimal", "currency"}

#: characters that would need a backslash inside a MySQL literal: such values go as hex literals
_NEEDS_BACKSLASH = re.compile('[\\\\"\x00\n\r\x1a]')

_SQL_OPS = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def sql_string(value: Any) -> str:
    """A MySQL string literal for ``value`` (formatted with :func:`to_crm`) that SuiteCRM's query check
    reads the way MySQL does: ``'...'`` with quotes doubled, or ``_utf8 X'...'`` when the text holds a
    character that would need a backslash."""
    text = str(to_crm(value))
    if _NEEDS_BACKSLASH.search(text):
        return "_utf8 X'" + text.encode("utf-8").hex().upper() + "'"
    return "'" + text.replace("'", "''") + "'"


def check_identifier(name: str, what: str = "field") -> str:
    """``name`` if it is a plain SQL identifier; ValidationError otherwise."""
    if not isinstance(name, str) or not IDENT_RE.match(name):
        raise ValidationError(f"bad {what} name {name!r}: letters, digits and _ only", fields=[str(name)])
    return name


def column(table: str, name: str, fields: Mapping[str, FieldInfo], module: str = "") -> str:
    """``table.field`` (or ``table_cstm.field`` for a custom field) after checking the field exists."""
    check_identifier(table, "table")
    check_identifier(name)
    info = fields.get(name)
    where = module or table
    if info is None:
        raise ValidationError(f"{where} has no field {name!r}", fields=[name], module=module or None)
    if info.source == "non-db":
        raise ValidationError(
            f"{where} field {name!r} is not stored in the database (non-db); "
            "it cannot be filtered or sorted on",
            fields=[name], module=module or None,
        )
    if info.source == "custom_fields":
        return f"{table}_cstm.{name}"
    return f"{table}.{name}"


def compile_where(
    flt: Filter | None, table: str, fields: Mapping[str, FieldInfo], module: str = ""
) -> str:
    """The v4_1 ``query`` string for a filter ("" for no filter)."""
    if flt is None:
        return ""
    return _compile(flt, table, fields, module, top=True)


def _compile(item: Filter | Cond, table: str, fields, module: str, top: bool = False) -> str:
    if isinstance(item, Cond):
        return _cond(item, table, fields, module)
    if not item.items:
        return "1=1" if item.op == "and" else "1=0"
    parts = [_compile(sub, table, fields, module) for sub in item.items]
    joined = f" {item.op.upper()} ".join(parts)
    return joined if top or len(parts) == 1 else f"({joined})"


def _cond(cond: Cond, table: str, fields, module: str) -> str:
    col = column(table, cond.field, fields, module)
    ftype = fields[cond.field].type
    text = ftype not in NON_TEXT_TYPES
    op = cond.op
    if text and op in ("eq", "neq") and cond.value in ("", None):
        op = "is_null" if op == "eq" else "not_null"  # '' and NULL are both "empty" (as in FakeCRM)
    if op == "is_null":
        return f"({col} IS NULL OR {col} = '')" if text else f"{col} IS NULL"
    if op == "not_null":
        return f"({col} IS NOT NULL AND {col} <> '')" if text else f"{col} IS NOT NULL"
    if op == "in":
        values = list(cond.value)
        if not values:
            return "1=0"
        return f"{col} IN ({', '.join(sql_string(check_value(cond, ftype, v)) for v in values)})"
    if op == "like":
        return f"{col} LIKE {sql_string(cond.value)}"
    if op == "neq":
        return f"({col} IS NULL OR {col} <> {sql_string(check_value(cond, ftype, cond.value))})"
    return f"{col} {_SQL_OPS[op]} {sql_string(check_value(cond, ftype, cond.value))}"


def check_value(cond: Cond, ftype: str, value: Any) -> Any:
    """``value`` as the field's type takes it; ValidationError naming the field when it cannot be one
    (a clear error, not a SQL failure)."""
    if isinstance(value, (list, tuple, set, dict)):
        raise ValidationError(f"filter {cond.field} {cond.op}: a single value is needed, got {value!r}",
                              fields=[cond.field])
    if ftype == "int" and not isinstance(value, bool):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValidationError(f"filter {cond.field} {cond.op}: {value!r} is not an integer",
                                  fields=[cond.field]) from None
    if ftype in ("datetime", "datetimecombo", "date"):
        try:
            # datetimes go to SuiteCRM's DB format in UTC, whatever offset they came with
            return parse_date(value) if ftype == "date" else parse_datetime(value)
        except (TypeError, ValueError):
            raise ValidationError(f"filter {cond.field} {cond.op}: {value!r} is not a {ftype}",
                                  fields=[cond.field]) from None
    if ftype == "bool":
        return parse_bool(value)
    return value


def compile_order(
    keys: Sequence[tuple[str, bool]], table: str, fields: Mapping[str, FieldInfo], module: str = "",
    *, tiebreak: bool = True,
) -> str:
    """The v4_1 ``order_by`` string for [(field, descending)]: bare field names (see the module docstring).

    ``tiebreak`` appends ``id ASC`` so that offset paging sees a total, stable order.
    """
    parts = []
    for name, desc in keys:
        column(table, name, fields, module)  # checks the field exists and is stored in the DB
        parts.append(f"{name} {'DESC' if desc else 'ASC'}")
    if tiebreak and "id" not in [n for n, _ in keys]:
        parts.append("id ASC")
    return ", ".join(parts)


__all__ = ["check_identifier", "check_value", "column", "compile_order", "compile_where", "sql_string"]
