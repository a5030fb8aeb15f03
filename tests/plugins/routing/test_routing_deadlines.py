"""Deadlines in working time (weekends, Russian holidays and transfers), reminders, escalation rules."""

from __future__ import annotations

import datetime as dt

import pytest
from routing_kit import MSK


def msk(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=MSK)


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


def opp(o) -> str:
    return o.save(
        "u-seller",
        "Opportunities",
        {"name": "Deal", "sales_stage": "Prospecting", "assigned_user_id": "u-seller"},
    )


def due_of(o, rid):
    (step,) = o.open_steps(rid)
    return step.get("due").astimezone(MSK).replace(second=0)


@pytest.mark.parametrize(
    ("start", "deadline", "due"),
    [
        (msk(2025, 12, 1, 10, 0), "4h", msk(2025, 12, 1, 14, 0)),  # the same day
        (msk(2025, 12, 5, 16, 0), "4h", msk(2025, 12, 8, 11, 0)),  # Friday -> over the weekend
        (msk(2025, 12, 6, 12, 0), "2h", msk(2025, 12, 8, 11, 0)),  # opened on a Saturday
        (msk(2025, 12, 30, 17, 0), "4h", msk(2026, 1, 12, 12, 0)),  # 31 Dec + 1-11 Jan 2026 are off
        (msk(2025, 12, 30, 10, 0), "2d", msk(2026, 1, 13, 10, 0)),
        (msk(2025, 10, 31, 17, 0), "2h", msk(2025, 11, 1, 10, 0)),  # Saturday 1 Nov 2025 is a working day
        (msk(2026, 2, 20, 17, 30), "1h", msk(2026, 2, 24, 9, 30)),  # 23 Feb (Monday) is a holiday
        (msk(2026, 3, 6, 12, 0), "1d", msk(2026, 3, 10, 12, 0)),  # 9 March 2026: 8 March observed
        (msk(2025, 12, 1, 19, 0), "1h", msk(2025, 12, 2, 10, 0)),  # after hours: counts from 09:00
    ],
)
def test_deadlines_count_working_time_only(office_factory, start, deadline, due):
    o = office_factory(
        routes=[route({"name": "a", "assignee": {"user": "max"}, "deadline": deadline})],
        start=start.astimezone(dt.timezone.utc),
    )
    assert due_of(o, opp(o)) == due


def test_configured_extra_days_off_and_working_days_win(office_factory):
    o = office_factory(
        routes=[route({"name": "a", "assignee": {"user": "max"}, "deadline": "4h"})],
        start=msk(2025, 12, 5, 16, 0).astimezone(dt.timezone.utc),
        workflow={"calendar": {"extra_working_days": ["2025-12-06"], "extra_days_off": ["2025-12-08"]}},
    )
    assert due_of(o, opp(o)) == msk(2025, 12, 6, 11, 0)


def test_a_deadline_from_the_run_start_and_a_deadline_chosen_by_the_records_values(office_factory):
    o = office_factory(
        routes=[
            route(
                {"name": "a", "assignee": {"user": "max"}},
                {
                    "name": "b",
                    "assignee": {"user": "dora"},
                    "deadline": [
                        {"when": {"field": "amount", "gt": 100000}, "in": "2h", "from": "run"},
                        {"in": "1d"},
                    ],
                },
            )
        ]
    )
    big = o.save(
        "u-seller", "Opportunities", {"name": "big", "amount": "500000", "sales_stage": "Prospecting"}
    )
    small = o.save(
        "u-seller", "Opportunities", {"name": "small", "amount": "5", "sales_stage": "Prospecting"}
    )
    o.at(msk(2025, 12, 1, 15, 0))
    o.decide("u-mgr1", o.open_for(big, "u-mgr1").id, "approve")
    o.decide("u-mgr1", o.open_for(small, "u-mgr1").id, "approve")
    assert due_of(o, big) == msk(2025, 12, 1, 12, 0)  # the run started at 10:00: already overdue
    assert due_of(o, small) == msk(2025, 12, 2, 15, 0)


def test_the_reminder_comes_before_the_deadline_in_working_time_once(office_factory, smtp_server):
    o = office_factory(
        routes=[route({"name": "a", "assignee": {"user": "max"}, "deadline": "4h", "remind_before": "1h"})],
        start=msk(2025, 12, 5, 16, 0).astimezone(dt.timezone.utc),
    )
    rid = opp(o)
    (step,) = o.open_steps(rid)
    assert step.get("remind_at").astimezone(MSK).replace(second=0) == msk(2025, 12, 8, 10, 0)
    o.at(msk(2025, 12, 8, 9, 59))
    assert o.escalate().reminded == 0
    o.at(msk(2025, 12, 8, 10, 1))
    assert o.escalate().reminded == 1
    assert o.escalate().reminded == 0
    assert len([m for m in smtp_server.to("max@example.test") if "Reminder" in m["Subject"]]) == 1
    assert o.crm.get("rt_RouteSteps", step.id).get("reminded") is True


def breach(o, rid, *, at: dt.datetime | None = None):
    o.at(at or msk(2025, 12, 3, 10, 0))
    return o.escalate()


def test_escalation_to_the_next_higher_role_climbs_the_hierarchy_up_to_max_levels(office_factory):
    o = office_factory(
        routes=[
            route(
                {
                    "name": "a",
                    "assignee": {"role": "Sales manager"},
                    "deadline": "2h",
                    "escalate": {"to": "next_role", "max_levels": 2},
                }
            )
        ],
        role_hierarchy=["Sales rep", "Sales manager", "Sales director", "Chief executive"],
    )
    rid = opp(o)
    assert breach(o, rid).escalated == 2  # Max and Mia: one seat, both candidates
    (up,) = o.open_steps(rid)
    assert (up.get("assigned_user_id"), up.get("escalation_level")) == ("u-dir", 1)
    assert {s.get("status") for s in o.steps(rid, escalation_level=0)} == {"escalated"}
    assert o.tasks_for("u-dir", "Not Started") and o.tasks_for("u-mgr1", "Completed")
    report = breach(o, rid, at=msk(2025, 12, 5, 10, 0))
    assert report.escalated == 1
    (top,) = o.open_steps(rid)
    assert (top.get("assigned_user_id"), top.get("escalation_level")) == ("u-ceo", 2)
    report = breach(o, rid, at=msk(2025, 12, 9, 10, 0))
    assert report.escalated == 0 and report.breached_without_target == 1
    overdue = [d for d in o.decisions(rid) if d.get("decision") == "overdue"]
    assert len(overdue) == 1 and "top escalation level (2)" in overdue[0].get("comment")
    breach(o, rid, at=msk(2025, 12, 10, 10, 0))
    assert len([d for d in o.decisions(rid) if d.get("decision") == "overdue"]) == 1
    o.decide("u-ceo", top.id, "approve")
    assert o.run_status(rid) == "approved"


def test_a_user_outside_the_hierarchy_escalates_to_their_manager(office_factory):
    o = office_factory(
        routes=[
            route(
                {"name": "a", "assignee": {"user": "hugo"}, "deadline": "2h", "escalate": {"to": "next_role"}}
            )
        ],
        role_hierarchy=["Support"],
    )
    rid = opp(o)
    breach(o, rid)
    assert [s.get("assigned_user_id") for s in o.open_steps(rid)] == ["u-ceo"]


def test_an_escalated_seat_keeps_its_place_in_a_parallel_quorum(office_factory):
    o = office_factory(
        routes=[
            route(
                {
                    "name": "a",
                    "mode": "parallel",
                    "completion": "all",
                    "assignee": [{"user": "max"}, {"user": "sally"}],
                    "deadline": "2h",
                    "escalate": {"to": "manager"},
                }
            )
        ]
    )
    rid = opp(o)
    o.decide("u-mgr1", o.open_for(rid, "u-mgr1").id, "approve")
    breach(o, rid)
    # Sally's seat went to her manager, Max; Max now holds it as well as his own decided seat
    up = o.open_for(rid, "u-mgr1")
    assert up.get("escalation_level") == 1 and up.get("seat") == 1
    o.decide("u-mgr1", up.id, "approve")
    assert o.run_status(rid) == "approved"


def test_a_breach_without_escalation_is_only_recorded_once(office_factory):
    o = office_factory(routes=[route({"name": "a", "assignee": {"user": "max"}, "deadline": "2h"})])
    rid = opp(o)
    assert breach(o, rid).breached_without_target == 1
    assert breach(o, rid, at=msk(2025, 12, 4, 10, 0)).breached_without_target == 1
    assert [d.get("decision") for d in o.decisions(rid)].count("overdue") == 1
    assert o.open_steps(rid)[0].get("status") == "open"


def test_a_manager_who_is_gone_is_passed_over_and_nobody_above_is_recorded(office_factory):
    o = office_factory(
        routes=[
            route(
                {
                    "name": "a",
                    "assignee": {"user": "sally"},
                    "deadline": "2h",
                    "escalate": {"to": "manager", "max_levels": 5},
                }
            )
        ]
    )
    o.crm.save("Users", {"id": "u-mgr1", "status": "Inactive"})
    rid = opp(o)
    breach(o, rid)
    assert [s.get("assigned_user_id") for s in o.open_steps(rid)] == ["u-dir"]
    o.crm.save("Users", {"id": "u-ceo", "status": "Inactive"})
    breach(o, rid, at=msk(2025, 12, 5, 10, 0))
    assert [s.get("assigned_user_id") for s in o.open_steps(rid)] == ["u-dir"]
    assert "names nobody active above Dora Director" in [
        d for d in o.decisions(rid) if d.get("decision") == "overdue"
    ][0].get("comment")


def test_steps_overdue_lists_what_is_late_with_the_working_time_past(office_factory):
    from plugins.routing.explain import Explainer

    o = office_factory(routes=[route({"name": "a", "assignee": {"user": "max"}, "deadline": "2h"})])
    opp(o)
    o.at(msk(2025, 12, 1, 15, 0))
    text = Explainer(o.engine()).steps(overdue=True)
    assert "overdue by 3.0 working hours" in text and "Max Manager" in text
    o.at(msk(2025, 12, 1, 11, 0))
    assert Explainer(o.engine()).steps(overdue=True) == "No overdue steps."
    assert "1.0 working hours left" in Explainer(o.engine()).steps()


def test_a_step_due_after_hours_is_overdue_once_that_moment_passed(office_factory):
    from plugins.routing.explain import Explainer

    o = office_factory(routes=[route({"name": "a", "assignee": {"user": "max"}, "deadline": "2h"})])
    rid = opp(o)
    (step,) = o.open_steps(rid)
    o.crm.save("rt_RouteSteps", {"id": step.id, "due": msk(2025, 12, 1, 19, 0)})  # set by hand, after hours
    o.at(msk(2025, 12, 1, 20, 0))  # no working time has passed since, but the deadline has
    text = Explainer(o.engine()).steps(overdue=True)
    assert "overdue by 0.0 working hours" in text and "left" not in text.splitlines()[1]
