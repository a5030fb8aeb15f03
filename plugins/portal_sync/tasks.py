"""The manager's review Task for a conflict, created at most once per conflict key.

A small seam: the core's notices service (``suitecrm_ext.workflow``) replaces it once it is on main.
The Task carries ``ref: portal_sync <key>`` in its description; before creating one the state store is
asked, then SuiteCRM, so a crash between the save and the state write never makes a second Task.
"""

from __future__ import annotations

from typing import Any

from suitecrm_ext import Cond, all_of

NS = "portal_sync.tasks"
TASK_NAME_MAX = 50  # tasks.name is varchar(50) in SuiteCRM 7.14


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
    done = state.kv_get(NS, key)
    if done:
        return str(done)
    marker = f"ref: portal_sync {key}"
    found = next(
        iter(
            crm.find(
                "Tasks",
                all_of(Cond("parent_id", "eq", parent_id), Cond("description", "like", f"%{marker}%")),
                ["id"],
                limit=1,
            )
        ),
        None,
    )
    if found is not None:
        task_id = found.id
    else:
        task_id = crm.save(
            "Tasks",
            {
                "name": subject[:TASK_NAME_MAX],
                "parent_type": parent_module,
                "parent_id": parent_id,
                "assigned_user_id": user_id,
                "status": "Not Started",
                "priority": "Medium",
                "description": f"{body}\n\n{marker}",
            },
        )
    state.kv_set(NS, key, task_id)
    return task_id
