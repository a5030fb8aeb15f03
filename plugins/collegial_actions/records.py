"""Reading the plugin's data from the CRM: documents, their collegial actions, users, deputies.

Field names of the plugin's module (see schema.yaml): actions have ``parent_type``/``parent_id``,
``kind``, ``stage``, ``assigned_user_id`` (the assignee), ``due_date``, ``outcome``, ``comment``,
``acted_by_id``, ``acted_at``. Users and deputies come from the core workflow services
(``suitecrm_ext.workflow``): the deputies are the core package's ``sx_Deputies``, shared with routing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from plugins.collegial_actions.rules import Action
from plugins.collegial_actions.settings import Settings
from suitecrm_ext import CRM, Record
from suitecrm_ext.workflow import AccessModel, DeputyAssignment, DeputyBook

ACTION_FIELDS = ["name", "parent_type", "parent_id", "kind", "stage", "assigned_user_id", "due_date",
                 "outcome", "comment", "acted_by_id", "acted_at"]


class Directory:
    """User lookups (names and e-mail addresses) through the core access model, cached per instance."""

    def __init__(self, crm: CRM):
        self.crm = crm
        self.access = AccessModel(crm)

    def user(self, user_id: str):
        """The user (``.name`` for messages, ``.email``); an unknown id gives a user named by the id."""
        u = self.access.user(user_id)
        return _Named(u.id, u.display, u.email)

    def name(self, user_id: str) -> str:
        """Display name of a user id."""
        return self.user(user_id).name


class _Named:
    __slots__ = ("id", "name", "email")

    def __init__(self, id: str, name: str, email: str):
        self.id, self.name, self.email = id, name, email


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


def assignments(book: DeputyBook, principal_id: str | None = None) -> list[DeputyAssignment]:
    """Deputy assignments (of one principal, or all) from the core deputies module."""
    return book.assignments(principal_id)


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
