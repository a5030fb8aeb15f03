"""Process instances ("runs"): kept in the state store (where the engine resumes from) and mirrored to
SuiteCRM (the ``bp_Runs`` module, in the record's "Processes" subpanel).

State keys (namespaces of the state store's key/value part):

``bp_scripts.runs``    run id → the run (JSON)
``bp_scripts.record``  ``<module>:<record id>:<run id>`` → process name (a record's runs)
``bp_scripts.active``  run id → when to look at it next (epoch seconds; 0 = now)
``bp_scripts.watch``   ``<module>:<record id>:<run id>`` → step name (records a waiting step watches)

A run's id is derived from what started it (process, record, trigger key), so starting it twice (a
re-delivered event, two workers) finds the same run; it is also the id of its ``bp_Runs`` record.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

NS_RUNS = "bp_scripts.runs"
NS_RECORD = "bp_scripts.record"
NS_ACTIVE = "bp_scripts.active"
NS_WATCH = "bp_scripts.watch"
NS_MEMO = "bp_scripts.memo"

_NAMESPACE = uuid.UUID("9d2f64b1-3e8a-4c57-b0d9-71a6c2e5f834")

#: a run is active (the engine moves it on) in these statuses
ACTIVE = ("running", "waiting", "retry")
#: a run of one script on one record (``bp run SCRIPT --record``) is this pseudo-process
ADHOC = "adhoc"
FINAL = ("done", "cancelled")
STEP_DONE = ("done", "skipped")


def run_id_for(process: str, module: str, record_id: str, trigger_key: str) -> str:
    """The run id for a process started on a record by a trigger (a SuiteCRM-style id)."""
    return str(uuid.uuid5(_NAMESPACE, f"{process}|{module}|{record_id}|{trigger_key}"))


@dataclass
class StepState:
    """Where one step of a run is."""

    name: str
    status: str = "pending"  # pending | running | waiting | retry | done | skipped | parked
    runs: int = 0
    failures: int = 0
    summary: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    started: float | None = None
    finished: float | None = None
    waiting_since: float | None = None
    next_at: float | None = None
    watch: list[list[str]] = field(default_factory=list)
    replayed: bool = False


@dataclass
class Run:
    """One process instance on one record."""

    id: str
    process: str
    module: str
    record_id: str
    trigger: str
    status: str = "running"  # running | waiting | retry | parked | done | cancelled
    step: int = 0
    steps: list[StepState] = field(default_factory=list)
    created: float = 0.0
    updated: float = 0.0
    error: str = ""
    title: str = ""
    #: a run of one script on one record (``bp run``): {"script": name, "settings": {...}}
    adhoc: dict[str, Any] | None = None
    #: its bp_Runs record is related to the record (the "Processes" subpanel); retried until it is
    linked: bool = False

    @property
    def active(self) -> bool:
        """Whether the engine still moves it on."""
        return self.status in ACTIVE

    @property
    def current(self) -> StepState | None:
        """The step it is at (None when past the last)."""
        return self.steps[self.step] if 0 <= self.step < len(self.steps) else None

    def to_json(self) -> dict[str, Any]:
        """The run as stored."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Run:
        """A stored run."""
        steps = [StepState(**s) for s in data.get("steps") or []]
        return cls(**{**data, "steps": steps})

    def log_lines(self) -> list[str]:
        """One line per step, for the SuiteCRM record and ``bp status``."""
        out = []
        for i, s in enumerate(self.steps, 1):
            line = f"{i}. {s.name}: {s.status}"
            if s.summary:
                line += f" - {s.summary}"
            if s.error and s.status in ("parked", "retry"):
                line += f" ({s.error})"
            if s.finished:
                line += f" [{_stamp(s.finished)}]"
            out.append(line)
        return out


def _stamp(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


class RunStore:
    """Runs in the state store (see the module docstring for the keys)."""

    def __init__(self, state: Any):
        self.state = state

    def get(self, run_id: str) -> Run | None:
        """A run by id."""
        data = self.state.kv_get(NS_RUNS, run_id)
        return Run.from_json(data) if data else None

    def add(self, run: Run) -> bool:
        """Store a new run unless one with its id exists; True when this call stored it."""
        if not self.state.kv_add(NS_RUNS, run.id, run.to_json()):
            return False
        self.state.kv_set(NS_RECORD, f"{run.module}:{run.record_id}:{run.id}", run.process)
        self.state.kv_set(NS_ACTIVE, run.id, 0)
        return True

    def save(self, run: Run, next_at: float | None = None) -> None:
        """Store the run's new state; keep it in (or take it out of) the active index."""
        self.state.kv_set(NS_RUNS, run.id, run.to_json())
        if run.active:
            self.state.kv_set(NS_ACTIVE, run.id, next_at or 0)
        else:
            self.state.kv_delete(NS_ACTIVE, run.id)

    def of_record(self, module: str, record_id: str) -> list[Run]:
        """A record's runs, oldest first."""
        keys = self.state.kv_keys(NS_RECORD, prefix=f"{module}:{record_id}:")
        runs = [self.get(k.rsplit(":", 1)[1]) for k in keys]
        return sorted((r for r in runs if r is not None), key=lambda r: (r.created, r.id))

    def active(self, limit: int = 10000) -> dict[str, float]:
        """Active run ids → when they are due (up to ``limit``, by id)."""
        keys = self.state.kv_keys(NS_ACTIVE, prefix="", limit=limit)
        return {k: float(v or 0) for k, v in self.state.kv_get_many(NS_ACTIVE, keys).items()}

    def watch(self, run: Run, step: StepState, pairs: list[tuple[str, str]]) -> None:
        """Index the records a waiting step watches (and forget the ones it no longer does)."""
        old = {tuple(p) for p in step.watch}
        new = {tuple(p) for p in pairs}
        for m, i in old - new:
            self.state.kv_delete(NS_WATCH, f"{m}:{i}:{run.id}")
        if new - old:
            self.state.kv_set_many(NS_WATCH, {f"{m}:{i}:{run.id}": step.name for m, i in new - old})
        step.watch = [list(p) for p in sorted(new)]

    def watchers(self, module: str, record_id: str) -> list[str]:
        """Ids of runs with a step waiting on this record."""
        return [k.rsplit(":", 1)[1] for k in self.state.kv_keys(NS_WATCH, prefix=f"{module}:{record_id}:")]


__all__ = ["ACTIVE", "ADHOC", "FINAL", "NS_MEMO", "Run", "RunStore", "STEP_DONE", "StepState", "run_id_for"]
