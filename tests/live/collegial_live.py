"""Shared parts of the collegial_actions live walk-through (tests/live/test_collegial_*live.py): people
with passwords and e-mail addresses (each acts through their own REST session, as they would in
SuiteCRM), and the look-ups an admin would do (Tasks, Notes, Decisions).

Everything made is tagged with the run tag and removed by :meth:`People.cleanup`."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymysql

from suitecrm_ext.crm.base import Cond, CRMError
from suitecrm_ext.crm.rest_v4 import RestV4CRM

PASSWORD = "Live-ca-pw-1"
ACTIONS = "ca_CollegialActions"
KEEP_ON = ("collegial_actions", "workflow")


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 45.0) -> Any:
    """Poll ``probe`` until it answers something true (the sidecar works asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def plugins_section(live_kit: Any, **collegial: Any) -> dict[str, Any]:
    """Only collegial_actions and the core's workflow plugin on; collegial's settings given."""
    plugins: dict[str, Any] = {n: cfg for n, cfg in live_kit.plugins_off().items() if n not in KEEP_ON}
    plugins["collegial_actions"] = dict(collegial)
    return plugins


class People:
    """Users made for the walk-through, each with a password and an e-mail address."""

    def __init__(self, lab: Any, tag: str):
        self.lab, self.tag = lab, tag
        self.admin = lab.gateway("rest")
        self.made: list[tuple[str, str]] = []
        self.ids: dict[str, str] = {}

    def add(self, *keys: str) -> None:
        for key in keys:
            uid = self.admin.save("Users", {
                "user_name": f"{self.tag}_{key}", "first_name": key.capitalize(), "last_name": self.tag,
                "status": "Active", "employee_status": "Active", "email1": self.email(key),
                "user_hash": hashlib.md5(PASSWORD.encode()).hexdigest(),
            })
            self.made.append(("Users", uid))
            self.ids[key] = uid

    def email(self, key: str) -> str:
        return f"{key}.{self.tag}@office.test"

    def name(self, key: str) -> str:
        return f"{key.capitalize()} {self.tag}"

    def rest(self, key: str) -> RestV4CRM:
        """The user's own REST session (the caller closes it)."""
        return RestV4CRM(self.lab.url, f"{self.tag}_{key}", PASSWORD, retries=0)

    def save(self, key: str, module: str, values: dict[str, Any]) -> str:
        """``key`` saves through their own REST session, as in the web UI (validated, then pushed)."""
        own = self.rest(key)
        try:
            rid = own.save(module, values)
        finally:
            own.close()
        if "id" not in values:
            self.made.append((module, rid))
        return rid

    def idle(self, state_path: str, timeout: float = 60.0) -> None:
        """Wait until the sidecar has delivered every event it queued (its REST session is then free:
        PHP serves one request per session at a time, and a validation that waits behind the
        dispatcher's reads past ``events.push.validation_budget_ms`` is let through, fail-open)."""
        from suitecrm_ext.state.sqlite import SQLiteStore

        def quiet() -> bool:
            store = SQLiteStore(Path(state_path))
            try:
                stats = store.queue_stats()
            finally:
                store.close()
            return stats.pending == 0 and stats.not_fanned_out == 0

        wait_for("the sidecar to deliver what it queued", quiet, timeout)
        time.sleep(0.5)

    def db(self, sql: str, args: tuple = ()) -> list[tuple]:
        with pymysql.connect(**self.lab.db_params(read_only=True)) as conn, conn.cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())

    def tasks(self, parent: str, key: str) -> list[str]:
        """Names of the Tasks on ``parent`` assigned to ``key``."""
        return [r[0] for r in self.db("SELECT name FROM tasks WHERE parent_id = %s AND assigned_user_id = %s "
                                      "AND deleted = 0", (parent, self.ids[key]))]

    def notes(self, parent: str) -> list[tuple[str, str]]:
        return self.db("SELECT name, description FROM notes WHERE parent_id = %s AND deleted = 0", (parent,))

    def decisions(self, parent: str) -> list[tuple]:
        """(transition, from, to, decision, acted_by_id, on_behalf_of_id) of the record's decision log."""
        return self.db("SELECT transition, from_status, to_status, decision, acted_by_id, on_behalf_of_id "
                       "FROM sx_decisions WHERE parent_id = %s AND deleted = 0 "
                       "ORDER BY acted_at, date_entered", (parent,))

    def status(self, doc: str) -> str:
        rows = self.db("SELECT ca_status_c FROM documents_cstm WHERE id_c = %s", (doc,))
        return (rows[0][0] or "") if rows else ""

    def action(self, action_id: str) -> dict[str, Any]:
        names = ("outcome", "acted_by_id", "acted_at", "assigned_user_id", "stage")
        rows = self.db(f"SELECT {', '.join(names)} FROM ca_collegialactions WHERE id = %s", (action_id,))
        return dict(zip(names, rows[0], strict=True))

    def document(self, owner: str, name: str, doc_type: str, plan: list[tuple[str, str]]) -> tuple[str, dict]:
        """``owner`` creates a Document of ``doc_type`` (Preparation) and adds actions ``plan`` (kind,
        assignee key), due in a week; returns the document id and {kind: action id}."""
        doc = self.save(owner, "Documents", {
            "document_name": f"{self.tag} {name}", "ca_doc_type_c": doc_type, "ca_status_c": "Preparation",
            "assigned_user_id": self.ids[owner]})
        due = (dt.date.today() + dt.timedelta(days=7)).isoformat()
        actions = {kind: self.save(owner, ACTIONS, {
            "name": f"{kind}: {self.name(who)}", "parent_type": "Documents", "parent_id": doc, "kind": kind,
            "assigned_user_id": self.ids[who], "due_date": due}) for kind, who in plan}
        return doc, actions

    def cleanup(self) -> None:
        admin = self.admin
        try:
            for module, rid in reversed(self.made):
                if module == "Documents":
                    for child in ("Tasks", "Notes", "sx_Decisions"):
                        for rec in admin.find(child, Cond("parent_id", "eq", rid), ["id"]):
                            admin.delete(child, rec.id)
                try:
                    admin.delete(module, rid)
                except CRMError:
                    pass
        finally:
            admin.close()
