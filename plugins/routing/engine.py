"""The route engine: starts runs on matching changes, takes decisions, moves runs from step to step.

Everything it decides is derived again from what SuiteCRM holds (runs, step records, the record), and every
write is idempotent (ids derived from what a record is, notices and log entries keyed), so an event handled
twice, or a crash at any line followed by a retry, ends in the same state. Work on one run is serialised
by a lock in the state store (a lease that outlives no crash).

- :meth:`RouteEngine.on_event` — a change of a routed record (trigger, cancel_when, complete_when, the
  polling-only veto), of a step record (a decision) or of a related record (complete_on);
- :meth:`RouteEngine.advance` (moving.py) — evaluate the current activation (quorum.py) and open the next one
  (activation.py), or end the run;
- decisions.py — who may decide a step, counting a decision or taking it back;
- escalation.py — the job: reminders and escalations at the breach.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from plugins.routing.activation import Activator
from plugins.routing.basics import REWORK, RouteBusy, log, text, utcnow
from plugins.routing.decisions import DecisionTaking
from plugins.routing.moving import MAX_MOVES, RunMoving
from plugins.routing.notify import Notify
from plugins.routing.records import CANCELLED, OPEN, RUNNING, RouteStore, Run, run_id
from plugins.routing.routes import Route, Step, condition_fields, route_fields, spec_fields
from plugins.routing.settings import Settings
from suitecrm_ext import CRM, Event, EventKind, NotFound, Record, ValidationError
from suitecrm_ext.workflow import AssigneeContext, Facts, User, Workflow, notice_key


class RouteEngine(DecisionTaking, RunMoving):
    """The routing plugin's behaviour over one CRM, state store and the core workflow services.

    Events, lookups and locks are here; taking decisions is decisions.py, moving runs on moving.py.
    """

    def __init__(
        self,
        settings: Settings,
        crm: CRM,
        wf: Workflow,
        state: Any,
        *,
        now: Callable[[], dt.datetime] | None = None,
        crm_url: str = "",
        service_user_id: str = "",
    ):
        self.s = settings
        self.crm = crm
        self.wf = wf
        self.state = state
        self.now = now or utcnow
        self.crm_url = crm_url.rstrip("/")
        self.service_user_id = service_user_id
        self.store = RouteStore(crm, settings.runs_module, settings.steps_module, settings.subpanel_links)
        self.notify = Notify(self)
        self.activator = Activator(self)
        self.routes: dict[str, Route] = {r.name: r for r in settings.all_routes()}
        self._held: set[str] = set()
        self._fields: dict[str, set[str]] = {}

    # --- lookups --------------------------------------------------------------------------------

    def routes_for(self, module: str) -> list[Route]:
        """The enabled routes over a module."""
        return [r for r in self.routes.values() if r.module == module and r.enabled]

    def step_def(self, route: Route, name: str) -> Step | None:
        """A step of a route; the initiator's rework step for ``rework``."""
        return self.activator.rework_step(route) if name == REWORK else route.step(name)

    def known_fields(self, module: str) -> set[str]:
        """The module's field names (cached)."""
        if module not in self._fields:
            infos = self.crm.fields(module)
            self._fields[module] = set(infos)
            self._fields["\0stored:" + module] = {n for n, i in infos.items() if i.source != "non-db"}
        return self._fields[module]

    def read(self, module: str, record_id: str, names: set[str]) -> Record:
        """``crm.get`` of the fields a route needs. Fields SuiteCRM does not store (``non-db``, e.g.
        Documents.revision) come from the API only: with MySQL reads they are left out (empty)."""
        known = self.known_fields(module)
        wanted = sorted(f for f in names if f in known)
        try:
            return self.crm.get(module, record_id, wanted)
        except ValidationError:
            stored = self._fields["\0stored:" + module]
            if all(f in stored for f in wanted):
                raise
            return self.crm.get(module, record_id, [f for f in wanted if f in stored])

    def name_field(self, module: str) -> str:
        """The field holding a record's display name."""
        return "document_name" if module == "Documents" else "name"

    def record_values(self, module: str, record_id: str, extra: set[str] | None = None) -> dict[str, Any]:
        """The routed record's values the routes read (NotFound when it is gone)."""
        wanted = {self.name_field(module), "assigned_user_id", "created_by"} | (extra or set())
        for route in self.routes_for(module) or [r for r in self.routes.values() if r.module == module]:
            wanted |= route_fields(route)
        return dict(self.read(module, record_id, wanted).values)

    def record_name(self, module: str, values: Mapping[str, Any], record_id: str) -> str:
        """How messages name the record."""
        return str(values.get(self.name_field(module)) or values.get("name") or record_id)

    def facts_of(self, run: Run) -> Facts:
        """Facts about a run's record as stored now (no change: no before values)."""
        values = self.record_values(run.module, run.record_id)
        return Facts(values, None, module=run.module, record_id=run.record_id)

    def user_name(self, uid: str) -> str:
        """A user's display name."""
        return self.wf.access.user(uid).display if uid else "the system"

    # --- locks ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Hold the state store lock ``name`` (re-entrant within this engine); RouteBusy when taken."""
        if name in self._held:
            yield
            return
        owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        if not self.state.acquire_lock(name, owner, self.s.lock_seconds):
            raise RouteBusy(f"{name} is being worked on by another worker; retried later")
        self._held.add(name)
        try:
            yield
        finally:
            self._held.discard(name)
            self.state.release_lock(name, owner)

    # --- events ---------------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """React to a change (see the module docstring)."""
        if event.kind not in (EventKind.CREATED, EventKind.UPDATED):
            if event.kind is EventKind.DELETED and self.routes_for(event.module):
                self.on_record_deleted(event)
            return
        if event.module == self.s.steps_module:
            self.on_step_event(event)
            return
        if self.routes_for(event.module) or any(r.module == event.module for r in self.routes.values()):
            self.on_record_event(event)
        if self.completions_on(event.module):
            self.on_related_event(event)

    def completions_on(self, module: str) -> list[tuple[Route, Step]]:
        """Task steps completed by changes of ``module`` (complete_on)."""
        return [
            (r, s)
            for r in self.routes.values()
            for s in r.steps
            if s.complete_on is not None and s.complete_on.module == module
        ]

    def on_record_event(self, event: Event) -> None:
        """A routed record changed: cancel, start or continue runs; complete task steps."""
        try:
            values = self.record_values(event.module, event.record_id)
        except NotFound:
            return
        facts = Facts.of_event(event, values)
        for route in [r for r in self.routes.values() if r.module == event.module]:
            if self.s.polling_only and route.veto is not None:
                from plugins.routing.validation import revert_vetoed

                revert_vetoed(self, route, event, facts)
            self.consider(route, event, facts)

    def consider(self, route: Route, event: Event, facts: Facts) -> None:
        """One route against one change of its record."""
        if route.cancel_when is not None and route.cancel_when.holds(facts):
            for run in self.store.runs_of(route.module, event.record_id, route.name):
                if run.status == RUNNING:
                    self.finish(run, route, CANCELLED, reason=route.cancel_when.text)
            return
        if route.enabled and event.kind.value in route.on and route.when.holds(facts):
            self.start(route, event, facts)
            return
        if any(s.complete_when is not None for s in route.steps):
            for run in self.store.runs_of(route.module, event.record_id, route.name):
                if run.status == RUNNING:
                    self.advance(
                        run,
                        facts=Facts(
                            facts.after,
                            None,
                            actor=facts.actor,
                            module=route.module,
                            record_id=event.record_id,
                        ),
                        actor=event.user_id or "",
                    )

    def snapshot(self, route: Route, facts: Facts) -> dict[str, str]:
        """The values that identify a run of ``route`` for this record."""
        return {f: text(facts.value(f)) for f in route.identity_fields()}

    def start(self, route: Route, event: Event, facts: Facts) -> Run | None:
        """Start a run for a change that matched the trigger (once per snapshot), or continue it."""
        snap = self.snapshot(route, facts)
        with self.lock(f"routing:record:{route.module}:{event.record_id}"):
            runs = self.store.runs_of(route.module, event.record_id, route.name)
            same = [r for r in runs if r.snapshot == snap and r.status != CANCELLED]
            if same:
                run = same[-1]
                return self.advance(run) if run.status == RUNNING else run
            for old in runs:
                if old.status == RUNNING:
                    changed = ", ".join(f for f in snap if old.snapshot.get(f) != snap[f]) or "the record"
                    self.finish(old, route, CANCELLED, reason=f"superseded: {changed} changed")
            initiator = self.initiator(route, event, facts)
            name = self.record_name(route.module, facts.after, event.record_id)
            run = Run(
                id=run_id(route.name, route.module, event.record_id, event.key),
                route=route.name,
                module=route.module,
                record_id=event.record_id,
                status=RUNNING,
                snapshot=snap,
                initiator_id=initiator,
                started_at=event.time.replace(microsecond=0),
                trigger_key=event.key,
                name=f"{route.text()}: {name}",
            )
            run = self.store.create_run(run)
            self.activator.inherit_groups(self.s.runs_module, run.id, route.module, event.record_id)
            self.wf.decisions.record(
                route.module,
                event.record_id,
                key=notice_key("start", run.id),
                actor_id=event.user_id or "",
                flow=route.name,
                transition="start",
                to_status=RUNNING,
                decision="started",
                comment=", ".join(f"{k}={v}" for k, v in snap.items()),
            )
            log.info(
                "routing: %s started on %s %s (run %s)", route.name, route.module, event.record_id, run.id
            )
            return self.advance(
                run, facts=Facts(facts.after, None, module=route.module, record_id=event.record_id)
            )

    def initiator(self, route: Route, event: Event, facts: Facts) -> str:
        """Who started the run (returned work goes to them)."""
        if route.initiator is not None:
            users = self.wf.assignees.resolve(
                route.initiator,
                AssigneeContext(route.module, event.record_id, facts.after, event.user_id or ""),
            )
            if users:
                return users[0].id
        actor = event.user_id or ""
        if actor and actor != self.service_user_id:
            return actor
        return str(facts.value("assigned_user_id") or facts.value("created_by") or actor)

    def on_record_deleted(self, event: Event) -> None:
        """A routed record was deleted: its running runs are cancelled."""
        for route in self.routes_for(event.module):
            for run in self.store.runs_of(event.module, event.record_id, route.name):
                if run.status == RUNNING:
                    self.finish(run, route, CANCELLED, reason="the record was deleted", effects=False)

    def on_related_event(self, event: Event) -> None:
        """A related record changed (e.g. a case update): complete the task steps waiting for it."""
        for route, step in self.completions_on(event.module):
            spec = step.complete_on
            assert spec is not None
            if event.kind.value not in spec.on:
                continue
            try:
                rel = self.read(event.module, event.record_id,
                                condition_fields(spec.when) | {spec.field, spec.by})
            except NotFound:
                continue
            facts = Facts.of_event(event, dict(rel.values))
            target = str(facts.value(spec.field) or "")
            if not target or not spec.when.holds(facts):
                continue
            actor = str(facts.value(spec.by) or event.user_id or "")
            for run in self.store.runs_of(route.module, target, route.name):
                if run.status != RUNNING:
                    continue
                with self.lock(f"routing:run:{run.id}"):
                    for rec in self.store.steps_of(run.id):
                        if rec.step == step.name and rec.status == OPEN:
                            self.complete_task(rec, actor, event.time, f"{event.module} {event.record_id}")
                self.advance(run)

    # --- helpers for explain and the job --------------------------------------------------------

    def assignee_context(self, run: Run, facts: Facts, previous_actor: str) -> AssigneeContext:
        """What assignee resolution may read about a run's record."""
        return AssigneeContext(run.module, run.record_id, facts.after, previous_actor)

    def active_users(self, ids: list[str]) -> list[User]:
        """Users by id, the active ones."""
        return [u for u in (self.wf.access.user(i) for i in ids) if u.active]



__all__ = [
    "MAX_MOVES",
    "REWORK",
    "RouteBusy",
    "RouteEngine",
    "log",
    "spec_fields",
    "text",
    "utcnow",
]
