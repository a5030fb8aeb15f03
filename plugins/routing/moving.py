"""Moving a run on: evaluate the current activation (quorum.py), open the next one (activation.py) or end
the run with its effects, the decision log and the initiator's notice. Part of
:class:`~plugins.routing.engine.RouteEngine` (a mixin: it uses the engine's store, lock, notify, activator
and workflow services)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from plugins.routing.basics import log, text
from plugins.routing.quorum import Outcome, evaluate
from plugins.routing.records import (
    APPROVED,
    CLOSED,
    OPEN,
    REJECTED,
    RUNNING,
    WAITING,
    WITHDRAWN,
    Run,
    StepRec,
    group_by_seq,
    seat_decisions,
)
from plugins.routing.routes import Completion, Route, Step
from suitecrm_ext.workflow import Facts, notice_key

if TYPE_CHECKING:
    from plugins.routing.engine import RouteEngine

MAX_MOVES = 200  # activations one advance may open (assign and task steps may complete at once)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


class RunMoving:
    """The engine's methods that move runs from step to step and end them (mixed into RouteEngine)."""

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



__all__ = ["MAX_MOVES", "RunMoving"]
