"""Completion rules of a step (quorum.py), table-driven: every mode and rule, returns, rework decisions."""

from __future__ import annotations

import pytest

from plugins.routing.quorum import evaluate, needed_approvals
from plugins.routing.routes import Completion

A, R, P = "approve", "reject", None
ALL, ANY = Completion(), Completion(rule="any")


def at_least(n):
    return Completion.model_validate({"at_least": n})


def percent(p):
    return Completion.model_validate({"percent": p})


CASES = [
    # mode, rule, seats' decisions, state (next seat for pending sequential)
    ("single", ALL, [P], "pending"),
    ("single", ALL, [A], "approved"),
    ("single", ALL, [R], "rejected"),
    ("single", ALL, ["done"], "approved"),
    ("sequential", ALL, [A, P, P], "pending@1"),
    ("sequential", ALL, [A, A, P], "pending@2"),
    ("sequential", ALL, [A, A, A], "approved"),
    ("sequential", ALL, [A, R, P], "rejected"),
    ("parallel", ALL, [A, A, P], "pending"),
    ("parallel", ALL, [A, A, A], "approved"),
    ("parallel", ALL, [A, R, P], "rejected"),  # all: the first rejection decides
    ("parallel", ANY, [P, P, P], "pending"),
    ("parallel", ANY, [R, P, A], "approved"),  # any: the first approval decides
    ("parallel", ANY, [R, R, P], "pending"),
    ("parallel", ANY, [R, R, R], "rejected"),
    ("parallel", at_least(2), [A, P, P, P], "pending"),
    ("parallel", at_least(2), [A, R, A, P], "approved"),
    ("parallel", at_least(2), [R, R, P, P], "pending"),
    ("parallel", at_least(2), [R, R, R, P], "rejected"),  # 2 can no longer be reached
    ("parallel", at_least(3), [A, A], "rejected"),  # fewer seats than needed: never approvable
    ("parallel", percent(50), [A, R, P], "pending"),  # ceil(1.5) = 2 needed
    ("parallel", percent(50), [A, R, A], "approved"),
    ("parallel", percent(50), [R, R, P], "rejected"),
    ("parallel", percent(60), [A, A, A, R, P], "approved"),  # 3 of 5 = 60 %
    ("parallel", percent(60), [A, A, R, R, P], "pending"),
    ("parallel", percent(60), [A, A, R, R, R], "rejected"),
    ("parallel", percent(100), [A, A, A], "approved"),
    ("parallel", percent(100), [A, A, R], "rejected"),
]


@pytest.mark.parametrize(("mode", "rule", "decisions", "expected"), CASES)
def test_completion(mode, rule, decisions, expected):
    out = evaluate(mode, rule, decisions)
    state, _, seat = expected.partition("@")
    assert out.state == state
    if seat:
        assert out.next_seat == int(seat)


@pytest.mark.parametrize("mode", ["single", "sequential", "parallel"])
@pytest.mark.parametrize(
    ("decision", "to"), [("return_previous", "previous"), ("return_initiator", "initiator")]
)
def test_a_return_by_any_seat_returns_the_whole_step(mode, decision, to):
    decisions = [decision] if mode == "single" else [A, decision, P]
    out = evaluate(mode, ALL if mode != "parallel" else ANY, decisions)
    assert (out.state, out.return_to) == ("returned", to)


def test_the_initiators_rework_step_resubmits_or_withdraws():
    assert evaluate("single", ALL, ["resubmit"]).state == "resubmitted"
    assert evaluate("single", ALL, ["withdraw"]).state == "withdrawn"


@pytest.mark.parametrize(
    ("rule", "seats", "needed"),
    [
        (ALL, 4, 4),
        (ANY, 4, 1),
        (at_least(2), 4, 2),
        (percent(50), 3, 2),
        (percent(50), 4, 2),
        (percent(33.4), 3, 2),
        (percent(33.3), 3, 1),
        (percent(100), 7, 7),
    ],
)
def test_approvals_needed(rule, seats, needed):
    assert needed_approvals(rule, seats) == needed


def test_counts_are_reported():
    out = evaluate("parallel", percent(50), [A, R, P, P])
    assert (out.approvals, out.rejections, out.pending, out.needed) == (1, 1, 2, 2)
