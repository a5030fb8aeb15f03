"""Each shipped script on FakeCRM, table-driven: one step (``bp run``'s one-script run) per case, what it
did to the CRM, and that running the same step again (a crash before it was noted done) does nothing
twice. send_sms and send_email have files of their own (local provider servers, a real SMTP server)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook

from plugins.bp_scripts.runs import RunStore
from plugins.bp_scripts.service import engine_for
from suitecrm_ext.workflow import AccessModel

from .kit import Clock, bp_app, evented_crm

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Receiver:
    """A webhook receiver on loopback answering with the statuses it is given, keeping what it got."""

    def __init__(self):
        self.got: list[tuple[dict, bytes]] = []
        self.statuses: list[int] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                return

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def world(tmp_path, receiver):
    clock = Clock()
    crm = evented_crm(clock)
    access = AccessModel(crm)
    role = access.ensure_role("Sales")
    users = {}
    for login in ("anna", "boris"):
        users[login] = crm.save("Users", {"user_name": login, "last_name": login.title(), "status": "Active"})
        access.add_user_to_role(role.id, users[login])
    account = crm.save("Accounts", {"name": "ООО Ромашка"})
    deal = crm.save("Opportunities", {"name": "Deal", "amount": "1200.00", "sales_stage": "Qualification",
                                      "date_closed": "2026-12-31", "assigned_user_id": users["anna"],
                                      "account_id": account, "bp_payment_form_c": "monthly",
                                      "bp_service_start_c": "2027-01-01", "bp_service_end_c": "2027-12-31"})
    crm.relate("Accounts", account, "opportunities", [deal])
    product = crm.save("AOS_Products", {"name": "Вебинары", "price": "100.00"})
    crm.relate("Opportunities", deal, "bp_opportunities_products", [product])
    app, _ = bp_app(crm, tmp_path, settings={"webhooks": {"erp": {"url": receiver.url, "secret": SECRET}}})
    engine = engine_for(app.for_plugin("bp_scripts"), clock=clock)
    crm.pump(engine)
    return {"crm": crm, "engine": engine, "clock": clock, "users": users, "account": account, "deal": deal,
            "product": product}


def step(w, script, settings, run_id="run-1"):
    run = w["engine"].start_adhoc(run_id, script, settings, "Opportunities", w["deal"])
    return RunStore(w["engine"].state).get(run.id)


def again(w, run):
    """The same step once more, as after a crash before it was noted done."""
    store = RunStore(w["engine"].state)
    run.step, run.status = 0, "running"
    run.steps[0].status = "pending"
    store.save(run, 0)
    w["engine"].advance(run.id)
    return store.get(run.id)


def deal(w):
    return w["crm"].get("Opportunities", w["deal"])


# --- set_fields ---------------------------------------------------------------------------------------

SET_FIELDS = [
    ("a fixed value and a template",
     {"fields": {"next_step": "call {{ fetch('Accounts', record.account_id).name }}", "probability": 15}},
     lambda w, r: deal(w).get("next_step") == "call ООО Ромашка" and deal(w).get("probability") == 15),
    ("a lookup table",
     {"fields": {"probability": {"lookup": "sales_stage",
                                 "table": {"Qualification": 20, "Closed Won": 100}}}},
     lambda w, r: deal(w).get("probability") == 20),
    ("a lookup default",
     {"fields": {"probability": {"lookup": "sales_stage", "table": {"Closed Won": 100}, "default": 5}}},
     lambda w, r: deal(w).get("probability") == 5),
    ("a value not in the table parks with the reason",
     {"fields": {"probability": {"lookup": "sales_stage", "table": {"Closed Won": 100}}}},
     lambda w, r: r.status == "parked" and "Qualification" in r.error and deal(w).get("probability") is None),
    ("every record of a link",
     {"target": {"link": "accounts"}, "fields": {"description": "has deal {{ record.name }}"}},
     lambda w, r: w["crm"].get("Accounts", w["account"]).get("description") == "has deal Deal"),
    ("the record in an id field",
     {"target": {"field": "account_id", "module": "Accounts"}, "fields": {"industry": "Education"}},
     lambda w, r: w["crm"].get("Accounts", w["account"]).get("industry") == "Education"),
    ("a template failing on this record parks and writes nothing",
     {"fields": {"next_step": "x", "description": "{{ record.name | date }}"}},
     lambda w, r: r.status == "parked" and "not a date" in r.error and not deal(w).get("next_step")),
]


@pytest.mark.parametrize("what, settings, check", SET_FIELDS, ids=[c[0] for c in SET_FIELDS])
def test_set_fields(world, what, settings, check):
    run = step(world, "set_fields", settings)
    assert check(world, run), (run.status, run.error, run.log_lines())
    if run.status == "done":
        assert check(world, again(world, run))


# --- create_records -----------------------------------------------------------------------------------

def test_create_records_copies_fields_and_relationships_and_never_twice(world):
    settings = {
        "module": "bp_Subscriptions",
        "values": {"name": "Подписка {{ record.name }}", "status": "active"},
        "copy_fields": {"amount": "amount", "start_date": "bp_service_start_c",
                        "payment_form": "bp_payment_form_c", "assigned_user_id": "assigned_user_id",
                        "source_deal_id": "id"},
        "copy_relationships": [{"from": "bp_opportunities_products", "to": "bp_subscriptions_products"},
                               {"from": "accounts", "to": "bp_subscriptions_accounts"}],
        "link": {"link": "bp_subscriptions_deals", "from": "new"},
    }
    run = step(world, "create_records", settings)
    assert run.status == "done", run.log_lines()
    crm = world["crm"]
    [sub] = crm.records("bp_Subscriptions")
    assert sub.get("name") == "Подписка Deal" and sub.get("status") == "active"
    assert float(sub.get("amount")) == 1200.0
    assert sub.get("start_date") == dt.date(2027, 1, 1) and sub.get("payment_form") == "monthly"
    assert sub.get("assigned_user_id") == world["users"]["anna"]
    assert sub.get("source_deal_id") == world["deal"]
    assert [r.id for r in crm.related("bp_Subscriptions", sub.id, "bp_subscriptions_products")] == [
        world["product"]]
    assert [r.id for r in crm.related("bp_Subscriptions", sub.id, "bp_subscriptions_accounts")] == [
        world["account"]]
    assert [r.id for r in crm.related("bp_Subscriptions", sub.id, "bp_subscriptions_deals")] == [
        world["deal"]]
    assert run.steps[0].data["id"] == sub.id
    again(world, run)
    assert len(crm.records("bp_Subscriptions")) == 1


def test_create_records_of_an_unknown_field_parks_and_creates_nothing(world):
    run = step(world, "create_records", {"module": "bp_Subscriptions", "values": {"name": "x", "nope_c": 1}})
    assert run.status == "parked" and "nope_c" in run.error
    assert world["crm"].records("bp_Subscriptions") == []


# --- create_task / wait_for ---------------------------------------------------------------------------

def tasks(w):
    return [t for t in w["crm"].records("Tasks") if t.get("parent_id") == w["deal"]]


def test_create_task_for_a_user_waits_until_it_is_completed(world):
    run = step(world, "create_task", {"assignee": {"field": "assigned_user_id"},
                                      "subject": "Call {{ record.name }}", "due": "2d"})
    assert run.status == "waiting"
    [task] = tasks(world)
    assert task.get("assigned_user_id") == world["users"]["anna"] and task.get("name") == "Call Deal"
    assert task.get("parent_type") == "Opportunities" and task.get("date_due") is not None
    world["crm"].save("Tasks", {"id": task.id, "status": "Completed"})
    world["crm"].pump(world["engine"])
    assert RunStore(world["engine"].state).get(run.id).status == "done"
    assert len(tasks(world)) == 1


def test_create_task_each_member_of_a_role_and_no_second_task_on_a_rerun(world):
    run = step(world, "create_task", {"assignee": {"role": "Sales"}, "subject": "Review", "pick": "each",
                                      "wait": False})
    assert run.status == "done"
    assert sorted(t.get("assigned_user_id") for t in tasks(world)) == sorted(world["users"].values())
    again(world, run)
    assert len(tasks(world)) == 2


def test_create_task_for_nobody_parks_with_the_reason(world):
    run = step(world, "create_task", {"assignee": {"role": "Nobody here"}, "subject": "x"})
    assert run.status == "parked" and "Nobody here" in run.error and tasks(world) == []


@pytest.mark.parametrize("until, status", [
    ({"field": "sales_stage", "eq": "Qualification"}, "done"),
    ({"field": "sales_stage", "eq": "Closed Won"}, "waiting"),
])
def test_wait_for(world, until, status):
    run = step(world, "wait_for", {"until": until})
    assert run.status == status
    if status == "waiting":
        assert "sales_stage" in run.current.summary
        world["crm"].save("Opportunities", {"id": world["deal"], "sales_stage": "Closed Won"})
        world["crm"].pump(world["engine"])
        assert RunStore(world["engine"].state).get(run.id).status == "done"


# --- call_webhook -------------------------------------------------------------------------------------

def test_call_webhook_posts_the_record_signed_and_a_retry_keeps_its_webhook_id(world, receiver):
    receiver.statuses = [503, 200]
    run = step(world, "call_webhook", {"webhook": "erp", "fields": ["name", "amount", "sales_stage"]})
    assert run.status == "retry"
    world["clock"].advance(3600)
    world["engine"].tick()
    assert RunStore(world["engine"].state).get(run.id).status == "done"
    (h1, b1), (h2, b2) = receiver.got
    assert h1["webhook-id"] == h2["webhook-id"] and b1 == b2
    payload = Webhook(SECRET).verify(b2, {k: v for k, v in h2.items() if k.startswith("webhook-")})
    assert payload["module"] == "Opportunities" and payload["record_id"] == world["deal"]
    assert set(payload["record"]) == {"name", "amount", "sales_stage"} and payload["record"]["name"] == "Deal"
    assert json.loads(b2)["record"]["sales_stage"] == "Qualification"


def test_call_webhook_refused_by_the_receiver_parks(world, receiver):
    receiver.statuses = [422]
    run = step(world, "call_webhook", {"webhook": "erp"})
    assert run.status == "parked" and "HTTP 422" in run.error and len(receiver.got) == 1
