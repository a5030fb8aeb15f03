"""Test kit for collegial_actions (fixtures in conftest.py).

A FakeCRM with the plugin's modules (from its schema.yaml) and demo users, a real SMTP server (aiosmtpd
on loopback), the plugin loaded through the testing kit, and a ``Desk`` that saves records the way
SuiteCRM does with the plugin's logic hooks installed: validate before save (a refusal changes nothing),
then push the change event after the save."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import plugins.collegial_actions.plugin as plugin_module
import suitecrm_ext.workflow.plugin as workflow_plugin
from suitecrm_ext import Event
from suitecrm_ext.testing import (
    FakeCRM,
    PluginWorld,
    add_user,
    build_world,
    install_plugin_schema,
    smtp_settings,
)

PLUGIN = "collegial_actions"
SCHEMA = Path(plugin_module.__file__).with_name("schema.yaml")

USERS = {
    "u-author": ("Alla", "Author"),
    "u-voter1": ("Vera", "Voterova"),
    "u-voter2": ("Viktor", "Voterov"),
    "u-approver": ("Anna", "Approverova"),
    "u-signer": ("Semyon", "Signerov"),
    "u-deputy": ("Denis", "Deputatov"),
    "u-reader": ("Roman", "Readerov"),
    "u-stranger": ("Stepan", "Strangerov"),
}


@dataclass
class Desk:
    """Saves records as a SuiteCRM user would, with the plugin's validate + push logic hooks installed."""

    world: PluginWorld
    clock: list
    #: False: events are kept in ``pending`` (for a test that queues them for the real dispatcher)
    direct: bool = True
    pending: list = field(default_factory=list)

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

    def save(self, user: str, module: str, values: dict[str, Any]) -> str:
        """Save as ``user``; returns the id, or raises Refused with the message the user would see."""
        change = self.world.change_of(user, module, values)
        message = self.world.validate(change)  # as the validation endpoint: every plugin is asked
        if message:
            raise Refused(message)
        self.crm.user_id = user
        self.tick()
        new_id = self.crm.save(module, values)
        ev = self.world.saved_event(change, new_id, self.now())
        if self.direct:
            self.deliver(ev)
        else:
            self.pending.append(ev)
        self.crm.user_id = "u-sidecar"
        return new_id

    def deliver(self, ev: Event) -> None:
        """Hand an event to the plugin, as the dispatcher does (only if its watch specs match)."""
        self.world.deliver(ev)

    def now(self) -> dt.datetime:
        return self.clock[0]

    def tick(self) -> None:
        self.clock[0] += dt.timedelta(seconds=1)

    def status(self, doc_id: str) -> str:
        return self.crm.get("Documents", doc_id).get("ca_status_c")

    def move(self, user: str, doc_id: str, status: str) -> str:
        return self.save(user, "Documents", {"id": doc_id, "ca_status_c": status})

    def document(self, user: str, name: str, doc_type: str) -> str:
        return self.save(user, "Documents", {"document_name": name, "ca_doc_type_c": doc_type,
                                             "ca_status_c": "Preparation", "assigned_user_id": user})

    def action(self, user: str, doc_id: str, kind: str, assignee: str, **extra: Any) -> str:
        return self.save(user, "ca_CollegialActions", {
            "name": f"{kind} {assignee}", "parent_type": "Documents", "parent_id": doc_id, "kind": kind,
            "assigned_user_id": assignee, **extra})

    def act(self, user: str, action_id: str, outcome: str) -> str:
        return self.save(user, "ca_CollegialActions", {"id": action_id, "outcome": outcome})

    def tasks_for(self, user: str) -> list:
        return [t for t in self.crm.records("Tasks") if t.get("assigned_user_id") == user]


class Refused(Exception):
    """The validation hook refused the save."""


def make_desk(tmp_path: Path, smtp_port: int | None, events: dict | None = None, **settings: Any) -> Desk:
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    clock = [start]
    crm = FakeCRM(clock=lambda: clock[0])
    install_plugin_schema(crm, plugin_module)  # and the core package (deputies) it requires
    for uid, (first, last) in USERS.items():
        add_user(crm, uid, uid[2:], first, last)
    world = build_world(
        {PLUGIN: plugin_module, "workflow": workflow_plugin},
        crm=crm,
        state_dir=tmp_path,
        settings={PLUGIN: settings},
        smtp=smtp_settings(smtp_port),
        **({"events": events} if events else {}),
    )
    return Desk(world, clock)
