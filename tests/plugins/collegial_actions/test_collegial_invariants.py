"""Random sequences of actions and transition attempts never break the process invariants."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from plugins.collegial_actions.rules import (
    ARCHIVED,
    PREPARATION,
    REJECTED,
    STATUSES,
    Action,
    check_act,
    check_add_action,
    check_transition,
    load_default_catalog,
)

CAT = load_default_catalog()
KINDS = ["voting", "approval", "signing", "acknowledgement"]
OUTCOMES = ["", "for", "against", "abstain", "approved", "not_approved", "signed", "refused", "acknowledged"]

step = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(KINDS)),
    # act: which action (modulo), which of its kind's outcomes (modulo; -1 clears), or any outcome at all
    st.tuples(st.just("act"), st.integers(0, 20), st.integers(-1, 3)),
    st.tuples(st.just("act-any"), st.integers(0, 20), st.integers(-1, 3)),
    st.tuples(st.just("act-raw"), st.integers(0, 20), st.sampled_from(OUTCOMES)),
    # move: mostly to the next status (the interesting, guarded move), sometimes anywhere
    st.tuples(st.just("move-next")),
    st.tuples(st.just("move"), st.sampled_from(STATUSES)),
)


def check_invariants(proc, status, actions, moved_from):
    if status in (REJECTED,):
        return
    i = proc.index(status)
    assert i >= 0, f"{status} is not a status of {proc.name}"
    for stage in proc.stages[:i]:
        if not stage.kind:
            continue
        for a in actions:
            if a.kind != stage.kind:
                continue
            # never above a stage with an unfinished action, nor (Voting aside) a negative one
            assert a.outcome, f"{status} is above {stage.status} with a pending {a.kind} action"
            if stage.gate == "positive":
                assert proc.is_positive(a), f"{status} is above {stage.status} with {a.outcome!r}"
        need = proc.minimum.get(stage.kind, 0)
        assert sum(a.kind == stage.kind for a in actions) >= need
    if status == ARCHIVED:
        acks = [a for a in actions if a.kind == "acknowledgement"]
        assert acks and all(a.outcome == "acknowledged" for a in acks)
        assert moved_from in (ARCHIVED, "Acknowledgement")


@settings(max_examples=200, deadline=None)
@given(pname=st.sampled_from(["flexible", "classic", "simplified"]),
       plan=st.lists(st.sampled_from(KINDS), max_size=8), steps=st.lists(step, min_size=25, max_size=60))
def test_random_walks_keep_the_invariants(pname, plan, steps):
    proc = CAT.process(pname)
    status, actions, came_from = PREPARATION, [], PREPARATION
    for op in [("add", k) for k in plan] + steps:
        if op[0] == "add":
            if check_add_action(proc, status, op[1]):
                actions.append(Action(str(len(actions)), op[1], f"u{len(actions)}"))
        elif op[0].startswith("act"):
            stage = proc.stage(status)
            # "act" aims at the current stage's actions (the ones that may be performed), "act-any" at any
            pool = [i for i, a in enumerate(actions) if op[0] != "act" or (stage and a.kind == stage.kind)]
            if pool:
                idx = pool[op[1] % len(pool)]
                a = actions[idx]
                if op[0] == "act-raw":
                    outcome = op[2]
                else:
                    outs = proc.kinds[a.kind].outcomes
                    outcome = "" if op[2] < 0 else outs[op[2] % len(outs)]
                if check_act(proc, status, a, outcome):
                    actions[idx] = Action(a.id, a.kind, a.assignee_id, outcome=outcome)
        else:
            i = proc.index(status)
            if op[0] == "move-next":
                target = proc.statuses[i + 1] if 0 <= i < len(proc.statuses) - 1 else PREPARATION
            else:
                target = op[1]
            verdict = check_transition(proc, status, target, actions)
            if verdict:
                came_from, status = status, target
            else:
                assert verdict.reason
        check_invariants(proc, status, actions, came_from)


@settings(max_examples=200, deadline=None)
@given(pname=st.sampled_from(["flexible", "classic", "simplified"]),
       outcomes=st.lists(st.tuples(st.sampled_from(KINDS), st.sampled_from(OUTCOMES)), max_size=8))
def test_a_document_whose_actions_are_all_positive_can_always_be_archived(pname, outcomes):
    """Liveness: completing every action positively always leads to Archived, one step at a time."""
    proc = CAT.process(pname)
    kinds = proc.action_kinds
    actions = [Action(str(i), k, f"u{i}") for i, (k, _) in enumerate(outcomes) if k in kinds]
    for k, n in proc.minimum.items():
        actions += [Action(f"{k}{j}", k, f"m{j}") for j in range(n)]
    positive = {k: proc.kinds[k].positive[0] for k in kinds}
    status = PREPARATION
    for target in proc.statuses[1:]:
        stage = proc.stage(status)
        if stage.kind:
            actions = [Action(a.id, a.kind, a.assignee_id, outcome=positive[a.kind])
                       if a.kind == stage.kind else a for a in actions]
        verdict = check_transition(proc, status, target, actions)
        assert verdict, verdict.reason
        status = target
    assert status == ARCHIVED
