"""Process definitions: the YAML an admin writes in ``config/processes/*.yaml`` (docs/plugins/bp_scripts.md).

::

    processes:
      - name: order_delivery                 # unique; process instances are named after it
        title: Order delivery
        module: AOS_Invoices                 # the record the process runs on
        trigger:
          on: [updated]                      # created | updated | deleted | schedule
          when: {field: status, to: Paid}    # the core's safe condition language
        steps:
          - name: assemble
            task: {assignee: {role: Logistics}, subject: "Assemble order {{ record.number }}", due: 4h}
          - name: assembled
            wait: {until: {field: bp_assembled_c, eq: true}}
            timeout: 2d                      # working time; then on_timeout: park (default) | skip
          - name: tell_client
            when: {field: billing_contact_id, empty: false}      # else the step is skipped
            send_sms: {to: "{{ fetch('Contacts', record.billing_contact_id).phone_mobile }}",
                       text: "Order {{ record.number }} is on its way"}
            retry: {attempts: 5, backoff: 1m}

A step names one script: ``script: NAME`` with ``settings: {...}``, or the script's name as the key
(``send_sms: {...}``); ``task:`` is ``create_task`` and ``wait:`` is ``wait_for``. Each script validates its
settings; a wrong one is a config error naming the file, the line and the key.

Validation needs to know the scripts (the ``ext_bp_scripts`` hook), the configured SMS providers and
webhooks and, where known, the module's fields: the loader passes them as the pydantic context
(:class:`CheckContext`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError

from suitecrm_ext.workflow import ALWAYS, Condition, condition_type, located_error

from .predicates import PREDICATES
from .templating import TemplateEngine, TemplateProblem, is_template, record_fields

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
_MODULE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,49}$")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_INTERVAL = re.compile(r"^(\d+)(s|m|h|d)$")
#: step keys that stand for a script
ALIASES = {"task": "create_task", "wait": "wait_for"}
STEP_KEYS = {"name", "title", "script", "settings", "when", "timeout", "on_timeout", "retry"}

ConditionT = condition_type(predicates=PREDICATES)


def interval_seconds(text: str) -> float:
    """``"30s"``, ``"5m"``, ``"1h"``, ``"1d"`` → seconds (ValueError otherwise)."""
    m = _INTERVAL.match(str(text).strip())
    if not m:
        raise ValueError(f"an interval is like 30s, 5m, 1h or 1d, not {text!r}")
    n, unit = int(m.group(1)), m.group(2)
    return float(n * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])


@dataclass
class CheckContext:
    """What validating a process file needs (handed over as the pydantic context ``{"bp": ...}``)."""

    scripts: Mapping[str, Any]
    services: Mapping[str, Any] = field(default_factory=dict)
    #: module -> its field names, or None when the module's fields are not known offline
    fields: Callable[[str], set[str] | None] = lambda module: None
    templates: TemplateEngine = field(default_factory=TemplateEngine)


def _ctx(info: ValidationInfo) -> CheckContext | None:
    c = info.context or {}
    return c.get("bp") if isinstance(c, Mapping) else None


class RetryPolicy(BaseModel):
    """How a failing step is retried before it is parked."""

    model_config = ConfigDict(extra="forbid")

    #: attempts in all (the first run included)
    attempts: int = Field(5, ge=1, le=100)
    #: the wait before the 2nd attempt; it doubles each time
    backoff: str = "30s"
    #: the longest wait between attempts
    max_backoff: str = "1h"

    @field_validator("backoff", "max_backoff")
    @classmethod
    def _interval(cls, v: str) -> str:
        interval_seconds(v)
        return v

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failed attempts."""
        base = interval_seconds(self.backoff)
        return min(base * (2 ** max(failures - 1, 0)), interval_seconds(self.max_backoff))


class TriggerDef(BaseModel):
    """When a process starts on a record."""

    model_config = ConfigDict(extra="forbid")

    #: created / updated / deleted (a record change), schedule (a scan every ``every``)
    on: list[Literal["created", "updated", "deleted", "schedule"]] = Field(
        default_factory=lambda: ["created", "updated"], min_length=1
    )
    when: ConditionT = ALWAYS  # type: ignore[valid-type]
    #: schedule: how often the module is scanned
    every: str | None = None
    #: schedule: only records with these field values are scanned (equality, done by SuiteCRM)
    where: dict[str, str | int | bool] = Field(default_factory=dict)
    #: schedule: one instance per record and per value of these fields (e.g. the next invoice date)
    once_per: list[str] = Field(default_factory=list)

    @field_validator("every")
    @classmethod
    def _every(cls, v: str | None) -> str | None:
        if v is not None and interval_seconds(v) < 60:
            raise ValueError("a schedule scan runs at most every minute (every: 1m or more)")
        return v

    @field_validator("where", "once_per")
    @classmethod
    def _names(cls, v: Any) -> Any:
        for name in v:
            if not _FIELD.match(str(name)):
                raise ValueError(f"{name!r} is not a field name")
        return v

    @model_validator(mode="after")
    def _schedule(self) -> TriggerDef:
        if "schedule" in self.on and not self.every:
            raise ValueError("on: schedule needs every: (e.g. 1h)")
        if self.every and "schedule" not in self.on:
            raise ValueError("every: goes with on: [schedule]")
        if (self.where or self.once_per) and "schedule" not in self.on:
            raise ValueError("where: and once_per: go with on: [schedule]")
        return self

    @property
    def kinds(self) -> set[str]:
        """The record-change kinds that start the process."""
        return {k for k in self.on if k in ("created", "updated", "deleted")}


class StepDef(BaseModel):
    """One step: a script with the admin's settings (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    title: str = ""
    script: str
    settings: dict[str, Any] = Field(default_factory=dict)
    #: the step runs only when this holds on the record (else it is skipped)
    when: ConditionT = ALWAYS  # type: ignore[valid-type]
    #: a waiting step (a Task, a condition) gives up after this much working time ("2d", "8h")
    timeout: Any = None
    on_timeout: Literal["park", "skip"] = "park"
    retry: RetryPolicy | None = None

    _parsed: Any = PrivateAttr(default=None)
    _key: str = PrivateAttr(default="settings")

    @model_validator(mode="wrap")
    @classmethod
    def _shorthand(cls, data: Any, handler: Any, info: ValidationInfo) -> StepDef:
        key = "settings"
        if isinstance(data, Mapping) and "script" not in data:
            data = dict(data)
            ctx = _ctx(info)
            known = set(ctx.scripts) if ctx else set()
            named = [k for k in data if k not in STEP_KEYS and (k in ALIASES or k in known)]
            others = [k for k in data if k not in STEP_KEYS]
            if ctx and not named and len(others) == 1 and isinstance(data[others[0]], Mapping):
                raise located_error(
                    (others[0],),
                    f"unknown script {others[0]!r} (scripts: {', '.join(sorted(known))}; "
                    f"or task:, wait:)",
                )
            if len(named) == 1 and "settings" not in data:
                key = named[0]
                data["script"] = ALIASES.get(key, key)
                data["settings"] = data.pop(key) or {}
        step = handler(data)
        step._key = key
        return step

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"{v!r}: a step name is lower-case letters, digits and _ (up to 50)")
        return v

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v: Any) -> Any:
        if v is not None:
            from suitecrm_ext.workflow import parse_duration

            parse_duration(v)
        return v

    @property
    def parsed(self) -> Any:
        """The script's settings model instance."""
        return self._parsed

    @property
    def label(self) -> str:
        """The step's title, else its name."""
        return self.title or self.name


def _walk_strings(value: Any, path: tuple = ()):
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _walk_strings(v, path + (k,))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _walk_strings(v, path + (i,))


def _walk_conditions(model: Any, path: tuple = ()):
    if isinstance(model, Condition):
        yield path, model
    elif isinstance(model, BaseModel):
        for name in type(model).model_fields:
            yield from _walk_conditions(getattr(model, name), path + (name,))
    elif isinstance(model, Mapping):
        for k, v in model.items():
            yield from _walk_conditions(v, path + (k,))
    elif isinstance(model, (list, tuple)):
        for i, v in enumerate(model):
            yield from _walk_conditions(v, path + (i,))


class ProcessDef(BaseModel):
    """A business process: a trigger on a module and ordered steps."""

    model_config = ConfigDict(extra="forbid")

    name: str
    title: str = ""
    description: str = ""
    enabled: bool = True
    module: str
    trigger: TriggerDef = Field(default_factory=TriggerDef)
    #: single: no second instance on a record while one is active; parallel: one per trigger
    concurrency: Literal["single", "parallel"] = "single"
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    steps: list[StepDef] = Field(min_length=1, max_length=100)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"{v!r}: a process name is lower-case letters, digits and _ (up to 50)")
        return v

    @field_validator("module")
    @classmethod
    def _module(cls, v: str) -> str:
        if not _MODULE.match(v):
            raise ValueError(f"{v!r} is not a SuiteCRM module name")
        return v

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> ProcessDef:
        names = [s.name for s in self.steps]
        for i, n in enumerate(names):
            if n in names[:i]:
                raise located_error(("steps", i, "name"), f"two steps are named {n!r}")
        ctx = _ctx(info)
        if ctx is None:
            return self
        known = ctx.fields(self.module)
        self._check_fields(("trigger",), self.trigger, known)
        for field_name in [*self.trigger.where, *self.trigger.once_per]:
            if known is not None and field_name not in known:
                raise located_error(("trigger",), f"unknown field {field_name!r} of {self.module}")
        for i, step in enumerate(self.steps):
            self._check_step(i, step, ctx, known)
        return self

    def _check_fields(self, loc: tuple, model: Any, known: set[str] | None) -> None:
        if known is None:
            return
        for path, cond in _walk_conditions(model):
            unknown = sorted(f for f in cond.fields() if f not in known)
            if unknown:
                raise located_error(loc + path, f"unknown field {unknown[0]!r} of {self.module}")

    def _check_step(self, i: int, step: StepDef, ctx: CheckContext, known: set[str] | None) -> None:
        where = ("steps", i)
        script = ctx.scripts.get(step.script)
        if script is None:
            raise located_error(
                where + ("script",),
                f"unknown script {step.script!r} (scripts: {', '.join(sorted(ctx.scripts)) or 'none'})",
            )
        key = step._key
        try:
            parsed = script.parse(step.settings)
        except PydanticValidationError as exc:
            err = exc.errors()[0]
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            inner = (err.get("ctx") or {}).get("loc")
            if isinstance(inner, tuple):
                loc += inner
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = f"unknown setting of script {step.script}"
            elif err["type"] == "missing":
                msg = f"script {step.script} needs this setting"
            raise located_error(where + (key,) + loc, msg) from None
        except ValueError as exc:
            raise located_error(where + (key,), str(exc)) from None
        for path, text in _walk_strings(step.settings):
            if not is_template(text):
                continue
            try:
                ctx.templates.compile(text)
            except TemplateProblem as exc:
                raise located_error(where + (key,) + path, str(exc)) from None
            if known is not None:
                unknown = sorted(f for f in record_fields(text, ctx.templates.env) if f not in known)
                if unknown:
                    raise located_error(
                        where + (key,) + path, f"unknown field {unknown[0]!r} of {self.module}"
                    )
        self._check_fields(where + ("when",), step.when, known)
        self._check_fields(where + (key,), parsed, known)
        if script.check is not None:
            try:
                script.check(parsed, {"module": self.module, "fields": known, **ctx.services})
            except ValueError as exc:
                loc = getattr(exc, "loc", ())
                raise located_error(where + (key,) + tuple(loc), str(exc)) from None
        step._parsed = parsed

    def step(self, name: str) -> StepDef:
        """A step by name (KeyError when none)."""
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    @property
    def label(self) -> str:
        """The title, else the name."""
        return self.title or self.name


class ProcessFile(BaseModel):
    """One ``config/processes/*.yaml`` file."""

    model_config = ConfigDict(extra="forbid")

    processes: list[ProcessDef] = Field(min_length=1)


class SettingProblem(ValueError):
    """A check of a script's settings failed; ``loc`` names the bad setting below the step's settings."""

    def __init__(self, message: str, *loc: Any):
        super().__init__(message)
        self.loc = loc


__all__ = [
    "ALIASES",
    "CheckContext",
    "ProcessDef",
    "ProcessFile",
    "RetryPolicy",
    "SettingProblem",
    "StepDef",
    "TriggerDef",
    "interval_seconds",
]
