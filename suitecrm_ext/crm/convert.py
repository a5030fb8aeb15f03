"""Per-field-type value converters for the API transports: the hot path of every read.

``value_converter(ftype)`` returns a function with exactly the result of
``from_crm(ftype, from_html(raw))`` (:mod:`suitecrm_ext.crm.base`, :mod:`suitecrm_ext.crm.text`), written
for the values SuiteCRM actually sends (strings in its DB formats), so that turning a page into records
costs a few µs per record instead of the generic path's tens (bench/live_transports.py measures it).
Anything unusual falls back to the generic functions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from suitecrm_ext.crm.base import DATETIME_TYPES, from_crm
from suitecrm_ext.crm.text import from_html

_UTC = dt.timezone.utc
_fromisoformat = dt.datetime.fromisoformat
_date_fromisoformat = dt.date.fromisoformat
_TRUE = frozenset({"1", "true", "on", "yes", "True", "TRUE", "Yes", "YES", "On", "ON"})


def _text(v: Any) -> Any:
    if type(v) is str:
        if "&" in v:
            return (v.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
                    .replace("&#039;", "'"))
        return v
    return "" if v is None else v


def _datetime(v: Any) -> Any:
    if type(v) is str and len(v) == 19 and v[10] == " ":  # SuiteCRM's DB format, UTC
        try:
            return _fromisoformat(v).replace(tzinfo=_UTC)
        except ValueError:
            pass
    return from_crm("datetime", from_html(v))


def _date(v: Any) -> Any:
    if type(v) is str and len(v) == 10:
        try:
            return _date_fromisoformat(v)
        except ValueError:
            pass
    return from_crm("date", from_html(v))


def _bool(v: Any) -> Any:
    if type(v) is str:
        return v in _TRUE or v.strip().lower() in ("1", "true", "on", "yes")
    return from_crm("bool", v)


def _int(v: Any) -> Any:
    if type(v) is str and v.isdigit():
        return int(v)
    return from_crm("int", from_html(v))


def value_converter(ftype: str | None) -> Callable[[Any], Any]:
    """``raw -> from_crm(ftype, from_html(raw))`` for one field type."""
    if ftype in DATETIME_TYPES:
        return _datetime
    if ftype == "date":
        return _date
    if ftype == "bool":
        return _bool
    if ftype == "int":
        return _int
    return _text


#: converters for fields the metadata does not describe (as base.normalize_values guesses them)
GUESSED = {"date_entered": _datetime, "date_modified": _datetime, "deleted": _bool}


def converters(fields: dict[str, Any]) -> dict[str, Callable[[Any], Any]]:
    """``{field: converter}`` for a module's FieldInfo mapping (plus the guessed stamps)."""
    out = dict(GUESSED)
    out.update({name: value_converter(info.type) for name, info in fields.items()})
    return out


__all__ = ["GUESSED", "converters", "value_converter"]
