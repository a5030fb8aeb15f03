"""``portal resync``: sync synced pairs again (and, with ``publish: all``, publish unpublished Accounts).

What it goes through, per module (Accounts, Contacts, Cases; all three without ``--module``):

- the internal records of synced pairs — those modified since ``--since`` (internal or portal side),
  or every pair without it;
- with ``organisation.publish: all``: every internal Account (modified since ``--since``) not yet in
  the portal — this is the initial sync of an existing CRM;
- the portal's records modified since ``--since`` that are not synced yet (a contact or case the
  client added while the sidecar was down for longer than the portal feed's re-scan).

Each record is handled as a change event would be (idempotent), so a resync interrupted at any point
and run again ends in the same state. Failures are counted and logged; the others go on.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from suitecrm_ext import Cond, EventKind

from .engine import PortalSync

log = logging.getLogger("suitecrm_ext.plugins.portal_sync")

MODULES = ("Accounts", "Contacts", "Cases")


@dataclass
class ResyncPlan:
    """What a resync will go through: per module, internal ids and unsynced portal ids."""

    internal: dict[str, list[str]] = field(default_factory=dict)
    portal_new: dict[str, list[str]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """How many records in all."""
        return sum(map(len, self.internal.values())) + sum(map(len, self.portal_new.values()))


def plan(
    sync: PortalSync, modules: tuple[str, ...] = MODULES, since: dt.datetime | None = None
) -> ResyncPlan:
    """Collect what to sync (reads ids only)."""
    out = ResyncPlan()
    for module in modules:
        if module == "Cases" and not sync.s.cases.enabled:
            continue
        rules = sync.cases.rules if module == "Cases" else sync.orgs.rules(module)
        pairs = list(sync.ids.pairs(module))
        ids = dict.fromkeys(p.left for p in pairs) if since is None else {}
        if since is not None:
            where = Cond("date_modified", "gte", since)
            mapped = {p.left for p in pairs}
            for rec in sync.crm.find(module, where=where, fields=["id"]):
                if rec.id in mapped or (module == "Accounts" and sync.s.organisation.publish == "all"):
                    ids[rec.id] = None
        elif module == "Accounts" and sync.s.organisation.publish == "all":
            for rec in sync.crm.find("Accounts", fields=["id"]):
                ids.setdefault(rec.id, None)
        elif module == "Contacts" and sync.s.organisation.publish == "all":
            # contact persons of published organisations that are not in the portal yet
            for rec in sync.crm.find("Contacts", fields=["id"]):
                ids.setdefault(rec.id, None)
        portal_new: list[str] = []
        if module != "Accounts":
            names = [rules.portal_name(f) for f in rules.fields]
            for rec in sync.portal.changed_since(module, since, names):
                left = sync.ids.left(module, rec.id)
                if left is None:
                    portal_new.append(rec.id)
                elif since is not None:
                    ids[left] = None
        elif since is not None:
            for rec in sync.portal.changed_since(module, since, ["name"]):
                left = sync.ids.left(module, rec.id)
                if left is not None:
                    ids[left] = None
        out.internal[module] = list(ids)
        out.portal_new[module] = portal_new
    return out


def run(
    sync: PortalSync, the_plan: ResyncPlan, progress: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """Sync everything in the plan; returns per-module counts ``{module: {synced, failed}}``."""
    result: dict[str, Any] = {}
    for module, ids in the_plan.internal.items():
        done = failed = 0
        if module == "Accounts":
            # the unpublished ones in batches (the initial sync), the published one by one
            have = {}
            for start in range(0, len(ids), 1000):
                have.update(sync.ids.entries("Accounts", ids[start : start + 1000]))
            fresh = [i for i in ids if i not in have or have[i].data.get("state") != "ok"]
            if fresh:
                try:
                    done += sync.orgs.publish_accounts(fresh, progress=progress)["published"]
                except Exception as exc:  # noqa: BLE001 - counted, logged; a rerun resumes
                    failed += len(fresh)
                    log.error("portal_sync: publishing Accounts failed: %s: %s", type(exc).__name__, exc)
            ids = [i for i in ids if i in have and have[i].data.get("state") == "ok"]
        for iid in ids:
            try:
                if module == "Cases":
                    sync.cases.internal_case_changed(iid, EventKind.UPDATED)
                else:
                    _org_record(sync, module, iid)
                done += 1
            except Exception as exc:  # noqa: BLE001 - one record must not stop a resync; counted and logged
                failed += 1
                log.error("portal_sync: resync of %s %s failed: %s: %s", module, iid, type(exc).__name__, exc)
            if progress is not None:
                progress(1)
        for pid in the_plan.portal_new.get(module, []):
            try:
                if module == "Cases":
                    sync.cases.portal_case_changed(pid)
                else:
                    sync.orgs.portal_changed(module, pid)
                done += 1
            except Exception as exc:  # noqa: BLE001 - as above
                failed += 1
                log.error(
                    "portal_sync: resync of portal %s %s failed: %s: %s", module, pid, type(exc).__name__, exc
                )
            if progress is not None:
                progress(1)
        result[module] = {"synced": done, "failed": failed}
    return result


def _org_record(sync: PortalSync, module: str, iid: str) -> None:
    pair = sync.ids.entry(module, iid)
    if module == "Accounts":
        if pair is None or pair.data.get("state") != "ok":
            sync.orgs.publish_account(iid)
        else:
            sync.orgs.sync_pair("Accounts", iid)
        return
    if pair is None:
        account = sync.orgs.account_of(iid)
        if account is not None and sync.ids.entry("Accounts", account) is not None:
            sync.orgs.publish_contact(iid, account)
        return
    if pair.data.get("state") != "ok":
        sync.orgs.publish_contact(iid, pair.data["account"])
    else:
        sync.orgs.sync_pair("Contacts", iid)
