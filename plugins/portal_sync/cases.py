"""Cases: opened in the portal, answered in the internal CRM; their thread and files both ways.

- **A case the client opens in the portal** becomes an internal Case — created through the API, so
  SuiteCRM's own hooks and the normal change feed see it (routing's portal-case route starts from
  that event, with ``cases.portal_case_field`` = 1 to match on) — linked to the client's internal
  Account and Contact. The organisation and the person come from the *login* that opened it (a case
  opened by the portal's staff: from its synced Account), never from ids in the portal record.
- **Status both ways**: staff changes (any status) reach the portal; the client may set only
  ``cases.client_statuses`` (close, reopen), anything else is refused and undone. ``state`` follows
  the status (``Closed_*`` -> Closed).
- **The thread** (``AOP_Case_Updates``): a staff update that is not internal (``internal`` = 0) is
  copied to the portal case; internal updates never leave (an update made internal later is removed
  from the portal). The client's updates in the portal become (non-internal) internal updates, with
  the client's Contact. Thread entries are copied once; later edits are not synced.
- **Files**: an internal Note on a synced Case with "display in portal" (``portal_flag``) and a file
  goes to the portal case; a Note with a file the client attaches to their case in the portal comes
  in (``max_attachment_bytes``, plain file names only). Files are copied once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from suitecrm_ext import EventKind, IdPair, NotFound, Record, new_guid

from .rules import text
from .settings import ModuleRules
from .validation import check_filename, check_values

if TYPE_CHECKING:
    from .engine import PortalSync

log = logging.getLogger("suitecrm_ext.plugins.portal_sync")

CREATING, OK = "creating", "ok"
UPDATE_FIELDS = ["name", "description", "case_id", "internal", "contact_id", "created_by"]
NOTE_FIELDS = ["name", "description", "filename", "parent_type", "parent_id", "portal_flag", "contact_id"]


def state_of(status: str) -> str:
    """SuiteCRM's case state for a status (``Closed_Closed`` -> ``Closed``)."""
    return "Closed" if status.startswith("Closed") else "Open"


class CaseSync:
    """Cases, case updates and case files (see the module docstring)."""

    def __init__(self, sync: PortalSync):
        self.sync = sync

    @property
    def rules(self) -> ModuleRules:
        """The field rules of Cases."""
        return self.sync.s.cases.rules

    def _derive(self, values: dict[str, str]) -> dict[str, str]:
        return {"state": state_of(values["status"])} if "status" in values else {}

    # --- cases --------------------------------------------------------------------------------

    def portal_case_changed(self, pid: str) -> None:
        """A portal case changed: merge it, or bring a new one in."""
        pair = self.sync.ids.entry_by_right("Cases", pid)
        if pair is None:
            self.portal_new_case(pid)
        elif pair.data.get("state") == OK:
            self.sync_case(pair.left)
        else:
            self._finish_new_case(pair)

    def internal_case_changed(self, iid: str, kind: EventKind) -> None:
        """An internal Case changed: merge it when it came from the portal (others stay internal)."""
        sync = self.sync
        pair = sync.ids.entry("Cases", iid)
        if pair is None:
            return
        if kind is EventKind.DELETED or sync.read_internal("Cases", iid, ["id"]) is None:
            with sync.lock("Cases", iid):
                try:
                    sync.portal.delete("Cases", pair.right)
                except NotFound:
                    pass
                sync.ids.unlink("Cases", iid)
            return
        if pair.data.get("state") == OK:
            self.sync_case(iid)
        else:
            self._finish_new_case(pair)

    def sync_case(self, iid: str) -> None:
        """Merge a synced case both ways; the client may only set ``client_statuses``."""
        allowed = self.sync.s.cases.client_statuses

        def check(prec: Record, pvals: dict[str, Any], changed: list[str], author: str | None) -> list[str]:
            status = text(pvals.get("status"))
            if "status" in changed and author is not None and status not in allowed:
                return [f"status: a client may set {', '.join(allowed)}, not {status!r}"]
            return []

        self.sync.sync_pair("Cases", iid, self.rules, check=check, derive=self._derive)

    def portal_new_case(self, pid: str) -> None:
        """A case the client opened in the portal -> an internal Case of their Account and Contact."""
        sync = self.sync
        with sync.lock("new-Cases", pid):
            if sync.ids.left("Cases", pid) is not None:
                return
            rec, vals = sync.read_portal("Cases", pid, self.rules, extra=["account_id"])
            if rec is None:
                return
            contact, org = sync.login_org(rec, "created_by")
            if contact is None:
                portal_account = str(rec.get("account_id") or "")
                org = sync.ids.left("Accounts", portal_account) if portal_account else None
            if org is None or sync.ids.entry("Accounts", org) is None:
                return  # not a case of a client organisation
            given = {f: text(v) for f, v in vals.items() if text(v) != ""}
            given["status"] = "Open_New"  # a new case is new, whatever the portal record says
            problems = check_values(given, sync.internal_fields("Cases"), max_text=sync.s.max_text_length)
            if not text(given.get("name")):
                problems.append(f"name: a case needs a subject (portal case {pid})")  # type: ignore[arg-type]
            if problems:
                sync.refuse("Cases", pid, None, problems)
                return
            pair = sync.ids.link(
                "Cases",
                new_guid(),
                pid,
                {"state": CREATING, "account": org, "contact": contact, "given": given},
            )
        self._finish_new_case(pair)

    def _finish_new_case(self, pair: IdPair) -> None:
        sync = self.sync
        with sync.lock("Cases", pair.left):
            pair = sync.ids.entry("Cases", pair.left)
            if pair is None or pair.data.get("state") == OK:
                return
            org, contact = pair.data["account"], pair.data.get("contact")
            given = {k: v for k, v in (pair.data.get("given") or {}).items() if k in self.rules.fields}
            known = sync.internal_fields("Cases")
            values: dict[str, Any] = {**given, **self._derive(given), "account_id": org}
            flag = sync.s.cases.portal_case_field
            if flag in known:
                values[flag] = True
            assignee = sync.s.cases.assigned_user_id or self._account_owner(org)
            if assignee:
                values["assigned_user_id"] = assignee
            sync.crm.create("Cases", values, id=pair.left)
            if contact:
                sync.crm.relate("Cases", pair.left, "contacts", [contact])
            account = sync.ids.entry("Accounts", org)
            portal_fix: dict[str, Any] = {"account_id": account.right, **self._derive(given)}
            if "status" in given:
                portal_fix[self.rules.portal_name("status")] = given["status"]
            sync.portal.update("Cases", pair.right, portal_fix)
            portal_contact = sync.ids.right("Contacts", contact) if contact else None
            if portal_contact:
                sync.portal.relate("Cases", pair.right, "contacts", [portal_contact])
            group = sync.orgs.group_of(org)
            if group:
                sync.portal.share(group, "Cases", [pair.right])
            data = {k: v for k, v in pair.data.items() if k != "given"}
            base = {f: text(given.get(f, "")) for f in self.rules.fields}
            sync.ids.update("Cases", pair.left, {**data, "state": OK, "base": base})
        log.info("portal_sync: portal case %s is internal Case %s (Account %s)", pair.right, pair.left, org)

    def _account_owner(self, account_id: str) -> str:
        rec = self.sync.read_internal("Accounts", account_id, ["assigned_user_id"])
        return str(rec.get("assigned_user_id") or "") if rec is not None else ""

    # --- the thread (AOP_Case_Updates) --------------------------------------------------------

    def internal_update_changed(self, iid: str, kind: EventKind) -> None:
        """A staff update: non-internal ones go to the portal case, internal ones never do."""
        sync = self.sync
        mapped = sync.ids.entry("AOP_Case_Updates", iid)
        rec = (
            None if kind is EventKind.DELETED else sync.read_internal("AOP_Case_Updates", iid, UPDATE_FIELDS)
        )
        if mapped is not None:
            if mapped.data.get("from") == "portal":
                return  # the client's own update, already in the portal
            if rec is None or rec.get("internal"):
                with sync.lock("AOP_Case_Updates", iid):
                    try:
                        sync.portal.delete("AOP_Case_Updates", mapped.right)
                    except NotFound:
                        pass
                    sync.ids.unlink("AOP_Case_Updates", iid)
            elif mapped.data.get("state") != OK:
                self._copy_update_out(iid)
            return
        if rec is None or rec.get("internal"):
            return
        case = sync.ids.entry("Cases", str(rec.get("case_id") or ""))
        if case is None or case.data.get("state") != OK:
            return
        self._copy_update_out(iid)

    def _copy_update_out(self, iid: str) -> None:
        sync = self.sync
        with sync.lock("AOP_Case_Updates", iid):
            rec = sync.read_internal("AOP_Case_Updates", iid, UPDATE_FIELDS)
            if rec is None or rec.get("internal"):
                return
            case = sync.ids.entry("Cases", str(rec.get("case_id") or ""))
            pair = sync.ids.entry("AOP_Case_Updates", iid)
            if pair is None:
                pair = sync.ids.link(
                    "AOP_Case_Updates", iid, new_guid(), {"state": CREATING, "from": "internal"}
                )
            elif pair.data.get("state") == OK:
                return
            sync.portal.create(
                "AOP_Case_Updates",
                pair.right,
                {
                    "name": text(rec.get("name"))[:255],
                    "description": text(rec.get("description")),
                    "case_id": case.right,
                    "internal": False,
                },
            )
            sync.ids.update("AOP_Case_Updates", iid, {**pair.data, "state": OK, "case": case.left})

    def portal_update_changed(self, pid: str) -> None:
        """The client wrote in their case's thread: the update comes in, non-internal, with their Contact."""
        sync = self.sync
        if sync.ids.left("AOP_Case_Updates", pid) is not None:
            pair = sync.ids.entry_by_right("AOP_Case_Updates", pid)
            if pair is not None and pair.data.get("state") != OK and pair.data.get("from") == "portal":
                self._copy_update_in(pair)
            return
        with sync.lock("new-AOP_Case_Updates", pid):
            if sync.ids.left("AOP_Case_Updates", pid) is not None:
                return
            rec = sync.portal.get("AOP_Case_Updates", pid, UPDATE_FIELDS)
            if rec is None:
                return
            case = sync.ids.entry_by_right("Cases", str(rec.get("case_id") or ""))
            contact, org = sync.login_org(rec, "created_by")
            if case is None or contact is None:
                return  # not a client's update of a synced case
            if org != case.data.get("account"):
                sync.refuse(
                    "AOP_Case_Updates",
                    pid,
                    case.left,
                    [f"a portal login of another organisation wrote in case {case.right}"],
                )
                return
            values = {"name": text(rec.get("name")) or "Update", "description": text(rec.get("description"))}
            problems = check_values(
                values, sync.internal_fields("AOP_Case_Updates"), max_text=sync.s.max_text_length
            )
            if problems:
                sync.refuse("AOP_Case_Updates", pid, None, problems)
                return
            pair = sync.ids.link(
                "AOP_Case_Updates",
                new_guid(),
                pid,
                {"state": CREATING, "from": "portal", "case": case.left, "contact": contact, "given": values},
            )
        self._copy_update_in(pair)

    def _copy_update_in(self, pair: IdPair) -> None:
        sync = self.sync
        with sync.lock("AOP_Case_Updates", pair.left):
            pair = sync.ids.entry("AOP_Case_Updates", pair.left)
            if pair is None or pair.data.get("state") == OK:
                return
            values = dict(pair.data.get("given") or {})
            sync.crm.create(
                "AOP_Case_Updates",
                {
                    **values,
                    "case_id": pair.data["case"],
                    "internal": False,
                    "contact_id": pair.data.get("contact") or "",
                },
                id=pair.left,
            )
            data = {k: v for k, v in pair.data.items() if k != "given"}
            sync.ids.update("AOP_Case_Updates", pair.left, {**data, "state": OK})
        log.info(
            "portal_sync: the client's update %s came in as %s on Case %s",
            pair.right,
            pair.left,
            pair.data["case"],
        )

    # --- files (Notes) ------------------------------------------------------------------------

    def internal_note_changed(self, iid: str, kind: EventKind) -> None:
        """A staff Note with a file on a synced case, shown in the portal (``portal_flag``), goes out."""
        sync = self.sync
        pair = sync.ids.entry("Notes", iid)
        if pair is not None:
            if pair.data.get("state") != OK and pair.data.get("from") == "internal":
                self._copy_note_out(iid)
            return
        if kind is EventKind.DELETED:
            return
        rec = sync.read_internal("Notes", iid, NOTE_FIELDS)
        if rec is None or not self._note_goes_out(rec):
            return
        self._copy_note_out(iid)

    def _note_goes_out(self, rec: Record) -> bool:
        if rec.get("parent_type") != "Cases" or not rec.get("portal_flag") or not rec.get("filename"):
            return False
        case = self.sync.ids.entry("Cases", str(rec.get("parent_id") or ""))
        return case is not None and case.data.get("state") == OK

    def _copy_note_out(self, iid: str) -> None:
        sync = self.sync
        with sync.lock("Notes", iid):
            rec = sync.read_internal("Notes", iid, NOTE_FIELDS)
            if rec is None or not self._note_goes_out(rec):
                return
            pair = sync.ids.entry("Notes", iid)
            if pair is None:
                pair = sync.ids.link("Notes", iid, new_guid(), {"state": CREATING, "from": "internal"})
            elif pair.data.get("state") == OK:
                return
            case = sync.ids.entry("Cases", str(rec.get("parent_id")))
            att = sync.crm.get_attachment(iid)
            if att is None:
                return
            sync.portal.create(
                "Notes",
                pair.right,
                {
                    "name": text(rec.get("name"))[:255] or att.filename,
                    "description": text(rec.get("description")),
                    "parent_type": "Cases",
                    "parent_id": case.right,
                    "portal_flag": True,
                },
            )
            sync.portal.put_file(pair.right, att.filename, att.content)
            group = sync.orgs.group_of(case.data.get("account", ""))
            if group:
                sync.portal.share(group, "Notes", [pair.right])
            sync.ids.update("Notes", iid, {**pair.data, "state": OK, "case": case.left})

    def portal_note_changed(self, pid: str) -> None:
        """A file the client attached to their case in the portal comes in (size and name checked)."""
        sync = self.sync
        existing = sync.ids.entry_by_right("Notes", pid)
        if existing is not None:
            if existing.data.get("state") != OK and existing.data.get("from") == "portal":
                self._copy_note_in(existing)
            return
        with sync.lock("new-Notes", pid):
            if sync.ids.left("Notes", pid) is not None:
                return
            rec = sync.portal.get("Notes", pid, NOTE_FIELDS)
            if rec is None or rec.get("parent_type") != "Cases" or not rec.get("filename"):
                return  # not a case file (yet: a file set after the Note's first save comes as an update)
            case = sync.ids.entry_by_right("Cases", str(rec.get("parent_id") or ""))
            contact, org = sync.login_org(rec, "created_by")
            if case is None or contact is None:
                return
            if org != case.data.get("account"):
                sync.refuse(
                    "Notes",
                    pid,
                    case.left,
                    [f"a portal login of another organisation attached a file to case {case.right}"],
                )
                return
            att = sync.portal.get_file(pid)
            if att is None:
                return
            problem = check_filename(att.filename, len(att.content), sync.s.cases.max_attachment_bytes)
            values = {
                "name": text(rec.get("name")) or att.filename,
                "description": text(rec.get("description")),
            }
            problems = check_values(values, sync.internal_fields("Notes"), max_text=sync.s.max_text_length)
            if problem is not None:
                problems.insert(0, problem)
            if problems:
                sync.refuse("Notes", pid, None, problems)
                return
            pair = sync.ids.link(
                "Notes",
                new_guid(),
                pid,
                {"state": CREATING, "from": "portal", "case": case.left, "contact": contact, "given": values},
            )
        self._copy_note_in(pair)

    def _copy_note_in(self, pair: IdPair) -> None:
        sync = self.sync
        with sync.lock("Notes", pair.left):
            pair = sync.ids.entry("Notes", pair.left)
            if pair is None or pair.data.get("state") == OK:
                return
            att = sync.portal.get_file(pair.right)
            if att is None:
                return
            problem = check_filename(att.filename, len(att.content), sync.s.cases.max_attachment_bytes)
            if problem is not None:
                sync.refuse("Notes", pair.right, None, [problem])
                sync.ids.unlink("Notes", pair.left)
                return
            values = dict(pair.data.get("given") or {})
            sync.crm.create(
                "Notes",
                {
                    **values,
                    "parent_type": "Cases",
                    "parent_id": pair.data["case"],
                    "portal_flag": True,
                    "contact_id": pair.data.get("contact") or "",
                },
                id=pair.left,
            )
            sync.crm.set_attachment(pair.left, att.filename, att.content)
            data = {k: v for k, v in pair.data.items() if k != "given"}
            sync.ids.update("Notes", pair.left, {**data, "state": OK})
        log.info(
            "portal_sync: the client's file %s came in as Note %s on Case %s",
            att.filename,
            pair.left,
            pair.data["case"],
        )
