"""Deciding a step: who may, once, what else is the route's; sequential and parallel steps; repeats."""

from __future__ import annotations

import datetime as dt

import pytest
from routing_kit import Refused


def route(*steps, **extra):
    return {
        "name": "r",
        "label": "Approval",
        "module": "Opportunities",
        "on": ["created"],
        "when": True,
        "steps": list(steps),
        **extra,
    }


APPROVE_MAX = {"name": "a", "label": "Max approves", "assignee": {"user": "max"}}


def opp(o) -> str:
    return o.save(
        "u-seller",
        "Opportunities",
        {"name": "Deal", "sales_stage": "Prospecting", "assigned_user_id": "u-seller"},
    )


def test_only_the_assignee_or_a_deputy_in_force_may_decide(office_factory):
    o = office_factory(routes=[route(APPROVE_MAX)])
    rid = opp(o)
    step = o.open_for(rid, "u-mgr1")
    with pytest.raises(Refused) as refused:
        o.decide("u-stranger", step.id, "approve")
    assert str(refused.value) == (
        'Cannot record the decision "approve": Stepan Stranger may not perform this approval action: it is '
        "assigned to Max Manager, and Stepan Stranger is not their deputy for approval on 2025-12-01."
    )
    deputies = o.ctx.workflow.deputies
    deputies.add("u-mgr1", "u-deputy", "approval", dt.date(2025, 11, 1), dt.date(2025, 11, 30))  # over
    deputies.add("u-mgr1", "u-stranger", "signing", dt.date(2025, 11, 1))  # other kind
    with pytest.raises(Refused, match="not their deputy"):
        o.decide("u-deputy", step.id, "approve")
    with pytest.raises(Refused, match="not their deputy"):
        o.decide("u-stranger", step.id, "approve")
    deputies.add("u-mgr1", "u-deputy", "all", dt.date(2025, 12, 1))
    o.decide("u-deputy", step.id, "approve")
    decided = o.crm.get("rt_RouteSteps", step.id)
    assert (decided.get("status"), decided.get("decided_by_id"), decided.get("on_behalf_of_id")) == (
        "decided",
        "u-deputy",
        "u-mgr1",
    )
    (entry,) = [d for d in o.decisions(rid) if d.get("decision") == "approve"]
    assert (entry.get("acted_by_id"), entry.get("on_behalf_of_id"), entry.get("decision")) == (
        "u-deputy",
        "u-mgr1",
        "approve",
    )


def test_a_decision_is_final_and_so_is_its_comment(office_factory):
    o = office_factory(routes=[route(APPROVE_MAX, {"name": "b", "assignee": {"user": "dora"}})])
    rid = opp(o)
    step = o.open_for(rid, "u-mgr1")
    o.save("u-mgr1", "rt_RouteSteps", {"id": step.id, "comment": "looking at it"})  # before: free
    o.decide("u-mgr1", step.id, "approve", "fine")
    with pytest.raises(Refused, match="A decision is final: this step was already decided"):
        o.decide("u-mgr1", step.id, "reject", "changed my mind")
    with pytest.raises(Refused, match="its comment cannot be changed"):
        o.save("u-mgr1", "rt_RouteSteps", {"id": step.id, "comment": "not fine"})
    assert o.crm.get("rt_RouteSteps", step.id).get("decision") == "approve"


def test_the_routes_own_fields_are_not_the_users_and_steps_are_not_made_by_hand(office_factory):
    o = office_factory(routes=[route(APPROVE_MAX)])
    rid = opp(o)
    step = o.open_for(rid, "u-mgr1")
    for values, field in (
        ({"status": "closed"}, "status"),
        ({"due": "2030-01-01 00:00:00"}, "due"),
        ({"route": "other"}, "route"),
        ({"seat": 3}, "seat"),
    ):
        with pytest.raises(Refused, match=f"{field} of a route step is kept by its route"):
            o.save("u-mgr1", "rt_RouteSteps", {"id": step.id, **values})
    with pytest.raises(Refused, match="Route steps are opened by their route"):
        o.save(
            "u-mgr1",
            "rt_RouteSteps",
            {"name": "my own step", "parent_type": "Opportunities", "parent_id": rid},
        )
    (run,) = o.runs(rid)
    with pytest.raises(Refused, match="Route runs are kept by their route"):
        o.save("u-mgr1", "rt_RouteRuns", {"id": run.id, "status": "approved"})
    assert o.run_status(rid) == "running"


def test_an_administrator_may_give_an_open_step_to_someone_else(office_factory):
    o = office_factory(routes=[route(APPROVE_MAX)])
    o.crm.save("Users", {"id": "u-ceo", "is_admin": True})
    rid = opp(o)
    step = o.open_for(rid, "u-mgr1")
    with pytest.raises(Refused, match="Only an administrator may give a route step"):
        o.save("u-mgr1", "rt_RouteSteps", {"id": step.id, "assigned_user_id": "u-mgr2"})
    o.save("u-ceo", "rt_RouteSteps", {"id": step.id, "assigned_user_id": "u-mgr2"})
    assert o.tasks_for("u-mgr2", "Not Started")
    o.decide("u-mgr2", step.id, "approve")
    assert o.run_status(rid) == "approved"


def test_a_decision_that_bypassed_validation_is_not_counted_but_cleared_with_a_note(office_factory):
    o = office_factory(routes=[route(APPROVE_MAX)])
    rid = opp(o)
    step = o.open_for(rid, "u-mgr1")
    o.crm.validator = None  # e.g. the sidecar was down and the module fails open
    o.decide("u-stranger", step.id, "approve")
    stored = o.crm.get("rt_RouteSteps", step.id)
    assert (stored.get("status"), stored.get("decision")) == ("open", "")
    assert o.run_status(rid) == "running"
    (note,) = [n for n in o.crm.records("Notes") if n.get("parent_id") == rid]
    assert "Stepan Stranger" in note.get("description") and "not counted" in note.get("description")


def test_sequential_steps_go_one_person_after_another(office_factory):
    o = office_factory(
        routes=[
            route(
                {
                    "name": "a",
                    "mode": "sequential",
                    "assignee": [{"user": "mia"}, {"user": "max"}, {"user": "dora"}],
                }
            )
        ]
    )
    rid = opp(o)
    assert [(s.get("assigned_user_id"), s.get("status")) for s in o.steps(rid)] == [
        ("u-mgr2", "open"),
        ("u-mgr1", "waiting"),
        ("u-dir", "waiting"),
    ]
    with pytest.raises(Refused, match="the step is waiting, not open"):
        o.decide("u-mgr1", o.steps(rid, assigned_user_id="u-mgr1")[0].id, "approve")
    o.decide("u-mgr2", o.open_for(rid, "u-mgr2").id, "approve")
    assert [s.get("assigned_user_id") for s in o.open_steps(rid)] == ["u-mgr1"]
    assert o.tasks_for("u-mgr1", "Not Started") and not o.tasks_for("u-dir")
    o.decide("u-mgr1", o.open_for(rid, "u-mgr1").id, "reject", "no")
    assert o.run_status(rid) == "rejected"
    assert o.steps(rid, assigned_user_id="u-dir")[0].get("status") == "closed"


def test_a_parallel_quorum_closes_the_rest_once_reached(office_factory):
    o = office_factory(
        routes=[
            route(
                {
                    "name": "a",
                    "mode": "parallel",
                    "completion": {"at_least": 2},
                    "assignee": [{"role": "Legal"}, {"user": "carl"}],
                }
            )
        ]
    )
    rid = opp(o)
    assert len(o.open_steps(rid)) == 4
    o.decide("u-legal1", o.open_for(rid, "u-legal1").id, "approve")
    o.decide("u-legal2", o.open_for(rid, "u-legal2").id, "reject", "no")
    assert o.run_status(rid) == "running"
    o.decide("u-ceo", o.open_for(rid, "u-ceo").id, "approve")
    assert o.run_status(rid) == "approved"
    statuses = {s.get("assigned_user_id"): s.get("status") for s in o.steps(rid)}
    assert statuses == {
        "u-legal1": "decided",
        "u-legal2": "decided",
        "u-ceo": "decided",
        "u-legal3": "closed",
    }
    assert o.tasks_for("u-legal3", "Completed")


def test_a_late_decision_on_a_closed_step_is_cleared(office_factory):
    o = office_factory(routes=[route({"name": "a", "assignee": {"role": "Sales manager"}})])
    rid = opp(o)
    mia = o.open_for(rid, "u-mgr2")
    max_step = o.open_for(rid, "u-mgr1")
    o.decide("u-mgr1", max_step.id, "approve")
    # Mia's save raced Max's: it reached SuiteCRM after her record was closed
    o.crm.validator = None
    o.decide("u-mgr2", mia.id, "reject", "too late")
    stored = o.crm.get("rt_RouteSteps", mia.id)
    assert (stored.get("status"), stored.get("decision")) == ("closed", "")
    assert o.run_status(rid) == "approved"


def test_every_event_delivered_twice_changes_nothing_more(office_factory):
    o = office_factory(
        routes=[
            route(
                APPROVE_MAX,
                {"name": "b", "assignee": {"role": "Legal"}, "mode": "parallel", "completion": "any"},
            )
        ]
    )
    rid = opp(o)
    o.decide("u-mgr1", o.open_for(rid, "u-mgr1").id, "approve")
    o.decide("u-legal2", o.open_for(rid, "u-legal2").id, "approve")

    def state():
        return (
            sorted((s.id, s.get("status"), s.get("decision")) for s in o.steps(rid)),
            len(o.crm.records("Tasks")),
            len(o.decisions(rid)),
            len(o.crm.records("rt_RouteRuns")),
            [r.get("status") for r in o.runs(rid)],
        )

    before = state()
    for ev in list(o.delivered):
        o.deliver(ev)
        o.drain()
    assert state() == before


def test_with_polling_only_a_vetoed_change_is_put_back_with_a_note(office_factory):
    o = office_factory(
        routes=[route(APPROVE_MAX, veto={"fields": ["sales_stage"]}, on=["created", "updated"])],
        polling_only=True,
    )
    rid = opp(o)
    o.crm.validator = None
    o.save("u-seller", "Opportunities", {"id": rid, "sales_stage": "Closed Won"})
    assert o.crm.get("Opportunities", rid).get("sales_stage") == "Prospecting"
    (note,) = [n for n in o.crm.records("Notes") if n.get("parent_id") == rid]
    assert "Closed Won" in note.get("description") and "waiting for Max approves" in note.get("description")
    o.decide("u-mgr1", o.open_for(rid, "u-mgr1").id, "approve")
    o.save("u-seller", "Opportunities", {"id": rid, "sales_stage": "Closed Won"})
    assert o.crm.get("Opportunities", rid).get("sales_stage") == "Closed Won"


def test_an_event_that_did_not_set_the_decision_does_not_decide_who_made_it(office_factory):
    from suitecrm_ext import Event, EventKind, FieldChange

    o = office_factory(routes=[route(APPROVE_MAX)])
    rid = opp(o)
    step = o.open_for(rid, "u-mgr1")
    o.save("u-mgr1", "rt_RouteSteps", {"id": step.id, "decision": "approve"}, drain=False)
    pushed = list(o.crm.queue)
    o.crm.queue.clear()
    # the change feed saw the record for the first time only now: a "created" event by its creator (the
    # sidecar), already carrying Max's decision — it must neither count nor clear it
    stored = dict(o.crm.get("rt_RouteSteps", step.id).values)
    o.deliver(Event("rt_RouteSteps", step.id, EventKind.CREATED, o.now(), "poll",
                    {"decision": FieldChange(None, "approve")}, stored, user_id="u-sidecar"))
    assert o.crm.get("rt_RouteSteps", step.id).get("decision") == "approve"
    assert o.run_status(rid) == "running"
    for ev in pushed:
        o.deliver(ev)
    o.drain()
    assert o.run_status(rid) == "approved"
    assert o.crm.get("rt_RouteSteps", step.id).get("decided_by_id") == "u-mgr1"
