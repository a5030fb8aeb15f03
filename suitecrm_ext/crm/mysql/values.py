"""Values between Python and MySQL: column values normalised like the API transports give them, and
parameters / escaped literals for the statements the transport sends."""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pymysql.converters
from pymysql.constants import SERVER_STATUS

from suitecrm_ext.crm.base import ValidationError, from_crm

#: and translating Cyrillic text char by char cost more than the rest of the statement building.
_LITERAL_ESCAPES = [chr(i) for i in range(128)]
for _ch, _esc in {"\0": "\\0", "\n": "\\n", "\r": "\\r", "\x1a": "\\Z", "'": "\\'", '"': '\\"',
                  "\\": "\\\\"}.items():
    _LITERAL_ESCAPES[ord(_ch)] = _esc
_NEEDS_ESCAPE = re.compile("[\0\n\r\x1a'\"\\\\]").search


NO_BACKSLASH_ESCAPES = SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES


def values_sql(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], table: str,
                no_backslash_escapes: bool) -> str:
    """``(v, ...), (v, ...)`` for ``rows``: every value an escaped SQL literal, as pymysql's
    ``Connection.escape`` renders it for a session with (or without) NO_BACKSLASH_ESCAPES.

    Strings (nearly every value of a bulk import) are escaped inline with pymysql's own table; other
    values go through ``db_value`` (which refuses what SQL cannot hold) and pymysql's converters.
    """
    def other(v: Any, c: str) -> str:
        if v is None:
            return "NULL"
        v = db_value(v, table, c)
        if isinstance(v, str):
            return "'" + (v.replace("'", "''") if no_backslash_escapes else v.translate(esc)) + "'"
        if isinstance(v, (bytes, bytearray)):
            return f"X'{v.hex()}'"
        return str(pymysql.converters.escape_item(v, "utf8mb4"))

    esc, needs = _LITERAL_ESCAPES, _NEEDS_ESCAPE
    if no_backslash_escapes:
        return ", ".join("(" + ", ".join([other(r[c], c) for c in columns]) + ")" for r in rows)
    return ", ".join(
        "(" + ", ".join([("'" + (v.translate(esc) if needs(v) else v) + "'") if type(v) is str
                         else str(v) if type(v) is int else other(v, c) for c in columns for v in (r[c],)])
        + ")"
        for r in rows)


def db_value(v: Any, where: str, name: str) -> Any:
    """A Python value as a parameter: aware datetimes to naive UTC, bools to 1/0."""
    if isinstance(v, bool):
        return 1 if v else 0
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.timezone.utc).replace(tzinfo=None) if v.tzinfo else v
    if v is None or isinstance(v, (str, int, float, decimal.Decimal, dt.date, dt.time, bytes)):
        return v
    raise ValidationError(f"{where}.{name}: cannot use a {type(v).__name__} value in SQL", fields=[name],
                          transport="mysql")


def column_value(ftype: str | None, raw: Any) -> Any:
    """A column value normalised like the API transports give it."""
    if isinstance(raw, (decimal.Decimal, float)) and ftype not in ("int",):
        raw = str(raw)
    elif isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    elif isinstance(raw, dt.timedelta):
        secs = int(raw.total_seconds())
        raw = f"{secs // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}"
    try:
        return from_crm(ftype, raw)
    except ValueError:  # e.g. a zero date '0000-00-00 00:00:00'
        return None


_UTC = dt.timezone.utc
_DATETIME, _STR, _INT = dt.datetime, str, int


def converter(ftype: str | None) -> Any:
    """A per-column fast path of :func:`column_value` for the value types pymysql usually returns."""
    if ftype in ("datetime", "datetimecombo"):
        return lambda v: v.replace(tzinfo=_UTC) if type(v) is _DATETIME else column_value(ftype, v)
    if ftype == "bool":
        return lambda v: v != 0 if type(v) is _INT else column_value(ftype, v)
    if ftype == "int":
        return lambda v: v if type(v) is _INT else column_value(ftype, v)
    if ftype in ("date",):
        return lambda v: column_value(ftype, v)
    return lambda v: v if type(v) is _STR else ("" if v is None else column_value(ftype, v))

