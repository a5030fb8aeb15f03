"""Deputies: who may perform a collegial action on a given date.

The assignee (the principal) may always act. Another user may act in the principal's stead when a
deputy assignment names them as the principal's deputy for the action's kind (or for ``all`` kinds),
and the date is within the assignment (start date inclusive, end date inclusive, no end date = open).
Deputies are not transitive: a deputy's deputy may not act. Anyone else is refused with a reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

ALL_KINDS = "all"


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
        return (self.kind in (ALL_KINDS, kind) and self.start <= on
                and (self.end is None or on <= self.end))

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


def check_assignment(principal_id: str, deputy_id: str, kind: str, start: dt.date | None,
                     end: dt.date | None, kinds: Iterable[str]) -> str | None:
    """Why a deputy assignment is invalid (a sentence), or None when it is fine."""
    known = [ALL_KINDS, *kinds]
    if not principal_id:
        return "A deputy assignment needs a principal (the user who is replaced)."
    if not deputy_id:
        return "A deputy assignment needs a deputy (the user who acts instead)."
    if principal_id == deputy_id:
        return "A user cannot be their own deputy."
    if kind not in known:
        return f"Unknown action kind {kind!r} for a deputy; choose one of {', '.join(known)}."
    if start is None:
        return "A deputy assignment needs a start date."
    if end is not None and end < start:
        return f"The deputy assignment ends ({end.isoformat()}) before it starts ({start.isoformat()})."
    return None


def entitlement(kind: str, assignee_id: str, actor_id: str | None, on: dt.date,
                assignments: Iterable[DeputyAssignment],
                name: Callable[[str], str] = lambda uid: uid) -> Entitlement:
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
