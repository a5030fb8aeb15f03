"""Test kit for account_opening (fixtures in conftest.py).

A FakeCRM with the core package and the plugin's modules (from their schema.yaml), a bank's staff in ACL
roles and security groups, a real SMTP server (aiosmtpd on loopback), the plugin loaded through the
testing kit, and a ``Bank`` that saves records the way SuiteCRM does with the plugin's logic hooks
installed: validate before save (a refusal changes nothing), then push the change event after the save.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plugins.account_opening.plugin as plugin_module
import suitecrm_ext.workflow.plugin as workflow_plugin
from suitecrm_ext import Event, EventKind
from suitecrm_ext.testing import (
    FakeCRM,
    PluginWorld,
    add_user,
    build_world,
    install_plugin_schema,
    smtp_settings,
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

    world: PluginWorld
    clock: list
    ids: dict
    #: True: no validation hook (polling-only); saves always go through, events still arrive
    no_validation: bool = False

    @property
    def crm(self) -> FakeCRM:
        return self.world.crm

    @property
    def registry(self) -> Any:
        return self.world.registry

    @property
    def ctx(self) -> Any:
        return self.world.ctx

    @property
    def events(self) -> list[Event]:
        """The events delivered to the plugin."""
        return self.world.delivered

    # --- saving as a user --------------------------------------------------------------------------

    def validate(self, user: str, module: str, values: dict[str, Any]) -> str | None:
        """What the validation endpoint answers for this save (None: allowed)."""
        return self.world.validate(self.world.change_of(user, module, values))  # every plugin is asked

    def save(self, user: str, module: str, values: dict[str, Any]) -> str:
        """Save as ``user``; returns the id, or raises Refused with the message the user would see."""
        change = self.world.change_of(user, module, values)
        if not self.no_validation:
            message = self.world.validate(change)
            if message:
                raise Refused(message)
        self.crm.user_id = user
        self.tick()
        new_id = self.crm.save(module, values)
        self.crm.user_id = "1"
        self.deliver(self.world.saved_event(change, new_id, self.now()))
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
        self.world.deliver(ev)

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
    install_plugin_schema(crm, plugin_module)  # and the core package it requires
    ids: dict[str, str] = {}
    access = AccessModel(crm)
    for group in ("Branch North", "Branch South"):
        ids[group] = access.ensure_group(group).id
    for key, name in ROLES.items():
        ids[key] = access.ensure_role(name).id
    for uid, (first, last, role, groups) in STAFF.items():
        login = uid[2:]
        add_user(crm, uid, login, first, last, email=f"{login}@bank.test",
                 roles=[ROLES[role]] if role else [], groups=groups)
    world = build_world(
        {PLUGIN: plugin_module, "workflow": workflow_plugin},
        crm=crm,
        state_dir=tmp_path,
        settings={
            PLUGIN: {"bank": {"bik": BIK, "branch": "0001"}, **settings},
            "workflow": {"decision_links": {}},
        },
        smtp=smtp_settings(smtp_port, sender="crm@bank.test"),
    )
    return Bank(world, clock, ids)
