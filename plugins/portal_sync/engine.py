"""The sync between the internal CRM and the portal: what a change on either side leads to.

:class:`PortalSync` is what the hooks, the job and the CLI use. A change (an event of either origin)
is only a trigger: the sync reads the *current* records on both sides and merges them against the
base kept in the id map (rules.py), so handling an event twice, late, or after a crash ends in the
same state, and a write the sync made itself comes back as "nothing to do" (no echo).

- organisations (orgs.py): Accounts and their Contacts, both ways, per the field rules;
- logins (logins.py): invitation, registration, disabling;
- cases (cases.py): portal cases into the internal CRM, their thread and files both ways.

Ids: every record the sync creates gets its id from the sync (``new_guid``), noted in the id map
*before* the record is created (state ``creating``), and is created with the gateway's repeat-safe
``create``: a crash between the two never makes a duplicate. Ids from the portal are only ever looked
up in the id map, never used to address internal records.

Concurrency: the work on one pair holds a lease in the state store (``portal_sync:<kind>:<id>``);
a second worker handling the same pair at that moment gets :class:`Busy` and its delivery is retried.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from suitecrm_ext import (
    CRM,
    Event,
    EventKind,
    IdMap,
    IdPair,
    NotFound,
    Record,
    TransientError,
    ValidationError,
    WatchSpec,
)

from .adapter import ORIGIN, PortalAdapter
from .journal import IDS_NS, Journal
from .rules import Conflict, merge, text
from .settings import ModuleRules, Settings
from .tasks import review_task
from .validation import Problem, check_values

log = logging.getLogger("suitecrm_ext.plugins.portal_sync")

#: a pair's lease: longer than one pair's work; a crashed holder's lease blocks the pair this long at most
LOCK_TTL = 30.0
#: how long a handler waits for a pair another worker holds before its delivery is retried
LOCK_WAIT = 10.0
STATE_NS = "portal_sync"
#: the portal's feed starts this long before the sync first used the portal (clock skew)
START_MARGIN = dt.timedelta(minutes=5)
#: id map kinds besides the module names
GROUP, LOGIN = "group", "login"


class Busy(TransientError):
    """Another worker is syncing the same pair right now; the delivery is retried."""


class SyncProblem(Exception):
    """A request that cannot be done as asked (the message says why, for the user)."""


def watch_specs(settings: Settings) -> list[WatchSpec]:
    """Internal and portal specs: the synced fields (the portal's names for the portal's specs)."""
    kinds = frozenset({EventKind.CREATED, EventKind.UPDATED, EventKind.DELETED})
    org = settings.organisation
    specs: list[WatchSpec] = []
    per_module: dict[str, tuple[ModuleRules, tuple[str, ...]]] = {
        "Accounts": (org.Accounts, ()),
        "Contacts": (org.Contacts, (settings.status_field,)),
    }
    if settings.cases.enabled:
        per_module["Cases"] = (settings.cases.rules, ())
    for module, (rules, extra) in per_module.items():
        # a Contact related to an Account after it was saved (REST set_relationship, the Account's Contacts
        # subpanel) is a push "related" event only: without it the Contact never reached the portal
        internal_kinds = kinds | {EventKind.RELATED} if module in ("Accounts", "Contacts") else kinds
        specs.append(
            WatchSpec(module, fields=tuple(dict.fromkeys([*rules.fields, *extra])), kinds=internal_kinds)
        )
        specs.append(
            WatchSpec(
                module, fields=tuple(rules.portal_name(f) for f in rules.fields), kinds=kinds, origin=ORIGIN
            )
        )
    if settings.cases.enabled:
        for module in ("AOP_Case_Updates", "Notes"):
            specs.append(WatchSpec(module, kinds=kinds))
            specs.append(WatchSpec(module, kinds=kinds, origin=ORIGIN))
    return specs


def _related_contact(event: Event) -> str | None:
    """The Contact of a Contact-Account relationship event (None for any other relationship)."""
    if event.module == "Contacts" and (event.related_module == "Accounts" or event.link == "accounts"):
        return event.record_id
    if event.module == "Accounts" and (event.related_module == "Contacts" or event.link == "contacts"):
        return event.related_id
    return None


class PortalSync:
    """The sync over the internal CRM (``crm``), the state store and a portal adapter."""

    def __init__(
        self, settings: Settings, crm: CRM, store: Any, adapter: PortalAdapter, *, worker: str | None = None
    ):
        from .cases import CaseSync
        from .logins import LoginSync
        from .orgs import OrganisationSync

        self.s = settings
        self.crm = crm
        self.store = store
        self.portal = adapter
        self.ids = IdMap(store, IDS_NS)
        self.journal = Journal(store)
        self.worker = worker or f"portal_sync-{uuid.uuid4().hex[:8]}"
        self._fields: dict[str, dict] = {}
        self.orgs = OrganisationSync(self)
        self.logins = LoginSync(self)
        self.cases = CaseSync(self)
        self.started()

    # --- what to watch --------------------------------------------------------------------------

    def watch_specs(self) -> list[WatchSpec]:
        """See :func:`watch_specs`."""
        return watch_specs(self.s)

    def portal_specs(self) -> list[WatchSpec]:
        """The specs of the portal's change feed."""
        return [s for s in self.watch_specs() if s.origin == ORIGIN]

    # --- events ---------------------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        """React to a change on either side (idempotent; raises to have the delivery retried)."""
        portal = event.origin == ORIGIN
        if event.origin not in ("", ORIGIN):
            return
        if event.module in ("Accounts", "Contacts"):
            if event.kind is EventKind.RELATED:
                contact = _related_contact(event)
                if not portal and contact is not None:
                    self.orgs.internal_changed("Contacts", contact, EventKind.UPDATED)
                return
            if portal:
                self.orgs.portal_changed(event.module, event.record_id)
            else:
                self.orgs.internal_changed(event.module, event.record_id, event.kind)
        elif event.module == "Cases" and self.s.cases.enabled:
            if portal:
                self.cases.portal_case_changed(event.record_id)
            else:
                self.cases.internal_case_changed(event.record_id, event.kind)
        elif event.module == "AOP_Case_Updates" and self.s.cases.enabled:
            if portal:
                self.cases.portal_update_changed(event.record_id)
            else:
                self.cases.internal_update_changed(event.record_id, event.kind)
        elif event.module == "Notes" and self.s.cases.enabled and self.s.cases.attachments:
            if portal:
                self.cases.portal_note_changed(event.record_id)
            else:
                self.cases.internal_note_changed(event.record_id, event.kind)

    def poll(self, *, lock_owner: str | None = None) -> dict[str, int]:
        """The ``portal-sync`` job: queue the portal's changes, pick up registrations."""
        queued = self.portal.poll(
            self.store, self.portal_specs(), start=self.started(), lock_owner=lock_owner
        )
        registered = self.logins.check_registrations()
        return {"queued": queued, "registered": registered}

    def started(self) -> dt.datetime:
        """When the sync first used the portal (in the portal's time, less a margin): the portal's feed
        starts there, so nothing a client did is missed and the portal's older records are not replayed."""
        doc = self.store.kv_get(STATE_NS, "portal_since")
        if doc is None:
            since = (self.portal.now() - START_MARGIN).replace(microsecond=0)
            self.store.kv_add(STATE_NS, "portal_since", since.strftime("%Y-%m-%dT%H:%M:%SZ"))
            doc = self.store.kv_get(STATE_NS, "portal_since")
        return dt.datetime.fromisoformat(str(doc).replace("Z", "+00:00"))

    # --- shared helpers -------------------------------------------------------------------------

    @contextmanager
    def lock(self, kind: str, key: str) -> Iterator[None]:
        """Hold the lease of one pair (Busy when another worker holds it)."""
        name = f"portal_sync:{kind}:{key}"
        owner = f"{self.worker}:{uuid.uuid4().hex[:8]}"
        deadline = time.monotonic() + LOCK_WAIT
        while not self.store.acquire_lock(name, owner, LOCK_TTL):
            if time.monotonic() > deadline:
                raise Busy(f"{kind} {key} is being synced by another worker; retried shortly")
            time.sleep(0.2)
        try:
            yield
        finally:
            self.store.release_lock(name, owner)

    def internal_fields(self, module: str) -> dict:
        """Field metadata of the internal module (cached for the life of this object)."""
        if module not in self._fields:
            self._fields[module] = self.crm.fields(module)
        return self._fields[module]

    def read_internal(self, module: str, iid: str, fields: Sequence[str]) -> Record | None:
        """The internal record (None when missing or deleted)."""
        known = self.internal_fields(module)
        wanted = [f for f in dict.fromkeys(fields) if f in known]
        try:
            return self.internal_read("get", module, iid, wanted)
        except NotFound:
            return None

    def internal_read(self, op: str, *args: Any, **kwargs: Any) -> Any:
        """A read of the internal CRM; when the gateway reads from MySQL and a synced field is not a column
        there (``email1`` is computed by SuiteCRM from email_addresses), the API answers instead."""
        try:
            result = getattr(self.crm, op)(*args, **kwargs)
            return list(result) if op == "find" else result
        except ValidationError:
            writer = getattr(self.crm, "writer", None)
            if writer is None or getattr(self.crm, "reader", None) is None:
                raise
            result = getattr(writer, op)(*args, **kwargs)
            return list(result) if op == "find" else result

    def read_portal(
        self, module: str, pid: str, rules: ModuleRules | None, extra: Sequence[str] = ()
    ) -> tuple[Record | None, dict[str, Any]]:
        """The portal record and its synced values under their *internal* names."""
        names = [rules.portal_name(f) for f in rules.fields] if rules else []
        rec = self.portal.get(module, pid, [*names, *extra])
        if rec is None or rules is None:
            return rec, {}
        return rec, {f: rec.get(rules.portal_name(f)) for f in rules.fields}

    def to_portal_names(self, rules: ModuleRules, values: Mapping[str, Any]) -> dict[str, Any]:
        """Internal field names -> the portal's."""
        return {rules.portal_name(f) if f in rules.fields else f: v for f, v in values.items()}

    def actor(self, rec: Record, field: str = "modified_user_id") -> str | None:
        """The internal Contact of the portal login that did it (None: not a portal login)."""
        user = str(rec.get(field) or "")
        return self.ids.left(LOGIN, user) if user else None

    def org_of_contact(self, contact_id: str) -> str | None:
        """The internal Account a synced Contact belongs to."""
        pair = self.ids.entry("Contacts", contact_id)
        return pair.data.get("account") if pair else None

    def login_org(self, rec: Record, field: str = "modified_user_id") -> tuple[str | None, str | None]:
        """(internal Contact, internal Account) of the portal login in ``field``; (None, None) when the
        user is not a portal login (the portal's admin, the sidecar itself)."""
        contact = self.actor(rec, field)
        if contact is None:
            return None, None
        login = self.ids.entry(LOGIN, contact)
        return contact, (login.data.get("account") if login else None) or self.org_of_contact(contact)

    def refuse(
        self, module: str, pid: str, iid: str | None, problems: Sequence[Problem | str], side: str = "portal"
    ) -> None:
        """Record (and log, once) refused portal input."""
        for p in problems:
            field, reason = (p.field, p.message) if isinstance(p, Problem) else ("", str(p))
            if self.journal.refusal(
                module=module, portal_id=pid, internal_id=iid, field=field, reason=reason, side=side
            ):
                log.warning(
                    "portal_sync: refused %s change of %s %s%s: %s",
                    side,
                    module,
                    pid,
                    f" (internal {iid})" if iid else "",
                    f"{field}: {reason}" if field else reason,
                )

    def base_of(self, pair: IdPair) -> dict[str, str]:
        """The agreed values of a pair."""
        return dict(pair.data.get("base") or {})

    @staticmethod
    def values(rec: Record | None, names: Sequence[str]) -> dict[str, str]:
        """Text values of ``names`` (absent ones left out)."""
        if rec is None:
            return {}
        return {n: text(rec.get(n)) for n in names if n in rec.values}

    # --- the merge of one pair --------------------------------------------------------------------

    def sync_pair(
        self,
        module: str,
        iid: str,
        rules: ModuleRules,
        *,
        check: Callable[[Record, dict[str, Any], list[str], str | None], list[str]] | None = None,
        derive: Callable[[dict[str, str]], dict[str, str]] | None = None,
        after: Callable[[dict[str, str], dict[str, str]], None] | None = None,
    ) -> None:
        """Merge one synced pair both ways (rules.py), write what differs on each side, keep the base.

        ``check(portal_record, portal_values, changed_fields, author_contact)`` may add problems that
        hold the portal's change back; ``derive(values)`` adds fields that follow a written one (a
        Case's state follows its status); ``after(old_base, new_base)`` runs once the pair is merged.
        """
        with self.lock(module, iid):
            pair = self.ids.entry(module, iid)
            if pair is None or pair.data.get("state") != "ok":
                return
            irec = self.read_internal(module, iid, [*rules.fields, "assigned_user_id", "name"])
            if irec is None:
                return  # deleted: the deletion event does the rest
            prec, pvals = self.read_portal(module, pair.right, rules)
            if prec is None:
                log.warning(
                    "portal_sync: the portal's %s %s (internal %s) is gone; it is made again at the "
                    "next internal change",
                    module,
                    pair.right,
                    iid,
                )
                self.ids.unlink(module, iid)
                return
            org = iid if module == "Accounts" else pair.data.get("account")
            ivals = self.values(irec, list(rules.fields))
            base = self.base_of(pair)
            hold, undo = self._hold_back(module, pair, prec, pvals, base, ivals, org, check)
            # a forbidden change is undone: merged as if the portal had not changed, then written back
            seen = {f: (base.get(f, ivals.get(f, "")) if f in undo else v) for f, v in pvals.items()}
            m = merge(rules.fields, base, ivals, seen, invalid=hold)
            for f in undo:
                if f in m.base and text(pvals.get(f)) != m.base[f]:
                    m.to_portal[f] = m.base[f]
            for r in m.refusals:
                self.refuse(
                    module,
                    pair.right,
                    iid,
                    [f"{r.field}: {r.reason}; {r.value!r} undone, {r.kept!r} kept"],
                    side=r.side,
                )
            to_internal, to_portal = dict(m.to_internal), dict(m.to_portal)
            if derive is not None:
                to_internal.update(derive(to_internal))
                to_portal.update(derive(to_portal))
            if to_internal:
                self.crm.save(module, {"id": iid, **to_internal})
            if to_portal:
                self.portal.update(module, pair.right, self.to_portal_names(rules, to_portal))
            for c in m.conflicts:
                self._conflict(module, iid, pair.right, irec, c)
            if m.base != base:
                self.ids.update(module, iid, {**pair.data, "base": m.base})
        if after is not None:
            after(base, m.base)

    def _hold_back(
        self,
        module: str,
        pair: IdPair,
        prec: Record,
        pvals: dict[str, Any],
        base: dict[str, str],
        ivals: dict[str, str],
        org: str | None,
        check: Callable[..., list[str]] | None,
    ) -> tuple[set[str], set[str]]:
        """The portal-changed fields to (hold back, undo). Nothing of a refused change is applied: a
        change by a login of another organisation, or one ``check`` forbids (a client setting a status
        they may not), is undone in the portal; bad values are held back for the client to fix."""
        changed = [f for f, v in pvals.items() if text(v) != base.get(f, ivals.get(f, ""))]
        if not changed:
            return set(), set()
        author, author_org = self.login_org(prec)
        if author is not None and author_org != org:
            self.refuse(
                module,
                pair.right,
                pair.left,
                [f"changed by a portal login of another organisation ({prec.get('modified_user_id')})"],
            )
            return set(), set(changed)
        problems: list[Problem | str] = list(
            check_values(
                {f: pvals[f] for f in changed}, self.internal_fields(module), max_text=self.s.max_text_length
            )
        )
        if problems:
            self.refuse(module, pair.right, pair.left, problems)
            return set(changed), set()
        forbidden = check(prec, pvals, changed, author) if check is not None else []
        if forbidden:
            self.refuse(module, pair.right, pair.left, forbidden)
            return set(), set(changed)
        return set(), set()

    def _conflict(self, module: str, iid: str, pid: str, irec: Record, c: Conflict) -> None:
        name = str(irec.get("name") or iid)
        key, new = self.journal.conflict(
            module=module,
            internal_id=iid,
            portal_id=pid,
            record=name,
            field=c.field,
            base=c.base,
            internal=c.internal,
            portal=c.portal,
            rule=c.rule,
            winner=c.winner,
        )
        if new:
            log.warning(
                "portal_sync: conflict on %s %s field %s: internal %r, portal %r (was %r); %s wins (%s)",
                module,
                iid,
                c.field,
                c.internal,
                c.portal,
                c.base,
                c.winner,
                c.rule,
            )
        if c.rule != "internal_wins_task":
            return
        manager = str(irec.get("assigned_user_id") or "") or self.s.manager_user_id
        body = (
            f"The client changed {c.field} of {module} {name!r} in the portal to {c.portal!r} while it was "
            f"changed here to {c.internal!r} (before: {c.base!r}). The internal value was kept and sent "
            "to the portal; change it if the client's value is right."
        )
        task = review_task(
            self.crm,
            self.store,
            key=key,
            user_id=manager,
            subject=f"Portal conflict: {name}",
            body=body,
            parent_module=module,
            parent_id=iid,
        )
        self.journal.set_task(key, task)
