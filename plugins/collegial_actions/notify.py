"""Telling people: a SuiteCRM Task and an e-mail, each done at most once per (event, action).

Idempotency: every notice has a key derived from the event key and what it is about. The Task
carries the key in its description (``ref: collegial <key>``); before creating one the plugin looks in
its state store, then in SuiteCRM (a crash between the Task save and the state write is therefore
harmless). An e-mail is marked sent in the state store after SMTP accepted it: a crash between the two
may send it twice (at-least-once), never zero times.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from suitecrm_ext import CRM, Cond, all_of

NS = "collegial_actions"
TASK_NAME_MAX = 50  # tasks.name is varchar(50) in SuiteCRM 7.14

log = logging.getLogger("suitecrm_ext.plugins.collegial_actions")


def notice_key(*parts: str) -> str:
    """A short stable key from the parts (event key, action id, purpose)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Notice:
    """One thing to tell one user about one record."""

    key: str
    user_id: str
    email: str
    subject: str
    body: str
    parent_module: str
    parent_id: str
    due: object = None  # date or datetime for the Task's due date, or None


def _marker(key: str) -> str:
    return f"ref: collegial {key}"


def ensure_task(crm: CRM, state, notice: Notice) -> str:
    """Create the notice's Task unless it already exists; returns the Task id."""
    skey = f"task:{notice.key}"
    done = state.kv_get(NS, skey)
    if done:
        return str(done)
    marker = _marker(notice.key)
    found = next(iter(crm.find("Tasks", all_of(Cond("parent_id", "eq", notice.parent_id),
                                                 Cond("description", "like", f"%{marker}%")),
                               ["id"], limit=1)), None)
    if found is not None:
        task_id = found.id
    else:
        values = {
            "name": notice.subject[:TASK_NAME_MAX],
            "parent_type": notice.parent_module,
            "parent_id": notice.parent_id,
            "assigned_user_id": notice.user_id,
            "status": "Not Started",
            "priority": "Medium",
            "description": f"{notice.body}\n\n{marker}",
        }
        if notice.due is not None:
            values["date_due"] = notice.due
            values["date_due_flag"] = False
        task_id = crm.save("Tasks", values)
    state.kv_set(NS, skey, task_id)
    return task_id


def ensure_mail(mailer, state, notice: Notice, prefix: str) -> bool:
    """Send the notice's e-mail unless already sent; False when the user has no address."""
    skey = f"mail:{notice.key}"
    if state.kv_get(NS, skey):
        return True
    if not notice.email:
        log.warning("user %s has no e-mail address; not mailed about %s %s", notice.user_id,
                    notice.parent_module, notice.parent_id)
        return False
    mailer.send([notice.email], f"{prefix} {notice.subject}".strip(), notice.body)
    state.kv_set(NS, skey, True)
    return True
