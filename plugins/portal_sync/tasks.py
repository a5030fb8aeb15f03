"""The manager's review Task for a conflict, created at most once per conflict key, through the core's
notices service (``suitecrm_ext.workflow.Notifier``: the Task carries ``ref: portal_sync <key>``; the
state store is asked first, then SuiteCRM, so a crash between the save and the state write never makes
a second Task)."""

from __future__ import annotations

from typing import Any

from suitecrm_ext.workflow import Notice, Notifier

NS = "portal_sync.tasks"


def review_task(
    crm: Any,
    state: Any,
    *,
    key: str,
    user_id: str,
    subject: str,
    body: str,
    parent_module: str,
    parent_id: str,
) -> str:
    """The Task's id (created unless it exists)."""
    notifier = Notifier(crm, state, state_ns=NS, marker="portal_sync")
    notice = Notice(
        key=key,
        user_id=user_id,
        email="",
        subject=subject,
        body=body,
        parent_module=parent_module,
        parent_id=parent_id,
    )
    return notifier.task(notice)
