"""Before SuiteCRM saves: who may decide a step, a decision is final, and the routes' vetoes.

Called from the generated ``before_save`` hook through the sidecar's validation endpoint (the message is
what the SuiteCRM user sees), and — with ``polling_only`` — after the fact, where a vetoed change is put
back with a Note (:func:`revert_vetoed`).

On a step record a user sets only the decision and its comment: the assignee, or their deputy in force
(core deputies, kind ``plugins.routing.deputy_kind``), while the step is open, a decision the step offers,
with a comment where the step asks for one; once set it is final. Everything else on step and run records
is the sidecar's (it writes as ``service_user``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plugins.routing.records import APPROVED, DECIDED, REJECTED, RUNNING, StepRec, as_datetime
from plugins.routing.routes import Route
from suitecrm_ext import Event, Record, RecordChange
from suitecrm_ext.workflow import Facts, notice_key

if TYPE_CHECKING:
    from plugins.routing.engine import RouteEngine

#: step record fields only the sidecar writes
PROTECTED = (
    "run_id",
    "route",
    "step",
    "seq",
    "seat",
    "parent_type",
    "parent_id",
    "status",
    "kind",
    "mode",
    "completion",
    "decided_by_id",
    "on_behalf_of_id",
    "escalated_from_id",
    "escalation_level",
    "reminded",
    "due",
    "remind_at",
    "decided_at",
)
_TIMES = ("due", "remind_at", "decided_at")


def _norm(name: str, v: Any) -> str:
    if name in _TIMES:
        p = as_datetime(v)
        return p.strftime("%Y-%m-%d %H:%M:%S") if p else str(v or "")
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    s = str(v).strip()
    if name in ("reminded",):
        return "1" if s.lower() in ("1", "true", "on", "yes") else "0"
    if name in ("seq", "seat", "escalation_level"):
        try:
            return str(int(float(s or 0)))
        except ValueError:
            return s
    return s


def validate(engine: RouteEngine, change: RecordChange) -> str | None:
    """None to allow the change, else the message for the user."""
    s = engine.s
    if change.module == s.steps_module:
        return validate_step(engine, change)
    if change.module == s.runs_module:
        if (change.user_id or "") == engine.service_user_id:
            return None
        return "Route runs are kept by their route (suitecrm-ext routing); they cannot be edited here."
    for route in engine.routes_for(change.module):
        if route.veto is not None:
            message = validate_veto(engine, route, change)
            if message:
                return message
    return None


def validate_step(engine: RouteEngine, change: RecordChange) -> str | None:
    """A change of a step record: only its decision and comment, by the assignee or a deputy, once."""
    actor = change.user_id or ""
    service = actor != "" and actor == engine.service_user_id
    before, after = change.before or {}, change.after or {}

    def get(name: str) -> Any:
        return after[name] if name in after else before.get(name, "")

    if change.is_new:
        return (
            None
            if service
            else (
                "Route steps are opened by their route (suitecrm-ext routing): change the "
                "record so that a route starts instead of creating a step by hand."
            )
        )
    dec_before, dec_after = _norm("decision", before.get("decision")), _norm("decision", get("decision"))
    if service and not (dec_after and dec_after != dec_before and _norm("status", get("status")) != DECIDED):
        return None  # the sidecar's own bookkeeping
    if not service:
        changed = sorted(k for k in PROTECTED if k in after and _norm(k, after[k]) != _norm(k, before.get(k)))
        if changed:
            return (
                f"{', '.join(changed)} of a route step {'is' if len(changed) == 1 else 'are'} kept by its "
                "route; set only the Decision and its Comment."
            )
        if _norm("assigned_user_id", get("assigned_user_id")) != _norm(
            "assigned_user_id", before.get("assigned_user_id")
        ):
            if not engine.wf.access.is_admin(actor):
                return (
                    "Only an administrator may give a route step to someone else; a deputy "
                    "(Deputies module) can act in the assignee's stead."
                )
            if _norm("status", before.get("status")) not in ("open", "waiting"):
                return "Only an open or waiting route step can be given to someone else."
    if dec_after == dec_before:
        if dec_before and _norm("comment", get("comment")) != _norm("comment", before.get("comment")):
            return "A decision is final: its comment cannot be changed after the decision was made."
        return None
    if dec_before:
        return (
            f"A decision is final: this step was already decided ({dec_before.replace('_', ' ')}); it cannot "
            "be changed."
        )
    merged = {**before, **after}
    rec = StepRec.of(Record(change.module, change.record_id or "", merged))
    reason, _ = engine.why_not(rec, actor, dec_after, str(get("comment") or ""))
    if reason:
        return f'Cannot record the decision "{dec_after.replace("_", " ")}": {reason.rstrip(".")}.'
    return None


def field_label(engine: RouteEngine, module: str, name: str) -> str:
    """A field's label for messages (its name when SuiteCRM gives none)."""
    try:
        info = engine.crm.fields(module).get(name)
    except Exception:  # noqa: BLE001 - a label is a nicety
        info = None
    label = (info.label if info else "") or ""
    label = label.strip().rstrip(":").strip()
    return label if label and not label.startswith("LBL_") else name


def route_state(engine: RouteEngine, route: Route, runs: list, snap: dict[str, str]) -> str:
    """Where the route stands for the record's current values, in words."""
    lang = engine.wf.settings.language
    same = [r for r in runs if r.snapshot == snap]
    if not same:
        return "has not approved the record's current values yet (it starts when they are saved)"
    run = same[-1]
    if run.status == RUNNING:
        waiting = [r for r in engine.store.steps_of(run.id) if r.is_open]
        if not waiting:
            return "is in progress"
        step = engine.step_def(route, waiting[0].step)
        names = ", ".join(sorted({engine.user_name(r.assignee_id) for r in waiting}))
        return f"is waiting for {step.text(lang) if step else waiting[0].step} ({names})"
    if run.status == REJECTED:
        return "was rejected"
    return f"was {run.status}"


def validate_veto(engine: RouteEngine, route: Route, change: RecordChange) -> str | None:
    """A change of a vetoed field while the route has not approved the record's current values."""
    veto = route.veto
    assert veto is not None
    if change.is_new or not change.record_id:
        return None
    touched = [f for f in veto.fields if f in change.changed]
    if not touched:
        return None
    facts = Facts.of_change(change)
    if not veto.when.holds(facts):
        return None
    snap = engine.snapshot(route, facts)
    runs = engine.store.runs_of(route.module, change.record_id, route.name)
    if any(r.status == APPROVED and r.snapshot == snap for r in runs):
        return None
    if veto.message:
        return veto.message
    labels = ", ".join(field_label(engine, route.module, f) for f in touched)
    return (
        f"{labels} cannot change yet: {route.text(engine.wf.settings.language)} "
        f"{route_state(engine, route, runs, snap)}."
    )


def revert_vetoed(engine: RouteEngine, route: Route, event: Event, facts: Facts) -> None:
    """``polling_only``: a vetoed change that reached SuiteCRM is put back, with a Note saying why."""
    veto = route.veto
    if veto is None or not event.user_id or event.user_id == engine.service_user_id:
        return
    changed = {
        f: ch for f in veto.fields if (ch := event.changes.get(f)) is not None and ch.before is not None
    }
    if not changed or not veto.when.holds(facts):
        return
    snap = engine.snapshot(route, facts)
    runs = engine.store.runs_of(route.module, event.record_id, route.name)
    if any(r.status == APPROVED and r.snapshot == snap for r in runs):
        return
    current = engine.crm.get(route.module, event.record_id, list(changed))
    reason = route_state(engine, route, runs, snap)
    for f, ch in changed.items():
        if str(current.get(f) or "") != str(ch.after or ""):
            continue  # changed again since; that change is judged by its own event
        engine.notify.note(
            notice_key("veto", event.key, f),
            route.module,
            event.record_id,
            "vetoed",
            field=field_label(engine, route.module, f),
            before=ch.before,
            after=ch.after,
            actor=engine.user_name(event.user_id),
            reason=f"{route.text()} {reason}",
        )
        engine.crm.save(route.module, {"id": event.record_id, f: ch.before})


__all__ = ["PROTECTED", "revert_vetoed", "validate", "validate_step", "validate_veto"]
