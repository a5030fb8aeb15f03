"""The document process rules, pure: which status changes are allowed, and why not.

A :class:`Catalog` holds the action kinds (their outcomes, which are positive) and the processes
(ordered stages, the gate of each stage, minimum action counts), loaded from ``processes.yaml`` and
the plugin's config. :func:`check_transition` answers "may this document go from A to B with these
actions?" with a :class:`Verdict` whose ``reason`` is a sentence for the SuiteCRM user.

Decisions (documented in docs/plugins/collegial_actions.md):

- Up moves go to the next stage, or further when every stage in between has no actions (an empty stage
  is passed through, e.g. a Flexible document without voting actions goes Preparation → Approval).
- Minimum counts are checked when the document leaves Preparation (the plan must be complete before
  the process starts) and again when it leaves or passes the stage of that kind.
- Every process needs at least one acknowledgement action (the seed: acknowledgement is the one action
  mandatory in every process), so Archived is reachable only from Acknowledgement, all acknowledged.
- Back to Preparation (rework) and to Rejected: from any stage. Archived is final. Rejected may only be
  reopened to Preparation.
- An action is performed (its outcome set) only while the document is in that action's stage; actions
  may be added to the current or a later stage, never to a stage already passed (Preparation aside:
  anything may be planned there). Outcomes survive a rework.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

PREPARATION = "Preparation"
ARCHIVED = "Archived"
REJECTED = "Rejected"
#: The shipped statuses, in order (a process may use a subset, or add its own in between).
STATUSES = ("Preparation", "Voting", "Approval", "Signing", "Acknowledgement", "Archived", "Rejected")

DEFAULT_PROCESSES_FILE = Path(__file__).with_name("processes.yaml")


# --- configuration models (validated; errors name the key) -----------------------------------


class KindDef(BaseModel):
    """One action kind: its outcomes and which of them count as positive."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = ""
    outcomes: tuple[str, ...] = Field(min_length=1)
    positive: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _positive_are_outcomes(self) -> KindDef:
        unknown = [p for p in self.positive if p not in self.outcomes]
        if unknown:
            raise ValueError(f"positive outcome(s) {', '.join(unknown)} are not among outcomes "
                             f"({', '.join(self.outcomes)})")
        return self


class StageDef(BaseModel):
    """One stage of a process: a document status, the action kind it collects, and its gate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: str = Field(min_length=1)
    kind: str | None = None
    gate: Literal["positive", "completed"] = "positive"


class ProcessDef(BaseModel):
    """A process: ordered stages (Preparation first, Archived last) and minimum action counts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = ""
    stages: tuple[StageDef, ...] = Field(min_length=2)
    minimum: dict[str, int] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _shape(self) -> ProcessDef:
        statuses = [s.status for s in self.stages]
        if statuses[0] != PREPARATION:
            raise ValueError(f"the first stage must be {PREPARATION}, not {statuses[0]}")
        if statuses[-1] != ARCHIVED:
            raise ValueError(f"the last stage must be {ARCHIVED}, not {statuses[-1]}")
        if REJECTED in statuses:
            raise ValueError(f"{REJECTED} is not a stage (every process may reject); remove it from stages")
        dupes = sorted({s for s in statuses if statuses.count(s) > 1})
        if dupes:
            raise ValueError(f"status listed twice: {', '.join(dupes)}")
        kinds = [s.kind for s in self.stages if s.kind]
        dupes = sorted({k for k in kinds if kinds.count(k) > 1})
        if dupes:
            raise ValueError(f"action kind used by two stages: {', '.join(dupes)}")
        if self.stages[0].kind or self.stages[-1].kind:
            raise ValueError(f"{PREPARATION} and {ARCHIVED} take no actions (remove their kind)")
        for kind, n in self.minimum.items():
            if kind not in kinds:
                raise ValueError(f"minimum: no stage collects {kind!r} actions")
            if n < 0:
                raise ValueError(f"minimum.{kind}: must be 0 or more, not {n}")
        return self


class CatalogDef(BaseModel):
    """The whole processes file: kinds and processes."""

    model_config = ConfigDict(extra="forbid")

    kinds: dict[str, KindDef]
    processes: dict[str, ProcessDef]

    @model_validator(mode="after")
    def _kinds_exist(self) -> CatalogDef:
        for name, proc in self.processes.items():
            for i, stage in enumerate(proc.stages):
                if stage.kind and stage.kind not in self.kinds:
                    raise ValueError(f"processes.{name}.stages[{i}]: unknown action kind {stage.kind!r} "
                                     f"(known: {', '.join(self.kinds)})")
        return self


class CatalogError(ValueError):
    """The processes definition is invalid; the message names the key."""


# --- runtime types -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One collegial action as the rules see it. ``outcome`` is "" while pending."""

    id: str
    kind: str
    assignee_id: str = ""
    assignee_name: str = ""
    outcome: str = ""
    acted_by_id: str = ""

    def who(self) -> str:
        """The assignee as a user reads it (name, else id, else "nobody")."""
        return self.assignee_name or self.assignee_id or "nobody"


@dataclass(frozen=True)
class Verdict:
    """The answer of a rule: allowed, or refused with a reason a user understands."""

    allowed: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Verdict(True)


@dataclass(frozen=True)
class Process:
    """A loaded process, with the kinds it uses."""

    name: str
    label: str
    stages: tuple[StageDef, ...]
    minimum: Mapping[str, int]
    kinds: Mapping[str, KindDef] = field(repr=False)

    @property
    def statuses(self) -> list[str]:
        """The process's statuses in order (without Rejected)."""
        return [s.status for s in self.stages]

    def index(self, status: str) -> int:
        """Position of ``status`` among the stages; -1 when the process has no such status."""
        try:
            return self.statuses.index(status)
        except ValueError:
            return -1

    def stage(self, status: str) -> StageDef | None:
        """The stage of a status, or None."""
        i = self.index(status)
        return self.stages[i] if i >= 0 else None

    def stage_of_kind(self, kind: str) -> StageDef | None:
        """The stage that collects actions of ``kind`` (None when the process has no such stage)."""
        for s in self.stages:
            if s.kind == kind:
                return s
        return None

    @property
    def action_kinds(self) -> list[str]:
        """The action kinds this process uses, in stage order."""
        return [s.kind for s in self.stages if s.kind]

    def is_done(self, action: Action) -> bool:
        """Whether an action lets its stage be left: completed, and positive unless the gate says not."""
        stage = self.stage_of_kind(action.kind)
        kind = self.kinds.get(action.kind)
        if stage is None or kind is None or action.outcome not in kind.outcomes:
            return False
        return stage.gate == "completed" or action.outcome in kind.positive

    def is_positive(self, action: Action) -> bool:
        """Whether an action's outcome is one of its kind's positive outcomes."""
        kind = self.kinds.get(action.kind)
        return bool(kind and action.outcome in kind.positive)


@dataclass(frozen=True)
class Catalog:
    """Action kinds and processes by name."""

    kinds: Mapping[str, KindDef]
    processes: Mapping[str, Process]

    def process(self, name: str) -> Process:
        """A process by name; KeyError names the known ones."""
        try:
            return self.processes[name]
        except KeyError:
            raise KeyError(f"unknown process {name!r} (known: {', '.join(self.processes)})") from None


def load_catalog(data: Mapping[str, Any], extra_processes: Mapping[str, Any] | None = None,
                 where: str = "processes") -> Catalog:
    """Build a Catalog from a parsed processes file plus extra/overriding processes (from config).

    Raises CatalogError naming the key of the first problem(s).
    """
    merged = {"kinds": dict(data.get("kinds") or {}), "processes": dict(data.get("processes") or {})}
    extra = {k: v for k, v in data.items() if k not in ("kinds", "processes")}
    merged.update(extra)  # unknown top-level keys: let the model refuse them by name
    for name, proc in (extra_processes or {}).items():
        merged["processes"][name] = proc.model_dump() if isinstance(proc, BaseModel) else proc
    try:
        cat = CatalogDef.model_validate(merged)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{where}: {loc + ': ' if loc else ''}{msg}")
        raise CatalogError("; ".join(problems)) from None
    processes = {
        name: Process(name, p.label or name, p.stages, dict(p.minimum), cat.kinds)
        for name, p in cat.processes.items()
    }
    return Catalog(dict(cat.kinds), processes)


def load_default_catalog(extra_processes: Mapping[str, Any] | None = None) -> Catalog:
    """The shipped processes (processes.yaml), plus extra ones."""
    data = yaml.safe_load(DEFAULT_PROCESSES_FILE.read_text(encoding="utf-8"))
    return load_catalog(data, extra_processes, where=DEFAULT_PROCESSES_FILE.name)


# --- the rules ---------------------------------------------------------------------------------


def _outcome_text(action: Action) -> str:
    return "pending" if not action.outcome else action.outcome.replace("_", " ")


def _describe(actions: Iterable[Action]) -> str:
    return "; ".join(f"{a.kind} by {a.who()} is {_outcome_text(a)}" for a in actions)


def _plural(n: int, word: str) -> str:
    return f"{n} {word} action" + ("" if n == 1 else "s")


def missing_minimums(
    process: Process, actions: Sequence[Action], kinds: Iterable[str] | None = None
) -> list[str]:
    """Sentences for each kind whose minimum count is not met (only ``kinds`` when given)."""
    wanted = set(kinds) if kinds is not None else None
    out = []
    for kind in process.action_kinds:
        need = process.minimum.get(kind, 0)
        if need <= 0 or (wanted is not None and kind not in wanted):
            continue
        have = sum(1 for a in actions if a.kind == kind)
        if have < need:
            out.append(f"the {process.label} process needs at least {_plural(need, kind)} "
                       f"(the document has {have})")
    return out


def stage_blockers(process: Process, status: str, actions: Sequence[Action]) -> list[Action]:
    """Actions of stage ``status`` not done (pending, or negative where the gate needs positive)."""
    stage = process.stage(status)
    if stage is None or not stage.kind:
        return []
    return [a for a in actions if a.kind == stage.kind and not process.is_done(a)]


def stage_complete(process: Process, status: str, actions: Sequence[Action]) -> bool:
    """Whether the stage ``status`` has every action done and its minimum count met."""
    stage = process.stage(status)
    if stage is None:
        return False
    if not stage.kind:
        return True
    return not stage_blockers(process, status, actions) and not missing_minimums(
        process, actions, [stage.kind])


def check_transition(process: Process, current: str, target: str, actions: Sequence[Action]) -> Verdict:
    """May a document of ``process`` in status ``current`` with ``actions`` change to ``target``?"""
    current = current or PREPARATION
    if target == current:
        return ALLOWED
    statuses = process.statuses
    if target != REJECTED and target not in statuses:
        return Verdict(False, f"The {process.label} process has no status {target!r}; its statuses are "
                              f"{', '.join(statuses)} and {REJECTED}.")
    if current == ARCHIVED:
        return Verdict(False, f"The document is {ARCHIVED}; an archived document cannot change status.")
    if current == REJECTED:
        if target == PREPARATION:
            return ALLOWED
        return Verdict(False, f"The document is {REJECTED}; it can only be reopened to {PREPARATION}.")
    if target in (PREPARATION, REJECTED):
        return ALLOWED
    ci, ti = process.index(current), process.index(target)
    if ci < 0:
        return Verdict(False, f"The document's status {current!r} is not part of the {process.label} "
                              f"process; move it to {PREPARATION} or {REJECTED}.")
    if ti < ci:
        return Verdict(False, f"Cannot move back from {current} to {target}: a document can only go back "
                              f"to {PREPARATION} (rework) or to {REJECTED}.")
    head = f"Cannot move from {current} to {target}"
    passed = process.stages[ci + 1:ti]
    with_actions = [s.status for s in passed if s.kind and any(a.kind == s.kind for a in actions)]
    if with_actions:
        stages = (f"the {with_actions[0]} stage has actions, so the document must go through it"
                  if len(with_actions) == 1 else
                  f"the {', '.join(with_actions)} stages have actions, so the document must go through them")
        return Verdict(False, f"{head}: {stages}; the next status is {statuses[ci + 1]}.")
    leaving = [process.stages[ci], *passed]
    problems: list[str] = []
    blockers = [a for s in leaving for a in stage_blockers(process, s.status, actions)]
    if blockers:
        problems.append(_describe(blockers))
    if ci == 0:
        problems += missing_minimums(process, actions)
    else:
        problems += missing_minimums(process, actions, [s.kind for s in leaving if s.kind])
    if problems:
        return Verdict(False, f"{head}: " + "; ".join(problems) + ".")
    return ALLOWED


def allowed_targets(process: Process, current: str, actions: Sequence[Action]) -> list[str]:
    """Every status the document may change to now (without its current status)."""
    current = current or PREPARATION
    return [t for t in [*process.statuses, REJECTED]
            if t != current and check_transition(process, current, t, actions)]


def next_step(process: Process, current: str, actions: Sequence[Action]) -> tuple[str | None, Verdict]:
    """The next status up from ``current`` and whether it is allowed now (None: there is none)."""
    current = current or PREPARATION
    i = process.index(current)
    if i < 0 or i + 1 >= len(process.stages):
        return None, Verdict(False, f"The document is {current}; there is no next status.")
    target = process.statuses[i + 1]
    return target, check_transition(process, current, target, actions)


def check_add_action(process: Process, status: str, kind: str) -> Verdict:
    """May an action of ``kind`` be added to a document of ``process`` in ``status``?"""
    status = status or PREPARATION
    stage = process.stage_of_kind(kind)
    if stage is None:
        known = ", ".join(process.action_kinds)
        return Verdict(False, f"The {process.label} process has no {kind} actions (it uses: {known}).")
    if status in (ARCHIVED, REJECTED):
        return Verdict(False, f"The document is {status}; no actions can be added.")
    ci = process.index(status)
    if ci > 0 and process.index(stage.status) < ci:
        return Verdict(False, f"The document is already past {stage.status} (it is {status}); a {kind} "
                              f"action can only be added after sending the document back to {PREPARATION}.")
    return ALLOWED


def check_act(process: Process, status: str, action: Action, outcome: str) -> Verdict:
    """May ``outcome`` be set on ``action`` while the document is in ``status``? (Who acts: deputies.py.)"""
    status = status or PREPARATION
    kind = process.kinds.get(action.kind)
    stage = process.stage_of_kind(action.kind)
    if kind is None or stage is None:
        return Verdict(False, f"The {process.label} process has no {action.kind} actions.")
    if outcome and outcome not in kind.outcomes:
        return Verdict(False, f"{outcome!r} is not an outcome of a {action.kind} action; choose one of "
                              f"{', '.join(kind.outcomes)}.")
    if status != stage.status:
        return Verdict(False, f"A {action.kind} action can only be performed while the document is in "
                              f"{stage.status}; it is {status}.")
    return ALLOWED
