"""When a step is complete: its seats' decisions under the step's mode and completion rule (pure).

A step activation has *seats*: one for ``single`` (every assignee is a candidate for it: the first decision
decides), one per person for ``sequential`` (taken in order) and ``parallel``. A seat holds the decision
of whoever took it (an escalation hands a seat on, it does not add one), or None while it is pending.

Rules for ``parallel`` (Bitrix's voting approval has the same four):

- ``all``: approved when every seat approved; rejected at the first rejection;
- ``any``: approved at the first approval; rejected when every seat rejected;
- ``at_least: N``: approved at the N-th approval; rejected as soon as N cannot be reached any more;
- ``percent: P``: approved when approvals reach P % of the seats; rejected as soon as they cannot.

In every mode a *return* (to the previous step or to the initiator) by any seat returns the whole step:
it asks for rework, and the others' votes are for a version that is going to change.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from plugins.routing.routes import Completion

RETURNS = ("return_previous", "return_initiator")


@dataclass(frozen=True)
class Outcome:
    """What the seats add up to: ``pending`` (with ``next_seat`` to open in sequential mode) or ``approved``,
    ``rejected``, ``returned`` (``return_to``: previous | initiator), ``resubmitted``, ``withdrawn``."""

    state: str
    return_to: str = ""
    next_seat: int | None = None
    approvals: int = 0
    rejections: int = 0
    pending: int = 0
    needed: int = 0

    @property
    def complete(self) -> bool:
        """Whether the step is decided."""
        return self.state != "pending"


def _returned(decisions: Sequence[str | None]) -> Outcome | None:
    for d in decisions:
        if d in RETURNS:
            return Outcome("returned", return_to=d.split("_", 1)[1])
    return None


def needed_approvals(rule: Completion, seats: int) -> int:
    """How many approvals complete a parallel step of ``seats`` seats."""
    if rule.rule == "all":
        return seats
    if rule.rule == "any":
        return min(1, seats)
    if rule.rule == "at_least":
        return int(rule.n)
    return math.ceil(seats * rule.n / 100 - 1e-9)


def evaluate(mode: str, rule: Completion, decisions: Sequence[str | None]) -> Outcome:
    """The outcome of one step activation from its seats' decisions (in seat order; None = pending).

    Decisions are ``approve``, ``reject``, ``return_previous``, ``return_initiator``, ``done`` (a task
    completed, an assignment made: counts as approve), ``resubmit`` and ``withdraw`` (the initiator's
    rework step).
    """
    if not decisions:
        return Outcome("pending", next_seat=0)
    norm = ["approve" if d in ("done", "assigned") else d for d in decisions]
    for d in norm:
        if d == "resubmit":
            return Outcome("resubmitted")
        if d == "withdraw":
            return Outcome("withdrawn")
    back = _returned(norm)
    if back is not None:
        return back
    approvals = sum(1 for d in norm if d == "approve")
    rejections = sum(1 for d in norm if d == "reject")
    pending = sum(1 for d in norm if d is None)
    counts = {"approvals": approvals, "rejections": rejections, "pending": pending}
    if mode == "single":
        d = norm[0]
        if d is None:
            return Outcome("pending", next_seat=0, needed=1, **counts)
        return Outcome("approved" if d == "approve" else "rejected", needed=1, **counts)
    if mode == "sequential":
        for i, d in enumerate(norm):
            if d == "reject":
                return Outcome("rejected", needed=len(norm), **counts)
            if d is None:
                return Outcome("pending", next_seat=i, needed=len(norm), **counts)
        return Outcome("approved", needed=len(norm), **counts)
    need = needed_approvals(rule, len(norm))
    if need > len(norm):
        # at_least N with fewer seats than N: it can never be approved
        return Outcome("rejected", needed=need, **counts)
    if approvals >= need:
        return Outcome("approved", needed=need, **counts)
    if approvals + pending < need:
        return Outcome("rejected", needed=need, **counts)
    return Outcome("pending", needed=need, **counts)
