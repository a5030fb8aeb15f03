"""V8 JSON:API filters: a structured filter → ``filter[field][op]=value`` query parameters.

V8 (Api/V8/JsonApi/Repository/Filter.php) takes one level of conditions joined by
``filter[operator]=and|or`` and one condition per (field, operator); what it cannot express is refused
with Unsupported before any request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from suitecrm_ext.crm.base import (
    Cond,
    FieldInfo,
    Filter,
    Unsupported,
    ValidationError,
    Where,
    iter_conditions,
    normalize_where,
    parse_bool,
    parse_date,
    parse_datetime,
    to_crm,
)

#: Condition operators V8 understands (Api/V8/JsonApi/Repository/Filter.php).
V8_OPS = ("eq", "neq", "gt", "gte", "lt", "lte", "like")


def compile_filter(where: Where, fields: Mapping[str, FieldInfo] | None = None) -> dict[str, str] | None:
    """A structured filter → V8 query parameters (``filter[field][op]``, ``filter[operator]``).

    Returns None when the filter can match nothing (an empty OR, an ``in []`` under AND). Raises
    Unsupported, naming the part, for what V8 cannot express: nested AND/OR of a different kind, ``in``
    with several values, ``is_null``/``not_null``, two conditions with the same field and operator, or a
    ``deleted`` filter. With ``fields`` (the module's metadata) values are checked against the field type
    (ValidationError naming the field) and datetimes sent in SuiteCRM's DB format, in UTC.
    """
    flt = normalize_where(where)
    if flt is None:
        return {}
    op, items = _flatten(flt)
    empty_in = [c for c in items if c.op == "in" and not list(c.value)]
    if empty_in:  # "in []" matches nothing
        if op == "and":
            return None
        items = [c for c in items if c not in empty_in]
    if op == "or" and not items:
        return None
    params: dict[str, str] = {}
    if op == "or" and len(items) > 1:
        params["filter[operator]"] = "or"
    for cond in items:
        cop, value = cond.op, cond.value
        if cop == "in":
            values = list(value)
            if len(values) != 1:
                raise Unsupported(
                    f"V8 cannot filter {cond.field} 'in' a list of {len(values)} values "
                    "(one condition per field and operator); use the rest transport or several queries",
                    transport="v8")
            cop, value = "eq", values[0]
        if cop not in V8_OPS:
            raise Unsupported(
                f"V8 has no filter operator for {cond.field} {cond.op!r} (it has {', '.join(V8_OPS)})",
                transport="v8")
        if cond.field == "deleted":
            raise Unsupported(
                "V8 filters out deleted records itself and cannot list deleted ones: drop the 'deleted' "
                "condition (use include_deleted with the rest or mysql transport)", transport="v8")
        key = f"filter[{cond.field}][{cop}]"
        if key in params:
            raise Unsupported(
                f"V8 takes one {cop!r} condition per field; {cond.field} has several", transport="v8")
        info = fields.get(cond.field) if fields else None
        params[key] = _filter_value(value if cop == "like" or info is None else _typed(cond, info, value))
    return params


def _typed(cond: Cond, info: FieldInfo, value: Any) -> Any:
    """A filter value checked against its field's type (V8 would quote anything into SQL)."""
    ftype = info.type
    try:
        if isinstance(value, (list, tuple, set, dict)):
            raise TypeError("a single value is needed")
        if ftype in ("datetime", "datetimecombo"):
            return parse_datetime(value)
        if ftype == "date":
            return parse_date(value)
        if ftype == "int" and not isinstance(value, bool):
            return int(value)
        if ftype == "bool":
            return parse_bool(value)
    except (TypeError, ValueError):
        raise ValidationError(f"filter {cond.field} {cond.op}: {value!r} is not a valid {ftype} value",
                              fields=[cond.field], transport="v8") from None
    return value


def _flatten(flt: Filter) -> tuple[str, list[Cond]]:
    """One level of conditions: nested filters of the same kind (or of one item) are merged in."""
    op = flt.op
    out: list[Cond] = []
    for item in flt.items:
        if isinstance(item, Cond):
            out.append(item)
            continue
        if item.op == op or len(item.items) <= 1:
            _, inner = _flatten(Filter(op, item.items))
            out.extend(inner)
            continue
        names = ", ".join(sorted({c.field for c in iter_conditions(item)}))
        raise Unsupported(
            f"V8 filters have one level only: cannot put an {item.op.upper()} group ({names}) inside "
            f"an {op.upper()} filter; use the rest transport for nested filters", transport="v8")
    if len(out) == 1:
        op = "and"
    return op, out


def _filter_value(value: Any) -> str:
    """A filter value as V8 quotes it into SQL: DB formats (UTC datetimes, "1"/"0")."""
    out = to_crm(value)
    return out if isinstance(out, str) else str(out)


__all__ = ["V8_OPS", "compile_filter"]
