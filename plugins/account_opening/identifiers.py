"""Russian company and bank identifiers with their real check rules: INN, KPP, OGRN, OGRNIP, BIK and the
control key of a bank account number.

Each ``check_*`` function takes the text as typed and returns None when it is valid, or the reason it is
not, written for the user ("INN 7707083894: the check digit is 3, not 4"). The ``*_check_digit(s)``
functions compute check digits (tests and generators use them).

Where python-stdnum (``stdnum.ru``) has the rule it is used (INN, OGRN). It is wrong in one place, which is
wrapped here: stdnum 2.2 computes the OGRNIP check digit as ``number % 13`` and compares that with the
last digit, so every OGRNIP whose remainder is 10, 11 or 12 is refused (e.g. 304770000000020, whose
remainder is 10 and check digit 0). The rule of the register (Приказ ФНС / ЕГРИП) takes the last digit of
the remainder: ``number % 13 % 10``. KPP, BIK and the account key are not in stdnum and are written here.
"""

from __future__ import annotations

import re

from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from stdnum.ru import inn as _inn
from stdnum.ru import ogrn as _ogrn

_DIGITS = re.compile(r"^[0-9]+\Z")
# positions 5-6 (the reason for registration) may be digits or capital Latin letters (Приказ ФНС ММВ-7-6/435@)
_KPP = re.compile(r"^[0-9]{4}[0-9A-Z]{2}[0-9]{3}\Z")

#: weights of the bank-account control key over BIK part (3 digits) + account (20 digits)
KEY_WEIGHTS = ((7, 1, 3) * 8)[:23]
#: index of the key in the 20-digit account number (the 9th digit)
KEY_POSITION = 8


def clean(value: object) -> str:
    """The identifier as typed, without surrounding whitespace and inner spaces."""
    return "".join(str(value or "").split())


def _digits(value: str) -> bool:
    return bool(_DIGITS.match(value))


# --- INN ---------------------------------------------------------------------------------------------


def inn_check_digits(first: str) -> str:
    """The check digit(s) of an INN from its first 9 (legal entity) or 10 (person) digits."""
    if len(first) == 9:
        return _inn.calc_company_check_digit(first)
    if len(first) == 10:
        return _inn.calc_personal_check_digits(first)
    raise ValueError("an INN without its check digits has 9 or 10 digits")


def check_inn(value: object, *, length: int | None = None) -> str | None:
    """INN: 10 digits (legal entity, one check digit) or 12 (person or sole proprietor, two).
    ``length`` (10 or 12) demands one of them."""
    v = clean(value)
    if not _digits(v):
        return f"INN {v!r}: only digits are allowed"
    if len(v) not in (10, 12):
        return f"INN {v}: an INN has 10 digits (organisation) or 12 (person, sole proprietor), not {len(v)}"
    if length is not None and len(v) != length:
        whose = "an organisation" if length == 10 else "a sole proprietor or person"
        return f"INN {v}: the INN of {whose} has {length} digits, not {len(v)}"
    try:
        _inn.validate(v)
    except InvalidChecksum:
        want = inn_check_digits(v[:9] if len(v) == 10 else v[:10])
        have = v[-len(want) :]
        return f"INN {v}: the check digit{'s are' if len(want) > 1 else ' is'} {want}, not {have}"
    return None


# --- KPP ---------------------------------------------------------------------------------------------


def check_kpp(value: object) -> str | None:
    """KPP: 9 characters; digits, except positions 5-6 which may be capital Latin letters."""
    v = clean(value)
    if len(v) != 9:
        return f"KPP {v!r}: a KPP has 9 characters, not {len(v)}"
    if not _KPP.match(v):
        return f"KPP {v}: positions 1-4 and 7-9 are digits, positions 5-6 digits or capital Latin letters A-Z"
    return None


# --- OGRN / OGRNIP -----------------------------------------------------------------------------------


def ogrn_check_digit(first: str) -> str:
    """The check digit of an OGRN (12 digits given) or OGRNIP (14 digits given).

    OGRN: the remainder of the 12-digit number divided by 11, its last digit. OGRNIP: the remainder of the
    14-digit number divided by 13, its last digit (stdnum 2.2 forgets "its last digit", see the module)."""
    if not _digits(first) or len(first) not in (12, 14):
        raise ValueError("an OGRN without its check digit has 12 digits, an OGRNIP 14")
    divisor = 11 if len(first) == 12 else 13
    return str(int(first) % divisor % 10)


def check_ogrn(value: object) -> str | None:
    """OGRN of a legal entity: 13 digits, first 1 or 5, check digit (remainder mod 11, last digit)."""
    v = clean(value)
    if not _digits(v):
        return f"OGRN {v!r}: only digits are allowed"
    if len(v) != 13:
        return f"OGRN {v}: the OGRN of an organisation has 13 digits, not {len(v)}"
    if v[0] not in "15":
        return f"OGRN {v}: an OGRN starts with 1 or 5 (the sign of a legal entity's OGRN), not {v[0]}"
    try:
        _ogrn.validate(v)
    except (InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength):
        return f"OGRN {v}: the check digit is {ogrn_check_digit(v[:12])}, not {v[-1]}"
    return None


def check_ogrnip(value: object) -> str | None:
    """OGRNIP of a sole proprietor: 15 digits, first 3, check digit (remainder mod 13, last digit)."""
    v = clean(value)
    if not _digits(v):
        return f"OGRNIP {v!r}: only digits are allowed"
    if len(v) != 15:
        return f"OGRNIP {v}: the OGRNIP of a sole proprietor has 15 digits, not {len(v)}"
    if v[0] != "3":
        return f"OGRNIP {v}: an OGRNIP starts with 3, not {v[0]}"
    want = ogrn_check_digit(v[:14])  # not stdnum's validate(): see the module docstring
    if v[-1] != want:
        return f"OGRNIP {v}: the check digit is {want}, not {v[-1]}"
    return None


# --- BIK and account numbers --------------------------------------------------------------------------


def check_bik(value: object) -> str | None:
    """BIK of a Russian bank: 9 digits starting with 04 (the country code of Russia)."""
    v = clean(value)
    if not _digits(v) or len(v) != 9:
        return f"BIK {v!r}: a BIK has 9 digits"
    if not v.startswith("04"):
        return f"BIK {v}: a Russian BIK starts with 04, not {v[:2]}"
    return None


def _key_base(bik: str, correspondent: bool) -> str:
    # a correspondent account at the Bank of Russia: "0" + BIK digits 5-6; any other account: BIK digits 7-9
    return "0" + bik[4:6] if correspondent else bik[6:9]


def _key_sum(digits23: str) -> int:
    return sum(int(d) * w % 10 for d, w in zip(digits23, KEY_WEIGHTS, strict=True))


def account_key(bik: str, account: str, *, correspondent: bool = False) -> str:
    """The control key (9th digit) a 20-digit account number must have at the bank with this BIK.

    Ordinance of the Bank of Russia: take the last three digits of the BIK (for a correspondent account
    "0" + digits 5-6), then the account number with its key set to 0; multiply the 23 digits by 7, 1, 3,
    7, 1, 3, ...; add the last digits of the products; the key is the last digit of that sum times 3."""
    if not _digits(account) or len(account) != 20:
        raise ValueError("an account number has 20 digits")
    zeroed = account[:KEY_POSITION] + "0" + account[KEY_POSITION + 1 :]
    return str(_key_sum(_key_base(bik, correspondent) + zeroed) % 10 * 3 % 10)


def check_account(value: object, bik: str, *, correspondent: bool = False) -> str | None:
    """A 20-digit account number whose control key is right for the bank with this BIK."""
    v = clean(value)
    if not _digits(v) or len(v) != 20:
        return f"account number {v!r}: an account number has 20 digits"
    bad_bik = check_bik(bik)
    if bad_bik:
        return f"account number {v}: cannot check it against {bad_bik}"
    if _key_sum(_key_base(bik, correspondent) + v) % 10:
        want = account_key(bik, v, correspondent=correspondent)
        return (
            f"account number {v}: the control key does not match BIK {bik} (with these digits "
            f"the 9th digit would be {want}, not {v[KEY_POSITION]}); check the number for a typo"
        )
    return None


__all__ = [
    "KEY_POSITION",
    "account_key",
    "check_account",
    "check_bik",
    "check_inn",
    "check_kpp",
    "check_ogrn",
    "check_ogrnip",
    "clean",
    "inn_check_digits",
    "ogrn_check_digit",
]
