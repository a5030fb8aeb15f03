"""How FakeCRM compares, sorts and stores values: SuiteCRM's filter semantics over in-memory rows.

Values are kept as the database would keep them (:func:`store_value`); string comparisons, ``like`` and
ordering are case-insensitive and ignore trailing spaces (``utf8_general_ci``); ``NULL`` sorts first.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from suitecrm_ext.crm.base import Cond, from_crm, parse_datetime, to_crm

#: Field types whose values are text (for ``is_null`` matching "" and case-insensitive comparison).
_NUMERIC_OR_TIME = {"datetime", "datetimecombo", "date", "bool", "int", "float", "decimal", "currency"}


def store_value(ftype: str, value: Any) -> Any:
    """A value as the DB would keep it (datetimes to the second), normalised like a read gives it back."""
    if isinstance(value, (list, dict, set, tuple)):
        raise TypeError("structured values are not supported")
    if ftype in ("datetime", "datetimecombo") and isinstance(value, str) and value:
        parsed = parse_datetime(value)
        return parsed.replace(microsecond=0) if parsed else parsed
    if ftype == "int" and value not in (None, "") and not isinstance(value, bool):
        return int(value)
    normalised = from_crm(ftype, to_crm(value))
    if isinstance(normalised, dt.datetime):
        normalised = normalised.replace(microsecond=0)
    return normalised


def _is_empty(ftype: str, value: Any) -> bool:
    return value is None or (value == "" and ftype not in _NUMERIC_OR_TIME)


def _fold(value: Any) -> Any:
    """Case-insensitive, trailing-space-insensitive comparison key, like utf8_general_ci."""
    if isinstance(value, str):
        return value.rstrip(" ").casefold()
    return value


def _coerce(ftype: str, value: Any) -> Any:
    """A filter value to the stored type of the field, for comparing."""
    try:
        return store_value(ftype, value)
    except (TypeError, ValueError):
        return value


def sort_key(ftype: str, value: Any) -> tuple:
    """Sort key of a stored value: NULL (and empty non-text) first, text folded like the collation."""
    if value is None or (value == "" and ftype in _NUMERIC_OR_TIME):
        return (0, "")
    return (1, _fold(value) if isinstance(value, str) else value)


def _like_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.S | re.IGNORECASE)


def match_cond(ftype: str, stored: Any, cond: Cond) -> bool:
    """Whether a stored value of a field of type ``ftype`` satisfies one condition."""
    op = cond.op
    if op == "is_null":
        return _is_empty(ftype, stored)
    if op == "not_null":
        return not _is_empty(ftype, stored)
    if op == "neq":
        return stored is None or _fold(stored) != _fold(_coerce(ftype, cond.value))
    if stored is None:
        return False
    if op == "eq":
        return _fold(stored) == _fold(_coerce(ftype, cond.value))
    if op == "in":
        return any(_fold(stored) == _fold(_coerce(ftype, v)) for v in cond.value)
    if op == "like":
        return bool(_like_regex(str(to_crm(cond.value))).fullmatch(str(to_crm(stored))))
    if stored == "" and ftype in _NUMERIC_OR_TIME:
        return False
    a, b = _fold(stored), _fold(_coerce(ftype, cond.value))
    if type(a) is not type(b) and not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
        a, b = str(to_crm(a)), str(to_crm(b))
    if op == "gt":
        return a > b
    if op == "gte":
        return a >= b
    if op == "lt":
        return a < b
    if op == "lte":
        return a <= b
    raise ValueError(f"unknown operator {op!r}")  # pragma: no cover - Cond validates ops


__all__ = ["match_cond", "sort_key", "store_value"]
