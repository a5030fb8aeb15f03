"""``create_task`` (step key ``task:``): a person's step — a SuiteCRM Task; the next step starts when it is
completed.

::

    - name: assemble
      task:
        assignee: {role: Logistics}          # user / role / group / field / manager_of (the core's specs)
        subject: "Assemble order {{ record.number }}"
        description: "Ship to {{ record.shipping_address_city }}"
        due: 4h                              # working time (business calendar): 4h, 2d
        pick: least_loaded                   # one Task for the member with fewest open Tasks, or: each
        wait: true                           # false: create the Task and go on

The Task is on the record (``parent_type``/``parent_id``), assigned to the chosen user, with a
``ref: bp_scripts <key>`` line in its description. Who gets it and its due date are decided once and
kept, and the Task's id comes from the step's key: a crash never makes a second Task.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from suitecrm_ext import Cond, NotFound, all_of
from suitecrm_ext.workflow import (
    AssigneeContext,
    AssigneeSpec,
    Script,
    ScriptError,
    ScriptResult,
    ScriptRun,
    Waiting,
    parse_duration,
)

from .common import render

TASK_NAME_MAX = 50  # tasks.name is varchar(50)
OPEN = ("Not Started", "In Progress", "Pending Input")


class Settings(BaseModel):
    """Settings of ``create_task``."""

    model_config = ConfigDict(extra="forbid")

    assignee: AssigneeSpec
    subject: str = Field(min_length=1, max_length=500)
    description: str = Field("", max_length=20000)
    due: Any = None
    priority: Literal["High", "Medium", "Low"] = "Medium"
    pick: Literal["least_loaded", "each"] = "least_loaded"
    wait: bool = True

    @field_validator("due")
    @classmethod
    def _due(cls, v: Any) -> Any:
        if v is not None:
            parse_duration(v)
        return v


def _open_tasks(crm: Any, user_id: str) -> int:
    return crm.count(
        "Tasks", all_of(Cond("assigned_user_id", "eq", user_id), Cond("status", "in", list(OPEN)))
    )


def _decide(run: ScriptRun, s: Settings) -> dict[str, Any]:
    wf = run.services.get("workflow")
    if wf is None:
        raise ScriptError("create_task needs the workflow services")
    users = wf.assignees.resolve(s.assignee, AssigneeContext(run.module, run.record_id, run.record))
    if not users:
        raise ScriptError(f"nobody to give the Task to: {s.assignee.describe()} names no active user")
    if s.pick == "least_loaded" and len(users) > 1:
        users = [min(users, key=lambda u: (_open_tasks(run.crm, u.id), u.display.casefold(), u.id))]
    due = None
    if s.due is not None:
        unit, n = parse_duration(s.due)
        due = wf.calendar.deadline(run.now, **{unit: int(n) if unit == "days" else n})
        due = due.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return {"users": [[u.id, u.display] for u in users], "due": due}


def run(run: ScriptRun, s: Settings) -> ScriptResult:
    """Create the Task(s) once; with ``wait``, done when one of them is completed."""
    memo = run.memo
    decision = memo.get("decision") if memo is not None else None
    if decision is None:
        decision = _decide(run, s)
        if run.dry_run:
            who = ", ".join(name for _, name in decision["users"])
            return ScriptResult(f"would give {who} the Task {render(run, s.subject, 'subject')!r}", decision)
        memo.add("decision", decision)
        decision = memo.get("decision")
    subject = str(render(run, s.subject, "subject"))
    body = str(render(run, s.description, "description"))
    tasks = []
    for uid, name in decision["users"]:
        tid = run.guid(f"task:{uid}")
        tasks.append((tid, uid, name))
        if memo.get(f"created:{tid}"):
            continue
        values = {
            "name": subject[:TASK_NAME_MAX],
            "description": f"{body}\n\nref: bp_scripts {run.key}".strip(),
            "parent_type": run.module,
            "parent_id": run.record_id,
            "assigned_user_id": uid,
            "status": "Not Started",
            "priority": s.priority,
        }
        if decision.get("due"):
            values["date_due"] = decision["due"]
            values["date_due_flag"] = False
        try:  # made before a crash, maybe completed since: never overwrite it
            run.crm.get("Tasks", tid, ["id"])
        except NotFound:
            run.crm.create("Tasks", values, id=tid)
        memo.set(f"created:{tid}", True)
    ids = [t[0] for t in tasks]
    names = ", ".join(t[2] for t in tasks)
    if not s.wait:
        return ScriptResult(f"Task {subject[:TASK_NAME_MAX]!r} for {names}", {"task_ids": ids})
    gone = 0
    for tid, uid, name in tasks:
        try:
            status = run.crm.get("Tasks", tid).get("status")
        except NotFound:
            gone += 1
            continue
        if status == "Completed":
            return ScriptResult(
                f"{name} completed the Task {subject[:TASK_NAME_MAX]!r}",
                {"task_ids": ids, "completed_by": uid},
            )
    if gone == len(tasks):
        raise ScriptError(f"the Task {subject[:TASK_NAME_MAX]!r} was deleted before it was completed")
    raise Waiting(
        f"waiting for {names} to complete the Task {subject[:TASK_NAME_MAX]!r}",
        watch=[("Tasks", t) for t in ids],
    )


SCRIPT = Script(
    "create_task",
    run,
    Settings,
    summary="A Task for a person (user, role, group, field, "
    "manager); the next step starts when it is completed (wait: false: at once)",
)
