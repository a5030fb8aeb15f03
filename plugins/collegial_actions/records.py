"""Reading the plugin's data from the CRM: documents, their collegial actions, users, deputies.

Field names of the plugin's modules (see schema.yaml): actions have ``parent_type``/``parent_id``,
``kind``, ``stage``, ``assigned_user_id`` (the assignee), ``due_date``, ``outcome``, ``comment``,
``acted_by_id``, ``acted_at``; deputies have ``principal_id``, ``deputy_id``, ``kind``, ``start_date``,
``end_date``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plugins.collegial_actions.deputies import DeputyAssignment
from plugins.collegial_actions.rules import Action
from plugins.collegial_actions.settings import Settings
from suitecrm_ext import CRM, NotFound, Record

ACTION_FIELDS = ["name", "parent_type", "parent_id", "kind", "stage", "assigned_user_id", "due_date",
                 "outcome", "comment", "acted_by_id", "acted_at"]
DEPUTY_FIELDS = ["name", "principal_id", "deputy_id", "kind", "start_date", "end_date"]


@dataclass(frozen=True)
class UserInfo:
    """A SuiteCRM user as the plugin shows and mails them."""

    id: str
    name: str
    email: str = ""


class Directory:
    """User lookups with a per-instance cache (one per hook call: users rarely change mid-call)."""

    def __init__(self, crm: CRM):
        self.crm = crm
        self._cache: dict[str, UserInfo] = {}

    def user(self, user_id: str) -> UserInfo:
        """The user's name and e-mail; an unknown id gives a UserInfo named by the id."""
        if not user_id:
            return UserInfo("", "nobody")
        if user_id not in self._cache:
            try:
                rec = self.crm.get("Users", user_id, ["user_name", "first_name", "last_name", "email1"])
            except NotFound:
                self._cache[user_id] = UserInfo(user_id, user_id)
            else:
                full = " ".join(p for p in (rec.get("first_name"), rec.get("last_name")) if p)
                self._cache[user_id] = UserInfo(user_id, full or rec.get("user_name") or user_id,
                                                rec.get("email1") or "")
        return self._cache[user_id]

    def name(self, user_id: str) -> str:
        """Display name of a user id."""
        return self.user(user_id).name


def value(change_values: Mapping[str, Any], before: Mapping[str, Any], name: str) -> Any:
    """A field's value after a change: from ``change_values`` when present there, else from ``before``."""
    if name in change_values:
        return change_values[name]
    return before.get(name, "")


def to_action(rec: Record | Mapping[str, Any], directory: Directory | None = None, id: str = "") -> Action:
    """A CRM record (or a dict of values) of the actions module as a rules.Action."""
    get = rec.get
    assignee = str(get("assigned_user_id") or "")
    return Action(
        id=str(id or get("id") or ""),
        kind=str(get("kind") or ""),
        assignee_id=assignee,
        assignee_name=directory.name(assignee) if directory and assignee else "",
        outcome=str(get("outcome") or ""),
        acted_by_id=str(get("acted_by_id") or ""),
    )


def action_records(crm: CRM, settings: Settings, parent_id: str) -> list[Record]:
    """The live collegial actions of a document, oldest first."""
    where = {"parent_type": settings.documents_module, "parent_id": parent_id}
    return list(crm.find(settings.actions_module, where, ACTION_FIELDS + ["date_entered"],
                         order=["date_entered", "id"]))


def document_actions(crm: CRM, settings: Settings, parent_id: str, directory: Directory | None = None,
                     replace: Action | None = None) -> list[Action]:
    """A document's actions as rules.Action; ``replace`` stands in for the stored action of the same id
    (the not-yet-saved state during validation), or is added when new."""
    actions = [to_action(r, directory) for r in action_records(crm, settings, parent_id)]
    if replace is not None:
        actions = [a for a in actions if a.id != replace.id or not replace.id] + [replace]
    return actions


def to_assignment(rec: Record) -> DeputyAssignment | None:
    """A deputies record as a DeputyAssignment (None when it has no start date)."""
    start = _date(rec.get("start_date"))
    if start is None:
        return None
    return DeputyAssignment(
        id=rec.id, principal_id=str(rec.get("principal_id") or ""), deputy_id=str(rec.get("deputy_id") or ""),
        kind=str(rec.get("kind") or ""), start=start, end=_date(rec.get("end_date")),
    )


def assignments(crm: CRM, settings: Settings, principal_id: str | None = None) -> list[DeputyAssignment]:
    """Deputy assignments (of one principal, or all)."""
    where = {"principal_id": principal_id} if principal_id else None
    out = []
    for rec in crm.find(settings.deputies_module, where, DEPUTY_FIELDS):
        a = to_assignment(rec)
        if a is not None:
            out.append(a)
    return out


def _date(v: Any) -> dt.date | None:
    if v in (None, ""):
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v)[:10])
    except ValueError:
        return None


def today() -> dt.date:
    """Today's date in UTC (SuiteCRM stores dates without zone; the sidecar works in UTC)."""
    return dt.datetime.now(dt.timezone.utc).date()
