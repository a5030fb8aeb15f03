"""Field ownership and conflict rules: the three-way merge of one synced pair (pure, no I/O).

Every synced pair (an internal record and its portal twin) keeps a *base*: the value of each synced
field both sides agreed on after the last sync. A sync reads both sides and merges field by field:

- both sides equal: nothing to do (this is also how a write made by the sync itself is recognised
  when its change comes back: no echo);
- only one side differs from the base: that side changed it; the change goes over — if that side
  may change the field (``owner``); otherwise it is *refused* and the owner's value is written back;
- both sides differ from the base and from each other: a *conflict*, resolved by the field's rule —
  ``portal_wins``, ``internal_wins`` or ``internal_wins_task`` (internal wins, the manager reviews);
- no base for the field yet (a field added to the configuration later): the owner's value wins,
  ``both``: the internal one (the internal CRM is the system of record).

Portal values that failed validation (``invalid``) are treated as unchanged: not applied, not
overwritten, and the field's base stays, so the client's input waits for them to fix it.
Values are compared as text (:func:`text`), the way SuiteCRM stores them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .settings import FieldRule

MISSING = object()


def text(value: Any) -> str:
    """A value as SuiteCRM stores it: "" for None, "1"/"0" for bools, ISO for dates, str otherwise."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


@dataclass(frozen=True)
class Conflict:
    """A field changed on both sides since the last sync, and how its rule settled it."""

    field: str
    base: str
    internal: str
    portal: str
    rule: str
    winner: str  # "internal" | "portal"

    @property
    def value(self) -> str:
        """The value that won."""
        return self.internal if self.winner == "internal" else self.portal


@dataclass(frozen=True)
class Refusal:
    """A change the other side may not make (``owner``), undone by the sync."""

    field: str
    side: str  # the side whose change was refused: "internal" | "portal"
    value: str
    kept: str
    reason: str


@dataclass
class Merge:
    """What one sync of a pair must do: values to write on each side, the new base, what happened."""

    to_internal: dict[str, str] = field(default_factory=dict)
    to_portal: dict[str, str] = field(default_factory=dict)
    base: dict[str, str] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """True when anything must be written."""
        return bool(self.to_internal or self.to_portal)


def merge(
    rules: Mapping[str, FieldRule],
    base: Mapping[str, str],
    internal: Mapping[str, Any],
    portal: Mapping[str, Any],
    *,
    invalid: Collection[str] = (),
) -> Merge:
    """The three-way merge of one pair (see the module docstring). ``internal``/``portal`` are keyed
    by the internal field names; fields missing from a side count as that side's base value."""
    out = Merge()
    for name, rule in rules.items():
        b = base.get(name, MISSING)
        i = text(internal[name]) if name in internal else (b if b is not MISSING else "")
        p = text(portal[name]) if name in portal else (b if b is not MISSING else "")
        if name in invalid:
            # the client's input waits: neither applied nor overwritten (an internal change of the same
            # field waits with it), and the base stays
            if b is not MISSING:
                out.base[name] = b  # type: ignore[assignment]
            continue
        value = _decide(name, rule, b, i, p, out)
        out.base[name] = value
        if value != i:
            out.to_internal[name] = value
        if value != p:
            out.to_portal[name] = value
    return out


def _decide(name: str, rule: FieldRule, b: Any, i: str, p: str, out: Merge) -> str:
    if i == p:
        return i
    if b is MISSING:
        return p if rule.owner == "portal" else i
    i_changed, p_changed = i != b, p != b
    if rule.owner == "internal":
        if p_changed:
            out.refusals.append(Refusal(name, "portal", p, i, "the field is owned by the internal CRM"))
        return i
    if rule.owner == "portal":
        if i_changed:
            out.refusals.append(Refusal(name, "internal", i, p, "the field is owned by the portal"))
        return p
    if i_changed and p_changed:
        winner = "portal" if rule.conflict == "portal_wins" else "internal"
        out.conflicts.append(Conflict(name, b, i, p, rule.conflict, winner))
        return p if winner == "portal" else i
    if p_changed:
        return p
    return i  # only the internal side changed (or neither: the base was stale)
