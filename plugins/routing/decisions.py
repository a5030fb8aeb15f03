"""Decisions on step records: who may decide (deputies included), counting a decision or taking it back
with a Note, completing task steps. Part of :class:`~plugins.routing.engine.RouteEngine` (a mixin: it uses
the engine's store, lock, notify, activator and workflow services)."""

from __future__ import annotations

import datetime as dt

from plugins.routing.basics import REWORK, log
from plugins.routing.records import DECIDED, OPEN, StepRec
from plugins.routing.routes import APPROVAL_DECISIONS, REWORK_DECISIONS
from suitecrm_ext import Event, EventKind
from suitecrm_ext.workflow import notice_key


class DecisionTaking:
    """The engine's decision methods (mixed into RouteEngine)."""

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


__all__ = ["DecisionTaking"]
