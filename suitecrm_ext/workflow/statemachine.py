"""A declarative state machine for a record's status field: statuses, guarded transitions, effects.

Defined in YAML (a plugin's settings or its own file), checked when the config is loaded::

    field: status                      # the record's status field
    statuses: [Draft, Security review, Returned, Rejected, Approved by security]
    labels: {}                         # optional: status -> how messages name it (stored dropdown keys)
    initial: Draft                     # the status a new record starts in ("" is read as this one)
    final: [Rejected]                  # no transition leaves these
    admin_bypass: false                # true: SuiteCRM admins may make any change the statuses allow
    transitions:
      - name: submit                   # names the rule in veto messages and the decision log
        from: [Draft, Returned]        # or "*" (any status but the final ones)
        to: Security review
        roles: [Personal manager]      # the acting user needs one of them (also through their groups)
        when: {field: inn_c, empty: false}   # a condition on the record (conditions.py)
        check: [requisites_complete]   # plugin predicates, each may give its reason
        message: Only a personal manager submits an application   # replaces the default explanation
    on_enter:                          # effects to run after a record entered a status
      Security review:
        - {effect: notify, args: {to: {role: Security officer}, template: review_needed}}

:meth:`StateMachine.check` answers "may this actor move this record from A to B now?" with a
:class:`Verdict`: allowed, or refused with a reason that names the transition and the guard broken
("Cannot change status from Draft to Security review (transition submit): only a user with the role
Personal manager may do this; Anna Ivanova has none of them."). The machine reads nothing itself: roles
come from an :class:`~suitecrm_ext.workflow.access.AccessModel`, record values from the
:class:`~suitecrm_ext.workflow.conditions.Facts` given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from suitecrm_ext.workflow.conditions import ALWAYS, Condition, Facts, Predicates
from suitecrm_ext.workflow.fields import condition_type, located_error

ANY = "*"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class EffectDef(BaseModel):
    """One effect to run on entering a status: ``{effect: NAME, args: {...}}`` (see effects.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    effect: str = Field(min_length=1, max_length=80)
    args: dict[str, Any] = Field(default_factory=dict)


class _TransitionBase(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    name: str = Field(min_length=1, max_length=64)
    from_: tuple[str, ...] = Field(alias="from", min_length=1)
    to: str = Field(min_length=1, max_length=100)
    roles: tuple[str, ...] = ()
    check: tuple[str, ...] = ()
    message: str | None = Field(None, max_length=500)

    @model_validator(mode="before")
    @classmethod
    def _from_is_a_list(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and isinstance(data.get("from"), str):
            data = {**data, "from": [data["from"]]}
        return data


class _MachineBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = "status"
    statuses: tuple[str, ...] = Field(min_length=1)
    initial: str
    final: tuple[str, ...] = ()
    admin_bypass: bool = False
    labels: dict[str, str] = Field(default_factory=dict)
    on_enter: dict[str, tuple[EffectDef, ...]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Any:
        if not _FIELD.match(self.field):
            raise located_error(("field",), f"{self.field!r} is not a SuiteCRM field name")
        seen: set[str] = set()
        for i, s in enumerate(self.statuses):
            if not s.strip() or len(s) > 100:
                raise located_error(("statuses", i), "a status is a non-empty text of at most 100 characters")
            if s in seen:
                raise located_error(("statuses", i), f"status {s!r} is listed twice")
            seen.add(s)
        known = ", ".join(self.statuses)
        if self.initial not in seen:
            raise located_error(("initial",), f"{self.initial!r} is not one of the statuses ({known})")
        for i, s in enumerate(self.final):
            if s not in seen:
                raise located_error(("final", i), f"{s!r} is not one of the statuses ({known})")
        names: set[str] = set()
        for i, t in enumerate(self.transitions):  # type: ignore[attr-defined]
            if not _NAME.match(t.name):
                raise located_error(
                    ("transitions", i, "name"),
                    f"{t.name!r}: a transition name is letters, digits, _ . - (no spaces)",
                )
            if t.name in names:
                raise located_error(("transitions", i, "name"), f"two transitions are named {t.name!r}")
            names.add(t.name)
            for j, s in enumerate(t.from_):
                if s != ANY and s not in seen:
                    raise located_error(
                        ("transitions", i, "from", j), f"{s!r} is not one of the statuses ({known})"
                    )
                if s in self.final:
                    raise located_error(
                        ("transitions", i, "from", j), f"{s!r} is final: no transition leaves it"
                    )
            if t.to not in seen:
                raise located_error(
                    ("transitions", i, "to"), f"{t.to!r} is not one of the statuses ({known})"
                )
            for j, r in enumerate(t.roles):
                if not r.strip() or len(r) > 150:
                    raise located_error(("transitions", i, "roles", j), "a role name is a non-empty text")
        for s in self.on_enter:
            if s not in seen:
                raise located_error(("on_enter", s), f"{s!r} is not one of the statuses ({known})")
        for s, text in self.labels.items():
            if s not in seen:
                raise located_error(("labels", s), f"{s!r} is not one of the statuses ({known})")
            if not str(text).strip() or len(str(text)) > 100:
                raise located_error(("labels", s), "a label is a non-empty text of at most 100 characters")
        return self


@lru_cache(maxsize=64)
def machine_model(
    predicates: Predicates | None = None, effects: Any = None
) -> type[BaseModel]:
    """The settings model of a state machine whose ``when``/``check`` may use ``predicates`` and whose
    ``on_enter`` may use the effects ``effects``: a frozenset of names, or an
    :class:`~suitecrm_ext.workflow.effects.Effects` registry (names and arguments checked); None: any."""
    when_type = condition_type(predicates=predicates)
    names = frozenset(predicates.names()) if predicates is not None else frozenset()

    class TransitionDef(_TransitionBase):
        """One allowed change of status and its guards."""

        when: when_type = ALWAYS  # type: ignore[valid-type]

        @model_validator(mode="after")
        def _known_checks(self) -> Any:
            for j, c in enumerate(self.check):
                if c not in names:
                    raise located_error(
                        ("check", j), f"unknown check {c!r} (known: {', '.join(sorted(names)) or 'none'})"
                    )
            return self

    class MachineDef(_MachineBase):
        """A state machine definition (see the module docstring)."""

        transitions: tuple[TransitionDef, ...] = ()

        @model_validator(mode="after")
        def _known_effects(self) -> Any:
            if effects is None:
                return self
            for status, items in self.on_enter.items():
                for j, e in enumerate(items):
                    if hasattr(effects, "check"):  # an Effects registry: names and arguments
                        effects.check(e.effect, e.args, ("on_enter", status, j))
                    elif e.effect not in effects:
                        raise located_error(
                            ("on_enter", status, j, "effect"),
                            f"unknown effect {e.effect!r} (known: {', '.join(sorted(effects))})",
                        )
            return self

    return MachineDef


#: A state machine definition without plugin predicates (any effect name).
MachineDef = machine_model()


# --- the machine ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    """A compiled transition."""

    name: str
    sources: tuple[str, ...]
    to: str
    roles: tuple[str, ...] = ()
    when: Condition = ALWAYS
    check: tuple[str, ...] = ()
    message: str | None = None

    def leaves(self, status: str, final: Iterable[str]) -> bool:
        """Whether the transition starts at ``status``."""
        return status in self.sources or (ANY in self.sources and status not in final)


@dataclass(frozen=True)
class Verdict:
    """Allowed, or refused with a reason for the user. ``rule``: which guard decided (``roles``,
    ``when``, ``check:<name>``, ``no_transition``, ``unknown_status``, ``final``); ``transition``: its
    name."""

    allowed: bool
    reason: str = ""
    transition: str = ""
    rule: str = ""

    def __bool__(self) -> bool:
        return self.allowed


@dataclass
class StateMachine:
    """A record status flow. Build it with :meth:`from_def` (a validated definition) or :meth:`load`."""

    field: str
    statuses: tuple[str, ...]
    initial: str
    final: tuple[str, ...] = ()
    transitions: tuple[Transition, ...] = ()
    on_enter_effects: Mapping[str, tuple[EffectDef, ...]] = field(default_factory=dict)
    predicates: Predicates | None = None
    admin_bypass: bool = False
    label: str = "status"
    labels: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_def(cls, defn: BaseModel, predicates: Predicates | None = None, label: str = "") -> StateMachine:
        """A machine from a validated ``machine_model(...)`` instance."""
        ts = tuple(
            Transition(t.name, tuple(t.from_), t.to, tuple(t.roles), t.when, tuple(t.check), t.message)
            for t in defn.transitions
        )  # type: ignore[attr-defined]
        return cls(
            defn.field,
            tuple(defn.statuses),
            defn.initial,
            tuple(defn.final),
            ts,  # type: ignore[attr-defined]
            dict(defn.on_enter),
            predicates,
            defn.admin_bypass,
            label or "status",
            dict(defn.labels),
        )  # type: ignore[attr-defined]

    @classmethod
    def load(
        cls, data: Mapping[str, Any], predicates: Predicates | None = None, label: str = ""
    ) -> StateMachine:
        """Validate ``data`` and build the machine (pydantic ValidationError on a bad definition)."""
        return cls.from_def(machine_model(predicates).model_validate(data), predicates, label)

    # --- questions -----------------------------------------------------------------------

    def label_of(self, status: str) -> str:
        """How messages name a status: its label when the definition gives one, else the status itself."""
        return self.labels.get(status, status)

    def status_of(self, values: Mapping[str, Any]) -> str:
        """A record's status (empty = the initial status)."""
        return str(values.get(self.field) or "") or self.initial

    def transitions_from(self, status: str) -> list[Transition]:
        """Transitions that start at ``status``, in definition order."""
        return [t for t in self.transitions if t.leaves(status, self.final)]

    def candidates(self, current: str, target: str) -> list[Transition]:
        """Transitions from ``current`` to ``target``."""
        return [t for t in self.transitions_from(current) if t.to == target]

    def check(self, current: str, target: str, facts: Facts, access: Any = None) -> Verdict:
        """May ``facts.actor`` move the record from ``current`` to ``target``?

        ``access``: an AccessModel (for role guards and ``admin_bypass``); without it role guards refuse.
        Several transitions may connect the two statuses: the first whose guards all pass allows the move;
        when none does, the reason of the first one is given.
        """
        current = current or self.initial
        if target == current:
            return Verdict(True)
        name = self.label_of
        head = f"Cannot change {self.label} from {name(current)} to {name(target)}"
        if target not in self.statuses:
            return Verdict(
                False,
                f"{head}: {target!r} is not a {self.label} of this flow (they are "
                f"{', '.join(self.statuses)}).",
                rule="unknown_status",
            )
        if current not in self.statuses:
            return Verdict(
                False,
                f"{head}: the current {self.label} {current!r} is not part of this flow.",
                rule="unknown_status",
            )
        if current in self.final:
            return Verdict(False, f"{head}: {name(current)} is final.", rule="final")
        options = self.candidates(current, target)
        bypass = self.admin_bypass and access is not None and facts.actor and access.is_admin(facts.actor)
        if not options:
            if bypass:
                return Verdict(True, rule="admin_bypass")
            nxt = ", ".join(f"{name(t.to)} ({t.name})" for t in self.transitions_from(current)) or "none"
            return Verdict(
                False,
                f"{head}: no transition leads there; from {name(current)} the flow goes to {nxt}.",
                rule="no_transition",
            )
        if bypass:
            return Verdict(True, transition=options[0].name, rule="admin_bypass")
        first: Verdict | None = None
        for t in options:
            v = self._guards(t, head, facts, access)
            if v.allowed:
                return v
            first = first or v
        return first  # type: ignore[return-value]

    def _guards(self, t: Transition, head: str, facts: Facts, access: Any) -> Verdict:
        head = f"{head} (transition {t.name})"

        def refuse(rule: str, reason: str) -> Verdict:
            return Verdict(False, f"{head}: {t.message or reason}.", t.name, rule)

        if t.roles:
            if not facts.actor:
                return refuse("roles", "cannot tell who is acting")
            have = access.user_roles(facts.actor) if access is not None else []
            if access is None or not access.has_role(facts.actor, *t.roles):
                who = access.user(facts.actor).display if access is not None else facts.actor
                roles = " or ".join(t.roles)
                mine = ", ".join(r.name for r in have) or "none of them" if have else "no role"
                return refuse("roles", f"only a user with the role {roles} may do this; {who} has {mine}")
        reason = t.when.why_not(facts)
        if reason:
            return refuse("when", reason)
        for name in t.check:
            spec = self.predicates.get(name) if self.predicates is not None else None
            if spec is None:
                return refuse(f"check:{name}", f"the check {name} is not available")
            try:
                result = spec[0](facts)
            except Exception as exc:  # noqa: BLE001 - a failing check never allows
                return refuse(f"check:{name}", f"the check {name} failed ({type(exc).__name__}: {exc})")
            if result is not True:
                return refuse(
                    f"check:{name}",
                    result if isinstance(result, str) and result else f"the check {name} does not pass",
                )
        return Verdict(True, transition=t.name)

    def allowed_targets(self, current: str, facts: Facts, access: Any = None) -> list[tuple[str, str]]:
        """(status, transition name) the actor may move to now, in definition order."""
        out: list[tuple[str, str]] = []
        for t in self.transitions_from(current or self.initial):
            if any(s == t.to for s, _ in out):
                continue
            if self._guards(t, "", facts, access).allowed:
                out.append((t.to, t.name))
        return out

    def on_enter(self, status: str) -> tuple[EffectDef, ...]:
        """The effects declared for entering ``status``."""
        return tuple(self.on_enter_effects.get(status, ()))


__all__ = ["ANY", "EffectDef", "MachineDef", "StateMachine", "Transition", "Verdict", "machine_model"]
