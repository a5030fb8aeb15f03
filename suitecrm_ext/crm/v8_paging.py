"""Complete V8 list reads when the sort key is not unique (SuiteCRM's offset pages are unstable on ties).

V8 sorts by one field only (``sort=name``; a second key such as ``id`` is refused by its parameter
check), and MySQL orders rows that tie on that field differently for every ``LIMIT``. So the rows of a
tie group that straddles a page boundary are dealt out to the two pages at random: some come twice,
others never (measured on 7.14.6: 30 Accounts with one name, page size 7 → 29 read; all Accounts by
name → 91 of 105). De-duplicating the repeats hides the loss.

:func:`read_complete` makes such a read complete: it holds back the run of rows that ends a full page
and, when the next page starts with the same value, reads that whole tie group again on its own —
filtered to the value (``eq``; for V8's minute-truncated datetimes the minute ``[gte, lt)``) and sorted
by ``id``, which is unique and so stable — and then skips the group's rows wherever they turn up.
Where V8 cannot filter the group (an empty value, or the caller's filter is an OR that an extra
condition cannot be added to), it raises :class:`Unsupported` instead of returning a silent subset.
Ties are detected case-, accent- and trailing-space-insensitively (``utf8_general_ci`` equality, in
doubt a tie: an extra group read costs a request, a missed one would cost rows).

The paging also does not trust ``meta.total-pages`` to stop (0 when a filter is used on some versions,
SuiteCRM #9760; counts records the user may not see, #8653): it reads until a short or empty page.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from suitecrm_ext.crm.base import Record, Unsupported, to_crm

#: one list request: params → (items as records, meta.total-pages or None)
Fetch = Callable[[Mapping[str, str]], tuple[list[Record], int | None]]


def tie_key(value: Any) -> Any:
    """What MySQL's ``utf8_general_ci`` compares: case, accents and trailing spaces ignored."""
    if isinstance(value, str):
        text = unicodedata.normalize("NFKD", value)
        return "".join(c for c in text if not unicodedata.combining(c)).casefold().rstrip(" ")
    return value


def read_complete(fetch: Fetch, base: Mapping[str, str], *, size: int, key: str | None,
                  limit: int | None = None, module: str = "") -> Iterator[Record]:
    """Every record of the list ``base`` describes, page by page; complete even when ``key`` (the sort
    field, None or ``id`` for a unique order) has ties across page boundaries."""
    seen: set[str] = set()
    done: set[Any] = set()  # tie groups read in full
    served = 0
    held: list[Record] = []  # the run of equal keys that ended the previous (full) page
    number = 1
    ordered = key is not None and key != "id"

    def emit(records: list[Record]) -> Iterator[Record]:
        nonlocal served
        for rec in records:
            if limit is not None and served >= limit:
                return
            if rec.id in seen:  # a repeat (a row moved between pages, or a tie group read in full)
                continue
            seen.add(rec.id)
            yield rec
            served += 1

    def full_stop() -> bool:
        return limit is not None and served >= limit

    while True:
        records, total = fetch({**base, "page[size]": str(size), "page[number]": str(number)})
        if held:
            value = tie_key(held[-1].values.get(key))
            if records and tie_key(records[0].values.get(key)) == value:
                group = _group(fetch, base, held[-1], key, size=max(size, 100), module=module)  # type: ignore[arg-type]
                done.add(value)
                yield from emit(group)
            else:
                yield from emit(held)
            held = []
            if full_stop():
                return
        full = len(records) >= size
        last_page = not full or (total is not None and 0 < total <= number)
        if ordered and not last_page:
            value = tie_key(records[-1].values.get(key))
            i = len(records)
            while i > 0 and tie_key(records[i - 1].values.get(key)) == value:
                i -= 1
            head, tail = records[:i], records[i:]
            yield from emit(head)
            if value not in done:
                held = tail
        else:
            yield from emit(records)
        if full_stop() or last_page or not records:
            if held:
                yield from emit(held)
            return
        number += 1


def _group(fetch: Fetch, base: Mapping[str, str], sample: Record, key: str, *, size: int,
           module: str) -> list[Record]:
    """Every record of ``base`` whose ``key`` equals ``sample``'s, sorted by id (a stable order)."""
    value = sample.values.get(key)
    if value in (None, ""):
        raise Unsupported(
            f"V8 cannot read {module} sorted by {key} completely: records with an empty {key} span two "
            "pages, their order differs from page to page, and V8 cannot filter on an empty value; sort by "
            "another field, or read with the rest or mysql transport", transport="v8", module=module)
    if base.get("filter[operator]") == "or":
        raise Unsupported(
            f"V8 cannot read {module} sorted by {key} completely: records with the same {key} span two "
            "pages (their order differs from page to page) and re-reading them needs an AND condition, "
            "which V8 cannot add to an OR filter; sort by id, or read with the rest or mysql transport",
            transport="v8", module=module)
    params = {k: v for k, v in base.items() if k != "sort"}
    params["sort"] = "id"
    if isinstance(value, dt.datetime):  # V8 shows the minute only: the group is that minute
        start = value.replace(second=0, microsecond=0)
        _narrow(params, key, "gte", to_crm(start), max)
        _narrow(params, key, "lt", to_crm(start + dt.timedelta(minutes=1)), min)
    else:
        params.setdefault(f"filter[{key}][eq]", str(to_crm(value)))
    out: list[Record] = []
    number = 1
    while True:
        records, _ = fetch({**params, "page[size]": str(size), "page[number]": str(number)})
        out.extend(records)
        if len(records) < size:
            return out
        number += 1


def _narrow(params: dict[str, str], key: str, op: str, value: str, pick: Callable[[str, str], str]) -> None:
    """Add ``filter[key][op]=value``, keeping the stricter bound when the caller's filter has one."""
    name = f"filter[{key}][{op}]"
    params[name] = pick(params[name], value) if name in params else value  # DB-format strings sort as time


__all__ = ["read_complete", "tie_key"]
