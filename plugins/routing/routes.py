"""The route format: what a route is, checked when the configuration is loaded (file and line on errors).

A route (YAML, under ``plugins.routing.routes`` or in a file of ``plugins.routing.route_files``)::

    name: discount_approval            # identifier; unique
    label: {en_us: Discount approval, ru_ru: Согласование скидки}
    module: Opportunities
    on: [created, updated]             # the event kinds that may start it
    when: {field: rt_discount_c, gt: 10}          # the trigger, in the core condition language
    once_per: [rt_discount_c]          # one run per value of these (default: the fields `when` reads)
    cancel_when: {field: rt_discount_c, lte: 10}  # a running run stops when this holds
    initiator: {field: assigned_user_id}          # who gets returned work (default: who made the change)
    steps: [...]                       # ordered; see Step
    veto: {fields: [sales_stage], when: {field: rt_discount_c, gt: 10}}   # refused until approved
    on_approved: {set: {approval_status: Approved}}
    on_rejected: {set: {approval_status: Not Approved}}

The domain (how runs move) is in engine.py; this module only describes and checks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from plugins.routing.predicates import PREDICATES
from suitecrm_ext.workflow import ALWAYS, AssigneeSpec, Condition, condition_type, parse_duration

Cond = condition_type(predicates=PREDICATES)

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_MODULE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,49}$")

#: decisions a person may set on an approval step, and on the initiator's rework step
APPROVAL_DECISIONS = ("approve", "reject", "return_previous", "return_initiator")
REWORK_DECISIONS = ("resubmit", "withdraw")
#: what the sidecar writes when a task step completes or an assign step chose someone
SYSTEM_DECISIONS = ("done", "assigned")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _label(v: Any) -> Any:
    if isinstance(v, str):
        return {"en_us": v, "ru_ru": v}
    if isinstance(v, Mapping):
        bad = [k for k in v if k not in ("en_us", "ru_ru")]
        if bad or not v:
            raise ValueError("a label is a text or {en_us: ..., ru_ru: ...}")
        en = str(v.get("en_us") or v.get("ru_ru"))
        return {"en_us": en, "ru_ru": str(v.get("ru_ru") or en)}
    raise ValueError("a label is a text or {en_us: ..., ru_ru: ...}")


class Duration(_Strict):
    """An amount of working time: ``"4h"``, ``"2d"``, ``{hours: 4}`` or ``{days: 2}``."""

    unit: Literal["hours", "days"]
    amount: float

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and set(data) == {"unit", "amount"}:
            return data
        unit, amount = parse_duration(data)
        return {"unit": unit, "amount": amount}

    def text(self) -> str:
        """``4h`` / ``2d``."""
        n = int(self.amount) if self.amount == int(self.amount) else self.amount
        return f"{n}{self.unit[0]}"


class DeadlineRule(_Strict):
    """``{in: 4h, from: step, when: COND}``: the deadline of a step, when ``when`` holds."""

    in_: Duration = Field(alias="in")
    from_: Literal["step", "run"] = Field("step", alias="from")
    when: Cond = ALWAYS  # type: ignore[valid-type]


def _deadlines(v: Any) -> Any:
    """A duration, one rule or a list of rules (the first whose ``when`` holds) → a list of rules."""
    if v is None:
        return []
    if isinstance(v, (str, int, float)) or (isinstance(v, Mapping) and set(v) <= {"hours", "days"}):
        return [{"in": v}]
    if isinstance(v, Mapping):
        return [v]
    return v


class AssigneeChoice(_Strict):
    """``{when: COND, to: ASSIGNEE}``: one rule of a ``first_match`` list."""

    when: Cond = ALWAYS  # type: ignore[valid-type]
    to: list[AssigneeSpec]

    @field_validator("to", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, Mapping) else v


class Assignee(_Strict):
    """Who a step goes to: one assignee spec (core: user, role, group, field, manager_of, previous_actor),
    a list of them (everyone they name, in that order), or ``{first_match: [{when, to}, ...]}``."""

    specs: list[AssigneeSpec] = Field(default_factory=list)
    first_match: list[AssigneeChoice] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "first_match" in data:
            if set(data) != {"first_match"}:
                raise ValueError("first_match stands alone: {first_match: [{when: ..., to: ...}, ...]}")
            return data
        if isinstance(data, Mapping) and "specs" in data:
            return data
        return {"specs": [data] if isinstance(data, Mapping) else data}

    @model_validator(mode="after")
    def _something(self) -> Assignee:
        if not self.specs and not self.first_match:
            raise ValueError("an assignee names at least one user, role, group, field or manager")
        return self

    def describe(self) -> str:
        """The assignee in words."""
        if self.specs:
            return " + ".join(s.describe() for s in self.specs)
        return "; ".join(
            f"{'if ' + c.when.text + ': ' if c.when is not ALWAYS else 'else: '}"
            + " + ".join(s.describe() for s in c.to)
            for c in self.first_match
        )


class Escalation(_Strict):
    """At the breach of a step's deadline: ``to`` the assignee's ``manager``, the ``next_role`` of the role
    hierarchy, or any assignee spec; the new assignee gets ``deadline`` (default: the step's) and the
    breach may repeat up to ``max_levels`` times."""

    to: Literal["manager", "next_role"] | AssigneeSpec = "manager"
    deadline: Duration | None = None
    max_levels: int = Field(1, ge=1, le=10)
    notify_previous: bool = True

    def describe(self) -> str:
        """The escalation target in words."""
        if isinstance(self.to, AssigneeSpec):
            return self.to.describe()
        return "the assignee's manager" if self.to == "manager" else "the next higher role"


class CompleteOn(_Strict):
    """A task step completes on a change of a related record: ``module`` (e.g. AOP_Case_Updates), whose
    ``field`` holds the routed record's id, of the ``on`` kinds, when ``when`` holds."""

    module: str
    field: str
    on: list[Literal["created", "updated"]] = Field(default_factory=lambda: ["created"])
    when: Cond = ALWAYS  # type: ignore[valid-type]
    by: str = "created_by"  # the related record's field naming who did it

    @field_validator("module")
    @classmethod
    def _module(cls, v: str) -> str:
        if not _MODULE.match(v):
            raise ValueError(f"{v!r} is not a SuiteCRM module name")
        return v

    @field_validator("field", "by")
    @classmethod
    def _field(cls, v: str) -> str:
        if not _FIELD.match(v):
            raise ValueError(f"{v!r} is not a field name")
        return v


class Completion(_Strict):
    """When a parallel step is complete: ``all``, ``any``, ``{at_least: N}`` or ``{percent: P}``."""

    rule: Literal["all", "any", "at_least", "percent"] = "all"
    n: float = 0

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, data: Any) -> Any:
        if isinstance(data, str):
            if data not in ("all", "any"):
                raise ValueError(f"completion is all, any, {{at_least: N}} or {{percent: P}}, not {data!r}")
            return {"rule": data}
        if isinstance(data, Mapping) and len(data) == 1 and next(iter(data)) in ("at_least", "percent"):
            rule, n = next(iter(data.items()))
            if isinstance(n, bool) or not isinstance(n, (int, float)):
                raise ValueError(f"{rule} needs a number, not {n!r}")
            if rule == "at_least" and (n != int(n) or n < 1):
                raise ValueError("at_least needs a whole number of approvals, 1 or more")
            if rule == "percent" and not 0 < n <= 100:
                raise ValueError("percent needs a share above 0 and up to 100")
            return {"rule": rule, "n": n}
        if isinstance(data, Mapping) and ("rule" in data or not data):
            return data
        raise ValueError(f"completion is all, any, {{at_least: N}} or {{percent: P}}, not {data!r}")

    def text(self) -> str:
        """``all`` / ``any`` / ``at_least:2`` / ``percent:60``, as kept on the step records."""
        if self.rule in ("all", "any"):
            return self.rule
        n = int(self.n) if self.n == int(self.n) else self.n
        return f"{self.rule}:{n}"

    @classmethod
    def from_text(cls, text: str) -> Completion:
        """The inverse of :meth:`text`."""
        if ":" in text:
            rule, n = text.split(":", 1)
            return cls.model_validate({rule: float(n)})
        return cls.model_validate(text or "all")


class AssignAction(_Strict):
    """What an ``assign`` step writes on the routed record: the chosen user into ``field``, plus ``set``."""

    field: str = "assigned_user_id"
    set: dict[str, str | int | float | bool] = Field(default_factory=dict)


class Step(_Strict):
    """One step of a route.

    ``kind``: ``approval`` (people decide: approve, reject, return), ``task`` (done when ``complete_when``
    holds on the routed record or ``complete_on`` sees a related change), ``assign`` (automatic: the first
    matching assignee gets the record, nobody decides). ``mode``: ``single`` (the first decision of any
    assignee decides), ``sequential`` (one after another, all approve), ``parallel`` (all at once,
    ``completion`` decides).
    """

    name: str
    label: Annotated[dict[str, str], Field(default_factory=dict)]
    kind: Literal["approval", "task", "assign"] = "approval"
    assignee: Assignee
    mode: Literal["single", "sequential", "parallel"] = "single"
    completion: Completion = Field(default_factory=Completion)
    when: Cond = ALWAYS  # type: ignore[valid-type]
    deadline: list[DeadlineRule] = Field(default_factory=list)
    remind_before: Duration | None = None
    escalate: Escalation | None = None
    decisions: tuple[str, ...] = APPROVAL_DECISIONS
    comment_required: tuple[str, ...] = ("reject", "return_previous", "return_initiator")
    complete_when: Cond | None = None  # type: ignore[valid-type]
    complete_on: CompleteOn | None = None
    assign: AssignAction = Field(default_factory=AssignAction)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(
                f"{v!r}: a step name is letters, digits and _ (up to 64), starting with a letter"
            )
        return v

    @field_validator("label", mode="before")
    @classmethod
    def _label(cls, v: Any) -> Any:
        return _label(v)

    @field_validator("deadline", mode="before")
    @classmethod
    def _deadline(cls, v: Any) -> Any:
        return _deadlines(v)

    @field_validator("decisions", "comment_required", mode="before")
    @classmethod
    def _tuple(cls, v: Any) -> Any:
        return (v,) if isinstance(v, str) else v

    @model_validator(mode="before")
    @classmethod
    def _infer_kind(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "kind" not in data:
            if "complete_when" in data or "complete_on" in data:
                data = {**data, "kind": "task"}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Step:
        if not self.label:
            object.__setattr__(self, "label", {"en_us": self.name, "ru_ru": self.name})
        if self.mode != "parallel" and self.completion.rule != "all":
            raise ValueError(f"completion goes with mode: parallel (this step is {self.mode})")
        if self.kind == "approval":
            bad = [d for d in self.decisions if d not in APPROVAL_DECISIONS]
            if bad:
                raise ValueError(f"decisions: {bad[0]!r} is not one of {', '.join(APPROVAL_DECISIONS)}")
            if "approve" not in self.decisions:
                raise ValueError("decisions: an approval step needs approve")
            if self.complete_when is not None or self.complete_on is not None:
                raise ValueError("complete_when / complete_on make a task step (kind: task)")
        elif self.kind == "task":
            if self.complete_when is None and self.complete_on is None:
                raise ValueError(
                    "a task step needs complete_when (on the record) or complete_on (a related change)"
                )
            if self.mode != "single":
                raise ValueError("a task step is single: whoever does it completes it")
        else:  # assign
            if self.mode != "single":
                raise ValueError("an assign step picks one user; mode is single")
            if self.deadline or self.escalate or self.remind_before:
                raise ValueError("an assign step completes at once: no deadline, reminder or escalation")
        if (self.escalate or self.remind_before) and not self.deadline:
            raise ValueError("a reminder or an escalation needs a deadline")
        bad = [d for d in self.comment_required if d not in APPROVAL_DECISIONS + REWORK_DECISIONS]
        if bad:
            raise ValueError(f"comment_required: {bad[0]!r} is not a decision")
        return self

    def text(self, lang: str = "en_us") -> str:
        """The step's label."""
        return self.label.get(lang) or self.label.get("en_us") or self.name


class SetAction(_Strict):
    """``{set: {field: value, ...}}``: values written on the routed record when a run ends."""

    set: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @field_validator("set")
    @classmethod
    def _fields(cls, v: dict[str, Any]) -> dict[str, Any]:
        for k in v:
            if not _FIELD.match(k):
                raise ValueError(f"{k!r} is not a field name")
        return v


class Veto(_Strict):
    """Changes of ``fields`` on the routed record are refused (before save) while ``when`` holds and the
    route has no approved run for the record's current values."""

    fields: list[str] = Field(min_length=1)
    when: Cond = ALWAYS  # type: ignore[valid-type]
    message: str | None = Field(None, max_length=500)

    @field_validator("fields")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        for f in v:
            if not _FIELD.match(f):
                raise ValueError(f"{f!r} is not a field name")
        return v


class Rework(_Strict):
    """The initiator's step after a return: its deadline (none by default)."""

    deadline: Duration | None = None
    label: Annotated[dict[str, str], Field(default_factory=lambda: {"en_us": "Rework", "ru_ru": "Доработка"})]

    @field_validator("label", mode="before")
    @classmethod
    def _label(cls, v: Any) -> Any:
        return _label(v)


class Route(_Strict):
    """One route (see the module docstring)."""

    name: str
    label: Annotated[dict[str, str], Field(default_factory=dict)]
    module: str
    on: list[Literal["created", "updated"]] = Field(default_factory=lambda: ["created", "updated"])
    when: Cond = ALWAYS  # type: ignore[valid-type]
    once_per: list[str] | None = None
    cancel_when: Cond | None = None  # type: ignore[valid-type]
    initiator: AssigneeSpec | None = None
    steps: list[Step] = Field(min_length=1, max_length=50)
    veto: Veto | None = None
    on_approved: SetAction | None = None
    on_rejected: SetAction | None = None
    rework: Rework = Field(default_factory=Rework)
    role_hierarchy: list[str] | None = None
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(
                f"{v!r}: a route name is letters, digits and _ (up to 64), starting with a letter"
            )
        return v

    @field_validator("module")
    @classmethod
    def _module(cls, v: str) -> str:
        if not _MODULE.match(v):
            raise ValueError(f"{v!r} is not a SuiteCRM module name")
        return v

    @field_validator("label", mode="before")
    @classmethod
    def _label(cls, v: Any) -> Any:
        return _label(v)

    @field_validator("once_per")
    @classmethod
    def _once_per(cls, v: list[str] | None) -> list[str] | None:
        for f in v or []:
            if not _FIELD.match(f):
                raise ValueError(f"{f!r} is not a field name")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Route:
        if not self.label:
            object.__setattr__(self, "label", {"en_us": self.name, "ru_ru": self.name})
        seen: set[str] = set()
        for step in self.steps:
            if step.name in seen:
                raise ValueError(f"two steps are named {step.name!r}")
            seen.add(step.name)
            if step.name == "rework":
                raise ValueError("'rework' is the initiator's step after a return; name the step otherwise")
        if self.steps[0].kind == "approval" and "return_previous" in self.steps[0].decisions:
            pass  # allowed: on the first step it returns to the initiator (docs/plugins/routing.md)
        return self

    def text(self, lang: str = "en_us") -> str:
        """The route's label."""
        return self.label.get(lang) or self.label.get("en_us") or self.name

    def step(self, name: str) -> Step | None:
        """The step of this name."""
        return next((s for s in self.steps if s.name == name), None)

    def index(self, name: str) -> int:
        """The position of a step (-1 for rework or unknown)."""
        return next((i for i, s in enumerate(self.steps) if s.name == name), -1)

    def identity_fields(self) -> list[str]:
        """The fields whose values identify a run (``once_per``, else what ``when`` reads)."""
        return list(self._identity)

    @cached_property
    def _identity(self) -> tuple[str, ...]:
        if self.once_per is not None:
            return tuple(self.once_per)
        return tuple(sorted(condition_fields(self.when)))

    @cached_property
    def read_fields(self) -> frozenset[str]:
        """The routed module's fields the route reads or writes (computed once)."""
        return frozenset(_route_fields(self))

    def uses_next_role(self) -> bool:
        """Whether an escalation of this route climbs the role hierarchy."""
        return any(s.escalate is not None and s.escalate.to == "next_role" for s in self.steps)


class RouteFile(_Strict):
    """A file of routes (``config/routes/*.yaml``): ``routes: [...]``."""

    routes: list[Route] = Field(default_factory=list)


def condition_fields(cond: Condition | None) -> set[str]:
    """Every field a condition reads, including those a ``share`` predicate names."""
    if cond is None:
        return set()
    out = set(cond.fields())

    def walk(data: Any) -> None:
        if isinstance(data, Mapping):
            if "predicate" in data and isinstance(data.get("args"), Mapping):
                for k in ("part", "whole"):
                    v = data["args"].get(k)
                    if isinstance(v, str) and _FIELD.match(v):
                        out.add(v)
            for v in data.values():
                walk(v)
        elif isinstance(data, list):
            for v in data:
                walk(v)

    walk(cond.source)
    return out


def route_fields(route: Route) -> set[str]:
    """The routed module's fields a route reads or writes (for the change feed and record reads)."""
    return set(route.read_fields)


def _route_fields(route: Route) -> set[str]:
    out = condition_fields(route.when) | set(route.identity_fields())
    out |= condition_fields(route.cancel_when)
    if route.veto:
        out |= set(route.veto.fields) | condition_fields(route.veto.when)
    if route.initiator is not None:
        out |= spec_fields(route.initiator)
    for step in route.steps:
        out |= condition_fields(step.when) | condition_fields(step.complete_when)
        for rule in step.deadline:
            out |= condition_fields(rule.when)
        specs = list(step.assignee.specs)
        for choice in step.assignee.first_match:
            out |= condition_fields(choice.when)
            specs += choice.to
        for s in specs:
            out |= spec_fields(s)
    return out


def spec_fields(spec: AssigneeSpec) -> set[str]:
    """The record fields an assignee spec reads."""
    if spec.field:
        return {spec.field}
    if isinstance(spec.manager_of, Mapping):
        return {spec.manager_of["field"]}
    if spec.manager_of == "assignee":
        return {"assigned_user_id"}
    return set()
