"""The process rules of collegial_actions: every (process, from, to) pair, the decisions, the messages."""

from __future__ import annotations

import pytest

from plugins.collegial_actions.rules import (
    ARCHIVED,
    PREPARATION,
    REJECTED,
    STATUSES,
    Action,
    CatalogError,
    allowed_targets,
    check_act,
    check_add_action,
    check_transition,
    load_catalog,
    load_default_catalog,
    next_step,
    stage_complete,
)

CAT = load_default_catalog()
ABBR = {"P": "Preparation", "V": "Voting", "A": "Approval", "S": "Signing", "K": "Acknowledgement",
        "Ar": "Archived", "R": "Rejected"}
COLS = ["P", "V", "A", "S", "K", "Ar", "R"]

# Rows: from-status; columns: to-status (P V A S K Ar R).
#   "="  same status (no change)            "B"  back to Preparation / to Rejected: always allowed
#   "U"  up to the next stage: allowed when the stage being left is done, refused otherwise
#   "-"  never allowed (with every stage holding actions, no stage can be skipped)
MATRIX_FULL = """
P  =  U  -  -  -  -  B
V  B  =  U  -  -  -  B
A  B  -  =  U  -  -  B
S  B  -  -  =  U  -  B
K  B  -  -  -  =  U  B
Ar -  -  -  -  -  =  -
R  B  -  -  -  -  -  =
"""
MATRIX_SIMPLIFIED = """
P  =  U  -  -  -  -  B
V  B  =  -  U  -  -  B
A  -  -  -  -  -  -  -
S  B  -  -  =  U  -  B
K  B  -  -  -  =  U  B
Ar -  -  -  -  -  =  -
R  B  -  -  -  -  -  =
"""
MATRICES = {"flexible": MATRIX_FULL, "classic": MATRIX_FULL, "simplified": MATRIX_SIMPLIFIED}
DONE_OUTCOME = {"voting": "against", "approval": "approved", "signing": "signed",
                "acknowledgement": "acknowledged"}
NEGATIVE_OUTCOME = {"approval": "not_approved", "signing": "refused"}


def full_plan(process, **outcomes) -> list[Action]:
    """One action of every kind of the process, each done (voting with an 'against' vote)."""
    return [Action(f"a-{k}", k, f"u-{k}", f"User {k}", outcomes.get(k, DONE_OUTCOME[k]))
            for k in process.action_kinds]


def cells():
    for pname, matrix in MATRICES.items():
        for row in matrix.strip().splitlines():
            frm, *codes = row.split()
            for to, code in zip(COLS, codes, strict=True):
                if frm == "A" and pname == "simplified":
                    continue  # a Simplified document is never in Approval (tested separately)
                yield pytest.param(pname, ABBR[frm], ABBR[to], code, id=f"{pname}-{frm}-{to}")


@pytest.mark.parametrize("pname,frm,to,code", list(cells()))
def test_every_transition_with_done_and_blocking_actions(pname, frm, to, code):
    proc = CAT.process(pname)
    done = full_plan(proc)
    verdict = check_transition(proc, frm, to, done)
    assert verdict.allowed == (code in "=BU"), verdict.reason
    if not verdict.allowed:
        assert verdict.reason, "a refusal always says why"

    # the stage being left gets a pending action (Preparation: the acknowledgement minimum is unmet)
    stage = proc.stage(frm)
    if stage is not None and stage.kind:
        blocked = full_plan(proc, **{stage.kind: ""})
    else:
        blocked = [a for a in done if a.kind != "acknowledgement"]
    verdict = check_transition(proc, frm, to, blocked)
    assert verdict.allowed == (code in "=B"), verdict.reason


@pytest.mark.parametrize("pname", ["flexible", "classic"])
@pytest.mark.parametrize("kind,status,target", [("approval", "Approval", "Signing"),
                                                ("signing", "Signing", "Acknowledgement")])
def test_negative_outcome_blocks_the_way_up_but_not_rework_or_rejection(pname, kind, status, target):
    proc = CAT.process(pname)
    actions = full_plan(proc, **{kind: NEGATIVE_OUTCOME[kind]})
    verdict = check_transition(proc, status, target, actions)
    assert not verdict.allowed
    assert f"{kind} by User {kind} is {NEGATIVE_OUTCOME[kind].replace('_', ' ')}" in verdict.reason
    assert check_transition(proc, status, PREPARATION, actions)
    assert check_transition(proc, status, REJECTED, actions)


@pytest.mark.parametrize("vote", ["for", "against", "abstain"])
def test_voting_needs_completion_only(vote):
    proc = CAT.process("flexible")
    actions = full_plan(proc, voting=vote)
    assert check_transition(proc, "Voting", "Approval", actions)


def test_pending_vote_blocks_and_the_reason_names_every_blocking_assignee():
    proc = CAT.process("flexible")
    actions = [Action("1", "voting", "u1", "Anna Petrova"),
               Action("2", "voting", "u2", "Ivan Sidorov", "for"),
               Action("3", "voting", "u3", "", ""), Action("4", "acknowledgement", "u4", "Olga", "")]
    verdict = check_transition(proc, "Voting", "Approval", actions)
    assert not verdict.allowed
    assert verdict.reason == ("Cannot move from Voting to Approval: voting by Anna Petrova is pending; "
                              "voting by u3 is pending.")


def test_simplified_has_no_approval_status_and_no_approval_actions():
    proc = CAT.process("simplified")
    actions = full_plan(proc)
    verdict = check_transition(proc, "Voting", "Approval", actions)
    assert not verdict.allowed and "has no status 'Approval'" in verdict.reason
    assert check_transition(proc, "Voting", "Signing", actions)
    verdict = check_add_action(proc, "Preparation", "approval")
    assert not verdict.allowed and "no approval actions" in verdict.reason


def test_simplified_to_acknowledgement_only_when_all_signing_actions_are_signed():
    proc = CAT.process("simplified")
    base = [Action("k", "acknowledgement", "uk", "K")]
    two_signed = [Action("s1", "signing", "u1", "A", "signed"), Action("s2", "signing", "u2", "B", "signed")]
    assert check_transition(proc, "Signing", "Acknowledgement", base + two_signed)
    one_refused = [two_signed[0], Action("s2", "signing", "u2", "B", "refused")]
    verdict = check_transition(proc, "Signing", "Acknowledgement", base + one_refused)
    assert not verdict.allowed and "signing by B is refused" in verdict.reason


@pytest.mark.parametrize("pname,missing,message", [
    ("classic", "approval", "the Classic process needs at least 1 approval action (the document has 0)"),
    ("classic", "signing", "the Classic process needs at least 1 signing action (the document has 0)"),
    ("simplified", "signing", "the Simplified process needs at least 1 signing action (the document has 0)"),
    ("flexible", "acknowledgement",
     "the Flexible process needs at least 1 acknowledgement action (the document has 0)"),
])
def test_minimum_actions_are_required_before_leaving_preparation(pname, missing, message):
    proc = CAT.process(pname)
    actions = [a for a in full_plan(proc) if a.kind != missing]
    verdict = check_transition(proc, PREPARATION, "Voting", actions)
    assert not verdict.allowed
    assert message in verdict.reason
    assert check_transition(proc, PREPARATION, REJECTED, actions)


def test_flexible_with_no_actions_but_acknowledgement_passes_empty_stages():
    proc = CAT.process("flexible")
    actions = [Action("k", "acknowledgement", "uk", "K")]
    # empty stages are passed through: straight to Acknowledgement
    assert check_transition(proc, PREPARATION, "Acknowledgement", actions)
    assert check_transition(proc, PREPARATION, "Approval", actions)
    # ... but never past a stage with actions, nor past Acknowledgement to Archived
    assert not check_transition(proc, PREPARATION, ARCHIVED, actions)
    with_vote = actions + [Action("v", "voting", "uv", "Vera", "for")]
    verdict = check_transition(proc, PREPARATION, "Signing", with_vote)
    assert not verdict.allowed
    assert "the Voting stage has actions" in verdict.reason and "next status is Voting" in verdict.reason


def test_classic_cannot_pass_an_empty_approval_stage():
    proc = CAT.process("classic")
    actions = [Action("s", "signing", "us", "S"), Action("k", "acknowledgement", "uk", "K")]
    verdict = check_transition(proc, "Voting", "Signing", actions)
    assert not verdict.allowed and "at least 1 approval action" in verdict.reason


def test_archived_only_when_every_acknowledgement_is_done():
    proc = CAT.process("classic")
    acks = [Action("k1", "acknowledgement", "u1", "Ann", "acknowledged"),
            Action("k2", "acknowledgement", "u2", "Bob")]
    others = [a for a in full_plan(proc) if a.kind != "acknowledgement"]
    verdict = check_transition(proc, "Acknowledgement", ARCHIVED, others + acks)
    assert not verdict.allowed and "acknowledgement by Bob is pending" in verdict.reason
    acks[1] = Action("k2", "acknowledgement", "u2", "Bob", "acknowledged")
    assert check_transition(proc, "Acknowledgement", ARCHIVED, others + acks)


def test_terminal_states():
    proc = CAT.process("flexible")
    actions = full_plan(proc)
    assert allowed_targets(proc, ARCHIVED, actions) == []
    assert "cannot change status" in check_transition(proc, ARCHIVED, PREPARATION, actions).reason
    assert allowed_targets(proc, REJECTED, actions) == [PREPARATION]
    assert "only be reopened" in check_transition(proc, REJECTED, "Voting", actions).reason


def test_back_moves_other_than_rework_are_refused_with_reason():
    proc = CAT.process("classic")
    verdict = check_transition(proc, "Signing", "Approval", full_plan(proc))
    assert verdict.reason == ("Cannot move back from Signing to Approval: a document can only go back to "
                              "Preparation (rework) or to Rejected.")


def test_empty_status_counts_as_preparation_and_unknown_target_is_refused():
    proc = CAT.process("flexible")
    assert check_transition(proc, "", "Voting", full_plan(proc))
    verdict = check_transition(proc, "Voting", "Published", full_plan(proc))
    assert not verdict.allowed and "'Published'" in verdict.reason


def test_next_step_and_stage_complete():
    proc = CAT.process("classic")
    actions = full_plan(proc, approval="")
    target, verdict = next_step(proc, "Approval", actions)
    assert target == "Signing" and not verdict.allowed
    assert not stage_complete(proc, "Approval", actions)
    assert stage_complete(proc, "Approval", full_plan(proc))
    assert next_step(proc, ARCHIVED, actions)[0] is None


def test_actions_are_added_to_the_current_or_a_later_stage_only():
    proc = CAT.process("classic")
    assert check_add_action(proc, PREPARATION, "voting")
    assert check_add_action(proc, "Approval", "approval")
    assert check_add_action(proc, "Approval", "acknowledgement")
    verdict = check_add_action(proc, "Signing", "approval")
    assert not verdict.allowed and "already past Approval" in verdict.reason
    assert not check_add_action(proc, ARCHIVED, "acknowledgement")
    assert not check_add_action(proc, REJECTED, "voting")


def test_an_action_is_performed_only_in_its_stage_with_one_of_its_outcomes():
    proc = CAT.process("classic")
    sign = Action("s", "signing", "u", "U")
    assert check_act(proc, "Signing", sign, "signed")
    verdict = check_act(proc, "Approval", sign, "signed")
    assert not verdict.allowed and "only be performed while the document is in Signing" in verdict.reason
    verdict = check_act(proc, "Signing", sign, "approved")
    assert not verdict.allowed and "choose one of signed, refused" in verdict.reason


def test_statuses_constant_lists_the_shipped_order():
    assert STATUSES[:6] == tuple(CAT.process("classic").statuses)
    assert STATUSES[-1] == REJECTED


# --- processes are configuration -------------------------------------------------------------


def test_a_new_process_is_added_in_yaml_without_code():
    extra = {"board": {"label": "Board", "minimum": {"voting": 3, "acknowledgement": 1},
                       "stages": [{"status": "Preparation"},
                                  {"status": "Voting", "kind": "voting", "gate": "positive"},
                                  {"status": "Acknowledgement", "kind": "acknowledgement"},
                                  {"status": "Archived"}]}}
    cat = load_default_catalog(extra)
    proc = cat.process("board")
    votes = [Action(str(i), "voting", f"u{i}", f"M{i}", "for") for i in range(3)]
    ack = [Action("k", "acknowledgement", "uk", "K")]
    assert not check_transition(proc, PREPARATION, "Voting", votes[:2] + ack)
    assert check_transition(proc, PREPARATION, "Voting", votes + ack)
    # this process's voting gate is "positive": an 'against' vote blocks
    votes[0] = Action("0", "voting", "u0", "M0", "against")
    verdict = check_transition(proc, "Voting", "Acknowledgement", votes + ack)
    assert "voting by M0 is against" in verdict.reason
    assert set(cat.processes) == {"flexible", "classic", "simplified", "board"}


@pytest.mark.parametrize("bad,needle", [
    ({"stages": [{"status": "Voting", "kind": "voting"}, {"status": "Archived"}]},
     "first stage must be Preparation"),
    ({"stages": [{"status": "Preparation"}, {"status": "Voting", "kind": "voting"}]},
     "last stage must be Archived"),
    ({"stages": [{"status": "Preparation"}, {"status": "X", "kind": "reading"}, {"status": "Archived"}]},
     "unknown action kind 'reading'"),
    ({"stages": [{"status": "Preparation"}, {"status": "Archived"}], "minimum": {"signing": 1}},
     "no stage collects 'signing' actions"),
    ({"stages": [{"status": "Preparation"}, {"status": "V", "kind": "voting", "gate": "maybe"},
                 {"status": "Archived"}]}, "gate"),
    ({"stages": [{"status": "Preparation"}, {"status": "Archived"}], "owner": "x"}, "owner"),
])
def test_a_bad_process_definition_is_refused_naming_the_key(bad, needle):
    with pytest.raises(CatalogError) as err:
        load_default_catalog({"mine": bad})
    assert "mine" in str(err.value) and needle in str(err.value)


def test_a_positive_outcome_must_be_an_outcome():
    with pytest.raises(CatalogError, match="positive outcome.*yes.*not among outcomes"):
        load_catalog({"kinds": {"poll": {"outcomes": ["a"], "positive": ["yes"]}}, "processes": {}})
