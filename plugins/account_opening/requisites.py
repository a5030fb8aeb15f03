"""Client requisites on Accounts and Contacts, licences and FIAS addresses: what is checked on save and what
an application needs before it may be submitted.

Two levels, both pure functions over a record's values:

- :func:`account_problems` / :func:`contact_problems` / :func:`licence_problems` / :func:`address_problems`
  — checked **on save** (the validation hook refuses the save with the first problem): every value that is
  filled in must be valid, and the filled-in values must agree with each other and with the legal form.
  Missing values are allowed here: a manager fills a client in over several visits.
- :func:`account_gaps` — what is still **missing** for an application (checked when it is submitted, and
  reported by ``account-opening check``).

A problem names the field (``... (field ao_inn_c)``) so the user knows what to fix.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from plugins.account_opening.identifiers import (
    check_account,
    check_bik,
    check_inn,
    check_kpp,
    check_ogrn,
    check_ogrnip,
    clean,
)

# Accounts (custom fields of schema.yaml; onec_bridge matches payments on ao_inn_c / ao_kpp_c)
LEGAL_FORM = "ao_legal_form_c"
FULL_NAME = "ao_full_name_c"
SHORT_NAME = "ao_short_name_c"
INN = "ao_inn_c"
KPP = "ao_kpp_c"
OGRN = "ao_ogrn_c"
BANK_BIK = "ao_bank_bik_c"
BANK_ACCOUNT = "ao_bank_account_c"
ACCOUNT_FIELDS = (LEGAL_FORM, FULL_NAME, SHORT_NAME, INN, KPP, OGRN, BANK_BIK, BANK_ACCOUNT)
# Contacts
PASSPORT_SERIES = "ao_passport_series_c"
PASSPORT_NUMBER = "ao_passport_number_c"
PASSPORT_ISSUED_BY = "ao_passport_issued_by_c"
PASSPORT_ISSUED_ON = "ao_passport_issued_on_c"
PASSPORT_DIVISION = "ao_passport_division_c"
CONTACT_FIELDS = (
    INN,
    PASSPORT_SERIES,
    PASSPORT_NUMBER,
    PASSPORT_ISSUED_BY,
    PASSPORT_ISSUED_ON,
    PASSPORT_DIVISION,
)
# ao_Licences
LICENCE_FIELDS = ("kind", "number", "issuer", "issued_on", "valid_until")
# ao_Addresses
ADDRESS_PARTS = (
    "postal_code",
    "region",
    "district",
    "city",
    "settlement",
    "street",
    "house",
    "building",
    "flat",
)
ADDRESS_FIELDS = ("kind", *ADDRESS_PARTS, "fias_id", "fias_house_id", "full_address")

#: legal form (ao_legal_form_list) -> category: the balance account of a settlement account depends on it
LEGAL_FORM_CATEGORY = {
    "ooo": "commercial",
    "ao": "commercial",
    "pao": "commercial",
    "other": "commercial",
    "nko": "non_profit",
    "ip": "sole_proprietor",
}
CATEGORY_LABEL = {
    "commercial": "a commercial organisation",
    "non_profit": "a non-profit organisation",
    "sole_proprietor": "a sole proprietor",
}
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a record: the field and the reason (``str()`` names both)."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.reason} (field {self.field})"


def _v(values: Mapping[str, Any], name: str) -> str:
    return clean(values.get(name))


def _text(values: Mapping[str, Any], name: str) -> str:
    return " ".join(str(values.get(name) or "").split())


def category_of(legal_form: str) -> str | None:
    """commercial / non_profit / sole_proprietor for a legal form key, None for none or an unknown one."""
    return LEGAL_FORM_CATEGORY.get(legal_form or "")


# --- Accounts ------------------------------------------------------------------------------------------


def account_problems(values: Mapping[str, Any]) -> list[Problem]:
    """What is wrong with an Account's filled-in requisites (empty ones are not checked here)."""
    out: list[Problem] = []
    form = str(values.get(LEGAL_FORM) or "")
    if form and form not in LEGAL_FORM_CATEGORY:
        out.append(
            Problem(LEGAL_FORM, f"unknown legal form {form!r} (known: {', '.join(LEGAL_FORM_CATEGORY)})")
        )
    category = category_of(form)
    inn, kpp, ogrn = _v(values, INN), _v(values, KPP), _v(values, OGRN)
    sole = category == "sole_proprietor" if category else (len(inn) == 12 or len(ogrn) == 15 or None)
    if category:
        whose = f"{CATEGORY_LABEL[category]} ({form})"
    else:
        whose = "a sole proprietor (12-digit INN or 15-digit OGRNIP)" if sole else "an organisation"

    if inn:
        if sole is True:
            reason = check_inn(inn, length=12)
        elif sole is False:
            reason = check_inn(inn, length=10)
        else:
            reason = check_inn(inn)
        if reason:
            out.append(Problem(INN, reason))
    if kpp:
        if sole is True:
            out.append(Problem(KPP, f"{whose} has no KPP (only organisations do); clear the KPP"))
        else:
            reason = check_kpp(kpp)
            if reason:
                out.append(Problem(KPP, reason))
    if ogrn:
        if sole is True:
            reason = check_ogrnip(ogrn)
            if reason and len(ogrn) == 13:
                reason = f"{whose} has an OGRNIP of 15 digits, not an OGRN of 13"
        elif sole is False:
            reason = check_ogrn(ogrn)
            if reason and len(ogrn) == 15:
                reason = f"{whose} has an OGRN of 13 digits, not an OGRNIP of 15"
        else:
            reason = check_ogrn(ogrn) if len(ogrn) != 15 else check_ogrnip(ogrn)
        if reason:
            out.append(Problem(OGRN, reason))
    bik, account = _v(values, BANK_BIK), _v(values, BANK_ACCOUNT)
    if bik:
        reason = check_bik(bik)
        if reason:
            out.append(Problem(BANK_BIK, reason))
    if account:
        if not bik:
            out.append(Problem(BANK_BIK, "the bank's BIK is needed to check the account number"))
        elif not check_bik(bik):
            reason = check_account(account, bik)
            if reason:
                out.append(Problem(BANK_ACCOUNT, reason))
    for name, limit in ((FULL_NAME, 255), (SHORT_NAME, 150)):
        if len(_text(values, name)) > limit:
            out.append(Problem(name, f"at most {limit} characters"))
    return out


def account_gaps(values: Mapping[str, Any]) -> list[Problem]:
    """What an Account still lacks for an application: legal form, full and short name, INN, OGRN/OGRNIP,
    and a KPP for an organisation (on top of :func:`account_problems`)."""
    out = []
    form = str(values.get(LEGAL_FORM) or "")
    category = category_of(form)
    if not category:
        out.append(Problem(LEGAL_FORM, "the legal form is not filled in"))
    for name, what in ((FULL_NAME, "full name"), (SHORT_NAME, "short name"), (INN, "INN")):
        if not _text(values, name):
            out.append(Problem(name, f"the {what} is not filled in"))
    if not _v(values, OGRN):
        what = "OGRNIP" if category == "sole_proprietor" else "OGRN"
        out.append(Problem(OGRN, f"the {what} is not filled in"))
    if category and category != "sole_proprietor" and not _v(values, KPP):
        out.append(Problem(KPP, "the KPP of an organisation is not filled in"))
    return out


# --- Contacts ------------------------------------------------------------------------------------------


def contact_problems(values: Mapping[str, Any], today: dt.date | None = None) -> list[Problem]:
    """What is wrong with a Contact's filled-in requisites: personal INN (12 digits), passport."""
    out = []
    inn = _v(values, INN)
    if inn:
        reason = check_inn(inn, length=12)
        if reason:
            out.append(Problem(INN, reason))
    series, number = _v(values, PASSPORT_SERIES), _v(values, PASSPORT_NUMBER)
    if series and not re.fullmatch(r"[0-9]{4}", series):
        out.append(Problem(PASSPORT_SERIES, f"passport series {series!r}: 4 digits"))
    if number and not re.fullmatch(r"[0-9]{6}", number):
        out.append(Problem(PASSPORT_NUMBER, f"passport number {number!r}: 6 digits"))
    division = _v(values, PASSPORT_DIVISION)
    if division and not re.fullmatch(r"[0-9]{3}-?[0-9]{3}", division):
        out.append(Problem(PASSPORT_DIVISION, f"division code {division!r}: 6 digits, as 770-001"))
    issued = _date(values.get(PASSPORT_ISSUED_ON))
    if issued is False:
        out.append(Problem(PASSPORT_ISSUED_ON, f"{values.get(PASSPORT_ISSUED_ON)!r} is not a date"))
    elif issued and issued > (today or dt.date.today()):
        out.append(
            Problem(PASSPORT_ISSUED_ON, f"the passport issue date {issued.isoformat()} is in the future")
        )
    return out


def contact_gaps(values: Mapping[str, Any]) -> list[Problem]:
    """What a card holder (Contact) still lacks: passport series, number, issuer and date."""
    out = []
    for name, what in (
        (PASSPORT_SERIES, "passport series"),
        (PASSPORT_NUMBER, "passport number"),
        (PASSPORT_ISSUED_BY, "passport issuer"),
        (PASSPORT_ISSUED_ON, "passport issue date"),
    ):
        if not _text(values, name):
            out.append(Problem(name, f"the {what} is not filled in"))
    return out


# --- Licences -----------------------------------------------------------------------------------------


def licence_problems(values: Mapping[str, Any], today: dt.date | None = None) -> list[Problem]:
    """A licence needs its number; its issue date is not in the future; "valid until" is after issue."""
    out = []
    if not _text(values, "number"):
        out.append(Problem("number", "a licence needs its number"))
    issued, until = _date(values.get("issued_on")), _date(values.get("valid_until"))
    for name, d in (("issued_on", issued), ("valid_until", until)):
        if d is False:
            out.append(Problem(name, f"{values.get(name)!r} is not a date"))
    if issued and issued > (today or dt.date.today()):
        out.append(Problem("issued_on", f"the issue date {issued.isoformat()} is in the future"))
    if issued and until and until < issued:
        out.append(
            Problem(
                "valid_until",
                f"valid until {until.isoformat()} is before the issue date {issued.isoformat()}",
            )
        )
    return out


def licence_in_force(values: Mapping[str, Any], on: dt.date) -> bool:
    """Whether a licence is in force on a day (no "valid until" = without a time limit)."""
    issued, until = _date(values.get("issued_on")), _date(values.get("valid_until"))
    return (not issued or issued <= on) and (not until or until >= on)


# --- FIAS addresses -----------------------------------------------------------------------------------


def address_problems(values: Mapping[str, Any]) -> list[Problem]:
    """Postal code of 6 digits, FIAS ids as GUIDs, a region or a city, a house for a flat or building."""
    out = []
    code = _v(values, "postal_code")
    if code and not re.fullmatch(r"[0-9]{6}", code):
        out.append(Problem("postal_code", f"postal code {code!r}: 6 digits"))
    for name in ("fias_id", "fias_house_id"):
        v = _v(values, name)
        if v and not _GUID.match(v):
            out.append(
                Problem(name, f"{v!r} is not a FIAS id (a GUID like 0c5b2444-70a0-4932-980c-b4dc0d3f02b5)")
            )
    if not (_text(values, "region") or _text(values, "city")):
        out.append(Problem("region", "an address needs at least the region or the city"))
    if (_text(values, "flat") or _text(values, "building")) and not _text(values, "house"):
        which = "flat" if _text(values, "flat") else "building"
        out.append(Problem("house", f"a {which} needs the house number"))
    return out


#: how each part appears in the full text (FIAS / Russian Post order: postal code, region ... flat)
_PART_PREFIX = {"house": "д. ", "building": "корп. ", "flat": "кв. "}


def compose_address(values: Mapping[str, Any]) -> str:
    """The full address text from its parts, in FIAS order: "125009, г. Москва, ул. Тверская, д. 7, кв. 1".

    Region, district, city, settlement and street are given with their type as FIAS names them ("г.
    Москва", "ул. Тверская"); house, building and flat get "д.", "корп.", "кв.". Empty parts are left out.
    """
    out = []
    for name in ADDRESS_PARTS:
        part = _text(values, name)
        if not part:
            continue
        prefix = _PART_PREFIX.get(name, "")
        out.append(part if not prefix or part.lower().startswith(prefix.strip().lower()) else prefix + part)
    return ", ".join(out)


# --- helpers ------------------------------------------------------------------------------------------


def _date(value: Any) -> dt.date | None | bool:
    """A date, None when empty, False when not a date."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        return False


def first_problem(problems: Sequence[Problem], what: str) -> str | None:
    """The message refusing a save: the first problem (and how many more there are)."""
    if not problems:
        return None
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"Cannot save the {what}: {problems[0]}{more}."


__all__ = [
    "ACCOUNT_FIELDS",
    "ADDRESS_FIELDS",
    "CONTACT_FIELDS",
    "LEGAL_FORM_CATEGORY",
    "LICENCE_FIELDS",
    "Problem",
    "account_gaps",
    "account_problems",
    "address_problems",
    "category_of",
    "compose_address",
    "contact_gaps",
    "contact_problems",
    "first_problem",
    "licence_in_force",
    "licence_problems",
]
