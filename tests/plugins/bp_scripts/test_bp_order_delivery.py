"""The shipped process "order delivery" end to end on FakeCRM: payment received → a Task for logistics →
the order marked assembled → an SMS to the client with the delivery date and address (SMSC's HTTP API on
a local server)."""

from __future__ import annotations

import datetime as dt

import pytest

from plugins.bp_scripts.runs import RunStore
from plugins.bp_scripts.service import engine_for
from suitecrm_ext.workflow import AccessModel

from .kit import PROCESSES, Clock, bp_app, evented_crm
from .sms_servers import FakeSmsc


@pytest.fixture
def smsc():
    with FakeSmsc() as server:
        yield server


def smsc_settings(url: str) -> dict:
    return {
        "sms": {
            "default": "smsc",
            "providers": {
                "smsc": {
                    "kind": "smsc",
                    "login": FakeSmsc.LOGIN,
                    "password": FakeSmsc.PASSWORD,
                    "url": url,
                    "sender": "Shop",
                }
            },
        }
    }


def user(crm, login: str, name: str) -> str:
    return crm.save(
        "Users",
        {
            "user_name": login,
            "first_name": name,
            "last_name": "Logist",
            "status": "Active",
            "email1": f"{login}@example.com",
        },
    )


@pytest.fixture
def shop(tmp_path, smsc):
    # Tuesday 1 December 2026, 09:00 UTC: a working day
    clock = Clock(dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc))
    crm = evented_crm(clock)
    access = AccessModel(crm)
    role = access.ensure_role("Logistics")
    busy, free = user(crm, "ivan", "Ivan"), user(crm, "petr", "Petr")
    for uid in (busy, free):
        access.add_user_to_role(role.id, uid)
    crm.save("Tasks", {"name": "older work", "assigned_user_id": busy, "status": "In Progress"})
    contact = crm.save(
        "Contacts", {"first_name": "Анна", "last_name": "Клиентова", "phone_mobile": "8 (916) 123-45-67"}
    )
    invoice = crm.save(
        "AOS_Invoices",
        {
            "name": "Заказ 1042",
            "number": 1042,
            "status": "Unpaid",
            "billing_contact_id": contact,
            "total_amount": "15400.00",
            "shipping_address_street": "ул. Ленина, 5",
            "shipping_address_city": "Тверь",
        },
    )
    app, _ = bp_app(
        crm, tmp_path, processes=[str(PROCESSES / "order_delivery.yaml")], settings=smsc_settings(smsc.url)
    )
    engine = engine_for(app.for_plugin("bp_scripts"), clock=clock)
    crm.pump(engine)
    return crm, engine, clock, invoice, busy, free


def test_payment_gives_logistics_a_task_and_the_assembled_order_an_sms(shop, smsc):
    crm, engine, clock, invoice, busy, free = shop
    assert RunStore(engine.state).of_record("AOS_Invoices", invoice) == []  # unpaid: nothing started

    crm.save("AOS_Invoices", {"id": invoice, "status": "Paid"})
    crm.pump(engine)
    [run] = RunStore(engine.state).of_record("AOS_Invoices", invoice)
    assert run.process == "order_delivery" and run.status == "waiting"
    [task] = [t for t in crm.records("Tasks") if t.get("parent_id") == invoice]
    assert task.get("assigned_user_id") == free  # the logistician with fewer open Tasks
    assert task.get("name") == "Собрать заказ №1042" and task.get("parent_type") == "AOS_Invoices"
    assert "ул. Ленина, 5, Тверь" in task.get("description")
    assert task.get("date_due").strftime("%Y-%m-%d %H:%M") == "2026-12-01 13:00"  # 4 working hours, UTC
    mirror = crm.get("bp_Runs", run.id)
    assert mirror.get("status") == "waiting" and mirror.get("current_step") == "assemble"
    assert [r.id for r in crm.related("AOS_Invoices", invoice, "bp_runs_aos_invoices")] == [run.id]

    crm.save("Tasks", {"id": task.id, "status": "Completed"})
    crm.pump(engine)
    run = RunStore(engine.state).get(run.id)
    assert run.current.name == "assembled" and run.status == "waiting"
    assert "bp_assembled_c" in run.current.summary and smsc.messages == []

    crm.save("AOS_Invoices", {"id": invoice, "bp_assembled_c": True})
    crm.pump(engine)
    run = RunStore(engine.state).get(run.id)
    assert run.status == "done", run.log_lines()
    assert crm.get("AOS_Invoices", invoice).get("bp_delivery_date_c") == dt.date(2026, 12, 2)
    [sms] = smsc.messages
    assert sms["phone"] == "79161234567" and sms["sender"] == "Shop"
    assert sms["text"] == "Заказ №1042 собран. Доставим 02.12.2026 по адресу: ул. Ленина, 5, Тверь."
    note = next(n for n in crm.records("Notes") if n.get("parent_id") == invoice)
    assert note.get("name") == "SMS to +79161234567: queued"
    assert crm.get("bp_Runs", run.id).get("status") == "done"


def test_events_delivered_again_do_nothing_twice(shop, smsc):
    crm, engine, clock, invoice, busy, free = shop
    crm.save("AOS_Invoices", {"id": invoice, "status": "Paid"})
    history = list(crm.queue)
    crm.pump(engine)
    [task] = [t for t in crm.records("Tasks") if t.get("parent_id") == invoice]
    crm.save("Tasks", {"id": task.id, "status": "Completed"})
    history += list(crm.queue)
    crm.pump(engine)
    crm.save("AOS_Invoices", {"id": invoice, "bp_assembled_c": True})
    history += list(crm.queue)
    crm.pump(engine)
    for ev in history * 2:  # at-least-once delivery: everything again, twice
        engine.on_event(ev)
    crm.pump(engine)
    engine.tick()
    assert len(RunStore(engine.state).of_record("AOS_Invoices", invoice)) == 1
    assert len([t for t in crm.records("Tasks") if t.get("parent_id") == invoice]) == 1
    assert len(smsc.messages) == 1


def test_a_delivery_date_the_logistician_set_is_kept(shop, smsc):
    crm, engine, clock, invoice, *_ = shop
    crm.save("AOS_Invoices", {"id": invoice, "status": "Paid"})
    crm.pump(engine)
    [task] = [t for t in crm.records("Tasks") if t.get("parent_id") == invoice]
    crm.save("AOS_Invoices", {"id": invoice, "bp_assembled_c": True, "bp_delivery_date_c": "2026-12-07"})
    crm.save("Tasks", {"id": task.id, "status": "Completed"})
    crm.pump(engine)
    [run] = RunStore(engine.state).of_record("AOS_Invoices", invoice)
    assert run.status == "done"
    assert [s.status for s in run.steps] == ["done", "done", "skipped", "done"]
    assert "Доставим 07.12.2026" in smsc.messages[0]["text"]


def test_no_logistician_parks_the_run_with_the_reason_and_replay_goes_on(shop, smsc):
    crm, engine, clock, invoice, busy, free = shop
    for uid in (busy, free):
        crm.save("Users", {"id": uid, "status": "Inactive"})
    crm.save("AOS_Invoices", {"id": invoice, "status": "Paid"})
    crm.pump(engine)
    [run] = RunStore(engine.state).of_record("AOS_Invoices", invoice)
    assert run.status == "parked" and "the role Logistics names no active user" in run.error
    assert "names no active user" in crm.get("bp_Runs", run.id).get("last_error")
    crm.save("Users", {"id": busy, "status": "Active"})
    run = engine.replay(run.id)
    assert run.status == "waiting"
    [task] = [t for t in crm.records("Tasks") if t.get("parent_id") == invoice]
    assert task.get("assigned_user_id") == busy


def test_a_waiting_step_that_times_out_is_parked(shop, smsc):
    crm, engine, clock, invoice, *_ = shop
    crm.save("AOS_Invoices", {"id": invoice, "status": "Paid"})
    crm.pump(engine)
    [task] = [t for t in crm.records("Tasks") if t.get("parent_id") == invoice]
    crm.save("Tasks", {"id": task.id, "status": "Completed"})
    crm.pump(engine)
    clock.advance(5 * 86400)  # past 2 working days
    engine.tick()
    [run] = RunStore(engine.state).of_record("AOS_Invoices", invoice)
    assert run.status == "parked" and run.error.startswith("timed out after 2d")
    assert smsc.messages == []


def test_the_run_reaches_the_records_subpanel_even_when_suitecrm_was_busy_at_first(shop, smsc, monkeypatch):
    from suitecrm_ext import TransientError

    crm, engine, clock, invoice, *_ = shop
    real, failed = crm.relate, []

    def busy_once(module, rid, link, ids, *a, **kw):
        if link == "bp_runs_aos_invoices" and not failed:
            failed.append(link)
            raise TransientError("SuiteCRM busy")
        return real(module, rid, link, ids, *a, **kw)

    monkeypatch.setattr(crm, "relate", busy_once)
    crm.save("AOS_Invoices", {"id": invoice, "status": "Paid"})
    crm.pump(engine)
    [run] = RunStore(engine.state).of_record("AOS_Invoices", invoice)
    assert failed and [r.id for r in crm.related("AOS_Invoices", invoice, "bp_runs_aos_invoices")] == [run.id]


def test_polling_only_a_task_completed_before_the_feed_first_saw_it_moves_the_run_on(shop, smsc, tmp_path):
    """No logic hook pushes the Tasks (the package hooks none): the change feed is the only way the sidecar
    hears of them. A Task the process made and a person completed before the next poll is first seen by
    the feed already completed, as a *creation*; the run must move on all the same (it did not: the
    plugin watched only updates of Tasks, and the run waited for its recheck)."""
    from suitecrm_ext.events.dispatcher import Dispatcher
    from suitecrm_ext.events.poller import ChangeFeed
    from suitecrm_ext.state.sqlite import SQLiteStore

    crm, engine, clock, invoice, *_ = shop
    crm.muted = True  # nothing pushed: the feed reads SuiteCRM's rows
    app, registry = bp_app(crm, tmp_path / "feed", processes=[str(PROCESSES / "order_delivery.yaml")],
                           settings=smsc_settings(smsc.url))
    routing = Dispatcher(app, registry, worker_id="t")
    store = SQLiteStore(tmp_path / "feed.sqlite3")
    specs = [s for ss in routing.specs.values() for s in ss]
    feed = ChangeFeed(crm, store, specs, overlap_seconds=60,
                      clock=lambda: dt.datetime.fromtimestamp(clock.t, dt.timezone.utc))
    handled: set[str] = set()

    def poll() -> None:
        feed.poll_once()
        for queued in reversed(store.recent_events(limit=1000)):
            if queued.event.key not in handled and "bp_scripts" in routing.route(queued.event):
                handled.add(queued.event.key)
                engine.on_event(queued.event)

    try:
        poll()
        crm.save("AOS_Invoices", {"id": invoice, "status": "Paid"})
        poll()
        [task] = [t for t in crm.records("Tasks") if t.get("parent_id") == invoice]
        crm.save("Tasks", {"id": task.id, "status": "Completed"})  # before the feed polled the Task once
        poll()
        [run] = RunStore(engine.state).of_record("AOS_Invoices", invoice)
        assert run.current.name == "assembled" and run.status == "waiting", run.log_lines()
    finally:
        store.close()
        app.close()
