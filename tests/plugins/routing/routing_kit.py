"""Test kit for the routing plugin (fixtures in conftest.py).

A FakeCRM that behaves like a SuiteCRM with the routing package's logic hooks installed: every save of a
hooked module — a user's or the sidecar's own — is validated first (a refusal changes nothing and raises
:class:`Refused`) and then pushed as an event, which :meth:`Office.drain` hands to the plugin as the
dispatcher would. Users, ACL roles, security groups and managers like a sales and a support department;
the stock modules FakeCRM lacks (Opportunities, AOS_Quotes, AOP_Case_Updates) with the fields the real
SuiteCRM 7.14.6 reports for them; a controllable clock shared by the CRM and the engine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import plugins.routing.engine as engine_module
import plugins.routing.plugin as plugin_module
from plugins.routing.escalation import Escalator
from plugins.routing.explain import Explainer
from plugins.routing.plugin import engine_for
from suitecrm_ext import Event, EventKind, FieldChange, FieldInfo, NotFound, RecordChange
from suitecrm_ext.testing import (
    FakeCRM,
    add_user,
    build_world,
    install_plugin_schema,
    load_plugin_schema,
    smtp_settings,
)
from suitecrm_ext.workflow import plugin as workflow_plugin

PLUGIN = "routing"
ROOT = Path(__file__).resolve().parents[3]
ROUTE_FILES = ROOT / "config" / "routes"
MSK = ZoneInfo("Europe/Moscow")

F = FieldInfo
#: as the real SuiteCRM 7.14.6 reports them (get_module_fields), the fields the routes and tests use
EXTRA_MODULES: dict[str, tuple[str, list[FieldInfo]]] = {
    "Opportunities": (
        "opportunities",
        [
            F("name", "name", "Opportunity Name:", length=50),
            F("account_id", "id", "Account ID"),
            F("amount", "currency", "Opportunity Amount:"),
            F("date_closed", "date", "Expected Close Date:"),
            F(
                "sales_stage",
                "enum",
                "Sales Stage:",
                length=255,
                options=(
                    "Prospecting",
                    "Qualification",
                    "Needs Analysis",
                    "Value Proposition",
                    "Id. Decision Makers",
                    "Perception Analysis",
                    "Proposal/Price Quote",
                    "Negotiation/Review",
                    "Closed Won",
                    "Closed Lost",
                ),
            ),
            F("probability", "int", "Probability (%):"),
        ],
    ),
    "AOS_Quotes": (
        "aos_quotes",
        [
            F("name", "name", "Title", length=255),
            F(
                "stage",
                "enum",
                "Quote Stage",
                length=100,
                options=(
                    "Draft",
                    "Negotiation",
                    "Delivered",
                    "On Hold",
                    "Confirmed",
                    "Closed Accepted",
                    "Closed Lost",
                    "Closed Dead",
                ),
            ),
            F(
                "approval_status",
                "enum",
                "Approval Status",
                length=100,
                options=("Approved", "Not Approved", ""),
            ),
            F("approval_issue", "text", "Approval Issues"),
            F("total_amt", "currency", "Total"),
            F("subtotal_amount", "currency", "Subtotal"),
            F("discount_amount", "currency", "Discount"),
            F("total_amount", "currency", "Grand Total"),
        ],
    ),
    "AOP_Case_Updates": (
        "aop_case_updates",
        [
            F("name", "name", "Name", length=255),
            F("case_id", "id", "LBL_CASE_ID"),
            F("contact_id", "id", "LBL_CONTACT_ID"),
            F("internal", "bool", "Internal Update"),
        ],
    ),
}

#: id -> (first name, last name, login, manager id, roles)
USERS: dict[str, tuple[str, str, str, str, tuple[str, ...]]] = {
    "u-sidecar": ("Sidecar", "Service", "sidecar", "", ()),
    "u-seller": ("Sally", "Seller", "sally", "u-mgr1", ("Sales rep",)),
    "u-mgr1": ("Max", "Manager", "max", "u-dir", ("Sales manager",)),
    "u-mgr2": ("Mia", "Manager", "mia", "u-dir", ("Sales manager",)),
    "u-dir": ("Dora", "Director", "dora", "u-ceo", ("Sales director",)),
    "u-ceo": ("Carl", "Chief", "carl", "", ("Chief executive",)),
    "u-deputy": ("Dan", "Deputy", "dan", "u-dir", ()),
    "u-disp": ("Dina", "Dispatcher", "dina", "u-head", ("Dispatcher",)),
    "u-sup1": ("Stas", "Support", "stas", "u-head", ("Support",)),
    "u-sup2": ("Sveta", "Support", "sveta", "u-head", ("Support",)),
    "u-senior": ("Semyon", "Senior", "semyon", "u-head", ("Senior support",)),
    "u-head": ("Hugo", "Head", "hugo", "u-ceo", ()),
    "u-author": ("Alla", "Author", "alla", "u-boss", ()),
    "u-boss": ("Boris", "Boss", "boris", "u-ceo", ()),
    "u-legal1": ("Lev", "Lawyer", "lev", "u-ceo", ("Legal",)),
    "u-legal2": ("Lena", "Lawyer", "lena", "u-ceo", ("Legal",)),
    "u-legal3": ("Lidia", "Lawyer", "lidia", "u-ceo", ("Legal",)),
    "u-stranger": ("Stepan", "Stranger", "stepan", "", ()),
}
#: a Monday at 10:00 in Moscow, no holiday near
MONDAY = dt.datetime(2025, 12, 1, 10, 0, tzinfo=MSK).astimezone(dt.timezone.utc)


class Refused(Exception):
    """The validation hook refused a save (the message is what the SuiteCRM user sees)."""


class HookedCRM(FakeCRM):
    """A FakeCRM whose saves of hooked modules run the plugin's validation first and push an event after,
    as the routing package's generated logic hooks make SuiteCRM do."""

    def __init__(self, *args: Any, **kw: Any):
        super().__init__(*args, **kw)
        self.validator = None  # callable(RecordChange) -> message | None
        self.validated: set[str] = set()
        self.pushed: set[str] = set()
        self.queue: list[Event] = []
        self.event_clock = None

    def _before(self, module: str, rid: str | None) -> dict[str, Any]:
        if not rid:
            return {}
        try:
            return dict(self.get(module, rid).values)
        except NotFound:
            return {}

    def _hooked(self, module: str, rid: str | None, values: Mapping[str, Any], write) -> str:
        before = self._before(module, rid)
        after = {k: v for k, v in values.items() if k != "id"}
        if module in self.validated and self.validator is not None:
            message = self.validator(
                RecordChange(module, rid if before else None, before, after, self.user_id)
            )
            if message:
                raise Refused(message)
        new_id = write()
        if module in self.pushed:
            stored = dict(self.get(module, new_id).values)
            changes = {
                k: FieldChange(before.get(k) if before else None, stored.get(k))
                for k in after
                if not before or str(before.get(k) or "") != str(stored.get(k) or "")
            }
            kind = EventKind.UPDATED if before else EventKind.CREATED
            if changes or not before:
                self.queue.append(
                    Event(
                        module,
                        new_id,
                        kind,
                        stored["date_modified"],
                        "push",
                        changes,
                        stored,
                        user_id=self.user_id,
                    )
                )
        return new_id

    def save(self, module: str, values: Mapping[str, Any]) -> str:
        rid = values.get("id")
        return self._hooked(module, rid, values, lambda: super(HookedCRM, self).save(module, values))

    def create(self, module: str, values: Mapping[str, Any], *, id: str) -> str:
        return self._hooked(module, id, values, lambda: super(HookedCRM, self).create(module, values, id=id))


@dataclass
class Office:
    """The plugin over a hooked FakeCRM: users act (``save``), events are delivered (``drain``), the clock
    moves (``at`` / ``advance``), the job runs (``escalate``)."""

    crm: HookedCRM
    registry: Any
    ctx: Any
    clock: list
    delivered: list = field(default_factory=list)

    # --- time -------------------------------------------------------------------------------------

    def now(self) -> dt.datetime:
        return self.clock[0]

    def at(self, moment: dt.datetime) -> None:
        self.clock[0] = moment.astimezone(dt.timezone.utc).replace(microsecond=0)

    def advance(self, **delta: float) -> None:
        self.clock[0] += dt.timedelta(**delta)

    # --- acting -----------------------------------------------------------------------------------

    def save(self, user: str, module: str, values: dict[str, Any], *, drain: bool = True) -> str:
        """Save as ``user`` (validated, pushed); then deliver the events (unless ``drain=False``)."""
        self.crm.user_id = user
        self.clock[0] += dt.timedelta(seconds=1)
        try:
            rid = self.crm.save(module, values)
        finally:
            self.crm.user_id = "u-sidecar"
        if drain:
            self.drain()
        return rid

    def drain(self, limit: int = 500) -> int:
        """Deliver queued events to the plugin (its own writes queue more) until none is left."""
        n = 0
        while self.crm.queue and n < limit:
            ev = self.crm.queue.pop(0)
            self.deliver(ev)
            n += 1
        assert not self.crm.queue, "events keep coming: a loop between the plugin and its own writes"
        return n

    def deliver(self, ev: Event) -> None:
        specs = self.registry.call_one(PLUGIN, "ext_watch", settings=self.ctx.settings)
        if any(s.matches(ev) for s in specs):
            self.delivered.append(ev)
            self.crm.user_id = "u-sidecar"
            self.clock[0] += dt.timedelta(seconds=1)
            self.registry.call_one(PLUGIN, "ext_on_record_change", event=ev, ctx=self.ctx)

    def validate(self, user: str, module: str, values: dict[str, Any]) -> str | None:
        """What the validation hook answers for a save (without saving)."""
        rid = values.get("id")
        before = dict(self.crm.get(module, rid).values) if rid else {}
        after = {k: v for k, v in values.items() if k != "id"}
        return self.registry.call_one(
            PLUGIN,
            "ext_validate_record_change",
            change=RecordChange(module, rid, before, after, user),
            ctx=self.ctx,
        )

    def escalate(self):
        """One pass of the escalation job (its events delivered)."""
        report = Escalator(self.engine()).run_pass()
        self.drain()
        return report

    def engine(self):
        return engine_for(self.ctx)

    def explain(self, module: str, rid: str) -> str:
        return Explainer(self.engine()).explain(module, rid)

    # --- reading ----------------------------------------------------------------------------------

    def steps(self, rid: str, **where: Any) -> list:
        """Step records of a routed record, in activation order."""
        out = [r for r in self.crm.records("rt_RouteSteps") if r.get("parent_id") == rid and not r.deleted]
        out = [r for r in out if all(str(r.get(k)) == str(v) for k, v in where.items())]
        return sorted(out, key=lambda r: (r.get("seq"), r.get("seat"), r.get("escalation_level") or 0, r.id))

    def open_steps(self, rid: str) -> list:
        return self.steps(rid, status="open")

    def open_for(self, rid: str, user: str):
        """The open step record of ``user`` on a routed record."""
        mine = [r for r in self.open_steps(rid) if r.get("assigned_user_id") == user]
        assert len(mine) == 1, f"{user} has {len(mine)} open steps on {rid}: {self.describe(rid)}"
        return mine[0]

    def runs(self, rid: str) -> list:
        return sorted(
            (r for r in self.crm.records("rt_RouteRuns") if r.get("parent_id") == rid),
            key=lambda r: (r.get("started_at"), r.id),
        )

    def run_status(self, rid: str) -> str:
        runs = self.runs(rid)
        return runs[-1].get("status") if runs else ""

    def decide(self, user: str, step_id: str, decision: str, comment: str = "") -> None:
        self.save(user, "rt_RouteSteps", {"id": step_id, "decision": decision, "comment": comment})

    def tasks_for(self, user: str, status: str | None = None) -> list:
        return [
            t
            for t in self.crm.records("Tasks")
            if t.get("assigned_user_id") == user
            and not t.deleted
            and (status is None or t.get("status") == status)
        ]

    def decisions(self, rid: str) -> list:
        return sorted(
            (d for d in self.crm.records("sx_Decisions") if d.get("parent_id") == rid),
            key=lambda d: (d.get("acted_at"), d.get("date_entered"), d.id),
        )

    def describe(self, rid: str) -> str:
        return "; ".join(
            f"{r.get('seq')}/{r.get('step')}/{r.get('assigned_user_id')}={r.get('status')}"
            f"{'/' + r.get('decision') if r.get('decision') else ''}"
            for r in self.steps(rid)
        )


def make_crm(clock: list) -> HookedCRM:
    """A hooked FakeCRM with the core and routing packages, the missing stock modules and the users."""
    crm = HookedCRM(clock=lambda: clock[0], user_id="u-sidecar")
    for module, (table, fields) in EXTRA_MODULES.items():
        crm.add_module(module, fields, table=table)
        crm.add_link(module, "SecurityGroups", "SecurityGroups", table, one_to_many=False)
    install_plugin_schema(crm, plugin_module)  # and the core package it requires
    crm.add_fields(
        "Cases", [F("sxt_portal_case_c", "bool", "From the client portal", source="custom_fields")]
    )
    for uid, (first, last, login, manager, roles) in USERS.items():
        groups = ["Product support"] if uid == "u-sup2" else []
        add_user(crm, uid, login, first, last, manager_id=manager, roles=roles, groups=groups)
    return crm


def make_office(
    tmp_path: Path,
    smtp_port: int | None,
    monkeypatch,
    *,
    routes: list | None = None,
    route_files: list[str] | None = None,
    start: dt.datetime = MONDAY,
    workflow: dict | None = None,
    **settings: Any,
) -> Office:
    """The routing plugin (and the core workflow plugin) over a hooked FakeCRM, at ``start``."""
    clock = [start]
    monkeypatch.setattr(engine_module, "utcnow", lambda: clock[0])
    crm = make_crm(clock)
    section: dict[str, Any] = {"service_user": "sidecar", **settings}
    if routes is not None:
        section["routes"] = routes
    if route_files is not None:
        section["route_files"] = route_files
    world = build_world(
        {PLUGIN: plugin_module, "workflow": workflow_plugin},
        crm=crm,
        state_dir=tmp_path,
        settings={PLUGIN: section, "workflow": workflow or {}},
        smtp=smtp_settings(smtp_port),
    )
    registry, ctx = world.registry, world.ctx
    office = Office(crm, registry, ctx, clock)
    hooks = load_plugin_schema(plugin_module).logic_hooks
    crm.validated = {h.module for h in hooks if h.validate}
    crm.pushed = {h.module for h in hooks if h.push} | {"AOP_Case_Updates"}
    crm.validator = lambda change: registry.call_one(
        PLUGIN, "ext_validate_record_change", change=change, ctx=ctx
    )
    return office


def route_file(name: str) -> str:
    """A shipped route file's path."""
    return str(ROUTE_FILES / name)
