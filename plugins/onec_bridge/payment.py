"""An incoming payment as both sources (OData and statement files) hand it to the importer.

The payment's **key** identifies it across runs and is what makes imports idempotent:

- from 1C OData: ``odata:<Ref_Key>`` (1C's own document reference);
- from a 1CClientBankExchange file: ``file:`` + the first 40 hex digits of SHA-256 over
  ``Номер | Дата | Сумма | ПлательщикСчет | ПлательщикИНН | ПолучательСчет | ДатаПоступило`` (amount
  normalised to two decimals, dates ISO, fields stripped). The same document in two overlapping
  statement files gives the same key; a different document differs in at least one of these.

The SuiteCRM record id of a payment is derived from its key (:func:`record_id`), so writing the same
payment twice — through the API or the bulk SQL path — updates one record instead of adding a second.

The two sources give one payment two different keys. What they share is the payment order itself —
its **identity** (:func:`payment_identity`): the payer's order number and date, the amount and the
payer's INN, which a statement has as ``Номер`` / ``Дата`` / ``Сумма`` / ``ПлательщикИНН`` and 1C as
``НомерВходящегоДокумента`` / ``ДатаВходящегоДокумента`` / ``СуммаДокумента`` / the counterparty's
``ИНН``. The payer's account and bank (BIK) corroborate it where both sides know them
(:func:`same_payment`); the importer keeps such a pair as one record (see ``twins.py``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

Source = Literal["odata", "file"]


@dataclass(slots=True)
class Payment:
    """One incoming payment, normalised (amount as Decimal, dates as ``datetime.date``)."""

    key: str
    source: Source
    number: str
    date: dt.date
    amount: Decimal
    currency: str = "RUB"
    payer_inn: str = ""
    payer_kpp: str = ""
    payer_name: str = ""
    payer_account: str = ""
    payer_bik: str = ""  # the payer's bank
    purpose: str = ""
    onec_ref: str = ""  # 1C Ref_Key (OData) or "" (file)
    counterparty_ref: str = ""  # 1C Catalog_Контрагенты Ref_Key when known
    ignored_reason: str = ""  # set when 1C says the payment does not count (deleted / not posted)
    line: int = 0  # first line of the document in its file (files only)
    identity: str = ""  # the payment order's identity shared by both sources (module docstring); "" unknown
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def record_id(self) -> str:
        """The SuiteCRM id this payment is stored under (derived from :attr:`key`)."""
        return record_id(self.key)

    def title(self) -> str:
        """The record name shown in SuiteCRM: ``№ 105 от 09.12.2015 — 12354.00 RUB``."""
        d = self.date  # formatted by hand: strftime was half the cost of building a record's values
        return f"№ {self.number} от {d.day:02d}.{d.month:02d}.{d.year} — {self.amount:.2f} {self.currency}"


def file_payment_key(number: str, date: dt.date, amount: Decimal, payer_account: str, payer_inn: str,
                     recipient_account: str, received: dt.date | None) -> str:
    """The key of a statement-file payment (see the module docstring for what goes in)."""
    parts = [number.strip(), date.isoformat(), f"{amount:.2f}", payer_account.strip(), payer_inn.strip(),
             recipient_account.strip(), received.isoformat() if received else ""]
    return "file:" + hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:40]


def payment_identity(number: str, date: dt.date, amount: Decimal, payer_inn: str) -> str:
    """40 hex digits of SHA-256 over the order number (leading zeros dropped), date, amount and payer INN."""
    number = number.strip().lstrip("0") or "0"
    parts = [number, date.isoformat(), f"{amount:.2f}", payer_inn.strip()]
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:40]


def same_payment(a_account: str, a_bik: str, b_account: str, b_bik: str, payer_inn: str) -> bool:
    """Whether two payments of one identity agree on the payer's account and bank where both know them.

    Without a payer INN the identity is weak (a private person): then both accounts must be known and
    equal."""
    a_account, b_account, a_bik, b_bik = (v.strip() for v in (a_account, b_account, a_bik, b_bik))
    if not payer_inn.strip() and not (a_account and a_account == b_account):
        return False
    if a_account and b_account and a_account != b_account:
        return False
    return not (a_bik and b_bik and a_bik != b_bik)


def odata_payment_key(ref_key: str) -> str:
    """The key of a payment read from 1C OData: its ``Ref_Key``."""
    return f"odata:{ref_key.strip().lower()}"


def record_id(key: str) -> str:
    """A 36-character SuiteCRM-shaped id (8-4-4-4-12 lowercase hex), a pure function of ``key``."""
    h = hashlib.sha256(("onec_bridge:" + key).encode("utf-8")).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
