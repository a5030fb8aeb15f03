"""Opening a step: who gets it (seats and candidates), its deadline and reminder, its records and Tasks.

An *activation* is one opening of a step in a run (``seq`` 1, 2, ... — a step opened again after a return
is a new activation). Its records are created under ids derived from the run, the activation, the seat and
the assignee, so opening it again after a crash finds them instead of doubling them.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from plugins.routing.basics import log
from plugins.routing.records import DECIDED, OPEN, WAITING, StepRec, step_record_id
from plugins.routing.routes import (
    REWORK_DECISIONS,
    AssignAction,
    Assignee,
    Completion,
    DeadlineRule,
    Duration,
    Route,
    Step,
)
from suitecrm_ext import Cond, all_of
from suitecrm_ext.workflow import ALWAYS, Facts, User, notice_key

if TYPE_CHECKING:
    from plugins.routing.engine import RouteEngine
    from plugins.routing.moving import _Moving


class Activator:
    """Opens activations for a :class:`~plugins.routing.engine.RouteEngine`."""

    def __init__(self, engine: RouteEngine):
        self.e = engine
        self._groups: dict[tuple[str, str], list] = {}
        self._rework: dict[str, Step] = {}

    # --- the initiator's rework step ------------------------------------------------------------

    def rework_step(self, route: Route) -> Step:
        """The step a return to the initiator opens: theirs alone, decided by resubmit or withdraw."""
        if route.name not in self._rework:
            deadline = (
                [DeadlineRule.model_construct(in_=route.rework.deadline, from_="step", when=ALWAYS)]
                if route.rework.deadline
                else []
            )
            self._rework[route.name] = Step.model_construct(
                name="rework",
                label=route.rework.label,
                kind="approval",
                assignee=Assignee.model_construct(specs=[], first_match=[]),
                mode="single",
                completion=Completion(),
                when=ALWAYS,
                deadline=deadline,
                remind_before=None,
                escalate=None,
                decisions=REWORK_DECISIONS,
                comment_required=(),
                complete_when=None,
                complete_on=None,
                assign=AssignAction(),
            )
        return self._rework[route.name]

    def done_when(self, step: Step) -> str:
        """What completes a task step, in words."""
        parts = []
        if step.complete_when is not None:
            parts.append(step.complete_when.text)
        if step.complete_on is not None:
            c = step.complete_on
            cond = "" if c.when is ALWAYS else f" with {c.when.text}"
            parts.append(f"a {c.module} record is {' or '.join(c.on)} for it{cond}")
        return " or ".join(parts) or "its condition holds"

    # --- security groups ------------------------------------------------------------------------

    def inherit_groups(self, module: str, new_id: str, routed_module: str, routed_id: str) -> None:
        """A run or step record joins the routed record's security groups (API creates inherit none)."""
        key = (routed_module, routed_id)
        access = self.e.wf.access
        if key not in self._groups:
            try:
                self._groups[key] = [
                    g for g in access.record_groups(routed_module, routed_id) if not g.noninheritable
                ]
            except Exception:  # noqa: BLE001 - a module without SecurityGroups: nothing to inherit
                self._groups[key] = []
        if self._groups[key]:
            access.add_record_to_groups(module, new_id, self._groups[key])

    # --- who ------------------------------------------------------------------------------------

    def candidates(self, ctx: _Moving, step: Step, previous_actor: str) -> list[User]:
        """The active users a step names, in the order given (duplicates dropped)."""
        if step.name == "rework":
            return self.e.active_users([ctx.run.initiator_id])
        facts = ctx.facts
        specs = list(step.assignee.specs)
        for choice in step.assignee.first_match:
            if choice.when.holds(facts):
                specs = list(choice.to)
                break
        actx = self.e.assignee_context(ctx.run, facts, previous_actor)
        out: dict[str, User] = {}
        for spec in specs:
            for u in self.e.wf.assignees.resolve(spec, actx):
                out.setdefault(u.id, u)
        return list(out.values())

    def fallback(self, ctx: _Moving, previous_actor: str) -> list[User]:
        """``fallback_assignee`` when a step names nobody active."""
        spec = self.e.s.fallback_assignee
        if spec is None:
            return []
        return self.e.wf.assignees.resolve(spec, self.e.assignee_context(ctx.run, ctx.facts, previous_actor))

    # --- when -----------------------------------------------------------------------------------

    def hours_per_day(self) -> float:
        """Working hours in a working day (the calendar's intervals)."""
        cal = self.e.wf.calendar
        total = 0.0
        for a, b in cal.intervals:
            total += (
                dt.datetime.combine(dt.date(2000, 1, 3), b) - dt.datetime.combine(dt.date(2000, 1, 3), a)
            ).total_seconds() / 3600
        return total or 8.0

    def add(self, start: dt.datetime, d: Duration) -> dt.datetime:
        """``start`` + a working-time duration."""
        cal = self.e.wf.calendar
        if d.unit == "hours":
            return cal.add_working_hours(start, d.amount)
        return cal.add_working_days(start, int(d.amount))

    def deadline(
        self,
        step: Step,
        facts: Facts,
        started: dt.datetime | None,
        start: dt.datetime,
        duration: Duration | None = None,
    ) -> tuple[dt.datetime | None, dt.datetime | None]:
        """(due, remind_at) of an activation opened at ``start`` (UTC); None without a deadline."""
        if duration is not None:
            due = self.add(start, duration)
        else:
            rule = next((r for r in step.deadline if r.when.holds(facts)), None)
            if rule is None:
                return None, None
            base = started if rule.from_ == "run" and started is not None else start
            due = self.add(base, rule.in_)
        remind = None
        if step.remind_before is not None:
            rb = step.remind_before
            before = rb.amount if rb.unit == "hours" else rb.amount * self.hours_per_day()
            total = self.e.wf.calendar.working_hours_between(start, due)
            if total > before:
                remind = self.e.wf.calendar.add_working_hours(start, total - before)
        utc = dt.timezone.utc
        return due.astimezone(utc).replace(microsecond=0), remind.astimezone(utc).replace(
            microsecond=0
        ) if remind else None

    # --- opening --------------------------------------------------------------------------------

    def activate(self, ctx: _Moving, step: Step, seq: int, *, previous_actor: str) -> bool:
        """Open activation ``seq`` of ``step``; False when it cannot be opened (nobody to give it to)."""
        e, run = self.e, ctx.run
        if step.kind == "assign":
            return self.assign(ctx, step, seq, previous_actor)
        users = self.candidates(ctx, step, previous_actor) or self.fallback(ctx, previous_actor)
        if not users:
            self.stuck(ctx, step, seq)
            return False
        if step.mode == "single":
            seats = [users]
        else:
            seats = [[u] for u in users]
        now = e.now()
        due, remind = self.deadline(step, ctx.facts, run.started_at, now)
        name = e.record_name(run.module, ctx.facts.after, run.record_id)
        lang = e.wf.settings.language
        for i, seat in enumerate(seats):
            open_now = step.mode != "sequential" or i == 0
            for u in seat:
                rec = StepRec(
                    id=step_record_id(run.id, seq, i, u.id),
                    run_id=run.id,
                    route=run.route,
                    step=step.name,
                    seq=seq,
                    seat=i,
                    assignee_id=u.id,
                    module=run.module,
                    record_id=run.record_id,
                    record_name=name,
                    kind=step.kind,
                    mode=step.mode,
                    completion=step.completion.text(),
                    status=OPEN if open_now else WAITING,
                    due=due if open_now else None,
                    remind_at=remind if open_now else None,
                    name=f"{step.text(lang)}: {name}",
                )
                rec, created = e.store.create_step(rec)
                if created:
                    self.inherit_groups(e.s.steps_module, rec.id, run.module, run.record_id)
                if rec.status == OPEN:
                    self.tell_opened(rec, ctx.route, step)
        e.store.update_run(run, current_step=step.text(lang))
        if step.kind == "task" and step.complete_on is not None:
            self.completed_before(ctx, step, seq)
        return True

    def open_seat(self, ctx: _Moving, step: Step, group: list[StepRec], seat: int) -> None:
        """Sequential steps: the next person's turn (their record opens, with its own deadline)."""
        for rec in group:
            if rec.seat != seat:
                continue
            if rec.status == WAITING:
                due, remind = self.deadline(step, ctx.facts, ctx.run.started_at, self.e.now())
                rec = self.e.store.update_step(rec, status=OPEN, due=due, remind_at=remind)
            if rec.status == OPEN:
                self.tell_opened(rec, ctx.route, step)

    def tell_opened(self, rec: StepRec, route: Route, step: Step, escalated_from: str = "") -> None:
        """The assignee's Task and e-mail for an open record (once per record and assignee)."""
        lang = self.e.wf.settings.language
        decisions = ", ".join(d.replace("_", " ") for d in step.decisions)
        needs = ", ".join(d.replace("_", " ") for d in step.comment_required if d in step.decisions)
        self.e.notify.step_opened(
            rec,
            route_label=route.text(lang),
            step_label=step.text(lang),
            decisions=decisions,
            needs_comment=needs,
            done_when=self.done_when(step) if step.kind == "task" else "",
            escalated_from=escalated_from,
        )

    def completed_before(self, ctx: _Moving, step: Step, seq: int) -> None:
        """A task step waiting for a related change that already came (e.g. a case answered during triage)."""
        spec = step.complete_on
        assert spec is not None
        e, run = self.e, ctx.run
        known = e.known_fields(spec.module)
        conds = [Cond(spec.field, "eq", run.record_id)]
        if run.started_at is not None and "date_entered" in known:
            conds.append(Cond("date_entered", "gte", run.started_at))
        from plugins.routing.routes import condition_fields

        fields = sorted((condition_fields(spec.when) | {spec.field, spec.by, "date_entered"}) & known)
        for rel in e.crm.find(spec.module, all_of(*conds), fields, order=["date_entered", "id"], limit=50):
            facts = Facts(dict(rel.values), {}, module=spec.module, record_id=rel.id)
            if spec.when.holds(facts):
                for rec in e.store.steps_of(run.id):
                    if rec.seq == seq and rec.status == OPEN:
                        e.complete_task(rec, str(rel.get(spec.by) or ""), e.now(), f"{spec.module} {rel.id}")
                return

    def stuck(self, ctx: _Moving, step: Step, seq: int) -> None:
        """Nobody active to give a step to: the run waits (explain says why), logged once."""
        e, run = self.e, ctx.run
        what = step.assignee.describe() if step.name != "rework" else "the initiator"
        lang = e.wf.settings.language
        e.store.update_run(run, current_step=f"{step.text(lang)}: nobody to assign ({what})"[:255])
        e.wf.decisions.record(
            run.module,
            run.record_id,
            key=notice_key("stuck", run.id, str(seq)),
            actor_id="",
            flow=run.route,
            transition=step.name,
            decision="no assignee",
            comment=f"{what} names no active user; set plugins.routing.fallback_assignee "
            "or fix the assignee, then the next change of the record continues",
        )
        log.warning("routing: run %s: step %s has nobody to assign (%s)", run.id, step.name, what)

    # --- automatic assignment -------------------------------------------------------------------

    def load(self, user_id: str) -> int:
        """How many open route steps a user has (an assign step picks the least loaded)."""
        return self.e.crm.count(
            self.e.s.steps_module, all_of(Cond("status", "eq", OPEN), Cond("assigned_user_id", "eq", user_id))
        )

    def assign(self, ctx: _Moving, step: Step, seq: int, previous_actor: str) -> bool:
        """An assign step: the first matching assignee's least loaded user gets the record, at once."""
        e, run = self.e, ctx.run
        rid = step_record_id(run.id, seq, 0, "assign")
        have = e.store.step(rid)
        if have is not None:
            chosen = e.wf.access.user(have.assignee_id)
        else:
            users = self.candidates(ctx, step, previous_actor) or self.fallback(ctx, previous_actor)
            if not users:
                self.stuck(ctx, step, seq)
                return False
            chosen = min(users, key=lambda u: (self.load(u.id), u.display.casefold(), u.id))
        values = {step.assign.field: chosen.id, **step.assign.set}
        e.set_values(run.module, run.record_id, values)
        ctx.update(values)
        if have is None:
            lang = e.wf.settings.language
            name = e.record_name(run.module, ctx.facts.after, run.record_id)
            rec = StepRec(
                id=rid,
                run_id=run.id,
                route=run.route,
                step=step.name,
                seq=seq,
                seat=0,
                assignee_id=chosen.id,
                module=run.module,
                record_id=run.record_id,
                record_name=name,
                kind="assign",
                mode="single",
                completion="all",
                status=DECIDED,
                decision="assigned",
                decided_at=e.now(),
                name=f"{step.text(lang)}: {name}",
                comment=f"{step.assignee.describe()} → {chosen.display}"[:255],
            )
            rec, created = e.store.create_step(rec)
            if created:
                self.inherit_groups(e.s.steps_module, rec.id, run.module, run.record_id)
        e.wf.decisions.record(
            run.module,
            run.record_id,
            key=notice_key("decision", rid),
            actor_id="",
            flow=run.route,
            transition=step.name,
            from_status=step.name,
            decision="assigned",
            comment=f"{step.assign.field} = {chosen.display}",
        )
        return True


__all__ = ["Activator"]
