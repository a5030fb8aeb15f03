"""kill -9 at any step: the shipped order delivery with the sidecar "killed" just before or just after each
of its writes to SuiteCRM in turn, then started again (a new engine over the same state store, the event
it was handling delivered again, as the queue does for an unacknowledged event). Every run ends as the
uncrashed one: the process done, one Task, one SMS, one bp_Runs record, one Note, the delivery date set.
(In-process the dead engine's lease on the run is released by its ``finally``; a real kill -9 holds it for
``lock_seconds``, after which the next pass takes the run over — the same resume.)"""

from __future__ import annotations

import datetime as dt

import pytest

from plugins.bp_scripts.engine import Engine
from plugins.bp_scripts.runs import RunStore
from plugins.bp_scripts.service import engine_for
from suitecrm_ext.testing import install_workflow, load_plugin_schema, register_schema
from suitecrm_ext.workflow import AccessModel

from .kit import PROCESSES, Clock, EventedCRM, bp_app
from .sms_servers import FakeSmsc
from .test_bp_order_delivery import smsc_settings, user


class Killed(BaseException):
    """The process died here: nothing after this line of the sidecar runs."""


class CrashingCRM(EventedCRM):
    """Counts the sidecar's writes; dies before or after write number ``crash_at``."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.writes = 0
        self.crash_at: int | None = None
        self.after = False
        self.armed = False

    def _write(self, do):
        if not self.armed:
            return do()
        n = self.writes
        self.writes += 1
        if n == self.crash_at and not self.after:
            self.crash_at = None
            raise Killed()
        out = do()
        if n == self.crash_at and self.after:
            self.crash_at = None
            raise Killed()
        return out

    def save(self, module, values):
        return self._write(lambda: super(CrashingCRM, self).save(module, values))

    def create(self, module, values, *, id):
        return self._write(lambda: super(CrashingCRM, self).create(module, values, id=id))

    def relate(self, module, rid, link, ids, *a, **kw):
        return self._write(lambda: super(CrashingCRM, self).relate(module, rid, link, ids, *a, **kw))


def world(tmp_path, smsc):
    clock = Clock(dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc))
    crm = CrashingCRM(clock=clock.dt)
    crm.muted = True
    install_workflow(crm)
    register_schema(crm, load_plugin_schema("bp_scripts"))
    crm.muted = False
    access = AccessModel(crm)
    role = access.ensure_role("Logistics")
    access.add_user_to_role(role.id, user(crm, "petr", "Petr"))
    contact = crm.save("Contacts", {"first_name": "Анна", "last_name": "Клиентова",
                                    "phone_mobile": "89161234567"})
    invoice = crm.save("AOS_Invoices", {"name": "Заказ 1042", "number": 1042, "status": "Unpaid",
                                        "billing_contact_id": contact, "shipping_address_city": "Тверь",
                                        "shipping_address_street": "ул. Ленина, 5"})
    app, _ = bp_app(crm, tmp_path, processes=[str(PROCESSES / "order_delivery.yaml")],
                    settings=smsc_settings(smsc.url))
    engine = engine_for(app.for_plugin("bp_scripts"), clock=clock)
    crm.pump(engine)
    return crm, engine, clock, invoice


class Sidecar:
    """The engine, restarted after it was killed, redelivering the event it was handling."""

    def __init__(self, crm, engine, clock):
        self.crm, self.engine, self.clock, self.restarts = crm, engine, clock, 0

    def restart(self):
        self.restarts += 1
        e = self.engine
        self.engine = Engine(e.crm, e.state, e.settings, services=e.services, clock=self.clock,
                             calendar=e.calendar, templates=e.templates)

    def deliver(self, ev):
        while True:
            try:
                return self.engine.on_event(ev)
            except Killed:
                self.restart()

    def pump(self):
        while self.crm.queue:
            self.deliver(self.crm.queue.pop(0))

    def tick(self):
        while True:
            try:
                return self.engine.tick()
            except Killed:
                self.restart()


def scenario(crm, engine, clock, invoice):
    side = Sidecar(crm, engine, clock)
    crm.save("AOS_Invoices", {"id": invoice, "status": "Paid"})  # people's saves are never "killed"
    crm.armed = True
    side.pump()
    tasks = [t for t in crm.records("Tasks") if t.get("parent_id") == invoice]
    crm.armed = False
    for t in tasks:
        crm.save("Tasks", {"id": t.id, "status": "Completed"})
    crm.save("AOS_Invoices", {"id": invoice, "bp_assembled_c": True})
    crm.armed = True
    side.pump()
    for _ in range(3):
        clock.advance(120)
        side.tick()
        side.pump()
    crm.armed = False
    return side


def writes_of_a_clean_run(tmp_path, smsc):
    crm, engine, clock, invoice = world(tmp_path, smsc)
    scenario(crm, engine, clock, invoice)
    return crm.writes


@pytest.fixture
def smsc():
    with FakeSmsc() as server:
        yield server


def test_killed_before_or_after_any_write_it_resumes_and_does_nothing_twice(tmp_path, smsc):
    total = writes_of_a_clean_run(tmp_path / "clean", smsc)
    assert total >= 8  # mirror writes, the Task, the date, the Note...
    failures = []
    for k in range(total):
        for after in (False, True):
            smsc.messages.clear()
            crm, engine, clock, invoice = world(tmp_path / f"k{k}{after}", smsc)
            crm.crash_at, crm.after = k, after
            crm.writes = 0
            side = scenario(crm, engine, clock, invoice)
            runs = RunStore(side.engine.state).of_record("AOS_Invoices", invoice)
            got = {
                "restarts": side.restarts,
                "runs": [(r.status, r.error) for r in runs],
                "tasks": len([t for t in crm.records("Tasks") if t.get("parent_id") == invoice]),
                "sms": len(smsc.messages),
                "bp_Runs": len([r for r in crm.records("bp_Runs") if r.get("parent_id") == invoice]),
                "notes": len([n for n in crm.records("Notes") if n.get("parent_id") == invoice]),
                "date": crm.get("AOS_Invoices", invoice).get("bp_delivery_date_c"),
            }
            want = {"restarts": 1, "runs": [("done", "")], "tasks": 1, "sms": 1, "bp_Runs": 1, "notes": 1,
                    "date": dt.date(2026, 12, 2)}
            if got != want:
                failures.append((k, "after" if after else "before", got))
    assert failures == [], failures
