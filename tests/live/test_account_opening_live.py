"""account_opening on a real SuiteCRM 7.14.6, with its package (and the core's) installed and a real
``suitecrm-ext run`` serving the validation hook and the push events.

One module-scoped world, tagged with the run tag and removed at the end: the three roles made by
``account-opening setup`` (names carry the run tag), a security group for the client's team and one for
another team, a manager, a security officer, an account-opening officer and an outsider (a security
officer of the other team), each with a password so the tests can use their own REST and web sessions,
and a client Account of the team with complete requisites and a legal address. An SMTP server on loopback
receives the e-mails.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import re
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pymysql
import pytest
import yaml

from plugins.account_opening.identifiers import check_account
from suitecrm_ext import ValidationRefused
from suitecrm_ext.crm.base import Cond, CRMError
from suitecrm_ext.crm.rest_v4 import RestV4CRM
from suitecrm_ext.testing import smtp_server
from suitecrm_ext.workflow import AccessModel

PASSWORD = "Live-ao-pw-1"
BIK = "044525225"
APPS = "ao_Applications"
OTHER_PLUGINS = ("collegial_actions", "routing", "portal_sync", "onec_bridge", "bp_scripts")
REQUISITES = {
    "ao_legal_form_c": "ooo",
    "ao_full_name_c": 'Общество с ограниченной ответственностью "Ромашка"',
    "ao_short_name_c": 'ООО "Ромашка"',
    "ao_inn_c": "7707083893",
    "ao_kpp_c": "773601001",
    "ao_ogrn_c": "1027700132195",
}


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 45.0) -> Any:
    """Poll ``probe`` until it answers something true (the sidecar works asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


class World:
    """What the module's tests share (see the module docstring)."""

    def __init__(self, lab: Any, admin: Any, tag: str):
        self.lab, self.admin, self.tag = lab, admin, tag
        self.made: list[tuple[str, str]] = []
        self.users: dict[str, str] = {}

    def db(self, sql: str, args: tuple = ()) -> list[tuple]:
        with pymysql.connect(**self.lab.db_params(read_only=True)) as conn, conn.cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())

    def user(self, key: str) -> str:
        uid = self.admin.save(
            "Users",
            {
                "user_name": f"{self.tag}_{key}",
                "first_name": key.capitalize(),
                "last_name": self.tag,
                "status": "Active",
                "employee_status": "Active",
                "email1": f"{key}.{self.tag}@bank.test",
                "user_hash": hashlib.md5(PASSWORD.encode()).hexdigest(),
            },
        )
        self.made.append(("Users", uid))
        self.users[key] = uid
        return uid

    def rest(self, key: str) -> RestV4CRM:
        """The user's own REST session."""
        return RestV4CRM(self.lab.url, f"{self.tag}_{key}", PASSWORD, retries=0)

    def status(self, app: str) -> str:
        return self.db("SELECT status FROM ao_applications WHERE id = %s", (app,))[0][0]

    def app_groups(self, app: str) -> list[str]:
        return [
            r[0]
            for r in self.db(
                "SELECT g.name FROM securitygroups_records r "
                "JOIN securitygroups g ON g.id = r.securitygroup_id "
                "WHERE r.record_id = %s AND r.module = %s AND r.deleted = 0",
                (app, APPS),
            )
        ]

    def decisions(self, app: str) -> list[tuple]:
        return self.db(
            "SELECT decision, acted_by_id, from_status, to_status, comment FROM sx_decisions "
            "WHERE parent_id = %s AND deleted = 0 ORDER BY acted_at, date_entered",
            (app,),
        )

    def application(self, key: str, **values: Any) -> str:
        """An application made by ``key`` through their own REST session, linked to the client."""
        own = self.rest(key)
        try:
            app = own.save(
                APPS,
                {
                    "name": f"{self.tag} {values.pop('name', 'application')}",
                    "assigned_user_id": self.users[key],
                    **values,
                },
            )
            own.relate(APPS, app, "ao_applications_accounts", [self.client])
        finally:
            own.close()
        self.made.append((APPS, app))
        return app

    def move(self, key: str, app: str, status: str, **values: Any) -> None:
        """``key`` changes the status through their own REST session; waits for the decision to be logged."""
        before = len(self.decisions(app))
        own = self.rest(key)
        try:
            own.save(APPS, {"id": app, "status": status, **values})
        finally:
            own.close()
        wait_for(f"the decision {status} logged", lambda: len(self.decisions(app)) > before)
        time.sleep(1.05)  # event keys have a resolution of one second (see NOTES: same-second saves)


@pytest.fixture(scope="module")
def world(live_lab, live_kit, run_tag, tmp_path_factory):
    for plugin in ("workflow", "account_opening"):
        live_kit.install(plugin)
    admin = live_lab.gateway("rest")
    w = World(live_lab, admin, run_tag)
    mail = contextlib.ExitStack()
    w.mailbox = mailbox = mail.enter_context(smtp_server())
    roles = {
        "manager": f"{run_tag} Personal manager",
        "security": f"{run_tag} Security officer",
        "opening": f"{run_tag} Account-opening officer",
    }
    w.roles = roles
    plugins: dict[str, Any] = {p: {"enabled": False} for p in OTHER_PLUGINS}
    plugins["account_opening"] = {"bank": {"bik": BIK, "branch": "0001"}, "roles": roles}
    config = live_kit.config(
        plugins=plugins,
        write_via="rest",
        read_via="mysql",
        smtp=mailbox.settings(sender="crm@bank.test"),
    )
    config_path = tmp_path_factory.mktemp("ao") / "suitecrm-ext.yaml"
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    w.config_path = config_path
    try:
        w.setup_output = w.cli("account-opening", "setup")
        access = AccessModel(admin)
        for key in roles:
            w.made.append(("ACLRoles", access.role(roles[key]).id))
        team = access.ensure_group(f"{run_tag} Branch North")
        other = access.ensure_group(f"{run_tag} Branch South")
        w.made += [("SecurityGroups", team.id), ("SecurityGroups", other.id)]
        for key, role, group in (
            ("manager", "manager", team),
            ("security", "security", team),
            ("opening", "opening", team),
            ("outsider", "security", other),
        ):
            uid = w.user(key)
            access.add_user_to_role(roles[role], uid)
            access.add_user_to_group(group, uid)
        w.client = admin.save("Accounts", {"name": f"{run_tag} Romashka", **REQUISITES})
        w.made.append(("Accounts", w.client))
        access.add_record_to_groups("Accounts", w.client, [team.name])
        address = admin.save(
            "ao_Addresses",
            {
                "name": "",
                "kind": "legal",
                "postal_code": "125009",
                "region": "г. Москва",
                "street": "ул. Тверская",
                "house": "7",
            },
        )
        admin.relate("ao_Addresses", address, "ao_addresses_accounts", [w.client])
        w.made.append(("ao_Addresses", address))
        with live_kit.sidecar(config, "--worker-id", f"{run_tag}-ao") as proc:
            w.sidecar = proc
            yield w
    finally:
        mail.close()
        for module, rid in reversed(w.made):
            if module == APPS:
                for task in admin.find("Tasks", Cond("parent_id", "eq", rid), ["id"]):
                    admin.delete("Tasks", task.id)
                for d in admin.find("sx_Decisions", Cond("parent_id", "eq", rid), ["id"]):
                    admin.delete("sx_Decisions", d.id)
            try:
                admin.delete(module, rid)
            except CRMError:
                pass
        admin.close()


def _cli(self: World, *args: str, check: bool = True) -> str:
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "from suitecrm_ext.cli import main; main()",
            "--config",
            str(self.config_path),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0 or not check, r.stdout + r.stderr
    return r.stdout


World.cli = _cli


@pytest.fixture(scope="module")
def draft_app(world):
    """An application the manager made through their own REST session; the tests using it leave it Draft."""
    app = world.application("manager")
    wait_for("the inherited group", lambda: world.app_groups(app))
    return app


def test_setup_creates_the_three_roles_with_their_rights(world):
    out = world.setup_output
    for name in world.roles.values():
        assert re.search(rf"{re.escape(name)} +created; set \d+ right\(s\)", out), out
    assert "What to do next:" in out
    rows = dict(
        world.db(
            "SELECT CONCAT(r.name, ' ', a.category, '.', a.name), ra.access_override FROM acl_roles r "
            "JOIN acl_roles_actions ra ON ra.role_id = r.id AND ra.deleted = 0 "
            "JOIN acl_actions a ON a.id = ra.action_id WHERE r.name LIKE %s AND r.deleted = 0",
            (f"{world.tag} %",),
        )
    )
    manager, security = world.roles["manager"], world.roles["security"]
    assert rows[f"{manager} {APPS}.edit"] == 80 and rows[f"{manager} {APPS}.delete"] == 75
    assert rows[f"{security} {APPS}.delete"] == -99 and rows[f"{security} Accounts.edit"] == -99
    assert rows[f"{security} {APPS}.view"] == 80 and rows[f"{security} {APPS}.access"] == 89


def test_doctor_sees_the_roles_with_members_and_rights(world):
    out = world.cli("doctor", check=False)
    for name in world.roles.values():
        assert re.search(rf"ok +account_opening role {re.escape(name)}: [12] member", out), out
        assert re.search(rf"ok +account_opening rights of {re.escape(name)}: as required", out), out
    assert re.search(r"ok +account_opening bank BIK: BIK 044525225", out), out


def test_an_application_created_through_rest_inherits_the_clients_group(world, draft_app):
    assert world.app_groups(draft_app) == [f"{world.tag} Branch North"]


def test_a_user_outside_the_clients_group_cannot_see_the_application(world, draft_app):
    app = draft_app
    for key, sees in (("security", True), ("outsider", False)):
        own = world.rest(key)
        try:
            found = [r.id for r in own.find(APPS, Cond("id", "eq", app), ["name", "status"])]
        finally:
            own.close()
        assert (found == [app]) is sees, key


def test_a_wrong_role_status_change_is_refused_through_rest_and_the_row_is_unchanged(world, draft_app):
    app = draft_app
    own = world.rest("security")
    try:
        with pytest.raises(CRMError) as err:
            own.save(APPS, {"id": app, "status": "security_review"})
    finally:
        own.close()
    assert "(transition submit): only a user with the role " in str(err.value)
    assert world.status(app) == "draft"


def test_a_wrong_role_status_change_is_refused_in_the_web_ui_with_the_message_shown(world):
    from webui import WebUI, read_form

    app = world.application("manager", name="web veto")
    wait_for("the inherited group", lambda: world.app_groups(app))
    web = WebUI(world.lab, f"{world.tag}_security", PASSWORD)
    page = web.get(f"index.php?module={APPS}&action=EditView&record={app}").text
    action, fields = read_form(page, "EditView")
    fields.update({"status": "security_review", "action": "Save"})
    answer = web.post(action or "index.php", fields)
    text = html.unescape(answer.text)
    assert (
        "Cannot change application status from Draft to Security review (transition submit): only a "
        f"user with the role {world.roles['manager']} may do this" in text
    )
    assert world.status(app) == "draft"
    # the manager may: the same form, saved by them, goes through
    manager = WebUI(world.lab, f"{world.tag}_manager", PASSWORD)
    action, fields = read_form(
        manager.get(f"index.php?module={APPS}&action=EditView&record={app}").text, "EditView"
    )
    fields.update({"status": "security_review", "action": "Save"})
    manager.post(action or "index.php", fields)
    assert world.status(app) == "security_review"


def test_a_bad_requisite_is_refused_naming_the_field_and_a_valid_ogrnip_stdnum_rejects_is_kept(world):
    own = world.rest("manager")
    try:
        with pytest.raises(ValidationRefused) as err:  # a wrong INN check digit, through the real hook
            own.save("Accounts", {"id": world.client, "ao_inn_c": "7707083894"})
        # a sole proprietor whose OGRNIP has remainder 10 (python-stdnum 2.2 refuses it; it is valid)
        ip = own.save("Accounts", {"name": f"{world.tag} IP Ivanov", "ao_legal_form_c": "ip",
                                   "ao_inn_c": "500100732259", "ao_ogrn_c": "304770000000020"})
        world.made.append(("Accounts", ip))
        with pytest.raises(ValidationRefused, match=r"has no KPP .*\(field ao_kpp_c\)"):
            own.save("Accounts", {"id": ip, "ao_kpp_c": "773601001"})
    finally:
        own.close()
    assert "INN 7707083894: the check digit is 3, not 4 (field ao_inn_c)" in err.value.reason
    [(inn,)] = world.db("SELECT ao_inn_c FROM accounts_cstm WHERE id_c = %s", (world.client,))
    assert inn == REQUISITES["ao_inn_c"]  # the row is unchanged
    # the KPP stays empty (NULL or '': SuiteCRM writes either, depending on how the row was made)
    [(ogrn, kpp)] = world.db("SELECT ao_ogrn_c, ao_kpp_c FROM accounts_cstm WHERE id_c = %s", (ip,))
    assert (ogrn, kpp or None) == ("304770000000020", None)


def test_the_whole_flow_opens_an_account_whose_number_is_valid_for_the_bik(world):
    app = world.application("manager", name="whole flow")
    wait_for("the inherited group", lambda: world.app_groups(app))
    world.move("manager", app, "security_review")
    officer = world.users["security"]
    wait_for(
        "the officer's Task",
        lambda: world.db(
            "SELECT id FROM tasks WHERE parent_id = %s AND assigned_user_id = %s AND deleted = 0",
            (app, officer),
        ),
    )
    assert not world.db(
        "SELECT id FROM tasks WHERE parent_id = %s AND assigned_user_id = %s", (app, world.users["outsider"])
    )
    world.move("security", app, "security_approved")
    world.move("opening", app, "opening_review")
    world.move("opening", app, "opened")
    number = wait_for(
        "the account number",
        lambda: world.db(
            "SELECT account_number FROM ao_applications WHERE id = %s AND account_number <> ''", (app,)
        ),
    )[0][0]
    assert number.startswith("40702810") and check_account(number, BIK) is None
    assert [(d[0], d[1]) for d in world.decisions(app)] == [
        ("submitted", world.users["manager"]),
        ("approved", officer),
        ("taken into opening review", world.users["opening"]),
        ("opened", world.users["opening"]),
    ]
    assert world.mailbox.to(f"security.{world.tag}@bank.test")
    # the decisions are shown in the application's Decisions subpanel (the manager's own web session)
    from webui import WebUI

    manager = WebUI(world.lab, f"{world.tag}_manager", PASSWORD)
    page = manager.get(f"index.php?module={APPS}&action=DetailView&record={app}").text
    assert "subpanel_title_ao_applications_decisions" in page  # the "Decisions" subpanel (collapsed)
    rows = manager.get(f"index.php?sugar_body_only=1&module={APPS}&subpanel=ao_applications_decisions"
                       f"&action=SubPanelViewer&inline=1&record={app}&layout_def_key={APPS}").text
    assert "taken into opening review Approved by security → Opening review" in html.unescape(rows)
    status = world.cli("account-opening", "status", app)
    assert "Status: Account opened" in status and number in status
