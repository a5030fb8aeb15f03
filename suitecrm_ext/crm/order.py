"""Sort orders as callers write them (``"name"``, ``"-date_modified"``, ``["a", "-b"]``): parse_order.

Shared by FakeCRM and the REST v4_1 and V8 transports, so every backend reads an ``order`` argument alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _is_field_name(name: str) -> bool:
    return _FIELD_NAME.fullmatch(name) is not None


def parse_order(
    order: Sequence[str] | str | None, *, is_name: Callable[[str], bool] = _is_field_name
) -> list[tuple[str, bool]]:
    """``"name"``, ``"-date_modified"``, ``["a", "-b"]`` or ``"a, -b"`` → [(field, descending)].

    ValueError names a bad item; ``is_name`` decides which field names are acceptable (default: identifiers).
    """
    if order is None:
        return []
    items = [p.strip() for p in order.split(",")] if isinstance(order, str) else list(order)
    keys = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"bad order item {item!r}: use a field name, '-name' for descending")
        desc = item.startswith("-")
        name = item[1:] if desc else item
        if not is_name(name):
            raise ValueError(f"bad field name in order: {item!r}")
        keys.append((name, desc))
    return keys


__all__ = ["parse_order"]
