"""The reminder and escalation job (``routing-escalate``): one pass over the open steps whose time came.

A pass reads the open step records whose reminder time or deadline has passed (one query each; with
``read_via: mysql`` straight from the database) and, per record:

- **reminder**: an e-mail to the assignee, then ``reminded`` set on the record;
- **breach**: the seat goes up — to the assignee's manager, the next higher role of the role hierarchy, or
  the assignee the route names — as new step records (``escalated_from`` the breached one, one level up, a
  new deadline), with Tasks, a decision-log entry and an e-mail to the previous assignee; the breached
  record's status becomes ``escalated`` last.

Crash safety: the new records' ids derive from the breached record and the new assignee, and the
breached record stays open until everything else is done, so a pass killed at any point and run again
completes the same escalation and never escalates one breach twice. A breach that cannot go anywhere
(no escalation configured, the top level reached, nobody above) is logged once and looked at again hourly.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from plugins.routing.engine import REWORK, RouteBusy, log
from plugins.routing.records import ESCALATED, OPEN, StepRec, escalated_record_id
from plugins.routing.routes import Escalation, Route, Step
from suitecrm_ext.workflow import AssigneeSpec, User, notice_key

if TYPE_CHECKING:
    from plugins.routing.engine import RouteEngine

NS = "routing"


@dataclass
class PassReport:
    """What one pass did."""

    reminded: int = 0
    escalated: int = 0
    breached_without_target: int = 0
    busy: int = 0
    scanned: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for ``jobs list``."""
        out = (
            f"{self.scanned} due, {self.reminded} reminded, {self.escalated} escalated, "
            f"{self.breached_without_target} overdue without escalation"
        )
        if self.busy:
            out += f", {self.busy} busy (next pass)"
        if self.errors:
            out += f", {len(self.errors)} failed: {self.errors[0]}"
        return out


class Escalator:
    """Reminders and escalations over one engine."""

    def __init__(self, engine: RouteEngine):
        self.e = engine

    def run_pass(self, now: dt.datetime | None = None) -> PassReport:
        """One pass (see the module docstring)."""
        e = self.e
        now = now or e.now()
        report = PassReport()
        for rec in e.store.open_steps(remind_before=now):
            if rec.due is not None and rec.due <= now:
                continue  # past its deadline already: it escalates (below), a reminder would come late
            report.scanned += 1
            try:
                self.remind(rec)
                report.reminded += 1
            except RouteBusy:
                report.busy += 1
        breached = e.store.open_steps(due_before=now)
        report.scanned += len(breached)
        # one seat escalates as a whole (every candidate of a single-mode step breaches at once)
        seats: dict[tuple[str, int, int], list[StepRec]] = {}
        for rec in breached:
            seats.setdefault((rec.run_id, rec.seq, rec.seat), []).append(rec)
        logged = e.state.kv_get_many(NS, [f"breach:{r.id}" for r in breached]) if breached else {}
        for recs in seats.values():
            if all(f"breach:{r.id}" in logged for r in recs):
                report.breached_without_target += len(recs)
                continue
            try:
                n = self.escalate_seat(recs, now)
            except RouteBusy:
                report.busy += 1
                continue
            except Exception as exc:  # noqa: BLE001 - one broken record must not stop the pass
                log.exception("routing: escalating step %s failed", recs[0].id)
                report.errors.append(f"{recs[0].id}: {type(exc).__name__}: {exc}")
                continue
            if n:
                report.escalated += n
            else:
                report.breached_without_target += len(recs)
        return report

    # --- reminders ------------------------------------------------------------------------------

    def remind(self, rec: StepRec) -> None:
        """E-mail the assignee before the deadline; then mark the record reminded."""
        e = self.e
        route = e.routes.get(rec.route)
        step = e.step_def(route, rec.step) if route else None
        lang = e.wf.settings.language
        e.notify.reminder(
            rec,
            route_label=route.text(lang) if route else rec.route,
            step_label=step.text(lang) if step else rec.step,
        )
        e.store.update_step(rec, reminded=True)

    # --- escalation -----------------------------------------------------------------------------

    def escalate_seat(self, recs: list[StepRec], now: dt.datetime) -> int:
        """Escalate one breached seat; the number of records escalated (0: it cannot go anywhere)."""
        e = self.e
        first = recs[0]
        with e.lock(f"routing:run:{first.run_id}"):
            run = e.store.run(first.run_id)
            seat = [
                r
                for r in (e.store.steps_of(first.run_id) if run is not None else [])
                if r.seq == first.seq and r.seat == first.seat
            ]
            wanted = {r.id for r in recs}
            fresh = [r for r in seat if r.id in wanted and r.status == OPEN]
            if not fresh:
                return 0
            route = e.routes.get(first.route)
            step = e.step_def(route, first.step) if route else None
            if run is None or route is None or step is None or run.finished:
                return 0
            esc = step.escalate
            level = max(r.escalation_level for r in fresh)
            if esc is None or level >= esc.max_levels or step.name == REWORK:
                why = (
                    "no escalation is configured"
                    if esc is None or step.name == REWORK
                    else f"it reached the top escalation level ({esc.max_levels})"
                )
                self.overdue_once(run.module, run.record_id, route, fresh, why)
                return 0
            facts = e.facts_of(run)
            # this breach's sources: the seat's records at this level, also those a killed pass already
            # marked escalated (so the new records' ids and assignees come out the same as then)
            sources = sorted(
                (r for r in seat if r.escalation_level == level and r.status in (OPEN, ESCALATED)),
                key=lambda r: r.id,
            )
            mine = {r.assignee_id for r in sources}
            targets: dict[str, tuple[User, StepRec]] = {}
            for src in sources:
                for u in self.targets(route, step, esc, src, facts):
                    if u.id not in mine:
                        targets.setdefault(u.id, (u, src))
            if not targets:
                self.overdue_once(
                    run.module,
                    run.record_id,
                    route,
                    fresh,
                    f"{esc.describe()} names nobody active above "
                    f"{', '.join(e.user_name(r.assignee_id) for r in fresh)}",
                )
                return 0
            lang = e.wf.settings.language
            duration = esc.deadline or (step.deadline[0].in_ if step.deadline else None)
            due, remind = e.activator.deadline(step, facts, run.started_at, now, duration=duration)
            made: list[StepRec] = []
            for u, src in targets.values():
                rec = src.but(
                    id=escalated_record_id(f"{run.id}|{src.seq}|{src.seat}|{level}", u.id),
                    assignee_id=u.id,
                    status=OPEN,
                    escalated_from_id=src.id,
                    escalation_level=src.escalation_level + 1,
                    due=due,
                    remind_at=remind,
                    reminded=False,
                    decision="",
                    comment="",
                    decided_by_id="",
                    on_behalf_of_id="",
                    decided_at=None,
                    name=f"{step.text(lang)} (escalated): {src.record_name}"[:255],
                )
                rec, created = e.store.create_step(rec)
                if created:
                    e.activator.inherit_groups(e.s.steps_module, rec.id, run.module, run.record_id)
                made.append(rec)
                e.activator.tell_opened(rec, route, step, escalated_from=e.user_name(src.assignee_id))
            who = ", ".join(u.display for u, _ in targets.values())
            for src in fresh:
                e.wf.decisions.record(
                    run.module,
                    run.record_id,
                    key=notice_key("escalate", src.id),
                    actor_id="",
                    flow=route.name,
                    transition="escalate",
                    from_status=step.name,
                    to_status=step.name,
                    decision="escalated",
                    on_behalf_of=src.assignee_id,
                    comment=f"{e.user_name(src.assignee_id)} → {who}: due {e.notify.when(src.due)} passed "
                    f"(level {src.escalation_level + 1}, {esc.describe()})",
                )
                if esc.notify_previous:
                    e.notify.escalated_away(
                        src,
                        [u for u, _ in targets.values()],
                        route_label=route.text(lang),
                        step_label=step.text(lang),
                    )
                e.notify.close_task(src)
                e.store.update_step(src, status=ESCALATED)  # last: a pass killed before it redoes the rest
            log.info("routing: step %s (%s) escalated to %s", step.name, first.run_id, who)
            return len(fresh)

    def targets(self, route: Route, step: Step, esc: Escalation, src: StepRec, facts) -> list[User]:
        """Who a breached record goes to."""
        e = self.e
        access = e.wf.access
        if isinstance(esc.to, AssigneeSpec):
            ctx = e.assignee_context(e.store.run(src.run_id), facts, src.assignee_id)
            return e.wf.assignees.resolve(esc.to, ctx)
        if esc.to == "manager":
            m = access.manager(src.assignee_id)
            return [m] if m is not None else []
        hierarchy = e.s.hierarchy(route)
        folded = [h.casefold() for h in hierarchy]
        mine = [
            folded.index(r.name.casefold())
            for r in access.user_roles(src.assignee_id)
            if r.name.casefold() in folded
        ]
        if not mine:
            m = access.manager(src.assignee_id)  # no role of the hierarchy: the nearest way up
            return [m] if m is not None else []
        for higher in hierarchy[max(mine) + 1 :]:
            if access.role(higher) is None:
                continue
            users = access.role_users(higher)
            if users:
                return users
        return []

    def overdue_once(self, module: str, record_id: str, route: Route, recs: list[StepRec], why: str) -> None:
        """A breach that goes nowhere: the decision log says so once; later passes skip it."""
        e = self.e
        for r in recs:
            e.wf.decisions.record(
                module,
                record_id,
                key=notice_key("overdue", r.id),
                actor_id="",
                flow=route.name,
                transition="overdue",
                from_status=r.step,
                decision="overdue",
                on_behalf_of=r.assignee_id,
                comment=f"due {e.notify.when(r.due)} passed; not escalated: {why}",
            )
            # retried hourly: a fixed role hierarchy or a new manager lets it escalate after all
            e.state.kv_set(NS, f"breach:{r.id}", why, ttl_seconds=3600)


def escalate_job(ctx) -> str:
    """The ``routing-escalate`` job: one pass."""
    from plugins.routing.plugin import engine_for

    return Escalator(engine_for(ctx)).run_pass().summary()


__all__ = ["Escalator", "PassReport", "escalate_job", "OPEN"]
