"""Every (role, from, to) of the application flow, both ways, through the validation hook: the nine moves of
the issue are allowed to exactly their role, every other change of status is vetoed before save with a
message that names the rule. The expected table is written out here, not derived from flow.yaml."""

from __future__ import annotations

import itertools

import pytest
from ao_kit import APPS, make_bank

STATUSES = [
    "draft",
    "security_review",
    "returned",
    "rejected",
    "security_approved",
    "opening_review",
    "opened",
]
LABELS = {
    "draft": "Draft",
    "security_review": "Security review",
    "returned": "Returned for rework",
    "rejected": "Rejected",
    "security_approved": "Approved by security",
    "opening_review": "Opening review",
    "opened": "Account opened",
}
ACTORS = {"manager": "u-mgr", "security": "u-sec", "opening": "u-open", "no role": "u-clerk", "admin": "1"}
ROLE_NAMES = {
    "manager": "Personal manager",
    "security": "Security officer",
    "opening": "Account-opening officer",
}

#: (role, from, to) -> transition, as the issue states the flow
ALLOWED = {
    ("manager", "draft", "security_review"): "submit",
    ("manager", "returned", "security_review"): "resubmit",
    ("security", "security_review", "security_approved"): "security_approve",
    ("security", "security_review", "returned"): "security_return",
    ("security", "security_review", "rejected"): "security_reject",
    ("opening", "security_approved", "opening_review"): "take",
    ("opening", "opening_review", "opened"): "open",
    ("opening", "opening_review", "returned"): "opening_return",
    ("opening", "opening_review", "rejected"): "opening_reject",
}
MOVES = {(f, t): name for (_, f, t), name in ALLOWED.items()}
OWNER = {(f, t): role for (role, f, t) in ALLOWED}
CASES = [(actor, f, t) for actor in ACTORS for f, t in itertools.permutations(STATUSES, 2)]


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    b = make_bank(tmp_path_factory.mktemp("ao"), None)
    b.client_id = b.client("Romashka")
    yield b
    b.ctx.app.close()


@pytest.mark.parametrize("actor,current,target", CASES, ids=[f"{a}:{f}->{t}" for a, f, t in CASES])
def test_every_role_and_status_pair(bank, actor, current, target):
    app = bank.crm.save(APPS, {"name": f"{current}->{target}", "status": current})  # put there directly
    bank.crm.relate(APPS, app, "ao_applications_accounts", [bank.client_id])
    message = bank.validate(ACTORS[actor], APPS, {"id": app, "status": target, "decision_comment": "because"})
    head = f"Cannot change application status from {LABELS[current]} to {LABELS[target]}"
    if (actor, current, target) in ALLOWED:
        assert message is None
    elif current in ("rejected", "opened"):
        assert message == f"{head}: {LABELS[current]} is final."
    elif (current, target) not in MOVES:
        assert message.startswith(
            f"{head}: no transition leads there; from {LABELS[current]} the flow goes to "
        )
    else:
        role = ROLE_NAMES[OWNER[(current, target)]]
        assert message.startswith(
            f"{head} (transition {MOVES[(current, target)]}): only a user with the role {role} may do this; "
        )


def test_the_table_covers_every_pair():
    assert len(CASES) == len(ACTORS) * 7 * 6
    assert sum(1 for c in CASES if c in ALLOWED) == 9
