"""``suitecrm-ext bp ...``: list, processes, status, run (--dry-run and for real), parked, replay."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
from click.testing import CliRunner

from plugins.bp_scripts.cli import bp
from plugins.bp_scripts.runs import RunStore
from plugins.bp_scripts.service import engine_for
from suitecrm_ext.cli import CliState
from suitecrm_ext.workflow import AccessModel

from .kit import PROCESSES, Clock, bp_app, evented_crm
from .sms_servers import FakeSmsc
from .test_bp_order_delivery import smsc_settings, user


@pytest.fixture
def smsc():
    with FakeSmsc() as server:
        yield server


@pytest.fixture
def shop(tmp_path, smsc):
    clock = Clock(dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc))
    crm = evented_crm(clock)
    access = AccessModel(crm)
    role = access.ensure_role("Logistics")
    logist = user(crm, "petr", "Petr")
    access.add_user_to_role(role.id, logist)
    contact = crm.save("Contacts", {"first_name": "Анна", "last_name": "Клиентова",
                                    "phone_mobile": "89161234567"})
    invoice = crm.save("AOS_Invoices", {"name": "Заказ 1042", "number": 1042, "status": "Unpaid",
                                        "billing_contact_id": contact})
    app, reg = bp_app(crm, tmp_path, processes=[str(PROCESSES / "order_delivery.yaml")],
                      settings=smsc_settings(smsc.url))
    engine = engine_for(app.for_plugin("bp_scripts"), clock=clock)
    return crm, app, reg, engine, invoice, logist


def cli(app, reg, *args):
    names = ("suitecrm_ext", "plugins", "urllib3", "zeep", "pymysql")
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate, logging.getLogger(n).level)
             for n in names}
    try:
        state = CliState()
        state._loaded = (app.config, reg)
        state._app = app
        return CliRunner().invoke(bp, list(args), obj=state, catch_exceptions=False)
    finally:
        for n, (handlers, propagate, level) in saved.items():
            logger = logging.getLogger(n)
            logger.handlers[:] = handlers
            logger.propagate = propagate
            logger.setLevel(level)


def test_list_shows_every_script_with_its_settings(shop):
    crm, app, reg, *_ = shop
    out = cli(app, reg, "list", "--json")
    assert out.exit_code == 0, out.output
    scripts = {s["name"]: s for s in json.loads(out.output)}
    assert set(scripts) >= {"set_fields", "create_records", "create_task", "wait_for", "send_sms",
                            "send_email", "call_webhook"}
    assert "to" in {f["name"] for f in scripts["send_sms"]["settings"]}
    text = cli(app, reg, "list").output
    assert "send_sms" in text and "provider" in text


def test_processes_lists_the_configured_ones_with_their_steps(shop):
    crm, app, reg, *_ = shop
    out = cli(app, reg, "processes")
    assert out.exit_code == 0
    assert "order_delivery: Order delivery - AOS_Invoices, on created, updated" in out.output
    assert "4. tell_client (send_sms)" in out.output


def test_status_shows_a_records_process_step_by_step(shop):
    crm, app, reg, engine, invoice, _ = shop
    assert "no process has run on AOS_Invoices" in cli(app, reg, "status", "AOS_Invoices", invoice).output
    crm.save("AOS_Invoices", {"id": invoice, "status": "Paid"})
    crm.pump(engine)
    out = cli(app, reg, "status", "AOS_Invoices", invoice).output
    assert "order_delivery" in out and "waiting" in out and "assemble" in out


def test_run_dry_run_changes_nothing_and_run_does_it_once(shop, smsc):
    crm, app, reg, engine, invoice, _ = shop
    settings = "{fields: {bp_delivery_date_c: '2026-12-09'}}"
    out = cli(app, reg, "run", "set_fields", "--record", f"AOS_Invoices:{invoice}", "--settings", settings,
              "--dry-run")
    assert out.exit_code == 0 and "2026-12-09" in out.output
    assert crm.get("AOS_Invoices", invoice).get("bp_delivery_date_c") in (None, "")
    out = cli(app, reg, "run", "set_fields", "--record", f"AOS_Invoices:{invoice}", "--settings", settings)
    assert out.exit_code == 0 and "done" in out.output, out.output
    assert crm.get("AOS_Invoices", invoice).get("bp_delivery_date_c") == dt.date(2026, 12, 9)


@pytest.mark.parametrize("args, message", [
    (["run", "no_such", "--record", "AOS_Invoices:x"], "no script 'no_such'"),
    (["run", "set_fields", "--record", "AOS_Invoices"], "MODULE:ID"),
    (["run", "set_fields", "--record", "AOS_Invoices:x", "--settings", "[1, 2"], "not YAML"),
    (["run", "set_fields", "--record", "AOS_Invoices:missing", "--settings", "{fields: {name: x}}"],
     "no AOS_Invoices record 'missing'"),
    (["run", "set_fields", "--record", "AOS_Invoices:x", "--settings", "{nope: 1}"],
     "settings of set_fields"),
    (["replay", "no-such-run"], "no run 'no-such-run'"),
])
def test_bad_command_lines_say_what_is_wrong(shop, args, message):
    crm, app, reg, *_ = shop
    out = cli(app, reg, *args)
    assert out.exit_code != 0 and message in out.output, out.output


def test_parked_lists_the_reason_and_replay_goes_on(shop):
    crm, app, reg, engine, invoice, logist = shop
    crm.save("Users", {"id": logist, "status": "Inactive"})
    crm.save("AOS_Invoices", {"id": invoice, "status": "Paid"})
    crm.pump(engine)
    [run] = RunStore(engine.state).of_record("AOS_Invoices", invoice)
    out = cli(app, reg, "parked").output
    assert run.id in out and "names no active user" in out
    crm.save("Users", {"id": logist, "status": "Active"})
    out = cli(app, reg, "replay", run.id)
    assert out.exit_code == 0 and "waiting" in out.output
    assert "no parked runs" in cli(app, reg, "parked").output
