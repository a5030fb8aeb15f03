"""routing on the real SuiteCRM: the three shipped routes, decided through REST and the web UI.

The workflow and routing packages are installed by the shared live kit; ``suitecrm-ext run`` (push
receiver with the validation endpoint, dispatcher, change feed) runs as a process with the shipped route
files. Users, their managers, roles and a security group are made here (tagged with the run tag) and
removed afterwards, as are the records. Each user acts through their own REST session or logs in to the
web UI through the login form and saves the step's EditView, as a person would.

The portal route's trigger is portal_sync's flag on Cases (``sxt_portal_case_c``, that plugin's package);
here it is replaced by the case name's run tag, the rest of the route is the shipped file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pymysql
import pytest
from webui import WebUI, read_form

from suitecrm_ext import Cond, CRMError, all_of
from suitecrm_ext.crm.rest_v4 import RestV4CRM
from suitecrm_ext.testing import smtp_server
from suitecrm_ext.workflow import AccessModel, BusinessCalendar

ROOT = Path(__file__).resolve().parents[2]
ROUTES = ROOT / "config" / "routes"
PASSWORD = "Rt-live-pw-2026"
ROLES = (
    "Sales manager",
    "Sales director",
    "Chief executive",
    "Dispatcher",
    "Senior support",
    "Support",
    "Legal",
)
GROUP = "Product support"
OTHER_PLUGINS = ("collegial_actions", "account_opening", "onec_bridge", "portal_sync", "bp_scripts")


class World:
    """The people and records of this run, and ways to wait for the sidecar."""

    def __init__(self, lab, admin, tag: str):
        self.lab, self.admin, self.tag = lab, admin, tag
        self.access = AccessModel(admin)
        self.users: dict[str, str] = {}
        self.user_roles: dict[str, tuple[str, ...]] = {}
        self.made: list[tuple[str, str]] = []
        self.roles_made: list[str] = []
        self.group_made = ""
        self.sidecar_log = None

    def login(self, key: str) -> str:
        return f"{self.tag}_{key}"

    def user(self, key: str, first: str, last: str, *, manager: str = "", roles: tuple[str, ...] = ()) -> str:
        uid = self.admin.save(
            "Users",
            {
                "user_name": self.login(key),
                "first_name": first,
                "last_name": f"{last} {self.tag}",
                "status": "Active",
                "employee_status": "Active",
                "email1": f"{self.login(key)}@example.test",
                "user_hash": hashlib.md5(PASSWORD.encode()).hexdigest(),
                "system_generated_password": False,
                "reports_to_id": self.users.get(manager, ""),
            },
        )
        self.users[key] = uid
        self.user_roles[uid] = roles
        for role in roles:
            self.access.add_user_to_role(role, uid)
        return uid

    def rest(self, key: str) -> RestV4CRM:
        return RestV4CRM(self.lab.url, self.login(key), PASSWORD, retries=0)

    def web(self, key: str) -> WebUI:
        ui = WebUI(self.lab, self.login(key), PASSWORD)
        ui.get("index.php?module=Users&action=SaveTimezone&timezone=UTC")  # the first-login wizard, done
        return ui

    def track(self, module: str, rid: str) -> str:
        self.made.append((module, rid))
        return rid

    def wait(self, fn, what: str, timeout: float = 45.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = fn()
            if value:
                return value
            if time.monotonic() > deadline:
                log = self.sidecar_log() if self.sidecar_log else ""
                raise AssertionError(f"timed out waiting for {what}\n--- sidecar log ---\n{log[-6000:]}")
            time.sleep(0.3)

    def steps(self, rid: str, **where: Any) -> list:
        recs = self.admin.find(
            "rt_RouteSteps",
            all_of(Cond("parent_id", "eq", rid)),
            [
                "step",
                "status",
                "decision",
                "assigned_user_id",
                "decided_by_id",
                "on_behalf_of_id",
                "seq",
                "seat",
                "due",
                "escalation_level",
                "escalated_from_id",
                "comment",
            ],
        )
        out = [r for r in recs if all(str(r.get(k)) == str(v) for k, v in where.items())]
        return sorted(
            out, key=lambda r: (r.get("seq") or 0, r.get("seat") or 0, r.get("escalation_level") or 0)
        )

    def open_for(self, rid: str, key: str, step: str | None = None):
        uid = self.users[key]

        def find():
            mine = [
                r
                for r in self.steps(rid, status="open")
                if r.get("assigned_user_id") == uid and (step is None or r.get("step") == step)
            ]
            return mine[0] if mine else None

        return self.wait(find, f"an open step of {key} on {rid} (steps: {self.describe(rid)})")

    def describe(self, rid: str) -> str:
        users = {v: k for k, v in self.users.items()}
        return "; ".join(
            f"{r.get('seq')}/{r.get('step')}/{users.get(r.get('assigned_user_id'), '?')}="
            f"{r.get('status')}/{r.get('decision')}"
            for r in self.steps(rid)
        )

    def run_status(self, rid: str) -> str:
        runs = list(self.admin.find("rt_RouteRuns", Cond("parent_id", "eq", rid), ["status", "started_at"]))
        runs.sort(key=lambda r: r.get("started_at") or dt.datetime.min.replace(tzinfo=dt.timezone.utc))
        return runs[-1].get("status") if runs else ""

    def wait_status(self, rid: str, status: str) -> None:
        self.wait(
            lambda: self.run_status(rid) == status, f"run on {rid} to be {status} (is {self.run_status(rid)})"
        )

    def cleanup(self) -> None:
        routed = [rid for m, rid in self.made if m in ("Opportunities", "AOS_Quotes", "Cases", "Documents")]
        if routed:  # what the sidecar made on them, marked deleted as SuiteCRM's delete does (one REST
            # delete each took minutes in all on a loaded host)
            marks = ", ".join(["%s"] * len(routed))
            with pymysql.connect(**self.lab.db_params()) as conn, conn.cursor() as cur:
                for table in ("rt_routesteps", "rt_routeruns", "sx_decisions", "tasks", "notes"):
                    cur.execute(f"UPDATE {table} SET deleted = 1 WHERE parent_id IN ({marks})", routed)
        for module, rid in reversed(self.made):
            self._delete(module, rid)
        for uid in self.users.values():
            for role in self.user_roles.get(uid, ()):  # only the roles given: a lookup per role is slow
                self.access.remove_user_from_role(role, uid)
            self._delete("Users", uid)
        for role in self.roles_made:
            r = self.access.role(role)
            if r is not None:
                self._delete("ACLRoles", r.id)
        if self.group_made:
            self._delete("SecurityGroups", self.group_made)

    def _delete(self, module: str, rid: str) -> None:
        try:
            self.admin.delete(module, rid)
        except CRMError:
            pass


@pytest.fixture(scope="module")
def smtp():
    """A real SMTP server on loopback for the module's sidecar (``.to(address)``)."""
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
def world(live_lab, live_kit, run_tag):
    live_kit.install("routing")  # and the core workflow package before it
    admin = live_lab.gateway("rest")
    w = World(live_lab, admin, run_tag)
    stale = re.compile(r"^sxt[0-9a-f]{8}_")
    for role in ROLES:
        if w.access.role(role) is None:
            w.access.ensure_role(role, "suitecrm-ext routing live test")
            w.roles_made.append(role)
        for u in w.access.role_users(role, via_groups=False, active_only=False):
            if stale.match(u.user_name):  # left by an interrupted earlier run
                w.access.remove_user_from_role(role, u.id)
    if w.access.group(GROUP) is None:
        w.group_made = w.access.ensure_group(GROUP).id
    w.user("ceo", "Carl", "Chief", roles=("Chief executive",))
    w.user("dir", "Dora", "Director", manager="ceo", roles=("Sales director",))
    w.user("mgr1", "Max", "Manager", manager="dir", roles=("Sales manager",))
    w.user("mgr2", "Mia", "Manager", manager="dir", roles=("Sales manager",))
    w.user("seller", "Sally", "Seller", manager="mgr1")
    w.user("deputy", "Dan", "Deputy", manager="dir")
    w.user("stranger", "Stepan", "Stranger")
    w.user("head", "Hugo", "Head", manager="ceo")
    w.user("disp", "Dina", "Dispatcher", manager="head", roles=("Dispatcher",))
    w.user("senior", "Semyon", "Senior", manager="head", roles=("Senior support",))
    w.user("boss", "Boris", "Boss", manager="ceo")
    w.user("author", "Alla", "Author", manager="boss")
    w.user("legal1", "Lev", "Lawyer", roles=("Legal",))
    w.user("legal2", "Lena", "Lawyer", roles=("Legal",))
    w.access.add_user_to_group(GROUP, w.users["head"])
    yield w
    w.cleanup()
    admin.close()


def sidecar_config(live_kit, smtp, tmp: Path, tag: str) -> dict:
    shipped = (ROUTES / "portal_cases.yaml").read_text(encoding="utf-8")
    trigger = "when: {field: sxt_portal_case_c, eq: true}"
    assert trigger in shipped
    portal_file = tmp / "portal_cases.yaml"
    portal_file.write_text(
        shipped.replace(trigger, f"when: {{field: name, starts_with: {tag}}}"), encoding="utf-8"
    )
    plugins: dict[str, Any] = {name: {"enabled": False} for name in OTHER_PLUGINS}
    plugins["routing"] = {
        "route_files": [
            str(ROUTES / "discount_approval.yaml"),
            str(ROUTES / "document_approval.yaml"),
            str(portal_file),
        ],
        "escalation_schedule": "1d",  # the tests run the job themselves, as cron does
        "lock_seconds": 10,
    }
    plugins["workflow"] = {"language": "en_us"}
    return live_kit.config(
        plugins=plugins,
        write_via="rest",
        read_via="mysql",
        state_dir=tmp,
        smtp={"host": "127.0.0.1", "port": smtp.port, "sender": "crm@example.test"},
        events={"poll_interval_seconds": 2},
    )


@pytest.fixture(scope="module")
def sidecar(live_kit, smtp, world, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("routing-sidecar")
    config = sidecar_config(live_kit, smtp, tmp, world.tag)
    with live_kit.sidecar(config, "--worker-id", "routing-live") as proc:
        proc.config = config
        world.sidecar_log = lambda: proc.log
        yield proc
    assert "Traceback" not in proc.log, proc.log[-4000:]


def refused(world: World, call) -> str:
    """The message of a save SuiteCRM refused (through the validation hook)."""
    try:
        call()
    except CRMError as exc:
        return str(exc)
    log = world.sidecar_log() if world.sidecar_log else ""
    raise AssertionError(f"the save was not refused\n--- sidecar log ---\n{log[-5000:]}")


def web_save(ui: WebUI, module: str, record: str, values: dict[str, str]) -> str:
    """Open the record's EditView, change ``values``, press Save; the page SuiteCRM answers with."""
    page = ui.get(f"index.php?module={module}&action=EditView&record={record}").text
    action, fields = read_form(page, "EditView")
    fields.update(values)
    fields["action"] = "Save"
    return ui.post("index.php", fields).text


# --- discount approval -------------------------------------------------------------------------------


def test_discount_approval_with_a_veto_a_deputy_in_the_web_ui_and_rest_decisions(world, sidecar, smtp):
    w = world
    seller = w.rest("seller")
    opp = w.track(
        "Opportunities",
        seller.save(
            "Opportunities",
            {
                "name": f"{w.tag} Big deal",
                "sales_stage": "Prospecting",
                "amount": "100000",
                "rt_discount_c": "15",
                "assigned_user_id": w.users["seller"],
                "date_closed": "2027-01-31",
            },
        ),
    )
    w.open_for(opp, "mgr1")
    w.open_for(opp, "mgr2")
    managers = {w.users["mgr1"], w.users["mgr2"]}

    def tasks():
        found = {
            t.get("assigned_user_id")
            for t in w.admin.find("Tasks", Cond("parent_id", "eq", opp), ["assigned_user_id"])
        }
        return found if found == managers else None

    w.wait(tasks, "a Task for each sales manager")
    assert w.wait(
        lambda: smtp.to(f"{w.login('mgr1')}@example.test"),
        "the manager's e-mail",
    )
    # the deal cannot move on: through REST and in the web UI
    text = refused(w, lambda: seller.save("Opportunities", {"id": opp, "sales_stage": "Qualification"}))
    assert "Sales Stage cannot change yet: Discount approval is waiting for" in text
    page = web_save(w.web("seller"), "Opportunities", opp, {"sales_stage": "Qualification"})
    assert "Sales Stage cannot change yet" in page
    assert w.admin.get("Opportunities", opp, ["sales_stage"]).get("sales_stage") == "Prospecting"
    # someone else may not decide; Max's deputy may, in the web UI
    step = w.open_for(opp, "mgr1")
    text = refused(
        w, lambda: w.rest("stranger").save("rt_RouteSteps", {"id": step.id, "decision": "approve"})
    )
    assert "may not perform this approval action" in text
    today = dt.datetime.now(dt.timezone.utc).date()
    w.track(
        "sx_Deputies",
        w.admin.save(
            "sx_Deputies",
            {
                "name": f"{w.tag} deputy",
                "principal_id": w.users["mgr1"],
                "deputy_id": w.users["deputy"],
                "kind": "approval",
                "start_date": today - dt.timedelta(days=1),
            },
        ),
    )
    web_save(
        w.web("deputy"), "rt_RouteSteps", step.id, {"decision": "approve", "comment": "on behalf of Max"}
    )
    w.wait_status(opp, "approved")
    decided = w.steps(opp, status="decided")[0]
    assert (decided.get("decided_by_id"), decided.get("on_behalf_of_id")) == (
        w.users["deputy"],
        w.users["mgr1"],
    )
    assert {s.get("status") for s in w.steps(opp)} == {"decided", "closed"}
    # a decision is final
    text = refused(
        w,
        lambda: w.rest("deputy").save(
            "rt_RouteSteps", {"id": step.id, "decision": "reject", "comment": "changed my mind"}
        ),
    )
    assert "A decision is final" in text
    seller.save("Opportunities", {"id": opp, "sales_stage": "Qualification"})
    assert w.admin.get("Opportunities", opp, ["sales_stage"]).get("sales_stage") == "Qualification"
    log = [
        (d.get("transition"), d.get("decision"), d.get("acted_by_id"), d.get("on_behalf_of_id"))
        for d in w.admin.find(
            "sx_Decisions",
            Cond("parent_id", "eq", opp),
            ["transition", "decision", "acted_by_id", "on_behalf_of_id"],
        )
    ]
    assert ("sales_manager", "approve", w.users["deputy"], w.users["mgr1"]) in log
    assert any(t == "finish" and d == "approved" for t, d, _, _ in log)
    seller.close()


def test_above_the_second_threshold_the_director_decides_and_a_rejection_keeps_the_stage(world, sidecar):
    w = world
    seller = w.rest("seller")
    opp = w.track(
        "Opportunities",
        seller.save(
            "Opportunities",
            {
                "name": f"{w.tag} Huge discount",
                "sales_stage": "Prospecting",
                "amount": "5000",
                "rt_discount_c": "25",
                "assigned_user_id": w.users["seller"],
                "date_closed": "2027-01-31",
            },
        ),
    )
    mia = w.rest("mgr2")
    mia.save("rt_RouteSteps", {"id": w.open_for(opp, "mgr2").id, "decision": "approve"})
    director_step = w.open_for(opp, "dir", step="sales_director")
    dora = w.rest("dir")
    assert "needs a comment" in refused(
        w, lambda: dora.save("rt_RouteSteps", {"id": director_step.id, "decision": "reject"})
    )
    dora.save("rt_RouteSteps", {"id": director_step.id, "decision": "reject", "comment": "25% is too much"})
    w.wait_status(opp, "rejected")
    assert "Discount approval was rejected" in refused(
        w, lambda: seller.save("Opportunities", {"id": opp, "sales_stage": "Qualification"})
    )
    for s in (seller, mia, dora):
        s.close()


# --- portal case handling ----------------------------------------------------------------------------


def cli(sidecar, *args: str) -> str:
    """``suitecrm-ext --config <the sidecar's> ARGS`` as an admin runs it (a process of its own); stdout."""
    cfg = Path(sidecar.config_path)
    out = subprocess.run(
        [sys.executable, "-c", "from suitecrm_ext.cli import main; main()", "--config", str(cfg), *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cfg.parent,
    )
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    return out.stdout


def run_job(sidecar) -> str:
    return cli(sidecar, "jobs", "run", "routing-escalate", "--worker-id", "routing-cron")


def test_a_portal_case_is_triaged_assigned_answered_and_closed_and_a_late_answer_escalates(world, sidecar):
    w = world
    case = w.track(
        "Cases",
        w.admin.save(
            "Cases",
            {
                "name": f"{w.tag} Счёт не пришёл",
                "priority": "P1",
                "type": "User",
                "status": "Open_New",
                "state": "Open",
            },
        ),
    )
    triage = w.open_for(case, "disp", step="triage")
    w.rest("disp").save("rt_RouteSteps", {"id": triage.id, "decision": "approve"})
    answer = w.open_for(case, "senior", step="answer")
    stored = w.admin.get("Cases", case, ["assigned_user_id", "status"])
    assert (stored.get("assigned_user_id"), stored.get("status")) == (w.users["senior"], "Open_Assigned")
    # the SLA: 4 working hours from the case's arrival, in the business calendar
    (run,) = w.admin.find("rt_RouteRuns", Cond("parent_id", "eq", case), ["started_at"])
    expected = BusinessCalendar().add_working_hours(run.get("started_at"), 4).astimezone(dt.timezone.utc)
    assert abs((answer.get("due") - expected).total_seconds()) <= 2
    senior = w.rest("senior")
    assert "it takes no decision" in refused(
        w, lambda: senior.save("rt_RouteSteps", {"id": answer.id, "decision": "approve"})
    )
    # the deadline passes without an answer (the step's due moved into the past, as time would)
    w.admin.save(
        "rt_RouteSteps", {"id": answer.id, "due": dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)}
    )
    # what an admin sees: the late step in `routing steps --overdue`, the case's route in `routing explain`
    late = cli(sidecar, "routing", "steps", "--overdue", "--route", "portal_case", "--limit", "100000")
    (row,) = [ln for ln in late.splitlines() if w.tag in ln]
    assert " answer " in row and "Semyon Senior" in row and "overdue by" in row, late
    why = cli(sidecar, "routing", "explain", "Cases", case)
    assert "Route portal_case" in why and "— holds" in why, why
    assert "triage" in why and "approve by Dina Dispatcher" in why, why
    assert re.search(r"seat 1 Semyon Senior [^:]*: open; due .*overdue by", why), why
    out = run_job(sidecar)
    assert "1 escalated" in out, out
    up = w.open_for(case, "head", step="answer")
    assert up.get("escalation_level") == 1 and up.get("escalated_from_id") == answer.id
    assert w.admin.get("rt_RouteSteps", answer.id, ["status"]).get("status") == "escalated"
    assert "0 escalated" in run_job(sidecar)  # the same breach never twice
    # the head of support answers the client (a non-internal update): the step is done, then the close
    head = w.rest("head")
    w.track(
        "AOP_Case_Updates",
        head.save(
            "AOP_Case_Updates",
            {"name": "internal note", "case_id": case, "internal": True, "description": "check billing"},
        ),
    )
    w.track(
        "AOP_Case_Updates",
        head.save(
            "AOP_Case_Updates",
            {"name": "Ответ", "case_id": case, "internal": False, "description": "Счёт отправлен повторно"},
        ),
    )
    w.open_for(case, "senior", step="close")
    senior.save("Cases", {"id": case, "state": "Closed", "status": "Closed_Closed"})
    w.wait_status(case, "approved")
    done = w.steps(case, step="answer", status="decided")[0]
    assert done.get("decided_by_id") == w.users["head"]
    escalations = [
        d
        for d in w.admin.find("sx_Decisions", Cond("parent_id", "eq", case), ["decision"])
        if d.get("decision") == "escalated"
    ]
    assert len(escalations) == 1
    senior.close()
    head.close()


# --- document route ----------------------------------------------------------------------------------


def test_a_document_goes_to_the_authors_manager_in_the_web_ui_then_to_legal(world, sidecar):
    w = world
    author = w.rest("author")
    doc = w.track(
        "Documents",
        author.save(
            "Documents",
            {
                "document_name": f"{w.tag} NDA Рога и копыта",
                "template_type": "nda",
                "status_id": "Under Review",
                "revision": "1",
                "active_date": "2026-01-01",
            },
        ),
    )
    mgr_step = w.open_for(doc, "boss", step="author_manager")
    page = web_save(w.web("boss"), "rt_RouteSteps", mgr_step.id, {"decision": "return_initiator"})
    assert "needs a comment" in page  # refused on the page: a return needs a comment
    web_save(w.web("boss"), "rt_RouteSteps", mgr_step.id, {"decision": "approve", "comment": "ok"})
    lev = w.open_for(doc, "legal1", step="legal")
    w.open_for(doc, "legal2", step="legal")
    w.rest("legal1").save("rt_RouteSteps", {"id": lev.id, "decision": "approve"})  # 1 of 2 = 50 %
    w.wait_status(doc, "approved")
    assert w.admin.get("Documents", doc, ["status_id"]).get("status_id") == "Active"
    assert {s.get("status") for s in w.steps(doc, step="legal")} == {"decided", "closed"}
    author.close()


# --- quote discount: escalation up the role hierarchy ---------------------------------------------------


def test_a_quote_discount_escalates_up_the_role_hierarchy_and_its_approval_frees_the_stage(world, sidecar):
    w = world
    seller = w.rest("seller")
    # the totals as the Quote's line items write them: 15 % off a 1,000 total (subtotal is after it)
    quote = w.track(
        "AOS_Quotes",
        seller.save(
            "AOS_Quotes",
            {
                "name": f"{w.tag} Quote 15%",
                "stage": "Draft",
                "total_amt": "1000.00",
                "discount_amount": "-150.00",
                "subtotal_amount": "850.00",
                "total_amount": "850.00",
                "assigned_user_id": w.users["seller"],
            },
        ),
    )
    seats = [w.open_for(quote, key, step="sales_manager") for key in ("mgr1", "mgr2")]
    assert "Quote Stage cannot change yet" in refused(
        w, lambda: seller.save("AOS_Quotes", {"id": quote, "stage": "Negotiation"})
    )
    # nobody decides in time: the deadline passes (moved into the past, as time would)
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    for seat in seats:
        w.admin.save("rt_RouteSteps", {"id": seat.id, "due": past})
    out = run_job(sidecar)
    assert "2 escalated" in out, out
    # next role of the route's hierarchy: Sales manager -> Sales director
    up = w.open_for(quote, "dir", step="sales_manager")
    assert up.get("escalation_level") == 1 and up.get("escalated_from_id") in {s.id for s in seats}
    dora = w.rest("dir")
    dora.save("rt_RouteSteps", {"id": up.id, "decision": "approve"})
    w.wait_status(quote, "approved")
    assert w.admin.get("AOS_Quotes", quote, ["approval_status"]).get("approval_status") == "Approved"
    seller.save("AOS_Quotes", {"id": quote, "stage": "Negotiation"})  # the approved discount frees the stage
    assert w.admin.get("AOS_Quotes", quote, ["stage"]).get("stage") == "Negotiation"
    for s in (seller, dora):
        s.close()
