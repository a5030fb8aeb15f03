"""What ``routing explain`` and ``routing steps`` print: where a record stands, which steps are waiting."""

from __future__ import annotations

import datetime as dt

from plugins.routing.engine import REWORK, RouteEngine
from plugins.routing.records import OPEN, WAITING, StepRec, group_by_seq
from plugins.routing.routes import Route
from suitecrm_ext import NotFound
from suitecrm_ext.workflow import ALWAYS, Facts


def _why(cond, facts: Facts) -> str:
    reason = cond.why_not(facts)
    return "holds" if reason is None else f"does not hold: {reason}"


class Explainer:
    """Texts about one engine's routes."""

    def __init__(self, engine: RouteEngine):
        self.e = engine
        self.lang = engine.wf.settings.language

    def when(self, moment: dt.datetime | None) -> str:
        return self.e.notify.when(moment) or "-"

    def left(self, due: dt.datetime | None, now: dt.datetime) -> str:
        """Working time left before a deadline (or past it)."""
        if due is None:
            return "no deadline"
        if due <= now:  # past it even when no working time has passed since (a breach at night)
            return f"overdue by {self.e.wf.calendar.working_hours_between(due, now):.1f} working hours"
        return f"{self.e.wf.calendar.working_hours_between(now, due):.1f} working hours left"

    def may_act(self, rec: StepRec) -> str:
        """Who may decide a step record: the assignee and their deputies in force."""
        deputies = self.e.wf.deputies.deputies_of(rec.assignee_id, self.e.s.deputy_kind, self.e.now().date())
        names = [self.e.user_name(rec.assignee_id)] + [f"{self.e.user_name(d)} (deputy)" for d in deputies]
        return ", ".join(names)

    def explain(self, module: str, record_id: str) -> str:
        """Which routes match the record and why, their runs, open steps, who may act, deadlines."""
        e = self.e
        routes = [r for r in e.routes.values() if r.module == module]
        try:
            values = e.record_values(module, record_id)
        except NotFound:
            return f"No {module} record with id {record_id!r}."
        facts = Facts(values, None, module=module, record_id=record_id)
        lines = [f'{module} {record_id} "{e.record_name(module, values, record_id)}"']
        if not routes:
            known = ", ".join(sorted({r.module for r in e.routes.values()})) or "none"
            lines.append(f"No route is configured for {module} (routed modules: {known}).")
            return "\n".join(lines)
        for route in routes:
            lines += [""] + self.route_lines(route, facts, record_id)
        return "\n".join(lines)

    def route_lines(self, route: Route, facts: Facts, record_id: str) -> list[str]:
        e = self.e
        now = e.now()
        state = "" if route.enabled else " [disabled: starts no new runs]"
        out = [f"Route {route.name} ({route.text(self.lang)}){state}"]
        out.append(f"  Trigger on {', '.join(route.on)}: {route.when.text} — {_why(route.when, facts)}")
        if route.cancel_when is not None:
            out.append(f"  Cancelled when: {route.cancel_when.text} — {_why(route.cancel_when, facts)}")
        snap = e.snapshot(route, facts)
        runs = e.store.runs_of(route.module, record_id, route.name)
        if not runs:
            out.append(
                "  No run yet." + (" The next matching change starts one." if route.when.holds(facts) else "")
            )
        for run in runs[-3:]:
            current = " (current values)" if run.snapshot == snap else ""
            ident = ", ".join(f"{k}={v}" for k, v in run.snapshot.items()) or "-"
            out.append(
                f"  Run {run.id}: {run.status}{current}, started {self.when(run.started_at)} by "
                f"{e.user_name(run.initiator_id)}; {ident}"
                + (f"; ended {self.when(run.finished_at)}" if run.finished_at else "")
            )
            out += self.run_lines(route, run, facts, now)
        if len(runs) > 3:
            out.append(f"  ({len(runs) - 3} older run(s) not shown)")
        if route.veto is not None:
            approved = any(r.status == "approved" and r.snapshot == snap for r in runs)
            applies = route.veto.when.holds(facts)
            verdict = (
                "allowed now (approved for the current values)"
                if approved
                else "not vetoed now (" + _why(route.veto.when, facts) + ")"
                if not applies
                else "refused now"
            )
            out.append(f"  Veto: changes of {', '.join(route.veto.fields)} until approved — {verdict}")
        return out

    def run_lines(self, route: Route, run, facts: Facts, now: dt.datetime) -> list[str]:
        e = self.e
        groups = group_by_seq(e.store.steps_of(run.id))
        out = []
        for seq in sorted(groups):
            recs = groups[seq]
            step = e.step_def(route, recs[0].step)
            label = step.text(self.lang) if step else recs[0].step
            rule = recs[0].completion if recs[0].mode == "parallel" else ""
            out.append(f'    {seq}. {recs[0].step} "{label}" ({recs[0].mode}{": " + rule if rule else ""})')
            for r in recs:
                who = e.user_name(r.assignee_id)
                bits = [r.status]
                if r.decision:
                    by = e.user_name(r.decided_by_id) if r.decided_by_id else "the system"
                    behalf = f" for {e.user_name(r.on_behalf_of_id)}" if r.on_behalf_of_id else ""
                    bits.append(f"{r.decision} by {by}{behalf} {self.when(r.decided_at)}")
                    if r.comment:
                        bits.append(f'"{r.comment}"')
                if r.escalated_from_id:
                    bits.append(f"escalated (level {r.escalation_level})")
                if r.status in (OPEN, WAITING) and r.due:
                    bits.append(f"due {self.when(r.due)}, {self.left(r.due, now)}")
                if r.status == OPEN and r.kind == "approval":
                    bits.append(f"may decide: {self.may_act(r)}")
                out.append(f"       seat {r.seat + 1} {who}: " + "; ".join(bits))
        if not run.finished:
            done = {groups[s][0].step for s in groups}
            last = groups[max(groups)][0].step if groups else ""
            start = route.index(last) if last and last != REWORK else -1
            for step in route.steps[start + 1 :]:
                if step.name in done and step.name != last:
                    continue
                cond = "" if step.when is ALWAYS else f" when {step.when.text}: {_why(step.when, facts)}"
                out.append(
                    f'    next: {step.name} "{step.text(self.lang)}" → {step.assignee.describe()}{cond}'
                )
            if run.current_step and "nobody to assign" in run.current_step:
                out.append(f"    waiting: {run.current_step}")
        return out

    def steps(self, *, overdue: bool = False, route: str | None = None, limit: int = 200) -> str:
        """Open step records (past their deadline with ``overdue``), soonest due first."""
        e = self.e
        now = e.now()
        recs = e.store.open_steps(due_before=now) if overdue else e.store.open_steps()
        if route:
            recs = [r for r in recs if r.route == route]
        if not recs:
            return "No overdue steps." if overdue else "No open steps."
        rows = [("due", "left", "route", "step", "record", "assignee", "level")]
        for r in recs[:limit]:
            rows.append(
                (
                    self.when(r.due),
                    self.left(r.due, now),
                    r.route,
                    r.step,
                    f"{r.module} {r.record_name or r.record_id}"[:40],
                    e.user_name(r.assignee_id),
                    str(r.escalation_level),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
        if len(recs) > limit:
            lines.append(f"... and {len(recs) - limit} more")
        return "\n".join(lines)
