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


def install_schema(crm: FakeCRM) -> None:
    """Register the core package (deputies) and the plugin's modules/fields/links from its real
    schema.yaml in a FakeCRM."""
    install_workflow(crm)
    register_schema(crm, load_plugin_schema(plugin_module))


@dataclass
class Desk:
    """Saves records as a SuiteCRM user would, with the plugin's validate + push logic hooks installed."""

    crm: FakeCRM
    registry: Any
    ctx: Any
    clock: list
    events: list = field(default_factory=list)
    #: False: events are kept in ``pending`` (for a test that queues them for the real dispatcher)
    direct: bool = True
    pending: list = field(default_factory=list)

    def save(self, user: str, module: str, values: dict[str, Any]) -> str:
        """Save as ``user``; returns the id, or raises Refused with the message the user would see."""
        rid = values.get("id")
        before = {}
        if rid:  # SuiteCRM's fetched_row: every stored field
            before = dict(self.crm.get(module, rid).values)
        after = {k: v for k, v in values.items() if k != "id"}
        change = RecordChange(module, rid, before, after, user_id=user)
        for name in (PLUGIN, "workflow"):  # as the validation endpoint: every plugin is asked
            message = self.registry.call_one(name, "ext_validate_record_change", change=change,
                                             ctx=self.ctx.app.for_plugin(name))
            if message:
                raise Refused(message)
        self.crm.user_id = user
        self.tick()
        new_id = self.crm.save(module, values)
        changes = {k: FieldChange(before.get(k) if rid else None, v) for k, v in after.items()
                   if not rid or str(before.get(k) or "") != str(v or "")}
        ev = Event(module, new_id, EventKind.UPDATED if rid else EventKind.CREATED, self.now(), "push",
                   changes, after, user_id=user)
        if self.direct:
            self.deliver(ev)
        else:
            self.pending.append(ev)
        self.crm.user_id = "u-sidecar"
        return new_id

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
    install_schema(crm)
    for uid, (first, last) in USERS.items():
        crm.insert("Users", {"id": uid, "user_name": uid[2:], "first_name": first, "last_name": last,
                             "email1": f"{uid[2:]}@example.test", "status": "Active"})
    config = build_config(
        plugins={PLUGIN: settings},
        smtp={"host": "127.0.0.1", "port": smtp_port or free_port(), "sender": "crm@example.test"},
        state={"backend": "sqlite", "path": str(tmp_path / "state.sqlite3")},
        **({"events": events} if events else {}),
    )
    registry = build_registry({PLUGIN: plugin_module, "workflow": workflow_plugin}, config=config)
    app = build_app(registry, config=config, crm=crm)
    return Desk(crm, registry, app.for_plugin(PLUGIN), clock)
