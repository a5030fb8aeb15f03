"""Test kit for account_opening (fixtures in conftest.py).

A FakeCRM with the core package and the plugin's modules (from their schema.yaml), a bank's staff in ACL
roles and security groups, a real SMTP server (aiosmtpd on loopback), the plugin loaded through the
testing kit, and a ``Bank`` that saves records the way SuiteCRM does with the plugin's logic hooks
installed: validate before save (a refusal changes nothing), then push the change event after the save.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import plugins.account_opening.plugin as plugin_module
import suitecrm_ext.workflow.plugin as workflow_plugin
from suitecrm_ext import Event, EventKind, FieldChange, RecordChange
from suitecrm_ext.testing import (
    FakeCRM,
    build_app,
    build_config,
    build_registry,
    free_port,
    install_workflow,
    load_plugin_schema,
    register_schema,
)
from suitecrm_ext.workflow import AccessModel

PLUGIN = "account_opening"
BIK = "044525225"
APPS = "ao_Applications"

#: id: (first, last, role key or None, groups)
STAFF = {
    "u-mgr": ("Maria", "Manager", "manager", ["Branch North"]),
    "u-sec": ("Sergey", "Security", "security", ["Branch North"]),
    "u-open": ("Olga", "Opener", "opening", ["Branch North"]),
    "u-mgr-s": ("Mikhail", "Southern", "manager", ["Branch South"]),
    "u-sec-s": ("Stepan", "Southern", "security", ["Branch South"]),
    "u-open-s": ("Oksana", "Southern", "opening", ["Branch South"]),
    "u-clerk": ("Klara", "Clerk", None, ["Branch North"]),
}
ROLES = {"manager": "Personal manager", "security": "Security officer", "opening": "Account-opening officer"}

OOO = {
    "ao_legal_form_c": "ooo",
    "ao_full_name_c": 'Общество с ограниченной ответственностью "Ромашка"',
    "ao_short_name_c": 'ООО "Ромашка"',
    "ao_inn_c": "7707083893",
    "ao_kpp_c": "773601001",
    "ao_ogrn_c": "1027700132195",
}
IP = {
    "ao_legal_form_c": "ip",
    "ao_full_name_c": "Индивидуальный предприниматель Иванов Иван Иванович",
    "ao_short_name_c": "ИП Иванов И. И.",
    "ao_inn_c": "500100732259",
    "ao_ogrn_c": "304770000000020",
}
NKO = {**OOO, "ao_legal_form_c": "nko", "ao_short_name_c": 'АНО "Луч"'}
LEGAL_ADDRESS = {
    "kind": "legal",
    "postal_code": "125009",
    "region": "г. Москва",
    "street": "ул. Тверская",
    "house": "7",
    "flat": "15",
}
HOLDER = {
    "first_name": "Ivan",
    "last_name": "Petrov",
    "ao_passport_series_c": "4510",
    "ao_passport_number_c": "123456",
    "ao_passport_issued_by_c": "ОВД Тверского района",
    "ao_passport_issued_on_c": "2015-06-01",
}


class Refused(Exception):
    """The validation hook refused the save."""


@dataclass
class Bank:
    """Saves records as a SuiteCRM user would, with the plugin's validate + push logic hooks installed."""

    crm: FakeCRM
    registry: Any
    ctx: Any
    clock: list
    ids: dict
    events: list = field(default_factory=list)
    #: True: no validation hook (polling-only); saves always go through, events still arrive
    no_validation: bool = False

    # --- saving as a user --------------------------------------------------------------------------

    def validate(self, user: str, module: str, values: dict[str, Any]) -> str | None:
        """What the validation endpoint answers for this save (None: allowed)."""
        rid = values.get("id")
        before = dict(self.crm.get(module, rid).values) if rid else {}
        after = {k: v for k, v in values.items() if k != "id"}
        change = RecordChange(module, rid, before, after, user_id=user)
        for name in (PLUGIN, "workflow"):  # as the endpoint: every plugin is asked
            message = self.registry.call_one(
                name, "ext_validate_record_change", change=change, ctx=self.ctx.app.for_plugin(name)
            )
            if message:
                return message
        return None

    def save(self, user: str, module: str, values: dict[str, Any]) -> str:
        """Save as ``user``; returns the id, or raises Refused with the message the user would see."""
        if not self.no_validation:
            message = self.validate(user, module, values)
            if message:
                raise Refused(message)
        rid = values.get("id")
        before = dict(self.crm.get(module, rid).values) if rid else {}
        after = {k: v for k, v in values.items() if k != "id"}
        self.crm.user_id = user
        self.tick()
        new_id = self.crm.save(module, values)
        self.crm.user_id = "1"
        changes = {
            k: FieldChange(before.get(k) if rid else None, v)
            for k, v in after.items()
            if not rid or str(before.get(k) or "") != str(v or "")
        }
        self.deliver(
            Event(
                module,
                new_id,
                EventKind.UPDATED if rid else EventKind.CREATED,
                self.now(),
                "push",
                changes,
                after,
                user_id=user,
            )
        )
        return new_id

    def relate(self, user: str, module: str, rid: str, link: str, other: str) -> None:
        """Relate two records as an API client does (set_relationship), with the relationship event."""
        self.crm.relate(module, rid, link, [other])
        self.tick()
        self.deliver(
            Event(
                module,
                rid,
                EventKind.RELATED,
                self.now(),
                "push",
                user_id=user,
                link=link,
                related_module=self.crm.links(module)[link],
                related_id=other,
            )
        )

    def deliver(self, ev: Event) -> None:
        """Hand an event to the plugin, as the dispatcher does (only if its watch specs match)."""
        specs = self.registry.call_one(PLUGIN, "ext_watch", settings=self.ctx.settings)
        if any(s.matches(ev) for s in specs):
            self.events.append(ev)
            self.registry.call_one(PLUGIN, "ext_on_record_change", event=ev, ctx=self.ctx)

    def now(self) -> dt.datetime:
        return self.clock[0]

    def tick(self) -> None:
        self.clock[0] += dt.timedelta(seconds=1)

    # --- the bank's records ------------------------------------------------------------------------

    def client(
        self,
        name: str,
        group: str | None = "Branch North",
        requisites: dict | None = None,
        address: dict | None = None,
        user: str = "u-mgr",
    ) -> str:
        """An Account with requisites (default: a complete OOO), a legal address, in a security group."""
        acc = self.crm.save("Accounts", {"name": name, **(OOO if requisites is None else requisites)})
        if group:
            self.crm.relate("Accounts", acc, "SecurityGroups", [self.ids[group]])
        if address is not False:
            addr = self.save(user, "ao_Addresses", {"name": "", **(address or LEGAL_ADDRESS)})
            self.relate(user, "ao_Addresses", addr, "ao_addresses_accounts", acc)
        return acc

    def application(self, user: str, client: str | None, **values: Any) -> str:
        """An application created as an API client does: set_entry, then set_relationship to the client."""
        app = self.save(user, APPS, {"name": values.pop("name", "Application"), **values})
        if client:
            self.relate(user, APPS, app, "ao_applications_accounts", client)
        return app

    def holder(self, app: str, **values: Any) -> str:
        contact = self.crm.save("Contacts", {**HOLDER, **values})
        self.relate("u-mgr", APPS, app, "ao_applications_contacts", contact)
        return contact

    def move(self, user: str, app: str, status: str, comment: str | None = None, **values: Any) -> str:
        if comment is not None:
            values["decision_comment"] = comment
        return self.save(user, APPS, {"id": app, "status": status, **values})

    def status(self, app: str) -> str:
        return self.crm.get(APPS, app).get("status")

    def app(self, app: str):
        return self.crm.get(APPS, app)

    def tasks_for(self, user: str) -> list:
        return [t for t in self.crm.records("Tasks") if t.get("assigned_user_id") == user]

    def groups_of(self, module: str, rid: str) -> list[str]:
        return [g.name for g in AccessModel(self.crm).record_groups(module, rid)]

    def walk(self, app: str, to: str) -> None:
        """Move an application along the happy path up to status ``to`` (each step as its role)."""
        path = [
            ("u-mgr", "security_review", None),
            ("u-sec", "security_approved", None),
            ("u-open", "opening_review", None),
            ("u-open", "opened", None),
        ]
        for user, status, comment in path:
            if self.status(app) == to:
                return
            self.move(user, app, status, comment)
        assert self.status(app) == to


def make_bank(tmp_path: Path, smtp_port: int | None, **settings: Any) -> Bank:
    """The plugin over a FakeCRM with its schema, the staff, Branch North and South, mailing to SMTP."""
    start = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.timezone.utc)
    clock = [start]
    crm = FakeCRM(clock=lambda: clock[0])
    install_workflow(crm)
    register_schema(crm, load_plugin_schema(plugin_module))
    ids: dict[str, str] = {}
    access = AccessModel(crm)
    for group in ("Branch North", "Branch South"):
        ids[group] = access.ensure_group(group).id
    for key, name in ROLES.items():
        ids[key] = access.ensure_role(name).id
    for uid, (first, last, role, groups) in STAFF.items():
        crm.insert(
            "Users",
            {
                "id": uid,
                "user_name": uid[2:],
                "first_name": first,
                "last_name": last,
                "email1": f"{uid[2:]}@bank.test",
                "status": "Active",
            },
        )
        if role:
            access.add_user_to_role(ROLES[role], uid)
        for g in groups:
            access.add_user_to_group(g, uid)
    config = build_config(
        plugins={
            PLUGIN: {"bank": {"bik": BIK, "branch": "0001"}, **settings},
            "workflow": {"decision_links": {}},
        },
        smtp={"host": "127.0.0.1", "port": smtp_port or free_port(), "sender": "crm@bank.test"},
        state={"backend": "sqlite", "path": str(tmp_path / "state.sqlite3")},
    )
    registry = build_registry({PLUGIN: plugin_module, "workflow": workflow_plugin}, config=config)
    app = build_app(registry, config=config, crm=crm)
    return Bank(crm, registry, app.for_plugin(PLUGIN), clock, ids)
