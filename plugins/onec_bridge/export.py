"""Accounts changed in the CRM → counterparties in 1C (``Catalog_Контрагенты`` via OData POST / PATCH).

Keyed so that a retry never creates a second counterparty:

- the Account → ``Ref_Key`` map lives in the state store (namespace ``onec_bridge.counterparties``);
- an Account without a mapped ``Ref_Key`` is first **searched in 1C by ИНН (+ КПП)**; only when 1C
  has none is one created (POST), and its ``Ref_Key`` stored right away. If the POST went through but
  the answer was lost, the retry finds the counterparty by ИНН/КПП and updates it instead;
- each handled event is recorded under its key (``onec_bridge.exported``), so a redelivered event
  does nothing.

Accounts without a valid INN are not exported (1C needs the INN to tell counterparties apart); the
handler logs why. Deleting an Account in the CRM leaves the counterparty in 1C alone.

What was last sent for an Account is kept as a digest (``onec_bridge.counterparty-values``): sending the
same values again is skipped. While one Account is exported it is locked in the state store
(``onec_bridge.export:<id>``), so the change feed's handler and ``onec export --all`` never both create
its counterparty.

:func:`export_all` — ``suitecrm-ext onec export --all`` — sends every existing Account once, for the
Accounts that were there before ``export_counterparties`` was switched on (the change feed only sees
changes from then on). It walks the Accounts in id order and keeps its place in the cursor
``onec_bridge.export-all``: killed, it resumes after the last Account it finished; finished, the next
run starts over and finds the unchanged ones by their digest (no call to 1C).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from suitecrm_ext import Cond, Event, EventKind, NotFound

from .matching import inn_problem
from .odata import COUNTERPARTIES_ENTITY, ODataClient, odata_literal

log = logging.getLogger("suitecrm_ext.plugins.onec_bridge.export")

MAP_NS = "onec_bridge.counterparties"
DONE_NS = "onec_bridge.exported"
DIGEST_NS = "onec_bridge.counterparty-values"
ALL_CURSOR = "onec_bridge.export-all"
ALL_LOCK = "onec_bridge.export-all"
LOCK_TTL = 120.0
PAGE = 200


class NotExported(ValueError):
    """The Account cannot be exported (gone, or no valid INN); the message says which and why."""


class ExportBusy(RuntimeError):
    """Another worker is exporting this Account (or running ``export --all``) right now; try again later."""


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def values_digest(values: dict[str, Any]) -> str:
    """A short digest of the values sent to 1C (to skip sending the same again)."""
    return hashlib.sha256(json.dumps(values, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]


def counterparty_values(name: str, inn: str, kpp: str) -> dict[str, Any]:
    """The Catalog_Контрагенты fields the CRM owns for one Account."""
    values: dict[str, Any] = {
        "Description": name[:100],
        "НаименованиеПолное": name,
        "ИНН": inn,
        "ЮридическоеФизическоеЛицо": "ЮридическоеЛицо" if len(inn) == 10 else "ФизическоеЛицо",
    }
    if len(inn) == 10:
        values["КПП"] = kpp
    return values


class CounterpartyExporter:
    """Exports Accounts to 1C. ``state`` is the sidecar's state store; ``crm`` reads the Account."""

    def __init__(self, client: ODataClient, crm: Any, state: Any, *, inn_field: str = "ao_inn_c",
                 kpp_field: str = "ao_kpp_c"):
        self.client = client
        self.crm = crm
        self.state = state
        self.inn_field = inn_field
        self.kpp_field = kpp_field

    def handle(self, event: Event) -> str | None:
        """Export the Account of ``event``; returns the counterparty's Ref_Key (None when skipped)."""
        if event.module != "Accounts" or event.kind not in (EventKind.CREATED, EventKind.UPDATED):
            return None
        done = self.state.kv_get(DONE_NS, event.key)
        if done is not None:
            return done or None
        try:
            ref, _ = self.export_account(event.record_id)
        except NotExported as exc:
            log.warning("%s", exc)
            self.state.kv_set(DONE_NS, event.key, "")
            return None
        self.state.kv_set(DONE_NS, event.key, ref)
        return ref

    def export_account(self, account_id: str) -> tuple[str, str]:
        """Read one Account and send it; ``(Ref_Key, created | updated | unchanged)``.

        NotExported when the Account is gone or has no valid INN."""
        try:
            rec = self.crm.get("Accounts", account_id, fields=["id", "name", self.inn_field, self.kpp_field])
        except NotFound:
            raise NotExported(f"Account {account_id} is gone (or deleted); nothing to export") from None
        inn = str(rec.get(self.inn_field) or "").strip()
        problem = inn_problem(inn)
        if problem:
            raise NotExported(f"Account {account_id} not exported to 1C: {problem.replace('payer ', '')}")
        kpp = str(rec.get(self.kpp_field) or "").strip()
        return self.send(account_id, str(rec.get("name") or ""), inn, kpp)

    def export(self, account_id: str, name: str, inn: str, kpp: str) -> str:
        """Create or update the counterparty of one Account; returns its Ref_Key."""
        return self.send(account_id, name, inn, kpp)[0]

    def send(self, account_id: str, name: str, inn: str, kpp: str) -> tuple[str, str]:
        """Like :meth:`export`; also says what happened: ``created``, ``updated`` or ``unchanged``."""
        values = counterparty_values(name, inn, kpp)
        digest = values_digest(values)
        with self.account_lock(account_id):
            ref = self.state.kv_get(MAP_NS, account_id)
            if ref and self.state.kv_get(DIGEST_NS, account_id) == digest:
                return ref, "unchanged"
            if not ref:
                ref = self.find(inn, kpp if len(inn) == 10 else "")
                if ref:
                    self.state.kv_set(MAP_NS, account_id, ref)
            if ref:
                self.client.update(COUNTERPARTIES_ENTITY, ref, values)
                self.state.kv_set(DIGEST_NS, account_id, digest)
                return ref, "updated"
            created = self.client.create(COUNTERPARTIES_ENTITY, values)
            ref = str(created["Ref_Key"]).lower()
            self.state.kv_set(MAP_NS, account_id, ref)
            self.state.kv_set(DIGEST_NS, account_id, digest)
            log.info("Account %s exported to 1C as counterparty %s", account_id, ref)
            return ref, "created"

    @contextmanager
    def account_lock(self, account_id: str) -> Iterator[None]:
        """Hold ``onec_bridge.export:<account_id>`` in the state store (ExportBusy when another has it)."""
        name, owner = f"onec_bridge.export:{account_id}", _owner()
        if not self.state.acquire_lock(name, owner, LOCK_TTL):
            raise ExportBusy(f"Account {account_id} is being exported to 1C by another worker; retried later")
        try:
            yield
        finally:
            self.state.release_lock(name, owner)

    def find(self, inn: str, kpp: str) -> str | None:
        """Ref_Key of a live counterparty with this ИНН (and КПП when given), or None."""
        flt = f"ИНН eq {odata_literal(inn)} and DeletionMark eq false"
        if kpp:
            flt += f" and КПП eq {odata_literal(kpp)}"
        for row in self.client.list(COUNTERPARTIES_ENTITY, filter=flt, select=("Ref_Key", "ИНН", "КПП"),
                                    page_size=2):
            return str(row["Ref_Key"]).lower()
        return None


@dataclass
class ExportAllSummary:
    """Counts of one ``onec export --all`` run."""

    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # no valid INN
    resumed_at: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts as a dict."""
        return asdict(self)


def export_all(exporter: CounterpartyExporter, *, restart: bool = False, checkpoint_every: int = 25,
               on_total: Callable[[int], None] | None = None,
               progress: Callable[[int], None] | None = None) -> ExportAllSummary:
    """Send every live Account to 1C (see the module docstring); resumable, idempotent."""
    crm, state = exporter.crm, exporter.state
    owner = _owner()
    if not state.acquire_lock(ALL_LOCK, owner, LOCK_TTL):
        info = state.lock_info(ALL_LOCK)
        raise ExportBusy(f"onec export --all is already running ({getattr(info, 'owner', 'another worker')})")
    try:
        saved = {} if restart else (state.get_cursor(ALL_CURSOR) or {})
        after = "" if saved.get("done") else str(saved.get("after") or "")
        summary = ExportAllSummary(resumed_at=int(saved.get("count", 0)) if after else 0)
        where = Cond("id", "gt", after) if after else None
        remaining = crm.count("Accounts", where)
        summary.total = summary.resumed_at + remaining
        if on_total:
            on_total(summary.total)
        if progress and summary.resumed_at:
            progress(summary.resumed_at)
        fields = ["id", "name", exporter.inn_field, exporter.kpp_field]
        done = summary.resumed_at
        last = after
        while True:
            # keyset pages (id > the last one done): Accounts created or deleted meanwhile shift nothing
            page = list(crm.find("Accounts", Cond("id", "gt", last) if last else None, fields=fields,
                                 order="id", limit=PAGE))
            for rec in page:
                inn = str(rec.get(exporter.inn_field) or "").strip()
                problem = inn_problem(inn)
                if problem:
                    summary.skipped += 1
                    log.info("Account %s not exported to 1C: %s", rec.id, problem.replace("payer ", ""))
                else:
                    _, what = exporter.send(rec.id, str(rec.get("name") or ""), inn,
                                            str(rec.get(exporter.kpp_field) or "").strip())
                    setattr(summary, what, getattr(summary, what) + 1)
                done += 1
                last = rec.id
                if progress:
                    progress(1)
                if done % checkpoint_every == 0:
                    state.set_cursor(ALL_CURSOR, {"after": last, "count": done, "done": False})
                    if not state.renew_lock(ALL_LOCK, owner, LOCK_TTL):
                        raise ExportBusy("lost the onec export --all lock to another worker; stopped "
                                         "(run it again: it resumes)")
            if len(page) < PAGE:
                break
        state.set_cursor(ALL_CURSOR, {"after": last, "count": done, "done": True})
        return summary
    finally:
        state.release_lock(ALL_LOCK, owner)
