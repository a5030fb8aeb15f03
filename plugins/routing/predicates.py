"""Checks the routing plugin adds to the core condition language (``{predicate: NAME, args: {...}}``).

``share``: a part of a whole, in percent, compared with a threshold — a Quote's discount is
``discount_amount`` of ``total_amt`` (the line items' total before the discount; ``subtotal_amount`` is the
amount after it). AOS stores the discount as a negative amount, so the part's absolute value counts::

    {predicate: share, args: {part: discount_amount, whole: total_amt, gt: 10}}

The condition language itself has no arithmetic on purpose; this is the one ratio the shipped routes need.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from suitecrm_ext.workflow import Facts, Predicates

_OPS = {"gt": ">", "gte": "≥", "lt": "<", "lte": "≤"}


def _number(v: Any) -> Decimal | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        d = Decimal(str(v).strip().replace(" ", "").replace(",", ""))
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def share(facts: Facts, part: str = "", whole: str = "", **limits: Any) -> bool | str:
    """``abs(part) / whole * 100`` compared with each of ``gt``/``gte``/``lt``/``lte`` given."""
    if not part or not whole or not limits:
        return "share needs part, whole and one of gt, gte, lt, lte"
    bad = [k for k in limits if k not in _OPS]
    if bad:
        return f"share takes gt, gte, lt, lte (got {', '.join(bad)})"
    p, w = _number(facts.value(part)), _number(facts.value(whole))
    if p is None or w is None or w == 0:
        return (
            f"{part} of {whole} is not a share ({part} is {facts.value(part)!r}, {whole} is "
            f"{facts.value(whole)!r})"
        )
    pct = abs(p) / abs(w) * 100
    for op, limit in limits.items():
        n = _number(limit)
        if n is None:
            return f"share: {op} needs a number, not {limit!r}"
        ok = {"gt": pct > n, "gte": pct >= n, "lt": pct < n, "lte": pct <= n}[op]
        if not ok:
            return f"{part} is {pct:.2f}% of {whole}, not {_OPS[op]} {n}%"
    return True


def routing_predicates() -> Predicates:
    """The predicates route conditions may use."""
    preds = Predicates()
    preds.register(
        "share",
        share,
        args=("part", "whole", "gt", "gte", "lt", "lte"),
        doc="abs(part) / whole in percent, compared with gt/gte/lt/lte",
    )
    return preds


#: one shared instance: route models are checked against it when the config is loaded
PREDICATES = routing_predicates()
