"""Deputies: who may act in another user's stead, for which kind of action, from when to when.

A deputy assignment (a record of the core package's ``sx_Deputies`` module, see schema.yaml) says that
``deputy_id`` may act for ``principal_id`` on actions of ``kind`` — a kind a plugin names, such as
collegial_actions' ``signing`` or routing's ``approval`` — or on ``all`` kinds, from ``start_date``
(inclusive) to ``end_date`` (inclusive; none = until further notice).

Rules (the same for every plugin): the assignee (the principal) may always act; a deputy may act while an
assignment covering the kind is in force on that date; deputies are not transitive (a deputy's deputy may
not act); anyone else is refused with a reason naming both users. When a deputy acts, the record keeps
who actually acted and for whom (:class:`Entitlement.on_behalf_of`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from suitecrm_ext.crm.base import CRM, Cond, Record, parse_date

ALL_KINDS = "all"
DEPUTIES_MODULE = "sx_Deputies"
DEPUTY_FIELDS = ["name", "principal_id", "deputy_id", "kind", "start_date", "end_date"]


@dataclass(frozen=True)
class DeputyAssignment:
    """``deputy_id`` may act for ``principal_id`` on ``kind`` actions (or ``all``), ``start``..``end``."""

    id: str
    principal_id: str
    deputy_id: str
    kind: str
    start: dt.date
    end: dt.date | None = None

    def covers(self, kind: str, on: dt.date) -> bool:
        """Whether the assignment covers an action of ``kind`` on ``on``."""
        return self.kind in (ALL_KINDS, kind) and self.active_on(on)

    def active_on(self, on: dt.date) -> bool:
        """Whether ``on`` is within the assignment's dates."""
        return self.start <= on and (self.end is None or on <= self.end)


@dataclass(frozen=True)
class Entitlement:
    """May the user act, and in whose stead (``on_behalf_of``: the principal, when a deputy acts)."""

    allowed: bool
    reason: str = ""
    on_behalf_of: str | None = None
    assignment_id: str | None = None

    def __bool__(self) -> bool:
        return self.allowed


def check_assignment(
    principal_id: str,
    deputy_id: str,
    kind: str,
    start: dt.date | None,
    end: dt.date | None,
    kinds: Iterable[str] | None,
) -> str | None:
    """Why a deputy assignment is invalid (a sentence), or None when it is fine.

    ``kinds``: the kinds allowed besides ``all`` (None: any non-empty kind)."""
    if not principal_id:
        return "A deputy assignment needs a principal (the user who is replaced)."
    if not deputy_id:
        return "A deputy assignment needs a deputy (the user who acts instead)."
    if principal_id == deputy_id:
        return "A user cannot be their own deputy."
    if kinds is not None:
        known = [ALL_KINDS, *kinds]
        if kind not in known:
            return f"Unknown action kind {kind!r} for a deputy; choose one of {', '.join(known)}."
    elif not kind:
        return f"A deputy assignment needs an action kind (or {ALL_KINDS})."
    if start is None:
        return "A deputy assignment needs a start date."
    if end is not None and end < start:
        return f"The deputy assignment ends ({end.isoformat()}) before it starts ({start.isoformat()})."
    return None


def entitlement(
    kind: str,
    assignee_id: str,
    actor_id: str | None,
    on: dt.date,
    assignments: Iterable[DeputyAssignment],
    name: Callable[[str], str] = lambda uid: uid,
) -> Entitlement:
    """May ``actor_id`` perform an action of ``kind`` assigned to ``assignee_id`` on date ``on``?

    ``name`` turns a user id into a display name for the reason.
    """
    if not actor_id:
        return Entitlement(False, f"Cannot tell who is acting on this {kind} action; the change is refused.")
    if not assignee_id:
        return Entitlement(False, f"This {kind} action has no assignee; assign it before acting on it.")
    if actor_id == assignee_id:
        return Entitlement(True)
    for a in assignments:
        if a.principal_id == assignee_id and a.deputy_id == actor_id and a.covers(kind, on):
            return Entitlement(True, on_behalf_of=assignee_id, assignment_id=a.id)
    return Entitlement(
        False,
        f"{name(actor_id)} may not perform this {kind} action: it is assigned to {name(assignee_id)}, and "
        f"{name(actor_id)} is not their deputy for {kind} on {on.isoformat()}.",
    )


def active(assignments: Iterable[DeputyAssignment], on: dt.date) -> list[DeputyAssignment]:
    """The assignments in force on ``on``, by principal then start date."""
    return sorted((a for a in assignments if a.active_on(on)), key=lambda a: (a.principal_id, a.start))


def to_assignment(rec: Record) -> DeputyAssignment | None:
    """A deputies record as a DeputyAssignment (None when it has no valid start date)."""
    try:
        start = parse_date(rec.get("start_date"))
        end = parse_date(rec.get("end_date"))
    except ValueError:
        return None
    if start is None:
        return None
    return DeputyAssignment(
        id=rec.id,
        principal_id=str(rec.get("principal_id") or ""),
        deputy_id=str(rec.get("deputy_id") or ""),
        kind=str(rec.get("kind") or ""),
        start=start,
        end=end,
    )


class DeputyBook:
    """The deputy assignments kept in SuiteCRM (module ``sx_Deputies`` of the core package)."""

    def __init__(self, crm: CRM, module: str = DEPUTIES_MODULE):
        self.crm = crm
        self.module = module

    def assignments(
        self, principal_id: str | None = None, *, deputy_id: str | None = None
    ) -> list[DeputyAssignment]:
        """Live assignments (of one principal and/or one deputy, or all)."""
        where: dict[str, Any] = {}
        if principal_id:
            where["principal_id"] = principal_id
        if deputy_id:
            where["deputy_id"] = deputy_id
        out = []
        for rec in self.crm.find(self.module, where or None, DEPUTY_FIELDS, order=["start_date", "id"]):
            a = to_assignment(rec)
            if a is not None:
                out.append(a)
        return out

    def in_force(self, on: dt.date, principal_id: str | None = None) -> list[DeputyAssignment]:
        """Assignments in force on a date."""
        return active(self.assignments(principal_id), on)

    def deputies_of(self, principal_id: str, kind: str, on: dt.date) -> list[str]:
        """User ids that may act for ``principal_id`` on ``kind`` on ``on``."""
        return [a.deputy_id for a in self.assignments(principal_id) if a.covers(kind, on)]

    def principals_of(self, deputy_id: str, kind: str, on: dt.date) -> list[str]:
        """User ids ``deputy_id`` may act for on ``kind`` on ``on``."""
        return [a.principal_id for a in self.assignments(deputy_id=deputy_id) if a.covers(kind, on)]

    def entitlement(
        self,
        kind: str,
        assignee_id: str,
        actor_id: str | None,
        on: dt.date,
        name: Callable[[str], str] = lambda uid: uid,
    ) -> Entitlement:
        """:func:`entitlement` over the stored assignments of the assignee."""
        if not actor_id or not assignee_id or actor_id == assignee_id:
            return entitlement(kind, assignee_id, actor_id, on, [], name)
        return entitlement(
            kind, assignee_id, actor_id, on, self.assignments(assignee_id, deputy_id=actor_id), name
        )

    def add(
        self,
        principal_id: str,
        deputy_id: str,
        kind: str,
        start: dt.date,
        end: dt.date | None = None,
        *,
        kinds: Iterable[str] | None = None,
        name: str = "",
    ) -> str:
        """Store a new assignment (checked first: ValueError with the reason); returns its id."""
        problem = check_assignment(principal_id, deputy_id, kind, start, end, kinds)
        if problem:
            raise ValueError(problem)
        return self.crm.save(
            self.module,
            {
                "name": name or f"{kind}: {deputy_id} for {principal_id}"[:255],
                "principal_id": principal_id,
                "deputy_id": deputy_id,
                "kind": kind,
                "start_date": start,
                "end_date": end or "",
            },
        )


def find_assignment(crm: CRM, module: str, assignment_id: str) -> DeputyAssignment | None:
    """One assignment by id (None when missing or not valid)."""
    rec = next(iter(crm.find(module, Cond("id", "eq", assignment_id), DEPUTY_FIELDS, limit=1)), None)
    return to_assignment(rec) if rec is not None else None


__all__ = [
    "ALL_KINDS",
    "DEPUTIES_MODULE",
    "DEPUTY_FIELDS",
    "DeputyAssignment",
    "DeputyBook",
    "Entitlement",
    "active",
    "check_assignment",
    "entitlement",
    "find_assignment",
    "to_assignment",
]
