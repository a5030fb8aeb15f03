"""The three shipped routes (config/routes/*.yaml) end to end on the hooked FakeCRM."""

from __future__ import annotations

import datetime as dt

import pytest
from routing_kit import MSK, Refused, route_file


def near(moment, expected, seconds: int = 30) -> bool:
    """Within a few seconds (the kit's clock ticks a second per save)."""
    return moment is not None and abs((moment - expected).total_seconds()) <= seconds


@pytest.fixture
def sales(office_factory):
    return office_factory(route_files=[route_file("discount_approval.yaml")])


def deal(o, discount: str, stage: str = "Prospecting") -> str:
    return o.save(
        "u-seller",
        "Opportunities",
        {
            "name": f"Deal {discount}%",
            "sales_stage": stage,
            "rt_discount_c": discount,
            "assigned_user_id": "u-seller",
        },
    )


# --- discount approval -------------------------------------------------------------------------------


def test_a_discount_above_the_threshold_goes_to_the_sales_managers_and_vetoes_the_next_stage(
    sales, smtp_server
):
    opp = deal(sales, "15")
    steps = sales.open_steps(opp)
    assert {s.get("assigned_user_id") for s in steps} == {"u-mgr1", "u-mgr2"}
    assert {s.get("step") for s in steps} == {"sales_manager"}
    # a Task each, on the deal, due at the step's deadline (8 working hours: Tuesday 09:00 Moscow)
    for user in ("u-mgr1", "u-mgr2"):
        (task,) = sales.tasks_for(user, "Not Started")
        assert task.get("parent_type") == "Opportunities" and task.get("parent_id") == opp
        assert near(task.get("date_due"), dt.datetime(2025, 12, 2, 9, 0, tzinfo=MSK))
    assert len(smtp_server.to("max@example.test")) == 1
    with pytest.raises(Refused) as refused:
        sales.save("u-seller", "Opportunities", {"id": opp, "sales_stage": "Qualification"})
    assert (
        "Sales Stage cannot change yet: Discount approval is waiting for Discount approval by a sales "
        "manager (Max Manager, Mia Manager)" in str(refused.value)
    )
    assert sales.crm.get("Opportunities", opp).get("sales_stage") == "Prospecting"

    sales.decide("u-mgr1", sales.open_for(opp, "u-mgr1").id, "approve")
    assert sales.run_status(opp) == "approved"
    assert sales.open_steps(opp) == []
    assert sales.tasks_for("u-mgr2", "Completed") and sales.tasks_for("u-mgr1", "Completed")
    decided = sales.steps(opp, status="decided")[0]
    assert decided.get("decided_by_id") == "u-mgr1" and decided.get("on_behalf_of_id") == ""
    sales.save("u-seller", "Opportunities", {"id": opp, "sales_stage": "Qualification"})
    assert sales.crm.get("Opportunities", opp).get("sales_stage") == "Qualification"
    assert any(
        "Discount approval" in m["Subject"] and "approved" in m["Subject"]
        for m in smtp_server.to("sally@example.test")
    )


def test_above_the_second_threshold_the_director_approves_too_and_a_rejection_keeps_the_veto(sales):
    opp = deal(sales, "25")
    sales.decide("u-mgr2", sales.open_for(opp, "u-mgr2").id, "approve")
    (director,) = sales.open_steps(opp)
    assert director.get("step") == "sales_director" and director.get("assigned_user_id") == "u-dir"
    with pytest.raises(Refused, match="needs a comment"):
        sales.decide("u-dir", director.id, "reject")
    sales.decide("u-dir", director.id, "reject", "25% is too much")
    assert sales.run_status(opp) == "rejected"
    with pytest.raises(Refused, match="Discount approval was rejected"):
        sales.save("u-seller", "Opportunities", {"id": opp, "sales_stage": "Qualification"})
    # a smaller discount needs no approval: the stage may move
    sales.save("u-seller", "Opportunities", {"id": opp, "rt_discount_c": "5"})
    sales.save("u-seller", "Opportunities", {"id": opp, "sales_stage": "Qualification"})
    log = [(d.get("transition"), d.get("decision")) for d in sales.decisions(opp)]
    assert ("sales_manager", "approve") in log and ("sales_director", "reject") in log
    assert ("finish", "rejected") in log


def test_a_new_discount_needs_a_new_approval_and_an_unchanged_one_never_restarts(sales):
    opp = deal(sales, "15")
    sales.decide("u-mgr1", sales.open_for(opp, "u-mgr1").id, "approve")
    sales.save("u-seller", "Opportunities", {"id": opp, "name": "renamed deal"})
    assert len(sales.runs(opp)) == 1
    sales.save("u-seller", "Opportunities", {"id": opp, "rt_discount_c": "18.00"})
    assert [r.get("status") for r in sales.runs(opp)] == ["approved", "running"]
    with pytest.raises(Refused):
        sales.save("u-seller", "Opportunities", {"id": opp, "sales_stage": "Qualification"})
    # changing the discount while approval runs supersedes the run
    sales.save("u-seller", "Opportunities", {"id": opp, "rt_discount_c": "19"})
    assert [r.get("status") for r in sales.runs(opp)] == ["approved", "cancelled", "running"]
    assert {s.get("status") for s in sales.steps(opp) if s.get("run_id") == sales.runs(opp)[1].id} == {
        "closed"
    }


def quote(name: str, total: str, discount: str) -> dict:
    """A Quote's totals as SuiteCRM's line items write them: subtotal = total + the (negative) discount."""
    sub = f"{float(total) + float(discount):.2f}"
    return {"name": name, "stage": "Draft", "total_amt": total, "discount_amount": discount,
            "subtotal_amount": sub}


def test_a_quote_discount_is_its_share_of_the_total_before_it_and_approval_marks_the_quote(office_factory):
    o = office_factory(route_files=[route_file("discount_approval.yaml")])
    small = o.save("u-seller", "AOS_Quotes", quote("Q small", "1000.00", "-50.00"))
    assert o.runs(small) == []
    # exactly 10 % of the total: not above the threshold (it is 11.1 % of the subtotal after the discount)
    ten = o.save("u-seller", "AOS_Quotes", quote("Q ten", "1000.00", "-100.00"))
    assert o.runs(ten) == []
    q = o.save("u-seller", "AOS_Quotes", quote("Q big", "1000.00", "-150.00"))
    with pytest.raises(Refused, match="Quote Stage cannot change yet"):
        o.save("u-seller", "AOS_Quotes", {"id": q, "stage": "Confirmed"})
    o.decide("u-mgr1", o.open_for(q, "u-mgr1").id, "approve")
    assert o.crm.get("AOS_Quotes", q).get("approval_status") == "Approved"
    o.save("u-seller", "AOS_Quotes", {"id": q, "stage": "Confirmed"})
    big = o.save("u-seller", "AOS_Quotes", quote("Q huge", "1000.00", "-300.00"))
    o.decide("u-mgr1", o.open_for(big, "u-mgr1").id, "approve")
    o.decide("u-dir", o.open_for(big, "u-dir").id, "reject", "no")
    assert o.crm.get("AOS_Quotes", big).get("approval_status") == "Not Approved"


# --- portal case handling ----------------------------------------------------------------------------


@pytest.fixture
def support(office_factory):
    return office_factory(route_files=[route_file("portal_cases.yaml")])


def portal_case(o, priority: str = "P1", case_type: str = "User") -> str:
    # portal_sync creates the internal Case as the sidecar, with the portal flag
    o.crm.user_id = "u-sidecar"
    cid = o.crm.save(
        "Cases",
        {
            "name": "Счёт не пришёл",
            "priority": priority,
            "type": case_type,
            "status": "Open_New",
            "state": "Open",
            "sxt_portal_case_c": True,
        },
    )
    o.drain()
    return cid


def update(o, user: str, case_id: str, text: str, *, internal: bool = False, contact: str = "") -> str:
    return o.save(
        user,
        "AOP_Case_Updates",
        {
            "name": text[:50],
            "description": text,
            "case_id": case_id,
            "internal": internal,
            "contact_id": contact,
            "assigned_user_id": user,
        },
    )


def test_a_portal_case_is_triaged_assigned_by_priority_answered_and_closed(support):
    case = portal_case(support, "P1")
    (triage,) = support.open_steps(case)
    assert triage.get("assigned_user_id") == "u-disp" and triage.get("step") == "triage"
    with pytest.raises(Refused, match="not a decision of this step"):
        support.decide("u-disp", triage.id, "return_initiator", "?")
    support.decide("u-disp", triage.id, "approve")
    stored = support.crm.get("Cases", case)
    assert stored.get("assigned_user_id") == "u-senior" and stored.get("status") == "Open_Assigned"
    (answer,) = support.open_steps(case)
    assert answer.get("step") == "answer" and answer.get("assigned_user_id") == "u-senior"
    # the SLA counts from the case's arrival: 4 working hours for High
    assert near(answer.get("due"), dt.datetime(2025, 12, 1, 14, 0, tzinfo=MSK))
    with pytest.raises(Refused, match="it takes no decision"):
        support.decide("u-senior", answer.id, "approve")
    update(support, "u-senior", case, "посмотрю бухгалтерию", internal=True)
    update(support, "u-sup1", case, "клиент пишет ещё", contact="c-1")
    assert support.open_steps(case)[0].get("step") == "answer"
    update(support, "u-senior", case, "Счёт отправлен повторно")
    (close,) = support.open_steps(case)
    assert close.get("step") == "close"
    answered = support.steps(case, step="answer")[0]
    assert answered.get("decision") == "done" and answered.get("decided_by_id") == "u-senior"
    support.save("u-senior", "Cases", {"id": case, "state": "Closed", "status": "Closed_Closed"})
    assert support.run_status(case) == "approved"
    assert support.open_steps(case) == []


def test_assignment_follows_type_and_priority(support):
    product = portal_case(support, "P2", "Product")
    support.decide("u-disp", support.open_for(product, "u-disp").id, "approve")
    assert support.crm.get("Cases", product).get("assigned_user_id") == "u-sup2"  # group Product support
    first = portal_case(support, "P3", "User")
    support.decide("u-disp", support.open_for(first, "u-disp").id, "approve")
    second = portal_case(support, "P3", "User")
    support.decide("u-disp", support.open_for(second, "u-disp").id, "approve")
    # the role Support: the least loaded member each time (Sveta has the product case already)
    assert support.crm.get("Cases", first).get("assigned_user_id") == "u-sup1"
    assert support.crm.get("Cases", second).get("assigned_user_id") in ("u-sup1", "u-sup2")
    loads = [support.crm.get("Cases", c).get("assigned_user_id") for c in (product, first, second)]
    assert loads.count("u-sup1") >= 1 and loads.count("u-sup2") >= 1


def test_a_case_answered_during_triage_skips_the_wait_and_a_rejected_triage_closes_the_case(support):
    case = portal_case(support, "P2")
    update(support, "u-sup1", case, "уже ответили")
    support.decide("u-disp", support.open_for(case, "u-disp").id, "approve")
    assert [s.get("step") for s in support.open_steps(case)] == ["close"]
    spam = portal_case(support, "P3")
    support.decide("u-disp", support.open_for(spam, "u-disp").id, "reject", "spam")
    stored = support.crm.get("Cases", spam)
    assert (stored.get("status"), stored.get("state")) == ("Closed_Rejected", "Closed")
    assert support.run_status(spam) == "rejected"


def test_no_answer_within_the_sla_escalates_to_the_assignees_manager_once(support, smtp_server):
    case = portal_case(support, "P1")
    support.decide("u-disp", support.open_for(case, "u-disp").id, "approve")
    support.at(dt.datetime(2025, 12, 1, 13, 10, tzinfo=MSK))
    report = support.escalate()
    assert report.reminded == 1 and report.escalated == 0
    assert any("Reminder" in m["Subject"] for m in smtp_server.to("semyon@example.test"))
    support.at(dt.datetime(2025, 12, 1, 14, 0, 5, tzinfo=MSK))
    report = support.escalate()
    assert report.escalated == 1, report.summary()
    (up,) = support.open_steps(case)
    assert up.get("assigned_user_id") == "u-head" and up.get("escalation_level") == 1
    original = support.steps(case, step="answer", assigned_user_id="u-senior")[0]
    assert original.get("status") == "escalated" and up.get("escalated_from_id") == original.id
    assert [d.get("decision") for d in support.decisions(case)].count("escalated") == 1
    assert support.escalate().escalated == 0  # the same breach never twice
    assert len(support.steps(case, step="answer")) == 2
    # the manager answers: the step is done for the seat
    update(support, "u-head", case, "Приносим извинения, счёт отправлен")
    assert [s.get("step") for s in support.open_steps(case)] == ["close"]


# --- document route ----------------------------------------------------------------------------------


@pytest.fixture
def docs(office_factory):
    return office_factory(route_files=[route_file("document_approval.yaml")])


def document(o, template_type: str = "nda") -> str:
    return o.save(
        "u-author",
        "Documents",
        {
            "document_name": "NDA Рога и копыта",
            "template_type": template_type,
            "status_id": "Under Review",
            "revision": "1",
        },
    )


def test_a_document_goes_to_the_authors_manager_then_half_of_legal(docs):
    assert (
        docs.runs(
            docs.save(
                "u-author",
                "Documents",
                {"document_name": "memo", "template_type": "eula", "status_id": "Under Review"},
            )
        )
        == []
    )
    doc = document(docs)
    (mgr,) = docs.open_steps(doc)
    assert mgr.get("assigned_user_id") == "u-boss"
    docs.decide("u-boss", mgr.id, "approve")
    legal = docs.open_steps(doc)
    assert {s.get("assigned_user_id") for s in legal} == {"u-legal1", "u-legal2", "u-legal3"}
    assert {s.get("mode") for s in legal} == {"parallel"} and {s.get("completion") for s in legal} == {
        "percent:50"
    }
    docs.decide("u-legal1", docs.open_for(doc, "u-legal1").id, "approve")
    docs.decide("u-legal2", docs.open_for(doc, "u-legal2").id, "reject", "пункт 4")
    assert docs.run_status(doc) == "running"  # 1 of 3 approved, 2 still possible
    docs.decide("u-legal3", docs.open_for(doc, "u-legal3").id, "approve")
    assert docs.run_status(doc) == "approved"
    assert docs.crm.get("Documents", doc).get("status_id") == "Active"


def test_returns_go_back_a_step_and_to_the_author_who_resubmits(docs):
    doc = document(docs)
    docs.decide("u-boss", docs.open_for(doc, "u-boss").id, "approve")
    docs.decide("u-legal1", docs.open_for(doc, "u-legal1").id, "return_previous", "check the parties")
    # the whole legal step returns: the author's manager decides again
    (again,) = docs.open_steps(doc)
    assert again.get("step") == "author_manager" and again.get("assigned_user_id") == "u-boss"
    assert again.get("seq") == 3
    assert {s.get("status") for s in docs.steps(doc, seq=2)} == {"decided", "closed"}
    docs.decide("u-boss", again.id, "return_initiator", "rewrite section 2")
    (rework,) = docs.open_steps(doc)
    assert (rework.get("step"), rework.get("assigned_user_id")) == ("rework", "u-author")
    with pytest.raises(Refused, match="not a decision of this step"):
        docs.decide("u-author", rework.id, "approve")
    docs.decide("u-author", rework.id, "resubmit")
    (restart,) = docs.open_steps(doc)
    assert restart.get("step") == "author_manager" and restart.get("seq") == 5
    docs.decide("u-boss", restart.id, "return_previous", "first step: goes to the author")
    (rework2,) = docs.open_steps(doc)
    assert rework2.get("step") == "rework"
    docs.decide("u-author", rework2.id, "withdraw")
    assert docs.run_status(doc) == "withdrawn"
    assert docs.crm.get("Documents", doc).get("status_id") == "Under Review"
