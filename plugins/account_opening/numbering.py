"""Account numbers: how a 20-digit number is built, and how one is handed out to an application exactly once.

Layout (the Bank of Russia's chart of accounts, Положение 809-П):

====== ======================================================================
 1-5    balance account: by account type and legal form (40702 commercial organisation, 40703 non-profit
        organisation, 40802 sole proprietor for a settlement account)
 6-8    currency code (810 for the rouble in account numbers, 840 USD, 978 EUR, 156 CNY)
 9      control key, valid for the bank's BIK (:func:`~plugins.account_opening.identifiers.account_key`)
 10-13  branch (4 digits)
 14-20  sequence number within balance account + currency + branch (7 digits)
====== ======================================================================

:class:`NumberAllocator` hands numbers out. **Unique**: a number is claimed with an atomic insert of the key
``num:<number>`` into the state store (``kv_add``: one row per number, shared by every worker on a MySQL
store), so two workers can never both get it; numbers already in SuiteCRM (a store rebuilt from nothing)
are skipped too. **Idempotent**: the application's number is kept under ``app:<application id>``; asking
again — a retried or re-delivered "open" — returns the same number. **Crash-safe**: a crash between the
claim and the binding leaves a claim marked with the application's id, which the retry finds and uses; at
worst (the hint moved on meanwhile) a number is skipped, never given twice. Numbers are therefore unique
and increasing per series, but may have gaps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plugins.account_opening.identifiers import KEY_POSITION, account_key, check_bik
from suitecrm_ext import Cond

NS = "account_opening.numbers"
MAX_SEQUENCE = 9_999_999
#: how many taken numbers one allocation steps over before giving up (a sign of a broken hint)
MAX_PROBES = 100_000


class NumberingError(ValueError):
    """No number can be built or handed out (bad plan, series exhausted); the message says why."""


@dataclass(frozen=True)
class Series:
    """The fixed part of a number: balance account (5 digits), currency code (3), branch (4)."""

    balance: str
    currency: str
    branch: str

    def __post_init__(self) -> None:
        for name, value, n in (
            ("balance account", self.balance, 5),
            ("currency code", self.currency, 3),
            ("branch", self.branch, 4),
        ):
            if not (isinstance(value, str) and value.isdigit() and len(value) == n and value.isascii()):
                raise NumberingError(f"{name} {value!r}: {n} digits")

    @property
    def key(self) -> str:
        """The series' name in the state store."""
        return f"{self.balance}{self.currency}{self.branch}"

    def number(self, bik: str, sequence: int) -> str:
        """The account number with this sequence number, its control key computed for ``bik``."""
        if not 1 <= sequence <= MAX_SEQUENCE:
            raise NumberingError(f"sequence {sequence} is outside 1..{MAX_SEQUENCE}")
        body = f"{self.balance}{self.currency}0{self.branch}{sequence:07d}"
        key = account_key(bik, body)
        return body[:KEY_POSITION] + key + body[KEY_POSITION + 1 :]

    def sequence_of(self, number: str) -> int | None:
        """The sequence number of an account number of this series, else None."""
        n = str(number or "")
        if (
            len(n) == 20
            and n.isdigit()
            and n[:KEY_POSITION] == self.balance + self.currency
            and n[KEY_POSITION + 1 : 13] == self.branch
        ):
            return int(n[13:])
        return None


def series_for(
    balance_accounts: Mapping[str, Mapping[str, str]],
    account_type: str,
    category: str | None,
    currency: str,
    branch: str,
) -> Series:
    """The series for an application: balance account from the account type and the client's legal-form
    category (commercial / non_profit / sole_proprietor)."""
    by_category = balance_accounts.get(account_type)
    if by_category is None:
        raise NumberingError(
            f"no balance account is configured for the account type {account_type!r} "
            f"(plugins.account_opening.balance_accounts has {', '.join(balance_accounts)})"
        )
    if not category:
        raise NumberingError("the client's legal form is not filled in, so the balance account is unknown")
    balance = by_category.get(category)
    if balance is None:
        raise NumberingError(
            f"no balance account is configured for a {account_type} account of a "
            f"{category.replace('_', '-')} client"
        )
    return Series(balance, currency, branch)


class NumberAllocator:
    """Hands out account numbers of a bank (BIK) to applications: unique, idempotent, crash-safe.

    ``state``: the state store (several workers share a MySQL one); ``crm`` and ``module``/``field``:
    where the numbers given out are kept in SuiteCRM (checked so a rebuilt store never repeats one)."""

    def __init__(
        self,
        state: Any,
        bik: str,
        *,
        crm: Any = None,
        module: str = "ao_Applications",
        field: str = "account_number",
    ):
        bad = check_bik(bik)
        if bad:
            raise NumberingError(bad)
        self.state = state
        self.bik = bik
        self.crm = crm
        self.module = module
        self.field = field

    def number_of(self, app_id: str) -> str | None:
        """The number already given to an application, if any."""
        got = self.state.kv_get(NS, f"app:{app_id}")
        return str(got) if got else None

    def allocate(self, app_id: str, series: Series) -> str:
        """The application's account number: the one it already has, else the next free one of the series."""
        if not app_id:
            raise NumberingError("an account number is given to an application: its id is empty")
        got = self.number_of(app_id)
        if got:
            return got
        seq = int(self.state.kv_get(NS, f"next:{series.key}") or 0) or self._seed(series)
        for _ in range(MAX_PROBES):
            if seq > MAX_SEQUENCE:
                raise NumberingError(f"the series {series.key} is exhausted ({MAX_SEQUENCE} numbers)")
            number = series.number(self.bik, seq)
            key = f"num:{number}"
            # a claim marked with our id is ours from an attempt that crashed before binding it
            if self.state.kv_add(NS, key, app_id) or self.state.kv_get(NS, key) == app_id:
                holder = self._holder_in_crm(number, app_id)
                if holder is None:
                    break
                self.state.kv_set(NS, key, holder)  # SuiteCRM already has it: never hand it out
            seq += 1
        else:
            raise NumberingError(f"no free number found in series {series.key} after {MAX_PROBES} tries")
        if not self.state.kv_add(NS, f"app:{app_id}", number):
            # another worker bound this application first: its number wins, ours is given back
            theirs = self.number_of(app_id)
            if theirs and theirs != number:
                self.state.kv_delete(NS, f"num:{number}")
            return theirs or number
        hint = int(self.state.kv_get(NS, f"next:{series.key}") or 0)
        if seq + 1 > hint:
            self.state.kv_set(NS, f"next:{series.key}", seq + 1)
        return number

    def _seed(self, series: Series) -> int:
        """Where a series starts when the store knows nothing of it: after the highest number SuiteCRM has."""
        if self.crm is None:
            return 1
        prefix = series.balance + series.currency
        seqs = [
            s
            for r in self.crm.find(self.module, Cond(self.field, "like", f"{prefix}%"), [self.field])
            if (s := series.sequence_of(r.get(self.field))) is not None
        ]
        return max(seqs, default=0) + 1

    def _holder_in_crm(self, number: str, app_id: str) -> str | None:
        """The id of another record of SuiteCRM that has this number, if any."""
        if self.crm is None:
            return None
        for r in self.crm.find(self.module, Cond(self.field, "eq", number), ["id"]):
            if r.id != app_id:
                return r.id
        return None


__all__ = ["MAX_SEQUENCE", "NS", "NumberAllocator", "NumberingError", "Series", "series_for"]
