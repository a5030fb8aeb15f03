"""Assignee resolution: who a step, a Task or a notice goes to, as concrete active users.

An assignee spec is one of (YAML)::

    {user: USER}                     a user by id or login name
    {role: ROLE}                     every member of an ACL role (also through their security groups)
    {group: GROUP}                   every member of a security group
    {field: assigned_user_id}        the user whose id is in a field of the record
    {manager_of: assignee}           the manager (reports_to_id) of the record's assigned user
    {manager_of: {field: NAME}}      the manager of the user in a field of the record
    {manager_of: previous_actor}     the manager of whoever acted last (e.g. the previous step's approver)
    {previous_actor: true}           whoever acted last

Options that may be added to any spec: ``in_record_groups: true`` keeps only users who share a security
group with the record (account_opening: "the next role's users in the client's groups");
``levels: N`` (manager_of only) goes N managers up.

Inactive users (see :attr:`~suitecrm_ext.workflow.access.User.active`) are skipped; a manager who is
inactive is passed over for the next one up the ``reports_to_id`` chain.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from suitecrm_ext.workflow.access import AccessModel, User

_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
KINDS = ("user", "role", "group", "field", "manager_of", "previous_actor")


class AssigneeSpec(BaseModel):
    """Who something goes to (see the module docstring). Exactly one kind key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str | None = Field(None, min_length=1, max_length=100)
    role: str | None = Field(None, min_length=1, max_length=150)
    group: str | None = Field(None, min_length=1, max_length=255)
    field: str | None = None
    manager_of: str | dict[str, str] | None = None
    previous_actor: bool | None = None
    in_record_groups: bool = False
    levels: int = Field(1, ge=1, le=10)

    @model_validator(mode="after")
    def _one_kind(self) -> AssigneeSpec:
        given = [k for k in KINDS if getattr(self, k) not in (None, False)]
        if len(given) != 1:
            raise ValueError(
                f"an assignee needs exactly one of {', '.join(KINDS)} (got {', '.join(given) or 'none'})"
            )
        if self.field is not None and not _FIELD.match(self.field):
            raise ValueError(f"field: {self.field!r} is not a field name")
        m = self.manager_of
        if m is not None:
            if isinstance(m, dict):
                if set(m) != {"field"} or not _FIELD.match(str(m["field"])):
                    raise ValueError("manager_of: {field: NAME} names a field holding a user id")
            elif m not in ("assignee", "previous_actor"):
                raise ValueError(f"manager_of: {m!r}; use assignee, previous_actor or {{field: NAME}}")
        if self.levels != 1 and m is None:
            raise ValueError("levels goes with manager_of")
        return self

    @property
    def kind(self) -> str:
        """Which kind of assignee this is."""
        return next(k for k in KINDS if getattr(self, k) not in (None, False))

    def describe(self) -> str:
        """The spec in words, for messages and ``explain`` commands."""
        k = self.kind
        text = {
            "user": f"user {self.user}",
            "role": f"the role {self.role}",
            "group": f"the group {self.group}",
            "field": f"the user in {self.field}",
            "previous_actor": "the previous actor",
        }.get(k)
        if text is None:
            m = self.manager_of
            who = (
                f"the user in {m['field']}"
                if isinstance(m, dict)
                else "the assignee"
                if m == "assignee"
                else "the previous actor"
            )
            text = f"the manager of {who}" + (f" ({self.levels} levels up)" if self.levels > 1 else "")
        return text + (" in the record's groups" if self.in_record_groups else "")


@dataclass
class AssigneeContext:
    """What resolution may need: the record (module, id, values) and who acted last."""

    module: str = ""
    record_id: str = ""
    values: Mapping[str, Any] | None = None
    previous_actor: str = ""


class AssigneeResolver:
    """Turns :class:`AssigneeSpec` into users, through an :class:`AccessModel`."""

    def __init__(self, access: AccessModel):
        self.access = access

    def resolve(
        self, spec: AssigneeSpec | Mapping[str, Any], ctx: AssigneeContext | None = None
    ) -> list[User]:
        """Active users the spec names (sorted by name, no duplicates); [] when it names nobody."""
        spec = spec if isinstance(spec, AssigneeSpec) else AssigneeSpec.model_validate(spec)
        ctx = ctx or AssigneeContext()
        users = self._users(spec, ctx)
        if spec.in_record_groups:
            if not (ctx.module and ctx.record_id):
                return []
            groups = {g.id for g in self.access.record_groups(ctx.module, ctx.record_id)}
            users = [u for u in users if groups & {g.id for g in self.access.user_groups(u.id)}]
        seen: dict[str, User] = {}
        for u in users:
            if u.active and u.id not in seen:
                seen[u.id] = u
        return sorted(seen.values(), key=lambda u: (u.display.casefold(), u.id))

    def _field(self, ctx: AssigneeContext, name: str) -> str:
        return str((ctx.values or {}).get(name) or "")

    def _users(self, spec: AssigneeSpec, ctx: AssigneeContext) -> list[User]:
        a = self.access
        kind = spec.kind
        if kind == "user":
            u = a.user(spec.user) if not a.user(spec.user).deleted else a.user_by_name(spec.user)
            return [u] if u is not None and not u.deleted else []
        if kind == "role":
            return a.role_users(spec.role) if a.role(spec.role) else []
        if kind == "group":
            return a.group_users(spec.group) if a.group(spec.group) else []
        if kind == "field":
            uid = self._field(ctx, spec.field)
            return [a.user(uid)] if uid else []
        if kind == "previous_actor":
            return [a.user(ctx.previous_actor)] if ctx.previous_actor else []
        m = spec.manager_of
        base = (
            self._field(ctx, m["field"])
            if isinstance(m, dict)
            else self._field(ctx, "assigned_user_id")
            if m == "assignee"
            else ctx.previous_actor
        )
        if not base:
            return []
        active = [u for u in a.manager_chain(base) if u.active]
        return [active[spec.levels - 1]] if len(active) >= spec.levels else []


__all__ = ["AssigneeContext", "AssigneeResolver", "AssigneeSpec"]
