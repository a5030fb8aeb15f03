"""Matching payments to Accounts by the payer's INN (and KPP when an INN has several Accounts).

Rules, in order (each unmatched outcome carries a reason a person can act on):

1. no payer INN → unmatched;
2. the INN fails its check digits (``stdnum.ru.inn``) → unmatched, "invalid INN";
3. no live Account with that INN → unmatched;
4. exactly one Account with that INN → matched;
5. several → the one whose KPP equals the payer's KPP; none or several such → unmatched, naming them.

Accounts' INN/KPP live in custom fields (``ao_inn_c`` / ``ao_kpp_c`` by default; settings ``inn_field`` /
``kpp_field``), read through the CRM gateway in chunks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from stdnum.exceptions import ValidationError as StdnumError
from stdnum.ru import inn as inn_check

from suitecrm_ext import CRM, Cond

CHUNK = 100


@dataclass(frozen=True)
class AccountRef:
    """What matching needs of an Account."""

    id: str
    name: str
    inn: str
    kpp: str
    assigned_user_id: str


@dataclass(frozen=True)
class Match:
    """The outcome for one payment: ``account`` (None when unmatched) and ``reason`` when unmatched.

    ``candidates`` are the Accounts considered (for choosing whom to tell about an unmatched payment).
    """

    account: AccountRef | None
    reason: str = ""
    candidates: tuple[AccountRef, ...] = ()

    @property
    def matched(self) -> bool:
        """True when an Account was found."""
        return self.account is not None


@lru_cache(maxsize=65536)
def inn_problem(inn: str) -> str:
    """Why ``inn`` is not a valid Russian INN, or "" when it is valid (cached: payers repeat)."""
    if not inn:
        return "payer INN is missing"
    try:
        inn_check.validate(inn)
    except StdnumError as exc:
        return f"payer INN {inn} is invalid ({exc.message.rstrip('.').lower()})"
    return ""


class AccountIndex:
    """Accounts by INN, loaded once per import for the INNs that occur in it."""

    def __init__(self, accounts: Iterable[AccountRef] = ()):
        self.by_inn: dict[str, list[AccountRef]] = {}
        self._matches: dict[tuple[str, str], Match] = {}  # payers repeat: one outcome per (INN, KPP)
        for acc in accounts:
            self.add(acc)

    def add(self, acc: AccountRef) -> None:
        """Index one Account."""
        if acc.inn:
            self.by_inn.setdefault(acc.inn, []).append(acc)
            self._matches.clear()

    @classmethod
    def load(cls, crm: CRM, inns: Iterable[str], inn_field: str = "ao_inn_c", kpp_field: str = "ao_kpp_c"
             ) -> AccountIndex:
        """Read the live Accounts whose ``inn_field`` is one of ``inns`` (valid INNs only)."""
        wanted = sorted({i for i in inns if i and not inn_problem(i)})
        index = cls()
        fields = ["id", "name", inn_field, kpp_field, "assigned_user_id"]
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start:start + CHUNK]
            for rec in crm.find("Accounts", Cond(inn_field, "in", chunk), fields=fields):
                index.add(AccountRef(
                    id=rec.id, name=str(rec.get("name") or ""), inn=str(rec.get(inn_field) or "").strip(),
                    kpp=str(rec.get(kpp_field) or "").strip(),
                    assigned_user_id=str(rec.get("assigned_user_id") or "")))
        return index

    def match(self, inn: str, kpp: str = "") -> Match:
        """Apply the matching rules (module docstring) to one payer."""
        found = self._matches.get((inn, kpp))
        if found is None:
            found = self._matches[(inn, kpp)] = self._match(inn, kpp)
        return found

    def _match(self, inn: str, kpp: str) -> Match:
        inn = (inn or "").strip()
        kpp = (kpp or "").strip()
        problem = inn_problem(inn)
        if problem:
            return Match(None, problem)
        found = self.by_inn.get(inn, [])
        if not found:
            return Match(None, f"no Account with INN {inn}")
        if len(found) == 1:
            return Match(found[0], candidates=tuple(found))
        same_kpp = [a for a in found if kpp and a.kpp == kpp]
        if len(same_kpp) == 1:
            return Match(same_kpp[0], candidates=tuple(found))
        names = ", ".join(f"{a.name} (KPP {a.kpp or '-'})" for a in found[:5])
        if not kpp:
            why = f"{len(found)} Accounts have INN {inn} and the payment has no KPP: {names}"
        elif not same_kpp:
            why = f"{len(found)} Accounts have INN {inn}, none with KPP {kpp}: {names}"
        else:
            why = f"{len(same_kpp)} Accounts have INN {inn} and KPP {kpp}: {names}"
        return Match(None, why, candidates=tuple(found))
