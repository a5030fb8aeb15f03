"""Effects on entering a status: what a state machine's ``on_enter`` asks for, run idempotently.

Built-in effects (``{effect: NAME, args: {...}}`` in ``on_enter``):

``notify``
    A Task and/or an e-mail to each user an assignee spec names (assignees.py)::

        {effect: notify, args: {to: {role: Security officer, in_record_groups: true},
                                template: review_needed, task: true, email: true, due: 8h}}

    ``template`` names a template of the :class:`~suitecrm_ext.workflow.notices.Templates` given to
    :class:`Effects` (rendered with ``record``, ``user``, ``status``, ``actor``, ``url``); without templates,
    ``subject`` and ``body`` texts are used as they are. ``due``: a working-time duration ("8h", "2d",
    {hours: 8}) from now in the business calendar. Without ``to`` nobody is told.
``set``
    Field values on the record: ``{effect: set, args: {fields: {ao_stage_started_c: true}}}``.

Plugins add their own with :meth:`Effects.register` (a name, a function ``fn(ctx, **args)`` and an
optional pydantic model of its arguments). A machine's definition validates effect names and arguments
when the config is loaded: ``machine_model(predicates, effects)`` with an :class:`Effects` registry.

Idempotency: every notice's key is the entering key (e.g. the event key) + the effect's position + the
user; a re-delivered event never makes a second Task or e-mail (notices.py). ``set`` writes the same
values again, which changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from suitecrm_ext.workflow.assignees import AssigneeContext, AssigneeSpec
from suitecrm_ext.workflow.calendar import parse_duration
from suitecrm_ext.workflow.fields import located_error
from suitecrm_ext.workflow.notices import Templates, notice_key


class NotifyArgs(BaseModel):
    """Arguments of the ``notify`` effect."""

    model_config = ConfigDict(extra="forbid")

    to: AssigneeSpec
    template: str | None = None
    subject: str | None = Field(None, max_length=255)
    body: str | None = Field(None, max_length=20000)
    task: bool = True
    email: bool = True
    due: Any = None

    @field_validator("due")
    @classmethod
    def _due(cls, v: Any) -> Any:
        if v is not None:
            parse_duration(v)
        return v

    @model_validator(mode="after")
    def _text(self) -> NotifyArgs:
        if not self.template and not (self.subject and self.body):
            raise ValueError("notify needs a template, or a subject and a body")
        return self


class SetArgs(BaseModel):
    """Arguments of the ``set`` effect."""

    model_config = ConfigDict(extra="forbid")

    fields: dict[str, Any] = Field(min_length=1)

    @field_validator("fields")
    @classmethod
    def _names(cls, v: dict[str, Any]) -> dict[str, Any]:
        import re

        for name, value in v.items():
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", name):
                raise ValueError(f"{name!r} is not a field name")
            if isinstance(value, (dict, list)):
                raise ValueError(f"{name}: a field value is a scalar")
        return v


@dataclass
class EffectContext:
    """The record that entered a status, and why: ``key`` makes every notice idempotent."""

    module: str
    record_id: str
    values: Mapping[str, Any]
    status: str
    key: str
    actor: str = ""
    previous_actor: str = ""
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    url: str = ""


EffectFn = Callable[..., Any]


class Effects:
    """A registry of effects (the built-in ``notify`` and ``set`` plus the plugin's), bound to the
    workflow services ``wf`` (a :class:`~suitecrm_ext.workflow.services.Workflow`) and templates."""

    def __init__(self, wf: Any = None, templates: Templates | None = None):
        self.wf = wf
        self.templates = templates
        self._fns: dict[str, tuple[EffectFn, type[BaseModel] | None]] = {
            "notify": (self._notify, NotifyArgs),
            "set": (self._set, SetArgs),
        }

    def bind(self, wf: Any) -> Effects:
        """The same registry over other workflow services (one per hook call)."""
        other = Effects(wf, self.templates)
        other._fns = dict(self._fns)
        return other

    def register(self, name: str, fn: EffectFn, args: type[BaseModel] | None = None) -> None:
        """Add an effect: ``fn(ctx: EffectContext, **args)``; ``args`` validates its arguments."""
        self._fns[name] = (fn, args)

    def names(self) -> list[str]:
        """The effect names."""
        return sorted(self._fns)

    def check(self, name: str, args: Mapping[str, Any], loc: tuple = ()) -> None:
        """Validate one effect's arguments (a located pydantic error naming the bad argument)."""
        if name not in self._fns:
            raise located_error(
                loc + ("effect",), f"unknown effect {name!r} (known: {', '.join(self.names())})"
            )
        model = self._fns[name][1]
        if model is None:
            return
        try:
            model.model_validate(dict(args))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            raise located_error(loc + ("args",) + where, err["msg"].removeprefix("Value error, ")) from None
        if name == "notify" and self.templates is not None and args.get("template"):
            if not self.templates.has(str(args["template"])):
                raise located_error(
                    loc + ("args", "template"),
                    f"no template {args['template']!r} (templates: "
                    f"{', '.join(self.templates.names) or 'none'})",
                )

    def run(self, effects: Sequence[Any], ctx: EffectContext) -> list[str]:
        """Run effects (EffectDef or {effect, args}) in order; returns a line per thing done."""
        done: list[str] = []
        for i, e in enumerate(effects):
            name = e.effect if hasattr(e, "effect") else e["effect"]
            args = dict(e.args if hasattr(e, "args") else e.get("args") or {})
            fn, model = self._fns[name]
            parsed = model.model_validate(args) if model is not None else None
            sub = EffectContext(**{**ctx.__dict__, "key": f"{ctx.key}:{i}:{name}"})
            result = fn(sub, parsed) if parsed is not None else fn(sub, **args)
            done.extend(result or [])
        return done

    # --- built-ins -------------------------------------------------------------------------

    def _notify(self, ctx: EffectContext, a: NotifyArgs) -> list[str]:
        wf = self.wf
        users = wf.assignees.resolve(
            a.to, AssigneeContext(ctx.module, ctx.record_id, ctx.values, ctx.previous_actor)
        )
        due = None
        if a.due is not None:
            unit, n = parse_duration(a.due)
            due = wf.calendar.deadline(ctx.now, **{unit: int(n) if unit == "days" else n})
        actor = wf.access.user(ctx.actor).display if ctx.actor else ""

        def texts(user):
            if a.template:
                if self.templates is None:
                    raise ValueError(f"effect notify: template {a.template!r} but no templates were given")
                r = self.templates.render(
                    a.template,
                    wf.settings.language,
                    record=dict(ctx.values),
                    user={"name": user.display, "user_name": user.user_name, "email": user.email},
                    status=ctx.status,
                    actor=actor,
                    url=ctx.url,
                )
                return r.subject, r.body
            return a.subject or "", a.body or ""

        out = []
        for user in users:
            subject, body = texts(user)
            from suitecrm_ext.workflow.notices import Notice

            wf.notices.deliver(
                Notice(
                    notice_key(ctx.key, user.id),
                    user.id,
                    user.email,
                    subject,
                    body,
                    ctx.module,
                    ctx.record_id,
                    due,
                ),
                task=a.task,
                email=a.email,
            )
            out.append(f"notified {user.display}")
        return out

    def _set(self, ctx: EffectContext, a: SetArgs) -> list[str]:
        self.wf.crm.save(ctx.module, {"id": ctx.record_id, **a.fields})
        return [f"set {', '.join(a.fields)}"]


__all__ = ["EffectContext", "Effects", "NotifyArgs", "SetArgs"]
