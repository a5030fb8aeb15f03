"""The plugin's records in SuiteCRM: route runs (``rt_RouteRuns``) and route steps (``rt_RouteSteps``).

A *run* is one pass of a route over one record (started by a change that matched the trigger): its
status, the values that identify it (``snapshot``), who started it. A *step record* is one assignee's
share of one activation of a step: seat, status, due, decision, who decided and for whom, the step it
was escalated from. SuiteCRM keeps both (schema.yaml); the sidecar keeps nothing a restart needs.

Ids are derived from what the record is (uuid5), so a create repeated after a crash finds the record
instead of making a second one: a run from the route, the record and the change that started it; a step
record from its run, activation, seat and assignee (an escalated one from the step it replaces).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from suitecrm_ext import CRM, Cond, NotFound, Record, all_of

_NS = uuid.UUID("6f1f0e55-6b0e-4a57-9d2c-2b8f3d1c9a71")

RUN_FIELDS = [
    "name",
    "parent_type",
    "parent_id",
    "route",
    "status",
    "snapshot",
    "initiator_id",
    "started_at",
    "finished_at",
    "current_step",
    "trigger_key",
    "assigned_user_id",
]
STEP_FIELDS = [
    "name",
    "parent_type",
    "parent_id",
    "record_name",
    "run_id",
    "route",
    "step",
    "kind",
    "seq",
    "seat",
    "mode",
    "completion",
    "status",
    "decision",
    "comment",
    "decided_by_id",
    "on_behalf_of_id",
    "decided_at",
    "due",
    "remind_at",
    "reminded",
    "escalated_from_id",
    "escalation_level",
    "assigned_user_id",
]

#: run statuses (rt_run_status_list)
RUNNING, APPROVED, REJECTED, WITHDRAWN, CANCELLED = (
    "running",
    "approved",
    "rejected",
    "withdrawn",
    "cancelled",
)
FINAL_RUN = (APPROVED, REJECTED, WITHDRAWN, CANCELLED)
#: step record statuses (rt_step_status_list)
WAITING, OPEN, DECIDED, CLOSED, ESCALATED = "waiting", "open", "decided", "closed", "escalated"


def _uid(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "\x1f".join(parts)))


def run_id(route: str, module: str, record_id: str, trigger_key: str) -> str:
    """The id of the run a change starts (the same change always gives the same run)."""
    return _uid("run", route, module, record_id, trigger_key)


def step_record_id(run: str, seq: int, seat: int, user_id: str) -> str:
    """The id of one assignee's record in an activation of a step."""
    return _uid("step", run, str(seq), str(seat), user_id)


def escalated_record_id(seat_key: str, user_id: str) -> str:
    """The id of the record that takes over a breached seat (``run|seq|seat|level``) for ``user_id``."""
    return _uid("escalated", seat_key, user_id)


def as_datetime(v: Any) -> dt.datetime | None:
    """A SuiteCRM datetime (or its text) as an aware UTC datetime; None when empty or not one."""
    if isinstance(v, dt.datetime):
        return v if v.tzinfo else v.replace(tzinfo=dt.timezone.utc)
    if not v:
        return None
    try:
        p = dt.datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    except ValueError:
        return None
    return p if p.tzinfo else p.replace(tzinfo=dt.timezone.utc)


def _int(v: Any) -> int:
    try:
        return int(v or 0)
    except (TypeError, ValueError):
        return 0


def _s(v: Any) -> str:
    return "" if v is None else str(v)


@dataclass(frozen=True)
class Run:
    """One run of a route over a record."""

    id: str
    route: str
    module: str
    record_id: str
    status: str = RUNNING
    snapshot: dict[str, str] = field(default_factory=dict)
    initiator_id: str = ""
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    current_step: str = ""
    trigger_key: str = ""
    name: str = ""

    @property
    def finished(self) -> bool:
        """Whether the run has ended."""
        return self.status in FINAL_RUN

    @classmethod
    def of(cls, rec: Record) -> Run:
        """A run from its SuiteCRM record."""
        g = rec.get
        try:
            snap = json.loads(g("snapshot") or "{}")
        except ValueError:
            snap = {}
        return cls(
            id=rec.id,
            route=_s(g("route")),
            module=_s(g("parent_type")),
            record_id=_s(g("parent_id")),
            status=_s(g("status")) or RUNNING,
            snapshot=snap if isinstance(snap, dict) else {},
            initiator_id=_s(g("initiator_id")),
            started_at=as_datetime(g("started_at")),
            finished_at=as_datetime(g("finished_at")),
            current_step=_s(g("current_step")),
            trigger_key=_s(g("trigger_key")),
            name=_s(g("name")),
        )

    def values(self) -> dict[str, Any]:
        """The record's values for SuiteCRM."""
        return {
            "name": self.name[:255],
            "parent_type": self.module,
            "parent_id": self.record_id,
            "route": self.route,
            "status": self.status,
            "snapshot": json.dumps(self.snapshot, ensure_ascii=False, sort_keys=True),
            "initiator_id": self.initiator_id,
            "started_at": self.started_at or "",
            "finished_at": self.finished_at or "",
            "current_step": self.current_step[:255],
            "trigger_key": self.trigger_key[:255],
            "assigned_user_id": self.initiator_id,
        }


@dataclass(frozen=True)
class StepRec:
    """One assignee's record in one activation (``seq``) of a step."""

    id: str
    run_id: str
    route: str
    step: str
    seq: int
    seat: int
    assignee_id: str
    module: str = ""
    record_id: str = ""
    record_name: str = ""
    kind: str = "approval"
    mode: str = "single"
    completion: str = "all"
    status: str = OPEN
    decision: str = ""
    comment: str = ""
    decided_by_id: str = ""
    on_behalf_of_id: str = ""
    decided_at: dt.datetime | None = None
    due: dt.datetime | None = None
    remind_at: dt.datetime | None = None
    reminded: bool = False
    escalated_from_id: str = ""
    escalation_level: int = 0
    name: str = ""
    date_modified: dt.datetime | None = None

    @property
    def is_open(self) -> bool:
        """Open for a decision (or, for a task, for its completion)."""
        return self.status == OPEN

    @property
    def counted(self) -> bool:
        """A decision the route has taken into account."""
        return self.status == DECIDED and bool(self.decision)

    @classmethod
    def of(cls, rec: Record) -> StepRec:
        """A step record from SuiteCRM."""
        g = rec.get
        return cls(
            id=rec.id,
            run_id=_s(g("run_id")),
            route=_s(g("route")),
            step=_s(g("step")),
            seq=_int(g("seq")),
            seat=_int(g("seat")),
            assignee_id=_s(g("assigned_user_id")),
            module=_s(g("parent_type")),
            record_id=_s(g("parent_id")),
            record_name=_s(g("record_name")),
            kind=_s(g("kind")) or "approval",
            mode=_s(g("mode")) or "single",
            completion=_s(g("completion")) or "all",
            status=_s(g("status")) or OPEN,
            decision=_s(g("decision")),
            comment=_s(g("comment")),
            decided_by_id=_s(g("decided_by_id")),
            on_behalf_of_id=_s(g("on_behalf_of_id")),
            decided_at=as_datetime(g("decided_at")),
            due=as_datetime(g("due")),
            remind_at=as_datetime(g("remind_at")),
            reminded=bool(g("reminded")) and _s(g("reminded")) not in ("0", "False", "false"),
            escalated_from_id=_s(g("escalated_from_id")),
            escalation_level=_int(g("escalation_level")),
            name=_s(g("name")),
            date_modified=as_datetime(g("date_modified")),
        )

    def values(self) -> dict[str, Any]:
        """The record's values for SuiteCRM."""
        return {
            "name": self.name[:255],
            "parent_type": self.module,
            "parent_id": self.record_id,
            "record_name": self.record_name[:255],
            "run_id": self.run_id,
            "route": self.route,
            "step": self.step,
            "kind": self.kind,
            "seq": self.seq,
            "seat": self.seat,
            "mode": self.mode,
            "completion": self.completion,
            "status": self.status,
            "decision": self.decision,
            "comment": self.comment,
            "decided_by_id": self.decided_by_id,
            "on_behalf_of_id": self.on_behalf_of_id,
            "decided_at": self.decided_at or "",
            "due": self.due or "",
            "remind_at": self.remind_at or "",
            "reminded": self.reminded,
            "escalated_from_id": self.escalated_from_id,
            "escalation_level": self.escalation_level,
            "assigned_user_id": self.assignee_id,
        }

    def but(self, **changes: Any) -> StepRec:
        """A copy with some values changed."""
        return replace(self, **changes)


class RouteStore:
    """Reads and writes runs and step records through the CRM gateway (or a FakeCRM)."""

    def __init__(
        self,
        crm: CRM,
        runs_module: str = "rt_RouteRuns",
        steps_module: str = "rt_RouteSteps",
        links: Mapping[str, str] | None = None,
    ):
        self.crm = crm
        self.runs_module = runs_module
        self.steps_module = steps_module
        self.links = dict(links or {})  # routed module -> link to the steps (subpanel)

    # --- runs ---------------------------------------------------------------------------------

    def run(self, rid: str) -> Run | None:
        """A run by id (None when missing)."""
        try:
            return Run.of(self.crm.get(self.runs_module, rid, RUN_FIELDS))
        except NotFound:
            return None

    def runs_of(self, module: str, record_id: str, route: str | None = None) -> list[Run]:
        """The runs of a record (of one route), oldest first."""
        conds = [Cond("parent_type", "eq", module), Cond("parent_id", "eq", record_id)]
        if route:
            conds.append(Cond("route", "eq", route))
        recs = self.crm.find(self.runs_module, all_of(*conds), RUN_FIELDS, order=["date_entered", "id"])
        return sorted(
            (Run.of(r) for r in recs),
            key=lambda r: (r.started_at or dt.datetime.min.replace(tzinfo=dt.timezone.utc), r.id),
        )

    def running(self, module: str | None = None, routes: Iterable[str] | None = None) -> list[Run]:
        """Runs still running (of a module, of some routes)."""
        conds = [Cond("status", "eq", RUNNING)]
        if module:
            conds.append(Cond("parent_type", "eq", module))
        names = list(routes or [])
        if names:
            conds.append(Cond("route", "in", names))
        return [Run.of(r) for r in self.crm.find(self.runs_module, all_of(*conds), RUN_FIELDS)]

    def create_run(self, run: Run) -> Run:
        """Create a run under its own id unless it exists; returns what SuiteCRM holds."""
        have = self.run(run.id)
        if have is not None:
            return have
        self.crm.create(self.runs_module, run.values(), id=run.id)
        return run

    def update_run(self, run: Run, **values: Any) -> Run:
        """Write some of a run's values."""
        new = replace(run, **values)
        vals = new.values()
        self.crm.save(self.runs_module, {"id": run.id, **{k: vals[k] for k in _run_keys(values)}})
        return new

    # --- steps --------------------------------------------------------------------------------

    def step(self, sid: str) -> StepRec | None:
        """A step record by id (None when missing)."""
        try:
            return StepRec.of(self.crm.get(self.steps_module, sid, [*STEP_FIELDS, "date_modified"]))
        except NotFound:
            return None

    def steps_of(self, run_id: str) -> list[StepRec]:
        """Every step record of a run, by activation, seat, escalation level."""
        recs = self.crm.find(self.steps_module, Cond("run_id", "eq", run_id), STEP_FIELDS)
        return sorted((StepRec.of(r) for r in recs), key=lambda s: (s.seq, s.seat, s.escalation_level, s.id))

    def create_step(self, rec: StepRec) -> tuple[StepRec, bool]:
        """Create a step record under its own id unless it exists; (what SuiteCRM holds, created?)."""
        have = self.step(rec.id)
        if have is not None:
            return have, False
        self.crm.create(self.steps_module, rec.values(), id=rec.id)
        link = self.links.get(rec.module)
        if link:
            self.crm.relate(rec.module, rec.record_id, link, [rec.id])  # twice is harmless
        return rec, True

    def update_step(self, rec: StepRec, **values: Any) -> StepRec:
        """Write some of a step record's values."""
        new = rec.but(**values)
        vals = new.values()
        keys = ["assigned_user_id" if k == "assignee_id" else k for k in values]
        self.crm.save(self.steps_module, {"id": rec.id, **{k: vals[k] for k in keys}})
        return new

    def open_steps(
        self,
        *,
        due_before: dt.datetime | None = None,
        remind_before: dt.datetime | None = None,
        fields: list[str] | None = None,
    ) -> list[StepRec]:
        """Open step records (whose deadline / reminder time has come)."""
        conds = [Cond("status", "eq", OPEN)]
        if due_before is not None:
            conds += [Cond("due", "not_null"), Cond("due", "lte", due_before)]
        if remind_before is not None:
            conds += [
                Cond("remind_at", "not_null"),
                Cond("remind_at", "lte", remind_before),
                Cond("reminded", "eq", False),
            ]
        recs = self.crm.find(self.steps_module, all_of(*conds), fields or STEP_FIELDS, order=["due", "id"])
        return [StepRec.of(r) for r in recs]


def _run_keys(values: Mapping[str, Any]) -> list[str]:
    mapping = {"module": "parent_type", "record_id": "parent_id"}
    return [mapping.get(k, k) for k in values]


def group_by_seq(steps: Iterable[StepRec]) -> dict[int, list[StepRec]]:
    """Step records by activation."""
    out: dict[int, list[StepRec]] = {}
    for s in steps:
        out.setdefault(s.seq, []).append(s)
    return out


def seat_decisions(records: Iterable[StepRec]) -> list[str | None]:
    """Per seat (in order): the decision that counts (the earliest counted one), or None while pending."""
    seats: dict[int, list[StepRec]] = {}
    for r in records:
        seats.setdefault(r.seat, []).append(r)
    out: list[str | None] = []
    for seat in sorted(seats):
        counted = sorted(
            (r for r in seats[seat] if r.counted),
            key=lambda r: (r.decided_at or dt.datetime.max.replace(tzinfo=dt.timezone.utc), r.id),
        )
        out.append(counted[0].decision if counted else None)
    return out
