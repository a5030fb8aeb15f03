"""Organisation data both ways: the client's Account and its Contacts (contact persons).

Internal → portal: an Account is *published* (its portal twin created, under the sidecar's id) when
one of its Contacts is invited — or, with ``organisation.publish: all``, as soon as it changes (and
by ``portal resync``); its Contacts follow it. The organisation's security group is made with the
first login (:meth:`OrganisationSync.ensure_group`) and every synced record of the organisation is
shared with it. Only the configured fields ever leave the internal CRM.

Portal → internal: a change of a synced record is merged field by field (rules.py) after checking
who made it (a portal login of *another* organisation is refused) and what it is (validation.py);
a Contact the client adds in the portal becomes an internal Contact of the client's own Account —
the organisation is taken from the login that created it, never from ids in the portal record.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from suitecrm_ext import Cond, EventKind, IdPair, NotFound, new_guid

from .rules import text
from .settings import ModuleRules
from .validation import check_values

if TYPE_CHECKING:
    from .engine import PortalSync

log = logging.getLogger("suitecrm_ext.plugins.portal_sync")

CREATING, OK = "creating", "ok"


class OrganisationSync:
    """Accounts and Contacts of client organisations (see the module docstring)."""

    def __init__(self, sync: PortalSync):
        self.sync = sync

    def rules(self, module: str) -> ModuleRules:
        """The field rules of Accounts / Contacts."""
        return getattr(self.sync.s.organisation, module)

    # --- internal side changed ------------------------------------------------------------------

    def internal_changed(self, module: str, iid: str, kind: EventKind) -> None:
        """An internal Account or Contact changed (or was deleted)."""
        sync = self.sync
        if module == "Accounts":
            pair = sync.ids.entry("Accounts", iid)
            if kind is EventKind.DELETED or (
                pair is not None and sync.read_internal("Accounts", iid, ["id"]) is None
            ):
                if pair is not None:
                    sync.logins.disable_organisation(iid)
                return
            if pair is None:
                if sync.s.organisation.publish == "all":
                    self.publish_account(iid)
                return
            if pair.data.get("state") != OK:
                self.publish_account(iid)
            else:
                self.sync_pair("Accounts", iid)
            return
        rec = sync.read_internal("Contacts", iid, [sync.s.status_field])
        if rec is None or kind is EventKind.DELETED:
            sync.logins.disable(iid, reason="the internal Contact was deleted")
            self.unpublish_contact(iid)
            return
        status = str(rec.get(sync.s.status_field) or "")
        if status == "invite":
            sync.logins.invite_requested(iid)
            return
        if status == "disabled":
            sync.logins.disable(iid, reason="the manager set the Contact to disabled")
        pair = sync.ids.entry("Contacts", iid)
        if pair is not None:
            if pair.data.get("state") != OK:
                self.publish_contact(iid, pair.data["account"])
            else:
                self.sync_pair("Contacts", iid)
            return
        account = self.account_of(iid)
        if account is not None and self._published(account):
            self.publish_contact(iid, account)

    def account_of(self, contact_id: str) -> str | None:
        """The internal Account of an internal Contact (``account_id``, else the first related)."""
        sync = self.sync
        rec = sync.read_internal("Contacts", contact_id, ["account_id"])
        if rec is not None and rec.get("account_id"):
            return str(rec.get("account_id"))
        try:
            first = next(iter(sync.crm.related("Contacts", contact_id, "accounts", ["id"])), None)
        except NotFound:
            return None
        return first.id if first is not None else None

    def _published(self, account_id: str) -> bool:
        pair = self.sync.ids.entry("Accounts", account_id)
        return pair is not None and pair.data.get("state") == OK

    # --- publishing -----------------------------------------------------------------------------

    def publish_account(self, iid: str, *, with_contacts: bool = True) -> IdPair:
        """The Account's portal twin, created when missing (repeat-safe), with its Contacts."""
        sync = self.sync
        rules = self.rules("Accounts")
        with sync.lock("Accounts", iid):
            pair = sync.ids.entry("Accounts", iid)
            if pair is not None and pair.data.get("state") == OK:
                return pair
            rec = sync.read_internal("Accounts", iid, list(rules.fields))
            if rec is None:
                raise NotFound(f"no Account {iid} in the internal CRM")
            if pair is None:
                pair = sync.ids.link("Accounts", iid, new_guid(), {"state": CREATING, "group": new_guid()})
            values = sync.values(rec, list(rules.fields))
            sync.portal.create("Accounts", pair.right, sync.to_portal_names(rules, values))
            data = {**pair.data, "state": OK, "base": values}
            if pair.data.get("group_ready"):
                sync.portal.share(pair.data["group"], "Accounts", [pair.right])
            pair = sync.ids.update("Accounts", iid, data)
        if with_contacts:
            for contact in sync.crm.related("Accounts", iid, "contacts", ["id"]):
                self.publish_contact(contact.id, iid)
        return pair

    def publish_accounts(self, ids: list[str], progress: Any = None, batch: int = 200) -> dict[str, int]:
        """Publish many Accounts at once (the initial sync of ``publish: all``): per batch one read, one
        id-map transaction, one batched create in the portal, one id-map transaction — crash-safe like
        :meth:`publish_account` (ids noted as ``creating`` before the portal has them). Contacts follow
        with ``portal resync --module Contacts``. Accounts already published are skipped."""
        sync = self.sync
        rules = self.rules("Accounts")
        fields = list(rules.fields)
        done = skipped = 0
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            have = sync.ids.entries("Accounts", chunk)
            todo = [i for i in chunk if have.get(i) is None or have[i].data.get("state") != OK]
            recs = (
                {r.id: r for r in sync.internal_read("find", "Accounts", Cond("id", "in", todo), fields)}
                if todo
                else {}
            )
            fresh = [
                (i, new_guid(), {"state": CREATING, "group": new_guid()})
                for i in todo
                if i in recs and have.get(i) is None
            ]
            have.update({p.left: p for p in sync.ids.link_many("Accounts", fresh)})
            rows, data = [], {}
            for i in todo:
                if i not in recs:
                    continue  # deleted meanwhile
                values = sync.values(recs[i], fields)
                rows.append({"id": have[i].right, **sync.to_portal_names(rules, values)})
                data[i] = {**have[i].data, "state": OK, "base": values}
            if rows:
                sync.portal.create_many("Accounts", rows)
                sync.ids.update_many("Accounts", data)
            done += len(rows)
            skipped += len(chunk) - len(rows)
            if progress is not None:
                progress(len(chunk))
        return {"published": done, "skipped": skipped}

    def publish_contact(self, iid: str, account_id: str) -> IdPair:
        """The Contact's portal twin in its organisation, created when missing (repeat-safe)."""
        sync = self.sync
        rules = self.rules("Contacts")
        account = self.publish_account(account_id, with_contacts=False)
        with sync.lock("Contacts", iid):
            pair = sync.ids.entry("Contacts", iid)
            if pair is not None and pair.data.get("state") == OK:
                return pair
            rec = sync.read_internal("Contacts", iid, list(rules.fields))
            if rec is None:
                raise NotFound(f"no Contact {iid} in the internal CRM")
            if pair is None:
                pair = sync.ids.link("Contacts", iid, new_guid(), {"state": CREATING, "account": account_id})
            values = sync.values(rec, list(rules.fields))
            sync.portal.create("Contacts", pair.right, sync.to_portal_names(rules, values))
            sync.portal.relate("Contacts", pair.right, "accounts", [account.right])
            if account.data.get("group_ready"):
                sync.portal.share(account.data["group"], "Contacts", [pair.right])
            return sync.ids.update("Contacts", iid, {**pair.data, "state": OK, "base": values})

    def unpublish_contact(self, iid: str) -> None:
        """An internal Contact was deleted: its portal twin goes too."""
        sync = self.sync
        pair = sync.ids.entry("Contacts", iid)
        if pair is None:
            return
        with sync.lock("Contacts", iid):
            try:
                sync.portal.delete("Contacts", pair.right)
            except NotFound:
                pass
            sync.ids.unlink("Contacts", iid)

    def ensure_group(self, account_id: str) -> str:
        """The organisation's group in the portal, with every synced record of it shared (idempotent)."""
        sync = self.sync
        pair = self.publish_account(account_id)
        gid = pair.data["group"]
        if pair.data.get("group_ready"):
            return gid
        name = str(pair.data.get("base", {}).get("name") or account_id)
        sync.portal.ensure_organisation(gid, name)
        sync.portal.share(gid, "Accounts", [pair.right])
        # records still being created are shared by whoever finishes them (the group is ready by then)
        contacts = [
            p.right
            for p in sync.ids.pairs("Contacts")
            if p.data.get("account") == account_id and p.data.get("state") == OK
        ]
        if contacts:
            sync.portal.share(gid, "Contacts", contacts)
        cases = [
            p.right
            for p in sync.ids.pairs("Cases")
            if p.data.get("account") == account_id and p.data.get("state") == OK
        ]
        if cases:
            sync.portal.share(gid, "Cases", cases)
        with sync.lock("Accounts", account_id):
            current = sync.ids.entry("Accounts", account_id)
            sync.ids.update("Accounts", account_id, {**current.data, "group_ready": True})
        return gid

    def group_of(self, account_id: str) -> str | None:
        """The organisation's group id once it exists in the portal."""
        pair = self.sync.ids.entry("Accounts", account_id)
        return pair.data.get("group") if pair is not None and pair.data.get("group_ready") else None

    # --- portal side changed --------------------------------------------------------------------

    def portal_changed(self, module: str, pid: str) -> None:
        """A portal Account or Contact changed."""
        sync = self.sync
        pair = sync.ids.entry_by_right(module, pid)
        if pair is not None:
            if pair.data.get("state") == OK:
                self.sync_pair(module, pair.left)
            elif pair.data.get("from") == "portal":
                self._finish_new_contact(pair)  # a crash after noting its id: finish it
            return
        if module == "Contacts":
            self.portal_new_contact(pid)
        # an Account made in the portal belongs to no client organisation: nothing to sync

    def portal_new_contact(self, pid: str) -> None:
        """A contact person the client added in the portal -> an internal Contact of their Account."""
        sync = self.sync
        rules = self.rules("Contacts")
        with sync.lock("new-Contacts", pid):
            if sync.ids.left("Contacts", pid) is not None:
                return
            rec, vals = sync.read_portal("Contacts", pid, rules, extra=["account_id"])
            if rec is None:
                return
            author, org = sync.login_org(rec, "created_by")
            if author is None:
                # made by the portal's staff: it belongs to the organisation of its (synced) Account
                portal_account = str(rec.get("account_id") or "")
                org = sync.ids.left("Accounts", portal_account) if portal_account else None
            if org is None or not self._published(org):
                return
            given = {f: text(v) for f, v in vals.items() if text(v) != ""}
            problems = check_values(given, sync.internal_fields("Contacts"), max_text=sync.s.max_text_length)
            if problems:
                sync.refuse("Contacts", pid, None, problems)
                return
            iid = new_guid()
            pair = sync.ids.link(
                "Contacts", iid, pid, {"state": CREATING, "account": org, "from": "portal", "given": given}
            )
        self._finish_new_contact(pair)

    def _finish_new_contact(self, pair: IdPair) -> None:
        sync = self.sync
        rules = self.rules("Contacts")
        org = pair.data["account"]
        with sync.lock("Contacts", pair.left):
            pair = sync.ids.entry("Contacts", pair.left)
            if pair is None or pair.data.get("state") == OK:
                return
            given = dict(pair.data.get("given") or {})
            sync.crm.create("Contacts", {**given, "account_id": org}, id=pair.left)
            sync.crm.relate("Contacts", pair.left, "accounts", [org])
            account = sync.ids.entry("Accounts", org)
            sync.portal.relate("Contacts", pair.right, "accounts", [account.right])
            group = self.group_of(org)
            if group:
                sync.portal.share(group, "Contacts", [pair.right])
            base = {f: text(given.get(f, "")) for f in rules.fields}
            data = {k: v for k, v in pair.data.items() if k != "given"}
            sync.ids.update("Contacts", pair.left, {**data, "state": OK, "base": base})
        log.info(
            "portal_sync: the client added contact %s (portal %s) to Account %s", pair.left, pair.right, org
        )

    # --- the merge of one pair ------------------------------------------------------------------

    def sync_pair(self, module: str, iid: str) -> None:
        """Merge one synced Account or Contact both ways; a renamed Account renames its group."""

        def renamed(base: dict[str, str], merged: dict[str, str]) -> None:
            if module == "Accounts" and merged.get("name") not in (None, base.get("name")):
                group = self.group_of(iid)
                if group:
                    self.sync.portal.rename_organisation(group, merged["name"])

        self.sync.sync_pair(module, iid, self.rules(module), after=renamed)
