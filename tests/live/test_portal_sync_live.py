"""portal_sync between two real SuiteCRM 7.14.6 instances: the internal CRM (``$SUITECRM_EXT_LIVE_ENV``)
and the client portal (``$SUITECRM_EXT_LIVE_PORTAL_ENV``), the seed's two scenarios end to end.

The plugin runs in-process as ``run`` runs it (the core change feed over the internal CRM, the
``portal-sync`` job over the portal, the dispatcher); the portal SuiteCRM e-mails its own password
link to a real SMTP server (aiosmtpd; the lab portal's outbound mail points at it for this module);
the client uses the portal through their own REST session, so SuiteCRM's ACL and security groups
decide what they see — the real proof that a client sees only their organisation.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import socket
import time
from email import message_from_bytes, policy
from typing import Any

import pymysql
import pytest
import requests
from aiosmtpd.controller import Controller

import plugins.portal_sync.plugin as plugin_module
from plugins.portal_sync.engine import watch_specs
from plugins.portal_sync.service import forget, sync_for
from plugins.portal_sync.suitecrm_portal import SuiteCRMPortal
from suitecrm_ext import ChangeFeed, Cond, NotFound
from suitecrm_ext.events.dispatcher import Dispatcher
from suitecrm_ext.state.sqlite import SQLiteStore
from suitecrm_ext.testing import build_app, build_config, build_registry

PLUGIN = "portal_sync"
PASSWORD = "Client-pw-2026!"


class Sink:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def portal_mail(live_portal):
    """A real SMTP server; the portal SuiteCRM's outbound mail points at it (Admin -> Email Settings,
    set in its DB for this module and put back afterwards)."""
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    conn = pymysql.connect(**live_portal.db_params())
    cols = "mail_sendtype, mail_smtpserver, mail_smtpport, mail_smtpauth_req, mail_smtpssl"
    with conn.cursor() as cur:
        cur.execute(f"SELECT id, {cols} FROM outbound_email WHERE type = 'system' AND deleted = 0")
        saved = cur.fetchall()
        cur.execute(
            "UPDATE outbound_email SET mail_sendtype = 'SMTP', mail_smtpserver = '127.0.0.1', "
            "mail_smtpport = %s, mail_smtpauth_req = 0, mail_smtpssl = 0 "
            "WHERE type = 'system' AND deleted = 0",
            (controller.port,),
        )
    yield sink
    with conn.cursor() as cur:
        for row in saved:
            cur.execute(
                "UPDATE outbound_email SET mail_sendtype = %s, mail_smtpserver = %s, mail_smtpport = %s, "
                "mail_smtpauth_req = %s, mail_smtpssl = %s WHERE id = %s",
                (*row[1:], row[0]),
            )
    conn.close()
    controller.stop()


class LiveSidecar:
    """The plugin between the two real instances, stepped by hand (see the module docstring)."""

    def __init__(self, tmp, live_lab, live_portal, run_tag: str, **settings: Any):
        self.internal = live_lab.gateway("rest")
        section = {
            "portal": live_portal.suitecrm_section("rest"),
            "poll_schedule": "1s",
            "access": {"group_prefix": f"{run_tag} "},
            **settings,
        }
        self.config = build_config(plugins={PLUGIN: section})
        self.registry = build_registry({PLUGIN: plugin_module}, config=self.config)
        self.store = SQLiteStore(tmp / "state.sqlite3")
        self.app = build_app(self.registry, self.config, crm=self.internal, state=self.store)
        self.settings = self.config.plugin_settings[PLUGIN]
        self.adapter = SuiteCRMPortal(self.settings, self.store)
        self.app.portal_adapter = self.adapter
        self.ctx = self.app.for_plugin(PLUGIN)
        specs = [s for s in watch_specs(self.settings) if not s.origin]
        self.feed = ChangeFeed(
            live_lab.gateway("rest", read_via="mysql"),
            self.store,
            specs,
            start=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=2),
            overlap_seconds=30,
        )
        self.dispatcher = Dispatcher(self.app, self.registry, worker_id="live", store=self.store)
        self.portal = self.adapter.crm

    @property
    def sync(self):
        return sync_for(self.ctx)

    def cycle(self) -> None:
        self.feed.poll_once()
        self.dispatcher.drain()
        self.sync.poll()
        self.dispatcher.drain()

    def until(self, what, timeout: float = 40.0, label: str = ""):
        """Run cycles until ``what()`` is truthy (SuiteCRM stamps to the second: a change takes a cycle or
        two)."""
        deadline = time.monotonic() + timeout
        while True:
            self.cycle()
            got = what()
            if got:
                return got
            if time.monotonic() > deadline:
                dead = [(d.event_key, d.last_error) for d in self.store.dead_letters()]
                raise AssertionError(
                    f"{label or what} not reached in {timeout} s; dead letters: {dead}; "
                    f"refusals: {self.sync.journal.refusals(5)}"
                )
            time.sleep(0.5)

    def cleanup(self) -> None:
        """Remove every record the sync made or mapped, on both sides."""
        for kind, module in (
            ("Notes", "Notes"),
            ("AOP_Case_Updates", "AOP_Case_Updates"),
            ("Cases", "Cases"),
            ("Contacts", "Contacts"),
            ("Accounts", "Accounts"),
            ("login", "Users"),
        ):
            for pair in list(self.sync.ids.pairs(kind)):
                for crm, mod, rid in (
                    (self.internal, module if kind != "login" else "Contacts", pair.left),
                    (self.portal, module, pair.right),
                ):
                    try:
                        crm.delete(mod, rid)
                    except (NotFound, Exception):  # noqa: BLE001 - best effort cleanup
                        pass
        for pair in list(self.sync.ids.pairs("Accounts")):
            try:
                self.portal.delete("SecurityGroups", pair.data.get("group"))
            except Exception:  # noqa: BLE001 - best effort cleanup
                pass
        forget(self.app)
        self.adapter.close()
        self.store.close()


class Client:
    """A client in the portal through their own REST v4_1 session (SuiteCRM's ACL applies)."""

    def __init__(self, portal_url: str, user_name: str, password: str):
        self.url = portal_url.rstrip("/") + "/service/v4_1/rest.php"
        self.http = requests.Session()
        answer = self.call(
            "login",
            {
                "user_auth": {"user_name": user_name, "password": hashlib.md5(password.encode()).hexdigest()},
                "application_name": "client",
            },
        )
        assert "id" in answer, f"the client could not log in: {answer}"
        self.session = answer["id"]

    def call(self, method: str, data: dict) -> Any:
        r = self.http.post(
            self.url,
            data={
                "method": method,
                "input_type": "JSON",
                "response_type": "JSON",
                "rest_data": json.dumps(data),
            },
            timeout=30,
        )
        return r.json()

    def ids(self, module: str) -> set[str]:
        out = self.call(
            "get_entry_list",
            {
                "session": self.session,
                "module_name": module,
                "query": "",
                "order_by": "",
                "offset": 0,
                "select_fields": ["id"],
                "link_name_to_fields_array": [],
                "max_results": 1000,
                "deleted": 0,
            },
        )
        return {e["id"] for e in out.get("entry_list", [])}

    def attach(self, note_id: str, filename: str, content: bytes) -> None:
        answer = self.call(
            "set_note_attachment",
            {
                "session": self.session,
                "note": {"id": note_id, "filename": filename, "file": base64.b64encode(content).decode()},
            },
        )
        assert answer.get("id") == note_id, answer

    def save(self, module: str, values: dict) -> Any:
        return self.call(
            "set_entry",
            {
                "session": self.session,
                "module_name": module,
                "name_value_list": [{"name": k, "value": v} for k, v in values.items()],
            },
        )


@pytest.fixture(scope="module")
def installed(live_kit):
    """The plugin's package in the internal SuiteCRM (Contacts' portal status, Cases' portal flag)."""
    return live_kit.install(PLUGIN)


@pytest.fixture
def sidecar(tmp_path, live_lab, live_portal, run_tag, installed, portal_mail):
    sc = LiveSidecar(tmp_path, live_lab, live_portal, run_tag)
    sc.adapter.setup()
    yield sc
    sc.cleanup()


def register(sc: LiveSidecar, mail_sink: Sink, email: str, live_portal) -> str:
    """The client opens SuiteCRM's link from the newest mail and chooses a password; returns the user name."""
    deadline = time.monotonic() + 20
    while not [m for m in mail_sink.messages if email in str(m["To"])]:
        assert time.monotonic() < deadline, "the portal sent no password link"
        time.sleep(0.2)
    mail = [m for m in mail_sink.messages if email in str(m["To"])][-1]
    link = re.search(r"(http\S+Changenewpassword\S+)", mail.get_body(("plain",)).get_content()).group(1)
    guid, key = re.search(r"guid=([\w-]+)", link).group(1), re.search(r"key=([\w-]+)", link).group(1)
    user_name = email.lower()
    r = requests.post(
        f"{live_portal.url}/index.php?entryPoint=Changenewpassword",
        allow_redirects=False,
        timeout=30,
        data={"guid": guid, "key": key, "login": "1", "user_name": user_name, "new_password": PASSWORD},
    )
    assert r.status_code == 302 and "Login" not in (r.headers.get("Location") or ""), r.headers
    return user_name


def test_scenario_1_invitation_registration_and_organisation_data(sidecar, portal_mail, live_portal, run_tag):
    sc = sidecar
    email = f"{run_tag}.ivan@romashka.example"
    acc = sc.internal.save(
        "Accounts",
        {
            "name": f"{run_tag} ООО Ромашка",
            "phone_office": "+7 495 000-00-01",
            "billing_address_city": "Москва",
            "annual_revenue": "10 млн",
        },
    )
    cid = sc.internal.save(
        "Contacts",
        {
            "first_name": "Иван",
            "last_name": f"{run_tag} Петров",
            "email1": email,
            "description": "внутренняя заметка",
        },
    )
    sc.internal.relate("Contacts", cid, "accounts", [acc])
    sc.internal.save("Contacts", {"id": cid, "sxt_portal_status_c": "invite"})  # the manager's action
    sc.until(
        lambda: sc.internal.get("Contacts", cid, ["sxt_portal_status_c"])["sxt_portal_status_c"] == "invited",
        label="Contact invited",
    )
    portal_acc = sc.sync.ids.right("Accounts", acc)
    p = sc.portal.get("Accounts", portal_acc, ["name", "billing_address_city", "annual_revenue"])
    assert p["name"] == f"{run_tag} ООО Ромашка" and p["billing_address_city"] == "Москва"
    assert p["annual_revenue"] == ""  # internal-only never leaves

    user_name = register(sc, portal_mail, email, live_portal)
    sc.until(
        lambda: (
            sc.internal.get("Contacts", cid, ["sxt_portal_status_c"])["sxt_portal_status_c"] == "registered"
        ),
        label="Contact registered",
    )

    client = Client(live_portal.url, user_name, PASSWORD)
    assert client.ids("Accounts") == {portal_acc}  # not the portal's other (demo) Accounts
    assert client.ids("Contacts") == {sc.sync.ids.right("Contacts", cid)}
    other = next(iter(sc.portal.find("Accounts", Cond("name", "not_null"), ["id"], limit=60)))
    if other.id != portal_acc:
        client.save("Accounts", {"id": other.id, "name": "touched by a client"})  # SuiteCRM's ACL refuses
        assert sc.portal.get("Accounts", other.id, ["name"])["name"] != "touched by a client"

    client.save(
        "Accounts",
        {"id": portal_acc, "phone_office": "+7 495 123-45-67", "billing_address_street": "ул. Ленина, 1"},
    )
    person = client.save(
        "Contacts", {"first_name": "Мария", "last_name": f"{run_tag} Иванова", "account_id": portal_acc}
    )["id"]
    sc.until(
        lambda: sc.internal.get("Accounts", acc, ["phone_office"])["phone_office"] == "+7 495 123-45-67",
        label="the client's phone in the internal CRM",
    )
    assert (
        sc.internal.get("Accounts", acc, ["billing_address_street"])["billing_address_street"]
        == "ул. Ленина, 1"
    )
    maria = sc.until(lambda: sc.sync.ids.left("Contacts", person), label="the client's new contact")
    assert acc in {a.id for a in sc.internal.related("Contacts", maria, "accounts", ["id"])}

    sc.internal.save("Accounts", {"id": acc, "website": "https://romashka.example"})  # the manager's change
    sc.until(
        lambda: sc.portal.get("Accounts", portal_acc, ["website"])["website"] == "https://romashka.example",
        label="the manager's change in the portal",
    )

    # a conflict: both sides rename the organisation between two syncs (name: internal wins, and the
    # Account's assigned user gets a Task to review), both change the fax (portal wins)
    sc.internal.save("Accounts", {"id": acc, "name": f"{run_tag} ООО Ромашка-М", "phone_fax": "+7 111"})
    client.save("Accounts", {"id": portal_acc, "name": f"{run_tag} ООО Ромашка Плюс", "phone_fax": "+7 222"})
    sc.until(
        lambda: {c["field"] for c in sc.sync.journal.conflicts()} == {"name", "phone_fax"},
        label="the conflicts recorded",
    )
    sc.until(
        lambda: sc.portal.get("Accounts", portal_acc, ["name"])["name"] == f"{run_tag} ООО Ромашка-М",
        label="the internal name back in the portal",
    )
    i = sc.internal.get("Accounts", acc, ["name", "phone_fax"])
    assert (i["name"], i["phone_fax"]) == (f"{run_tag} ООО Ромашка-М", "+7 222"), i
    conflicts = {c["field"]: c for c in sc.sync.journal.conflicts()}
    assert (conflicts["name"]["winner"], conflicts["phone_fax"]["winner"]) == ("internal", "portal")
    task = sc.internal.get("Tasks", conflicts["name"]["task_id"], ["parent_id", "description"])
    assert task["parent_id"] == acc and f"{run_tag} ООО Ромашка Плюс" in task["description"]
    sc.internal.delete("Tasks", conflicts["name"]["task_id"])

    sc.internal.save("Contacts", {"id": cid, "sxt_portal_status_c": "disabled"})
    sc.until(
        lambda: sc.portal.get("Users", sc.sync.ids.right("login", cid), ["status"])["status"] == "Inactive",
        label="the login disabled",
    )
    with pytest.raises(AssertionError, match="could not log in"):
        Client(live_portal.url, user_name, PASSWORD)


def test_scenario_2_a_case_from_the_portal_answered_internally(sidecar, portal_mail, live_portal, run_tag):
    sc = sidecar
    email = f"{run_tag}.olga@vasilek.example"
    acc = sc.internal.save("Accounts", {"name": f"{run_tag} ЗАО Василёк"})
    cid = sc.internal.save(
        "Contacts", {"first_name": "Ольга", "last_name": f"{run_tag} Сидорова", "email1": email}
    )
    sc.internal.relate("Contacts", cid, "accounts", [acc])
    sc.sync.logins.invite(cid)
    client = Client(live_portal.url, register(sc, portal_mail, email, live_portal), PASSWORD)
    portal_acc = sc.sync.ids.right("Accounts", acc)

    pcase = client.save(
        "Cases",
        {
            "name": f"{run_tag} Не приходит счёт",
            "description": "Счёт за ноябрь",
            "priority": "P2",
            "account_id": portal_acc,
        },
    )["id"]
    icase = sc.until(lambda: sc.sync.ids.left("Cases", pcase), label="the portal case in the internal CRM")
    case = sc.internal.get("Cases", icase, ["name", "account_id", "status", "sxt_portal_case_c"])
    assert case["name"] == f"{run_tag} Не приходит счёт" and case["account_id"] == acc
    assert case["sxt_portal_case_c"] is True and case["status"] == "Open_New"
    assert cid in {c.id for c in sc.internal.related("Cases", icase, "contacts", ["id"])}

    sc.internal.save(
        "AOP_Case_Updates",
        {"name": "Ответ", "description": "Счёт отправлен повторно", "case_id": icase, "internal": False},
    )
    sc.internal.save(
        "AOP_Case_Updates",
        {"name": "internal", "description": "клиент должен за октябрь", "case_id": icase, "internal": True},
    )
    note = sc.internal.save(
        "Notes", {"name": "счёт", "parent_type": "Cases", "parent_id": icase, "portal_flag": True}
    )
    sc.internal.set_attachment(note, "invoice.pdf", b"%PDF-1.4 invoice")
    sc.internal.save("Cases", {"id": icase, "status": "Open_Assigned"})

    def answered():
        thread = list(sc.portal.find("AOP_Case_Updates", Cond("case_id", "eq", pcase), ["description"]))
        return thread if sc.sync.ids.right("Notes", note) and thread else None

    thread = sc.until(answered, label="the staff answer in the portal")
    assert [t["description"] for t in thread] == ["Счёт отправлен повторно"]  # never the internal one
    assert sc.portal.get_attachment(sc.sync.ids.right("Notes", note)).content == b"%PDF-1.4 invoice"
    sc.until(
        lambda: sc.portal.get("Cases", pcase, ["status"])["status"] == "Open_Assigned", label="status out"
    )

    client.save("Cases", {"id": pcase, "status": "Closed_Closed", "state": "Closed"})
    sc.until(
        lambda: sc.internal.get("Cases", icase, ["status"])["status"] == "Closed_Closed",
        label="the client's close in the internal CRM",
    )
    assert sc.internal.get("Cases", icase, ["state"])["state"] == "Closed"

    # the client's side of the thread: an update and a file come in, with their Contact; a reopen too
    client.save(
        "AOP_Case_Updates",
        {"name": "Спасибо", "description": "Счёт получила, но есть вопрос", "case_id": pcase, "internal": 0},
    )
    pnote = client.save("Notes", {"name": "акт сверки", "parent_type": "Cases", "parent_id": pcase})["id"]
    client.attach(pnote, "akt.pdf", b"%PDF-1.4 akt")
    client.save("Cases", {"id": pcase, "status": "Open_New", "state": "Open"})
    inote = sc.until(lambda: sc.sync.ids.left("Notes", pnote), label="the client's file in the internal CRM")
    assert sc.internal.get_attachment(inote).content == b"%PDF-1.4 akt"
    assert sc.internal.get("Notes", inote, ["parent_id"])["parent_id"] == icase

    def client_update():
        return [
            u
            for u in sc.internal.find(
                "AOP_Case_Updates", Cond("case_id", "eq", icase), ["description", "internal", "contact_id"]
            )
            if u["description"] == "Счёт получила, но есть вопрос"
        ]

    [update] = sc.until(client_update, label="the client's update in the internal CRM")
    assert update["internal"] is False and update["contact_id"] == cid
    sc.until(
        lambda: sc.internal.get("Cases", icase, ["status"])["status"] == "Open_New",
        label="the client's reopen in the internal CRM",
    )
