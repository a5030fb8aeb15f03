"""The shipped COMDI subscription pipeline end to end on FakeCRM (config/processes/comdi_subscriptions.yaml).
"""

from __future__ import annotations

import datetime as dt

import pytest

from plugins.bp_scripts.runs import RunStore
from plugins.bp_scripts.service import engine_for
from suitecrm_ext.workflow import AccessModel

from .kit import PROCESSES, Clock, bp_app, evented_crm

DAY = 86400


@pytest.fixture
def comdi(tmp_path):
    clock = Clock(dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc))
    crm = evented_crm(clock)
    manager = crm.save(
        "Users",
        {
            "user_name": "olga",
            "first_name": "Ольга",
            "last_name": "Менеджер",
            "status": "Active",
            "email1": "olga@example.com",
        },
    )
    access = AccessModel(crm)
    group = access.ensure_group("Sales North")
    account = crm.save("Accounts", {"name": "ООО Вебинары"})
    access.add_record_to_groups("Accounts", account, [group.id])
    services = [
        crm.save("AOS_Products", {"name": n, "type": "Service", "price": p})
        for n, p in (("Вебинарная комната 50", 3000), ("Запись трансляций", 1000))
    ]
    app, _ = bp_app(crm, tmp_path, processes=[str(PROCESSES / "comdi_subscriptions.yaml")])
    engine = engine_for(app.for_plugin("bp_scripts"), clock=clock)
    crm.pump(engine)
    return crm, engine, clock, manager, account, services, group


def deal(crm, account, manager, services, deal_type, **kw):
    values = {
        "name": "new deal",
        "account_id": account,
        "assigned_user_id": manager,
        "bp_deal_type_c": deal_type,
        "sales_stage": "Prospecting",
        "amount": 4000,
        "bp_payment_form_c": "monthly",
        "bp_service_start_c": "2026-12-10",
        "bp_service_end_c": "2027-12-09",
        **kw,
    }
    oid = crm.save("Opportunities", values)
    crm.relate("Accounts", account, "opportunities", [oid])
    if services:
        crm.relate("Opportunities", oid, "bp_opportunities_products", services)
    return oid


def subscriptions(crm):
    return [s for s in crm.records("bp_Subscriptions") if not s.deleted]


def test_deal_types_have_their_own_stage_probabilities_and_names(comdi):
    crm, engine, clock, manager, account, services, _ = comdi
    new = deal(crm, account, manager, services, "new_subscription")
    one_off = deal(crm, account, manager, [], "one_off")
    crm.pump(engine)
    assert crm.get("Opportunities", new).get("name") == "Новая подписка: ООО Вебинары (10.12.2026)"
    assert crm.get("Opportunities", one_off).get("name") == "Разовая услуга: ООО Вебинары (10.12.2026)"
    table = {
        "new_subscription": {"Prospecting": 10, "Proposal/Price Quote": 50, "Negotiation/Review": 75},
        "one_off": {"Prospecting": 20, "Proposal/Price Quote": 60},
    }
    for oid, kind in ((new, "new_subscription"), (one_off, "one_off")):
        for stage, probability in table[kind].items():
            crm.save("Opportunities", {"id": oid, "sales_stage": stage})
            crm.pump(engine)
            assert crm.get("Opportunities", oid).get("probability") == probability, (kind, stage)


def test_a_stage_outside_the_types_set_parks_with_the_reason(comdi):
    crm, engine, clock, manager, account, services, _ = comdi
    one_off = deal(crm, account, manager, [], "one_off")
    crm.pump(engine)
    crm.save("Opportunities", {"id": one_off, "sales_stage": "Negotiation/Review"})
    crm.pump(engine)
    parked = [r for r in RunStore(engine.state).of_record("Opportunities", one_off) if r.status == "parked"]
    assert (
        len(parked) == 1
        and "sales_stage is 'Negotiation/Review', which the table does not list" in parked[0].error
    )


def test_a_won_new_subscription_deal_creates_a_subscription_inheriting_it(comdi):
    crm, engine, clock, manager, account, services, group = comdi
    new = deal(crm, account, manager, services, "new_subscription")
    AccessModel(crm).add_record_to_groups("Opportunities", new, [group.id])  # as a deal made in the web UI
    crm.pump(engine)
    crm.save("Opportunities", {"id": new, "sales_stage": "Closed Won"})
    crm.pump(engine)
    [sub] = subscriptions(crm)
    assert sub.get("status") == "active" and sub.get("payment_form") == "monthly"
    assert sub.get("start_date") == dt.date(2026, 12, 10) and sub.get("end_date") == dt.date(2027, 12, 9)
    assert float(sub.get("amount")) == 4000 and sub.get("assigned_user_id") == manager
    assert sub.get("source_deal_id") == new
    assert sorted(
        r.id for r in crm.related("bp_Subscriptions", sub.id, "bp_subscriptions_products")
    ) == sorted(services)
    assert [r.id for r in crm.related("bp_Subscriptions", sub.id, "bp_subscriptions_accounts")] == [account]
    assert [g.id for g in AccessModel(crm).record_groups("bp_Subscriptions", sub.id)] == [group.id]
    # its invoice reminder date follows from the payment form: monthly = 5 days before the invoice date
    assert sub.get("next_invoice_date") == dt.date(2026, 12, 10)
    assert crm.get("bp_Subscriptions", sub.id).get("remind_on") == dt.date(2026, 12, 5)
    # the same win seen again (re-delivered, or saved again) makes no second subscription
    crm.save("Opportunities", {"id": new, "description": "signed"})
    crm.pump(engine)
    assert len(subscriptions(crm)) == 1


@pytest.mark.parametrize("deal_type", ["one_off", "cancellation"])
def test_one_off_and_cancellation_deals_never_create_subscriptions(comdi, deal_type):
    crm, engine, clock, manager, account, services, _ = comdi
    oid = deal(crm, account, manager, services, deal_type)
    crm.pump(engine)
    crm.save("Opportunities", {"id": oid, "sales_stage": "Closed Won"})
    crm.pump(engine)
    assert subscriptions(crm) == []


def _won_subscription(comdi, **kw):
    crm, engine, clock, manager, account, services, _ = comdi
    new = deal(crm, account, manager, services, "new_subscription", **kw)
    crm.pump(engine)
    crm.save("Opportunities", {"id": new, "sales_stage": "Closed Won"})
    crm.pump(engine)
    [sub] = subscriptions(crm)
    return sub.id


def test_invoice_reminders_go_to_the_manager_at_the_time_the_payment_form_sets(comdi):
    crm, engine, clock, manager, account, services, _ = comdi
    sub = _won_subscription(comdi, bp_payment_form_c="quarterly")
    assert crm.get("bp_Subscriptions", sub).get("remind_on") == dt.date(2026, 11, 30)  # 10 days ahead
    engine.tick()
    crm.pump(engine)
    reminders = [t for t in crm.records("Tasks") if t.get("parent_id") == sub]
    assert [t.get("name") for t in reminders] == [
        f"Выставить счёт: {crm.get('bp_Subscriptions', sub).get('name')}"[:50].rstrip()  # trimmed
    ]
    assert reminders[0].get("assigned_user_id") == manager
    s = crm.get("bp_Subscriptions", sub)
    assert s.get("next_invoice_date") == dt.date(2027, 3, 10) and s.get("remind_on") == dt.date(2027, 2, 28)
    engine.tick()  # the next period's reminder is not due yet, and this one is not made twice
    clock.advance(3600)
    engine.tick()
    crm.pump(engine)
    assert len([t for t in crm.records("Tasks") if t.get("parent_id") == sub]) == 1
    clock.advance(90 * DAY)  # 1 March 2027: the next quarter's reminder
    engine.tick()
    crm.pump(engine)
    assert len([t for t in crm.records("Tasks") if t.get("parent_id") == sub]) == 2


def test_a_renewal_deal_is_made_before_the_subscription_ends_and_its_win_continues_the_chain(comdi):
    crm, engine, clock, manager, account, services, _ = comdi
    sub = _won_subscription(comdi, bp_service_start_c="2026-01-10", bp_service_end_c="2026-12-20")
    engine.tick()
    crm.pump(engine)
    [renewal] = list(crm.related("bp_Subscriptions", sub, "bp_subscriptions_deals"))
    r = crm.get("Opportunities", renewal.id)
    assert r.get("bp_deal_type_c") == "renewal" and r.get("name").startswith("Продление услуг: ООО Вебинары")
    assert r.get("probability") == 60 and r.get("bp_payment_form_c") == "monthly"
    assert r.get("bp_service_start_c") == dt.date(2026, 12, 21) and r.get("bp_service_end_c") == dt.date(
        2027, 12, 20
    )
    assert sorted(
        p.id for p in crm.related("Opportunities", renewal.id, "bp_opportunities_products")
    ) == sorted(services)
    assert [a.id for a in crm.related("Opportunities", renewal.id, "accounts")] == [account]
    clock.advance(3 * 3600)
    engine.tick()
    crm.pump(engine)
    assert len(list(crm.related("bp_Subscriptions", sub, "bp_subscriptions_deals"))) == 1  # once per end date
    crm.save("Opportunities", {"id": renewal.id, "sales_stage": "Closed Won"})
    crm.pump(engine)
    newer = [s for s in subscriptions(crm) if s.id != sub]
    assert len(newer) == 1 and newer[0].get("source_deal_id") == renewal.id
    assert sorted(
        p.id for p in crm.related("bp_Subscriptions", newer[0].id, "bp_subscriptions_products")
    ) == sorted(services)


def test_a_won_cancellation_ends_the_chain(comdi):
    crm, engine, clock, manager, account, services, _ = comdi
    sub = _won_subscription(comdi, bp_service_start_c="2026-01-10", bp_service_end_c="2027-06-30")
    cancel = deal(crm, account, manager, [], "cancellation")
    crm.relate("bp_Subscriptions", sub, "bp_subscriptions_deals", [cancel])
    crm.pump(engine)
    crm.save("Opportunities", {"id": cancel, "sales_stage": "Closed Won"})
    crm.pump(engine)
    s = crm.get("bp_Subscriptions", sub)
    assert s.get("status") == "cancelled" and s.get("end_date") == dt.date(2026, 12, 1)
    clock.advance(200 * DAY)  # past the old end date: no renewal, no more reminders
    engine.tick()
    crm.pump(engine)
    assert [d.id for d in crm.related("bp_Subscriptions", sub, "bp_subscriptions_deals")] == [cancel]
    assert len(subscriptions(crm)) == 1
