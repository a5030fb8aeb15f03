"""Incoming payments from 1C OData: ``Document_ПоступлениеНаРасчетныйСчет`` with counterparties resolved.

Incremental by ``Date`` with an overlap window: each run reads documents with
``Date ge <last run's newest Date - overlap>`` ordered by ``Date, Ref_Key`` in ``$top``/``$skip`` pages;
documents in the window are re-read, which is harmless (payments are keyed by ``Ref_Key``) and is how
late changes are seen: a document **marked for deletion** (``DeletionMark``) or **not posted**
(``Posted`` false, e.g. un-posted after import) becomes a payment with status *ignored* and a note
saying why. A payment imported earlier whose document no longer appears in the window at all
(deleted outright in 1C) is reported by :func:`vanished` so the importer marks it *ignored* too.

Each payment carries its **identity** (the payer's order: ``НомерВходящегоДокумента``,
``ДатаВходящегоДокумента``, the amount, the counterparty's ``ИНН``) and — from ``СчетКонтрагента_Key``
resolved through ``Catalog_БанковскиеСчета`` (``НомерСчета``, ``Банк_Key``) and
``Catalog_КлассификаторБанков`` (``Code`` = BIK) — the payer's account and bank, so that the same
payment in a bank statement joins its record (``twins.py``). When 1C does not publish those two
catalogs the payments go without account and bank (logged once); the identity alone still joins them.

Transfers between the organisation's own accounts (``ВидОперации`` ``ПереводСДругогоСчета``, or a
payer whose INN is one of ``own_inns``) are skipped and counted as transfers.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from .odata import (
    COUNTERPARTIES_ENTITY,
    COUNTERPARTY_TYPE,
    CURRENCIES_ENTITY,
    EMPTY_REF,
    ISO_CURRENCIES,
    PAYMENTS_ENTITY,
    ODataClient,
    OneCError,
    odata_datetime,
)
from .payment import Payment, odata_payment_key, payment_identity

log = logging.getLogger("suitecrm_ext.plugins.onec_bridge.odata")

PAYMENT_FIELDS = ("Ref_Key", "Number", "Date", "Posted", "DeletionMark", "ВидОперации", "СуммаДокумента",
                  "ВалютаДокумента_Key", "НазначениеПлатежа", "Контрагент", "Контрагент_Type")
COUNTERPARTY_FIELDS = ("Ref_Key", "Description", "НаименованиеПолное", "ИНН", "КПП", "DeletionMark")
BANK_ACCOUNTS_ENTITY = "Catalog_БанковскиеСчета"
BANKS_ENTITY = "Catalog_КлассификаторБанков"
#: ВидОперации of a receipt from another of the organisation's own accounts
TRANSFER_KIND = "ПереводСДругогоСчета"
#: 1C's empty date
EMPTY_DATE = "0001-01-01T00:00:00"


@dataclass
class FetchResult:
    """What one OData read produced: payments, skipped documents, and the newest ``Date`` seen."""

    payments: list[Payment]
    skipped: int
    newest: dt.datetime | None
    window_start: dt.datetime
    seen_keys: set[str]  # keys of every document in the window, skipped ones included
    transfers: int = 0


def parse_onec_datetime(value: Any, what: str) -> dt.datetime:
    """1C's ``2026-03-14T10:22:31`` (no zone) → naive datetime; OneCError naming the field otherwise."""
    try:
        return dt.datetime.fromisoformat(str(value)).replace(tzinfo=None)
    except ValueError:
        raise OneCError(f"1C OData: {what}: not a date-time: {value!r}") from None


def _amount(value: Any, what: str) -> Decimal:
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        raise OneCError(f"1C OData: {what}: not an amount: {value!r}") from None
    return amount


class ODataPaymentSource:
    """Reads incoming payments from 1C. ``operation_kinds`` (ВидОперации values) limits which count."""

    def __init__(self, client: ODataClient, *, page_size: int = 500, entity: str = PAYMENTS_ENTITY,
                 operation_kinds: Iterable[str] = (), default_currency: str = "RUB",
                 own_inns: Iterable[str] = ()):
        self.client = client
        self.page_size = page_size
        self.entity = entity
        self.operation_kinds = set(operation_kinds)
        self.default_currency = default_currency
        self.own_inns = frozenset(own_inns)
        self._counterparties: dict[str, dict[str, Any]] = {}
        self._currencies: dict[str, str] = {}
        self._accounts: dict[str, tuple[str, str]] = {}  # СчетКонтрагента_Key -> (account number, BIK)
        self._no_accounts = False  # 1C does not publish the bank catalogs

    def documents(self, since: dt.datetime) -> Iterator[dict[str, Any]]:
        """Raw documents with ``Date ge since``, oldest first, paging through the set."""
        return self.client.list(self.entity, filter=f"Date ge {odata_datetime(since)}",
                                orderby="Date asc,Ref_Key asc", page_size=self.page_size)

    def fetch(self, since: dt.datetime) -> FetchResult:
        """Every payment dated ``since`` or later, counterparties and currencies resolved."""
        docs = list(self.documents(since))
        refs = {self._counterparty_ref(d) for d in docs} - {""}
        missing = refs - set(self._counterparties)
        if missing:
            self._counterparties.update(
                self.client.get_many(COUNTERPARTIES_ENTITY, missing, select=COUNTERPARTY_FIELDS))
        self._resolve_accounts(docs)
        payments: list[Payment] = []
        seen: set[str] = set()
        skipped = transfers = 0
        newest: dt.datetime | None = None
        for i, doc in enumerate(docs):
            where = f"{self.entity} {doc.get('Ref_Key') or f'value[{i}]'}"
            if not doc.get("Ref_Key"):
                raise OneCError(f"1C OData: {where}: document without Ref_Key")
            seen.add(odata_payment_key(str(doc["Ref_Key"])))
            date = parse_onec_datetime(doc.get("Date"), f"{where}.Date")
            newest = date if newest is None or date > newest else newest
            if doc.get("ВидОперации") == TRANSFER_KIND:
                transfers += 1
                continue
            if self.operation_kinds and doc.get("ВидОперации") not in self.operation_kinds:
                skipped += 1
                continue
            payment = self._payment(doc, date, where)
            if payment.payer_inn and payment.payer_inn in self.own_inns:
                transfers += 1
                continue
            payments.append(payment)
        return FetchResult(payments=payments, skipped=skipped, newest=newest, window_start=since,
                           seen_keys=seen, transfers=transfers)

    def _resolve_accounts(self, docs: list[dict[str, Any]]) -> None:
        """The payers' bank accounts (number and BIK) of ``docs``, in batches, where 1C publishes them."""
        refs = {str(d.get("СчетКонтрагента_Key") or "").lower() for d in docs} - {"", EMPTY_REF}
        missing = refs - set(self._accounts)
        if not missing or self._no_accounts:
            return
        try:
            rows = self.client.get_many(BANK_ACCOUNTS_ENTITY, missing,
                                        select=("Ref_Key", "НомерСчета", "Банк_Key"))
            banks = self.client.get_many(BANKS_ENTITY, {str(r.get("Банк_Key") or "") for r in rows.values()},
                                         select=("Ref_Key", "Code"))
        except OneCError as exc:
            if "HTTP 404" not in str(exc):
                raise
            log.warning("1C does not publish %s / %s (%s): payments from 1C are joined to statement "
                        "documents without the payer's account and bank",
                        BANK_ACCOUNTS_ENTITY, BANKS_ENTITY, exc)
            self._no_accounts = True
            return
        for ref, row in rows.items():
            bank = banks.get(str(row.get("Банк_Key") or "").lower(), {})
            self._accounts[ref] = (str(row.get("НомерСчета") or "").strip(),
                                   str(bank.get("Code") or "").strip())

    @staticmethod
    def _counterparty_ref(doc: dict[str, Any]) -> str:
        ref = doc.get("Контрагент_Key")
        if not ref:
            ref = doc.get("Контрагент")
            kind = doc.get("Контрагент_Type")
            if kind and kind != COUNTERPARTY_TYPE:
                return ""  # e.g. Catalog_ФизическиеЛица: no INN/KPP to match on
        ref = str(ref or "").lower()
        return "" if ref == EMPTY_REF else ref

    def _currency(self, ref: Any) -> str:
        ref = str(ref or "").lower()
        if not ref or ref == EMPTY_REF:
            return self.default_currency
        if ref not in self._currencies:
            row = self.client.get_many(CURRENCIES_ENTITY, [ref], select=("Ref_Key", "Code", "Description"))
            found = row.get(ref, {})
            code = str(found.get("Code") or "").strip()
            self._currencies[ref] = ISO_CURRENCIES.get(code) or str(found.get("Description") or "")[:3] \
                or self.default_currency
        return self._currencies[ref]

    def _payment(self, doc: dict[str, Any], date: dt.datetime, where: str) -> Payment:
        cp_ref = self._counterparty_ref(doc)
        cp = self._counterparties.get(cp_ref, {})
        reasons = []
        if doc.get("DeletionMark") is True:
            reasons.append("marked for deletion in 1C")
        if doc.get("Posted") is not True:
            reasons.append("not posted in 1C")
        amount = _amount(doc.get("СуммаДокумента"), f"{where}.СуммаДокумента")
        payer_inn = str(cp.get("ИНН") or "").strip()
        account, bik = self._accounts.get(str(doc.get("СчетКонтрагента_Key") or "").lower(), ("", ""))
        identity = ""
        order_number = str(doc.get("НомерВходящегоДокумента") or "").strip()
        order_date = str(doc.get("ДатаВходящегоДокумента") or "")
        if order_number and order_date and order_date != EMPTY_DATE:
            day = parse_onec_datetime(order_date, f"{where}.ДатаВходящегоДокумента").date()
            identity = payment_identity(order_number, day, amount, payer_inn)
        return Payment(
            key=odata_payment_key(str(doc["Ref_Key"])), source="odata",
            number=str(doc.get("Number") or "").strip(), date=date.date(), amount=amount,
            currency=self._currency(doc.get("ВалютаДокумента_Key")),
            payer_inn=payer_inn, payer_kpp=str(cp.get("КПП") or "").strip(),
            payer_name=str(cp.get("НаименованиеПолное") or cp.get("Description") or "").strip(),
            payer_account=account, payer_bik=bik,
            purpose=str(doc.get("НазначениеПлатежа") or "").strip(), onec_ref=str(doc["Ref_Key"]).lower(),
            counterparty_ref=cp_ref, ignored_reason="; ".join(reasons), identity=identity,
        )
