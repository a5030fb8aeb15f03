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
"""

from __future__ import annotations

import logging
from typing import Any

from suitecrm_ext import Event, EventKind, NotFound

from .matching import inn_problem
from .odata import COUNTERPARTIES_ENTITY, ODataClient, odata_literal

log = logging.getLogger("suitecrm_ext.plugins.onec_bridge.export")

MAP_NS = "onec_bridge.counterparties"
DONE_NS = "onec_bridge.exported"


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
            rec = self.crm.get("Accounts", event.record_id,
                               fields=["id", "name", self.inn_field, self.kpp_field])
        except NotFound:
            log.info("Account %s is gone; nothing to export", event.record_id)
            self.state.kv_set(DONE_NS, event.key, "")
            return None
        inn = str(rec.get(self.inn_field) or "").strip()
        kpp = str(rec.get(self.kpp_field) or "").strip()
        problem = inn_problem(inn)
        if problem:
            log.warning("Account %s not exported to 1C: %s", event.record_id, problem.replace("payer ", ""))
            self.state.kv_set(DONE_NS, event.key, "")
            return None
        ref = self.export(event.record_id, str(rec.get("name") or ""), inn, kpp)
        self.state.kv_set(DONE_NS, event.key, ref)
        return ref

    def export(self, account_id: str, name: str, inn: str, kpp: str) -> str:
        """Create or update the counterparty of one Account; returns its Ref_Key."""
        values = counterparty_values(name, inn, kpp)
        ref = self.state.kv_get(MAP_NS, account_id)
        if not ref:
            ref = self.find(inn, kpp if len(inn) == 10 else "")
            if ref:
                self.state.kv_set(MAP_NS, account_id, ref)
        if ref:
            self.client.update(COUNTERPARTIES_ENTITY, ref, values)
            return ref
        created = self.client.create(COUNTERPARTIES_ENTITY, values)
        ref = str(created["Ref_Key"]).lower()
        self.state.kv_set(MAP_NS, account_id, ref)
        log.info("Account %s exported to 1C as counterparty %s", account_id, ref)
        return ref

    def find(self, inn: str, kpp: str) -> str | None:
        """Ref_Key of a live counterparty with this ИНН (and КПП when given), or None."""
        flt = f"ИНН eq {odata_literal(inn)} and DeletionMark eq false"
        if kpp:
            flt += f" and КПП eq {odata_literal(kpp)}"
        for row in self.client.list(COUNTERPARTIES_ENTITY, filter=flt, select=("Ref_Key", "ИНН", "КПП"),
                                    page_size=2):
            return str(row["Ref_Key"]).lower()
        return None
