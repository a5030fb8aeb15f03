"""The route engine: starts runs on matching changes, takes decisions, moves runs from step to step.

Everything it decides is derived again from what SuiteCRM holds (runs, step records, the record), and every
write is idempotent (ids derived from what a record is, notices and log entries keyed), so an event handled
twice, or a crash at any line followed by a retry, ends in the same state. Work on one run is serialised
by a lock in the state store (a lease that outlives no crash).

- :meth:`RouteEngine.on_event` — a change of a routed record (trigger, cancel_when, complete_when, the
  polling-only veto), of a step record (a decision) or of a related record (complete_on);
- :meth:`RouteEngine.advance` — evaluate the current activation (quorum.py) and open the next one
  (activation.py), or end the run;
- escalation.py — the job: reminders and escalations at the breach.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from plugins.routing.activation import Activator
from plugins.routing.notify import Notify
from plugins.routing.quorum import Outcome, evaluate
from plugins.routing.records import (
    APPROVED,
    CANCELLED,
    CLOSED,
    DECIDED,
    OPEN,
    REJECTED,
    RUNNING,
    WAITING,
    WITHDRAWN,
    RouteStore,
    Run,
    StepRec,
    group_by_seq,
    run_id,
    seat_decisions,
)
from plugins.routing.routes import (
    APPROVAL_DECISIONS,
    REWORK_DECISIONS,
    Completion,
    Route,
    Step,
    condition_fields,
    route_fields,
    spec_fields,
)
from plugins.routing.settings import Settings
from suitecrm_ext import CRM, Event, EventKind, NotFound, Record, ValidationError
from suitecrm_ext.workflow import AssigneeContext, Facts, User, Workflow, notice_key

log = logging.getLogger("suitecrm_ext.plugins.routing")

REWORK = "rework"
MAX_MOVES = 200  # activations one advance may open (assign and task steps may complete at once)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


class RouteBusy(RuntimeError):
    """Another worker is moving this run right now; the event is retried later."""


def utcnow() -> dt.datetime:
    """Now, aware UTC, whole seconds (SuiteCRM keeps seconds)."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def text(v: Any) -> str:
    """A field value as the text a snapshot keeps."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, dt.date):
        return v.isoformat()
    s = str(v).strip()
    # decimals come back as "15.00" from SuiteCRM and 15 from a test: one run per value, not per spelling
    try:
        if s and s.replace(".", "", 1).lstrip("-").isdigit() and "." in s:
            s = s.rstrip("0").rstrip(".") or "0"
    except ValueError:  # pragma: no cover
        pass
    return s


class RouteEngine:
    """The routing plugin's behaviour over one CRM, state store and the core workflow services."""

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

    # --- decisions ------------------------------------------------------------------------------

    def on_step_event(self, event: Event) -> None:
        """A step record changed: a decision to take, or an assignee changed by an admin."""
        rec = self.store.step(event.record_id)
        if rec is None or not rec.run_id:
            return
        if "assigned_user_id" in event.changes and rec.status == OPEN and event.kind is EventKind.UPDATED:
            run = self.store.run(rec.run_id)
            route = self.routes.get(rec.route)
            step = self.step_def(route, rec.step) if route else None
            if run and route and step:
                self.activator.tell_opened(rec, route, step)
        if not rec.decision:
            return
        if rec.status == DECIDED:
            self.take_decision(rec, "", event.time)  # counted already: finish what a crash left undone
            return
        # a decision counts for the user whose change set it: an event that did not set this very value
        # (the change feed's first sight of a record, a later edit) says nothing about who decided
        change = event.changes.get("decision")
        if event.kind is EventKind.UPDATED and change is not None and str(change.after or "") == rec.decision:
            self.take_decision(rec, event.user_id or "", event.time)

    def why_not(self, rec: StepRec, actor: str, decision: str, comment: str) -> tuple[str | None, str]:
        """Why ``actor`` may not set ``decision`` on ``rec`` (None when they may), and for whom they act."""
        route = self.routes.get(rec.route)
        step = self.step_def(route, rec.step) if route else None
        if route is None or step is None:
            return f"the route {rec.route!r} (step {rec.step!r}) is no longer configured", ""
        if rec.status != OPEN:
            return f"the step is {rec.status}, not open", ""
        if step.kind != "approval":
            return f"this step is done when {self.activator.done_when(step)}; it takes no decision", ""
        allowed = (
            REWORK_DECISIONS
            if rec.step == REWORK
            else tuple(d for d in step.decisions if d in APPROVAL_DECISIONS)
        )
        if decision not in allowed:
            return f"{decision!r} is not a decision of this step; choose one of {', '.join(allowed)}", ""
        if decision in step.comment_required and not comment.strip():
            return f"a {decision.replace('_', ' ')} decision needs a comment", ""
        ent = self.wf.deputies.entitlement(
            self.s.deputy_kind, rec.assignee_id, actor, self.now().date(), name=self.user_name
        )
        if not ent.allowed:
            return ent.reason, ""
        return None, ent.on_behalf_of or ""

    def take_decision(self, rec: StepRec, actor: str, at: dt.datetime) -> None:
        """Count a decision set on a step record (checked again: never trusted), then move the run on."""
        with self.lock(f"routing:run:{rec.run_id}"):
            fresh = self.store.step(rec.id)
            if fresh is None or not fresh.decision:
                return
            rec = fresh
            route = self.routes.get(rec.route)
            if rec.status != DECIDED:
                reason, behalf = self.why_not(rec, actor, rec.decision, rec.comment)
                if reason is not None:
                    self.uncount(rec, actor, reason)
                    return
                rec = self.store.update_step(
                    rec,
                    status=DECIDED,
                    decided_by_id=actor,
                    on_behalf_of_id=behalf,
                    decided_at=at.replace(microsecond=0),
                )
            self.wf.decisions.record(
                rec.module,
                rec.record_id,
                key=notice_key("decision", rec.id),
                actor_id=rec.decided_by_id,
                on_behalf_of=rec.on_behalf_of_id,
                flow=rec.route,
                transition=rec.step,
                from_status=rec.step,
                decision=rec.decision,
                comment=rec.comment,
                at=rec.decided_at,
            )
            self.notify.close_task(rec)
            run = self.store.run(rec.run_id)
        if run is not None and route is not None:
            self.advance(run, actor=rec.decided_by_id)

    def uncount(self, rec: StepRec, actor: str, reason: str) -> None:
        """Clear a decision that may not count, and say why on the record (a Note)."""
        route = self.routes.get(rec.route)
        label = route.text(self.wf.settings.language) if route else rec.route
        step = self.step_def(route, rec.step) if route else None
        self.notify.note(
            notice_key("uncount", rec.id, rec.decision, actor, str(rec.date_modified)),
            rec.module,
            rec.record_id,
            "not_counted",
            decision=rec.decision,
            step=step.text(self.wf.settings.language) if step else rec.step,
            route=label,
            actor=self.user_name(actor),
            reason=reason,
        )
        self.store.update_step(rec, decision="")
        log.info("routing: decision %r on step %s by %s not counted: %s", rec.decision, rec.id, actor, reason)

    def complete_task(self, rec: StepRec, actor: str, at: dt.datetime, source: str) -> StepRec:
        """A task step was done (its condition holds, or the related change came). A crash after the
        status write is repaired by the event of that write (take_decision on a decided record)."""
        if rec.status != DECIDED:
            rec = self.store.update_step(
                rec,
                status=DECIDED,
                decision="done",
                decided_by_id=actor,
                decided_at=at.replace(microsecond=0),
                comment=source[:255],
            )
        self.wf.decisions.record(
            rec.module,
            rec.record_id,
            key=notice_key("decision", rec.id),
            actor_id=actor,
            flow=rec.route,
            transition=rec.step,
            from_status=rec.step,
            decision="done",
            comment=source,
            at=rec.decided_at,
        )
        self.notify.close_task(rec)
        return rec

    # --- moving runs ----------------------------------------------------------------------------

    def advance(self, run: Run, *, facts: Facts | None = None, actor: str = "") -> Run:
        """Evaluate the run's current activation and open what comes next, until something waits."""
        route = self.routes.get(run.route)
        if route is None:
            log.warning("routing: run %s follows route %r, which is no longer configured", run.id, run.route)
            return run
        with self.lock(f"routing:run:{run.id}"):
            ctx = _Moving(self, run, route, facts)
            for _ in range(MAX_MOVES):
                run = self.store.run(run.id) or run
                if run.finished:
                    return run
                ctx.run = run
                groups = group_by_seq(self.store.steps_of(run.id))
                ctx.groups = groups
                if not groups:
                    first = self.next_step(route, -1, ctx.facts)
                    if first is None:
                        self.finish(run, route, APPROVED, reason="no step applies")
                        continue
                    if not self.activator.activate(ctx, first, 1, previous_actor=""):
                        return run
                    continue
                seq = max(groups)
                group = groups[seq]
                head = group[0]
                step = self.step_def(route, head.step)
                if step is None:
                    log.warning(
                        "routing: run %s is at step %r, which route %s no longer has",
                        run.id,
                        head.step,
                        route.name,
                    )
                    return run
                if step.kind == "task" and step.complete_when is not None and any(r.is_open for r in group):
                    if step.complete_when.holds(ctx.facts):
                        for r in group:
                            if r.is_open:
                                self.complete_task(
                                    r, actor or ctx.facts.actor, self.now(), f"{step.complete_when.text}"
                                )
                        continue
                outcome = evaluate(head.mode, Completion.from_text(head.completion), seat_decisions(group))
                if not outcome.complete:
                    if head.mode == "sequential" and outcome.next_seat is not None:
                        self.activator.open_seat(ctx, step, group, outcome.next_seat)
                    return run
                self.close_group(group)
                if not self.move_on(ctx, step, seq, group, outcome):
                    return run
            log.error(
                "routing: run %s moved %d times in one go; stopping (check the route)", run.id, MAX_MOVES
            )
            return run

    def move_on(self, ctx: _Moving, step: Step, seq: int, group: list[StepRec], outcome: Outcome) -> bool:
        """What follows a decided activation; False when nothing more can happen now."""
        run, route = ctx.run, ctx.route
        last = self.last_decided(group)
        previous_actor = (last.on_behalf_of_id or last.decided_by_id) if last else ""
        actor = last.decided_by_id if last else ""
        comment = last.comment if last else ""
        state = outcome.state
        nxt: Step | None = None
        if state == "approved":
            nxt = self.next_step(route, route.index(step.name), ctx.facts)
            if nxt is None:
                self.log_outcome(run, route, step, seq, outcome, APPROVED, actor)
                self.finish(run, route, APPROVED, actor=actor, comment=comment)
                return True
        elif state == "rejected":
            self.log_outcome(run, route, step, seq, outcome, REJECTED, actor)
            self.finish(run, route, REJECTED, actor=actor, comment=comment)
            return True
        elif state == "withdrawn":
            self.log_outcome(run, route, step, seq, outcome, WITHDRAWN, actor)
            self.finish(run, route, WITHDRAWN, actor=actor, comment=comment)
            return True
        elif state == "resubmitted":
            nxt = self.next_step(route, -1, ctx.facts)
            if nxt is None:
                self.finish(run, route, APPROVED, actor=actor, reason="no step applies")
                return True
        elif state == "returned":
            nxt = (
                self.previous_step(route, step, seq, ctx.groups) if outcome.return_to == "previous" else None
            )
            if nxt is None:
                nxt = self.activator.rework_step(route)
        assert nxt is not None
        self.log_outcome(run, route, step, seq, outcome, nxt.name, actor)
        return self.activator.activate(ctx, nxt, seq + 1, previous_actor=previous_actor)

    def next_step(self, route: Route, after: int, facts: Facts) -> Step | None:
        """The first step after position ``after`` whose ``when`` holds."""
        for step in route.steps[after + 1 :]:
            if step.when.holds(facts):
                return step
        return None

    def previous_step(
        self, route: Route, step: Step, seq: int, groups: Mapping[int, list[StepRec]]
    ) -> Step | None:
        """The step that ran last before ``step`` in this run, earlier in the route (None: return to the
        initiator — also from the first step)."""
        here = route.index(step.name)
        for earlier in sorted((s for s in groups if s < seq), reverse=True):
            name = groups[earlier][0].step
            if 0 <= route.index(name) < here:
                return route.step(name)
        return None

    def last_decided(self, group: list[StepRec]) -> StepRec | None:
        """The decision that completed an activation (the latest counted one)."""
        counted = [r for r in group if r.counted]
        return max(counted, key=lambda r: (r.decided_at or _EPOCH, r.id)) if counted else None

    def close_group(self, group: list[StepRec]) -> None:
        """An activation is decided: its open and waiting records close, their Tasks too."""
        for r in group:
            if r.status in (OPEN, WAITING):
                self.notify.close_task(r)  # first: the status is what a retry looks at
                self.store.update_step(r, status=CLOSED)

    def log_outcome(
        self, run: Run, route: Route, step: Step, seq: int, outcome: Outcome, to: str, actor: str
    ) -> None:
        """Keep an activation's outcome in the decision log."""
        counts = f"{outcome.approvals} approved, {outcome.rejections} rejected, {outcome.pending} pending"
        self.wf.decisions.record(
            run.module,
            run.record_id,
            key=notice_key("outcome", run.id, str(seq)),
            actor_id=actor,
            flow=route.name,
            transition=step.name,
            from_status=step.name,
            to_status=to,
            decision=outcome.state,
            comment=counts,
        )

    def finish(
        self,
        run: Run,
        route: Route,
        status: str,
        *,
        actor: str = "",
        comment: str = "",
        reason: str = "",
        effects: bool = True,
    ) -> Run:
        """End a run: the route's effects, open records closed, the log, the initiator told; the status last
        (so a crash before it repeats the rest)."""
        with self.lock(f"routing:run:{run.id}"):
            fresh = self.store.run(run.id) or run
            if fresh.finished:
                return fresh
            action = (
                route.on_approved if status == APPROVED else route.on_rejected if status == REJECTED else None
            )
            if effects and action is not None and action.set:
                self.set_values(run.module, run.record_id, action.set)
            for r in self.store.steps_of(run.id):
                if r.status in (OPEN, WAITING):
                    self.notify.close_task(r)
                    self.store.update_step(r, status=CLOSED)
            self.wf.decisions.record(
                run.module,
                run.record_id,
                key=notice_key("finish", run.id),
                actor_id=actor,
                flow=route.name,
                transition="finish",
                from_status=RUNNING,
                to_status=status,
                decision=status,
                comment=reason or comment,
            )
            name = run.name.split(": ", 1)[-1] if run.name else run.record_id
            self.notify.finished(
                run.id,
                run.initiator_id,
                module=run.module,
                record_id=run.record_id,
                record_name=name,
                route_label=route.text(self.wf.settings.language),
                outcome=status,
                actor=self.user_name(actor) if actor else "",
                comment=comment or reason,
            )
            log.info(
                "routing: run %s (%s on %s %s) %s%s",
                run.id,
                route.name,
                run.module,
                run.record_id,
                status,
                f": {reason}" if reason else "",
            )
            return self.store.update_run(fresh, status=status, finished_at=self.now(), current_step="")

    def set_values(self, module: str, record_id: str, values: Mapping[str, Any]) -> None:
        """Write values on a routed record (only those that differ; the API runs SuiteCRM's logic)."""
        known = self.known_fields(module)
        names = [k for k in values if k in known]
        missing = [k for k in values if k not in known]
        if missing:
            log.warning("routing: %s has no field(s) %s; not set", module, ", ".join(missing))
        if not names:
            return
        current = self.crm.get(module, record_id, names)
        diff = {k: values[k] for k in names if text(current.get(k)) != text(values[k])}
        if diff:
            self.crm.save(module, {"id": record_id, **diff})

    # --- helpers for explain and the job --------------------------------------------------------

    def assignee_context(self, run: Run, facts: Facts, previous_actor: str) -> AssigneeContext:
        """What assignee resolution may read about a run's record."""
        return AssigneeContext(run.module, run.record_id, facts.after, previous_actor)

    def active_users(self, ids: list[str]) -> list[User]:
        """Users by id, the active ones."""
        return [u for u in (self.wf.access.user(i) for i in ids) if u.active]


class _Moving:
    """What one :meth:`RouteEngine.advance` carries between steps: the run, the route, the record's facts
    (read once, updated by assign steps)."""

    def __init__(self, engine: RouteEngine, run: Run, route: Route, facts: Facts | None):
        self.engine = engine
        self.run = run
        self.route = route
        self._facts = facts
        self.groups: dict[int, list[StepRec]] = {}

    @property
    def facts(self) -> Facts:
        if self._facts is None:
            self._facts = self.engine.facts_of(self.run)
        return self._facts

    def update(self, values: Mapping[str, Any]) -> None:
        """The record's values after an assign step wrote them."""
        f = self.facts
        self._facts = Facts(
            {**f.after, **values}, f.before, actor=f.actor, module=f.module, record_id=f.record_id
        )


__all__ = ["REWORK", "RouteBusy", "RouteEngine", "spec_fields", "text"]
