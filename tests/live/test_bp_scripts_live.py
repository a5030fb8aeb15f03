"""bp_scripts' shipped processes on the real SuiteCRM, in ``suitecrm-ext run``.

The main scenario, "order delivery" (config/processes/order_delivery.yaml): an invoice marked Paid gives
a logistician of the ACL role "Logistics" a Task; when the Task is completed and the order is marked
assembled, the client gets an SMS (SMSC's HTTP API on a local server) with the delivery date the process
set and the address. The sidecar sees the changes through its change feed (polling the real SuiteCRM
every second), the process instance is a bp_Runs record in the package's "Processes" subpanel of the
invoice, and the SMS is noted on the invoice. Everything the test made is deleted at the end (the role
"Logistics" stays: the shipped process names it, and a later run reuses it).

The COMDI pipeline (config/processes/comdi_subscriptions.yaml): a new-subscription deal gets its name and
its type's probability; won, it creates a Subscription inheriting its services (Products), account,
amount, period, payment form and manager, with the invoice reminder date its payment form sets. (The
hourly scans — renewal deals, reminder Tasks — are covered on FakeCRM.)
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

import pytest

from suitecrm_ext import Cond, NotFound
from suitecrm_ext.workflow import AccessModel

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "plugins"))
from bp_scripts.sms_servers import FakeSmsc  # noqa: E402


def wait(what, timeout, message, proc):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = what()
        if got:
            return got
        time.sleep(0.5)
    raise AssertionError(f"{message}: not within {timeout}s\n--- sidecar log ---\n{proc.log[-6000:]}")


def _tasks_of(crm, invoice):
    return list(crm.find("Tasks", Cond("parent_id", "eq", invoice), fields=["id", "name", "status",
                                                                            "assigned_user_id", "date_due"]))


def _sidecar_config(live_kit, process_file, **section):
    return live_kit.config(
        plugins={**live_kit.plugins_off(), "workflow": {},
                 "bp_scripts": {"process_files": [str(ROOT / "config" / "processes" / process_file)],
                                "advance_every": "1s", **section}},
        events={"poll_interval_seconds": 1.0, "retry_base_seconds": 0.5},
    )


def _notes_of(crm, invoice):
    return list(crm.find("Notes", Cond("parent_id", "eq", invoice), fields=["id", "name"]))


def test_order_delivery_on_the_real_suitecrm(live_kit, live_crm, run_tag, tmp_path):
    live_kit.install("bp_scripts")
    crm = live_crm
    access = AccessModel(crm)
    role = access.ensure_role("Logistics")
    made: list[tuple[str, str]] = []
    logist = crm.save("Users", {"user_name": f"{run_tag}_logist", "first_name": "Ivan", "last_name": run_tag,
                                "status": "Active", "employee_status": "Active", "is_admin": 0})
    made.append(("Users", logist))
    access.add_user_to_role(role.id, logist)
    contact = crm.save("Contacts", {"first_name": "Анна", "last_name": f"Клиентова {run_tag}",
                                    "phone_mobile": "8 (916) 123-45-67"})
    made.append(("Contacts", contact))
    invoice = crm.save("AOS_Invoices", {"name": f"Заказ {run_tag}", "status": "Unpaid",
                                        "billing_contact_id": contact, "total_amount": "15400.00",
                                        "shipping_address_street": "ул. Ленина, 5",
                                        "shipping_address_city": "Тверь"})
    made.append(("AOS_Invoices", invoice))
    number = crm.get("AOS_Invoices", invoice).get("number")
    try:
        with FakeSmsc() as smsc:
            smsc_section = {"kind": "smsc", "login": FakeSmsc.LOGIN, "password": FakeSmsc.PASSWORD,
                            "url": smsc.url, "sender": "Shop"}
            sms = {"status_every": "1s", "providers": {"smsc": smsc_section}}
            config = _sidecar_config(live_kit, "order_delivery.yaml", sms=sms)
            with live_kit.sidecar(config, "--worker-id", f"bp-live-{run_tag}") as proc:
                time.sleep(3)  # the change feed starts "now" at its first poll: let it start
                crm.save("AOS_Invoices", {"id": invoice, "status": "Paid"})
                [task] = wait(lambda: _tasks_of(crm, invoice), 60, "the logistics Task", proc)
                made.append(("Tasks", task.id))
                assert task.get("assigned_user_id") == logist
                assert task.get("name") == f"Собрать заказ №{number}"
                assert task.get("date_due")  # 4 working hours from now (the business calendar)

                [run] = wait(lambda: list(crm.related("AOS_Invoices", invoice, "bp_runs_aos_invoices",
                                                      fields=["id", "process", "status", "current_step"])),
                             30, "the run in the invoice's Processes subpanel", proc)
                made.append(("bp_Runs", run.id))
                assert run.get("process") == "order_delivery" and run.get("current_step") == "assemble"
                wait(lambda: crm.get("bp_Runs", run.id).get("status") == "waiting", 30,
                     "the run waiting for the Task", proc)

                crm.save("Tasks", {"id": task.id, "status": "Completed"})
                wait(lambda: crm.get("bp_Runs", run.id).get("current_step") == "assembled", 60,
                     "the run waiting for the order to be assembled", proc)
                assert smsc.messages == []  # not assembled yet: no SMS
                crm.save("AOS_Invoices", {"id": invoice, "bp_assembled_c": 1})
                wait(lambda: smsc.messages, 60, "the SMS to the client", proc)
                wait(lambda: crm.get("bp_Runs", run.id).get("status") == "done", 60, "the run done", proc)
                # the delivery status is asked for and kept on the invoice's note of the SMS
                wait(lambda: [n for n in _notes_of(crm, invoice) if n.get("name").endswith("delivered")],
                     60, "the SMS noted delivered", proc)

            [sms] = smsc.messages
            delivery = crm.get("AOS_Invoices", invoice).get("bp_delivery_date_c")
            assert isinstance(delivery, dt.date) and delivery > dt.date.today()
            assert sms["phone"] == "79161234567" and sms["sender"] == "Shop"
            assert sms["text"] == (f"Заказ №{number} собран. Доставим {delivery:%d.%m.%Y} по адресу: "
                                   "ул. Ленина, 5, Тверь.")
            notes = _notes_of(crm, invoice)
            made += [("Notes", n.id) for n in notes]
            assert [n.get("name") for n in notes] == ["SMS to +79161234567: delivered"]
            done = crm.get("bp_Runs", run.id)
            assert done.get("status") == "done" and "tell_client" in (done.get("steps_log") or "")
    finally:
        for module, rid in reversed(made):
            try:
                if module == "Users":
                    crm.save("Users", {"id": rid, "status": "Inactive", "employee_status": "Terminated"})
                crm.delete(module, rid)
            except NotFound:
                pass
        for module in ("Tasks", "bp_Runs"):  # anything the sidecar made that the test did not see
            for rec in crm.find(module, Cond("parent_id", "eq", invoice), fields=["id"]):
                crm.delete(module, rec.id)


def test_comdi_subscription_from_a_won_deal_on_the_real_suitecrm(live_kit, live_crm, run_tag):
    live_kit.install("bp_scripts")
    crm = live_crm
    made: list[tuple[str, str]] = []
    manager = crm.save("Users", {"user_name": f"{run_tag}_mgr", "first_name": "Ольга", "last_name": run_tag,
                                 "status": "Active", "employee_status": "Active", "is_admin": 0})
    made.append(("Users", manager))
    account = crm.save("Accounts", {"name": f"ООО Вебинары {run_tag}"})
    made.append(("Accounts", account))
    services = [crm.save("AOS_Products", {"name": f"{n} {run_tag}", "type": "Service", "price": p})
                for n, p in (("Вебинарная комната 50", "3000.00"), ("Запись трансляций", "1000.00"))]
    made += [("AOS_Products", sid) for sid in services]
    config = _sidecar_config(live_kit, "comdi_subscriptions.yaml")
    try:
        with live_kit.sidecar(config, "--worker-id", f"bp-live-comdi-{run_tag}") as proc:
            time.sleep(3)  # the change feed starts "now" at its first poll
            deal = crm.save("Opportunities", {
                "name": "new deal", "account_id": account, "assigned_user_id": manager, "amount": "4000.00",
                "bp_deal_type_c": "new_subscription", "sales_stage": "Prospecting",
                "date_closed": "2027-01-31",
                "bp_payment_form_c": "monthly", "bp_service_start_c": "2027-01-10",
                "bp_service_end_c": "2028-01-09"})
            made.append(("Opportunities", deal))
            crm.relate("Opportunities", deal, "bp_opportunities_products", services)

            def named():
                rec = crm.get("Opportunities", deal)
                return rec.get("name") != "new deal" and rec.get("probability") in (10, "10") and rec

            rec = wait(named, 60, "the deal's name and probability", proc)
            # Opportunities.name is varchar(50): SuiteCRM keeps the first 50 characters of the generated name
            assert rec.get("name") == f"Новая подписка: ООО Вебинары {run_tag} (10.01.2027)"[:50]
            crm.save("Opportunities", {"id": deal, "sales_stage": "Closed Won"})

            def subscription():
                return list(crm.find("bp_Subscriptions", Cond("source_deal_id", "eq", deal), fields=["id"]))

            [sub] = wait(subscription, 60, "the subscription from the won deal", proc)
            made.append(("bp_Subscriptions", sub.id))
            wait(lambda: crm.get("bp_Subscriptions", sub.id).get("remind_on"), 60, "the reminder date", proc)
            wait(lambda: crm.get("Opportunities", deal).get("probability") in (100, "100"), 60,
                 "the won deal's probability", proc)
        s = crm.get("bp_Subscriptions", sub.id)
        assert s.get("status") == "active" and s.get("payment_form") == "monthly"
        assert s.get("start_date") == dt.date(2027, 1, 10) and s.get("end_date") == dt.date(2028, 1, 9)
        assert float(s.get("amount")) == 4000 and s.get("assigned_user_id") == manager
        assert s.get("next_invoice_date") == dt.date(2027, 1, 10)
        assert s.get("remind_on") == dt.date(2027, 1, 5)  # monthly: 5 days before the invoice date
        assert sorted(r.id for r in crm.related("bp_Subscriptions", sub.id, "bp_subscriptions_products",
                                                 fields=["id"])) == sorted(services)
        assert [r.id for r in crm.related("bp_Subscriptions", sub.id, "bp_subscriptions_accounts",
                                          fields=["id"])] == [account]
    finally:
        for module, rid in reversed(made):
            try:
                if module == "Users":
                    crm.save("Users", {"id": rid, "status": "Inactive", "employee_status": "Terminated"})
                crm.delete(module, rid)
            except NotFound:
                pass
        for rec in crm.find("bp_Runs", Cond("name", "like", f"%{run_tag}%"), fields=["id"]):
            crm.delete("bp_Runs", rec.id)


pytestmark = pytest.mark.live
