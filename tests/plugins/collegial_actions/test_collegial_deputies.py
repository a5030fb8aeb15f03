"""Deputies: who may perform an action, on which date, for which kind."""

from __future__ import annotations

import datetime as dt

import pytest

from suitecrm_ext.workflow.deputies import DeputyAssignment, active, check_assignment, entitlement

D = dt.date
SIGNING_ONLY = DeputyAssignment("d1", "boss", "sub", "signing", D(2026, 11, 1), D(2026, 11, 30))
ALL_OPEN = DeputyAssignment("d2", "boss", "helper", "all", D(2026, 12, 1))
NAMES = {"boss": "Boris Bossov", "sub": "Sergey Subov", "helper": "Helga", "eve": "Eve"}.get


@pytest.mark.parametrize("kind,actor,on,allowed,behalf", [
    ("signing", "boss", D(2020, 1, 1), True, None),          # the assignee, any date
    ("signing", "sub", D(2026, 11, 1), True, "boss"),        # first day
    ("signing", "sub", D(2026, 11, 30), True, "boss"),       # last day (inclusive)
    ("signing", "sub", D(2026, 10, 31), False, None),        # before the start
    ("signing", "sub", D(2026, 12, 1), False, None),         # after the end
    ("approval", "sub", D(2026, 11, 15), False, None),       # another kind
    ("approval", "helper", D(2027, 6, 1), True, "boss"),     # "all", no end date
    ("voting", "helper", D(2026, 11, 30), False, None),      # "all", before its start
    ("signing", "eve", D(2026, 11, 15), False, None),        # nobody's deputy
])
def test_entitlement(kind, actor, on, allowed, behalf):
    ent = entitlement(kind, "boss", actor, on, [SIGNING_ONLY, ALL_OPEN], NAMES)
    assert ent.allowed is allowed
    assert ent.on_behalf_of == behalf
    if not allowed:
        assert ent.reason.startswith(f"{NAMES(actor)} may not perform this {kind} action: it is assigned to "
                                     f"Boris Bossov")
        assert on.isoformat() in ent.reason


def test_deputies_are_not_transitive():
    chain = [DeputyAssignment("x", "boss", "sub", "all", D(2026, 1, 1)),
             DeputyAssignment("y", "sub", "eve", "all", D(2026, 1, 1))]
    assert not entitlement("signing", "boss", "eve", D(2026, 5, 5), chain)


def test_unknown_actor_or_missing_assignee_is_refused():
    assert "Cannot tell who is acting" in entitlement("signing", "boss", None, D(2026, 1, 1), []).reason
    assert "has no assignee" in entitlement("signing", "", "boss", D(2026, 1, 1), []).reason


def test_active_lists_assignments_in_force_on_a_date():
    assert active([SIGNING_ONLY, ALL_OPEN], D(2026, 11, 20)) == [SIGNING_ONLY]
    assert active([SIGNING_ONLY, ALL_OPEN], D(2026, 12, 20)) == [ALL_OPEN]
    assert active([SIGNING_ONLY, ALL_OPEN], D(2026, 10, 20)) == []


@pytest.mark.parametrize("args,needle", [
    (("", "d", "all", D(2026, 1, 1), None), "needs a principal"),
    (("p", "", "all", D(2026, 1, 1), None), "needs a deputy"),
    (("p", "p", "all", D(2026, 1, 1), None), "own deputy"),
    (("p", "d", "reading", D(2026, 1, 1), None), "Unknown action kind 'reading'"),
    (("p", "d", "all", None, None), "needs a start date"),
    (("p", "d", "all", D(2026, 2, 1), D(2026, 1, 1)), "ends (2026-01-01) before it starts (2026-02-01)"),
])
def test_bad_assignment_is_explained(args, needle):
    assert needle in check_assignment(*args, kinds=["voting", "signing"])


def test_good_assignment_passes():
    assert check_assignment("p", "d", "signing", D(2026, 1, 1), D(2026, 1, 1), ["signing"]) is None
