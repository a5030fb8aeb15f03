"""Every assignee kind a step may name, resolved on the hooked FakeCRM's users, roles, groups and managers."""

from __future__ import annotations

import pytest

from suitecrm_ext.workflow import AccessModel


def route(*steps, **extra):
    return {
        "name": "r",
        "module": "Opportunities",
        "on": ["created"],
        "when": True,
        "steps": list(steps),
        **extra,
    }


def opp(o, **values) -> str:
    return o.save(
        "u-seller",
        "Opportunities",
        {"name": "Deal", "sales_stage": "Prospecting", "assigned_user_id": "u-seller", **values},
    )


def assignees(o, rid):
    return sorted(s.get("assigned_user_id") for s in o.open_steps(rid))


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"user": "dora"}, ["u-dir"]),  # by login
        ({"user": "u-ceo"}, ["u-ceo"]),  # by id
        ({"role": "Sales manager"}, ["u-mgr1", "u-mgr2"]),
        ({"role": "sales MANAGER"}, ["u-mgr1", "u-mgr2"]),  # role names compare case-insensitively
        ({"group": "Product support"}, ["u-sup2"]),
        ({"field": "assigned_user_id"}, ["u-seller"]),
        ({"manager_of": "assignee"}, ["u-mgr1"]),  # the seller's reports_to
        ({"manager_of": "assignee", "levels": 2}, ["u-dir"]),
        ({"manager_of": {"field": "created_by"}}, ["u-mgr1"]),
        ([{"user": "dora"}, {"role": "Sales manager"}], ["u-dir", "u-mgr1", "u-mgr2"]),
    ],
)
def test_each_kind_names_its_users(office_factory, spec, expected):
    o = office_factory(routes=[route({"name": "a", "assignee": spec})])
    rid = opp(o)
    assert assignees(o, rid) == expected


def test_manager_of_the_assignee_walks_up_past_an_inactive_manager(office_factory):
    o = office_factory(routes=[route({"name": "a", "assignee": {"manager_of": "assignee"}})])
    o.crm.save("Users", {"id": "u-mgr1", "status": "Inactive"})
    assert assignees(o, opp(o)) == ["u-dir"]


def test_roles_given_through_a_security_group_count(office_factory):
    o = office_factory(routes=[route({"name": "a", "assignee": {"role": "Auditor"}})])
    access = AccessModel(o.crm)
    access.ensure_role("Auditor")
    group = access.ensure_group("Audit committee")
    o.crm.relate("SecurityGroups", group.id, "aclroles", [access.role("Auditor").id])
    access.add_user_to_group("Audit committee", "u-stranger")
    assert assignees(o, opp(o)) == ["u-stranger"]


def test_the_manager_of_the_previous_steps_actor_and_the_previous_actor(office_factory):
    o = office_factory(
        routes=[
            route(
                {"name": "a", "assignee": {"role": "Sales manager"}},
                {"name": "b", "assignee": {"manager_of": "previous_actor"}},
                {"name": "c", "assignee": {"previous_actor": True}},
            )
        ]
    )
    rid = opp(o)
    o.decide("u-mgr2", o.open_for(rid, "u-mgr2").id, "approve")
    assert assignees(o, rid) == ["u-dir"]  # Mia's manager, not Max's
    o.decide("u-dir", o.open_for(rid, "u-dir").id, "approve")
    assert assignees(o, rid) == ["u-dir"]  # whoever decided last
    o.decide("u-dir", o.open_for(rid, "u-dir").id, "approve")
    assert o.run_status(rid) == "approved"


def test_a_deputys_decision_makes_the_principal_the_previous_actor(office_factory):
    o = office_factory(
        routes=[
            route(
                {"name": "a", "assignee": {"user": "max"}},
                {"name": "b", "assignee": {"manager_of": "previous_actor"}},
            )
        ]
    )
    o.ctx.workflow.deputies.add("u-mgr1", "u-deputy", "approval", o.now().date())
    rid = opp(o)
    o.decide("u-deputy", o.open_for(rid, "u-mgr1").id, "approve")
    decided = o.steps(rid, status="decided")[0]
    assert (decided.get("decided_by_id"), decided.get("on_behalf_of_id")) == ("u-deputy", "u-mgr1")
    assert assignees(o, rid) == ["u-dir"]  # Max's manager (Dan reports to Dora as well: not decisive)


def test_first_match_picks_the_assignee_by_the_records_values(office_factory):
    o = office_factory(
        routes=[
            route(
                {
                    "name": "a",
                    "assignee": {
                        "first_match": [
                            {"when": {"field": "amount", "gt": 100000}, "to": {"role": "Sales director"}},
                            {
                                "when": {"field": "probability", "gte": 50},
                                "to": [{"user": "carl"}, {"user": "mia"}],
                            },
                            {"to": {"role": "Sales manager"}},
                        ]
                    },
                }
            )
        ]
    )
    assert assignees(o, opp(o, amount="250000", probability=10)) == ["u-dir"]
    assert assignees(o, opp(o, amount="1000", probability=60)) == ["u-ceo", "u-mgr2"]
    assert assignees(o, opp(o, amount="1000", probability=10)) == ["u-mgr1", "u-mgr2"]


def test_only_users_sharing_a_group_with_the_record_when_asked(office_factory):
    o = office_factory(
        routes=[route({"name": "a", "assignee": {"role": "Support", "in_record_groups": True}})]
    )
    rid = opp(o)
    assert assignees(o, rid) == []  # the record is in no group: nobody
    o2 = office_factory(
        routes=[route({"name": "a", "assignee": {"role": "Support", "in_record_groups": True}})]
    )
    access = AccessModel(o2.crm)
    o2.crm.user_id = "u-seller"
    rid2 = o2.crm.save("Opportunities", {"name": "grouped", "sales_stage": "Prospecting"})
    access.add_record_to_groups("Opportunities", rid2, ["Product support"])
    o2.crm.queue.clear()
    o2.save("u-seller", "Opportunities", {"id": rid2, "name": "grouped deal"})
    o2.crm.save("Opportunities", {"id": rid2, "name": "grouped deal"})
    assert assignees(o2, rid2) == []  # "created" only: an update starts nothing
    o3 = office_factory(
        routes=[
            route(
                {"name": "a", "assignee": {"role": "Support", "in_record_groups": True}},
                on=["created", "updated"],
            )
        ]
    )
    access3 = AccessModel(o3.crm)
    o3.crm.user_id = "u-seller"
    rid3 = o3.crm.save("Opportunities", {"name": "grouped", "sales_stage": "Prospecting"})
    o3.crm.queue.clear()
    access3.add_record_to_groups("Opportunities", rid3, ["Product support"])
    o3.save("u-seller", "Opportunities", {"id": rid3, "name": "grouped deal"})
    assert assignees(o3, rid3) == ["u-sup2"]
    # the step records join the record's groups (API creates inherit none)
    step = o3.open_steps(rid3)[0]
    assert [g.name for g in access3.record_groups("rt_RouteSteps", step.id)] == ["Product support"]


def test_nobody_to_assign_waits_and_says_why_until_a_fallback_is_configured(office_factory):
    o = office_factory(routes=[route({"name": "a", "assignee": {"role": "Nobody has this"}})])
    rid = opp(o)
    assert o.open_steps(rid) == [] and o.run_status(rid) == "running"
    assert "nobody to assign (the role Nobody has this)" in o.explain("Opportunities", rid)
    assert [d.get("decision") for d in o.decisions(rid)][-1] == "no assignee"
    f = office_factory(
        routes=[route({"name": "a", "assignee": {"role": "Nobody has this"}})],
        fallback_assignee={"user": "carl"},
    )
    assert assignees(f, opp(f)) == ["u-ceo"]


def test_inactive_and_deleted_users_get_no_step(office_factory):
    o = office_factory(routes=[route({"name": "a", "assignee": {"role": "Sales manager"}})])
    o.crm.save("Users", {"id": "u-mgr2", "employee_status": "Terminated"})
    assert assignees(o, opp(o)) == ["u-mgr1"]
