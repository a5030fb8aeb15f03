"""Portal data is untrusted input: check each value against the internal CRM's field before it is written.

A value from the portal reaches the internal CRM only when it fits the *internal* field it goes to
(``crm.fields(module)``): its type (enum key, int, bool, date, datetime, e-mail address), its length
(varchar ``len``, text fields ``max_text_length``), no control characters, not empty when required.
A value that does not fit is a :class:`Problem` naming the field and what was wrong; the caller then
applies none of that record's portal changes (and records the refusal).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from suitecrm_ext import FieldInfo

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_EMAIL = re.compile(
    r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_EMAIL_FIELDS = {"email", "email1", "email2", "contact_email"}
_TEXT_TYPES = {"text", "longtext", "html"}
_INT_RE = re.compile(r"^-?\d{1,18}$")
_DECIMAL_RE = re.compile(r"^-?\d{1,20}(\.\d{1,8})?$")


@dataclass(frozen=True)
class Problem:
    """One value that may not reach the internal CRM: which field and why."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def check_value(name: str, value: Any, info: FieldInfo | None, *, max_text: int = 65535) -> Problem | None:
    """None when ``value`` fits the internal field ``info``, else the problem."""
    if info is None:
        return Problem(name, "the internal CRM has no such field")
    if value is None:
        value = ""
    if isinstance(value, bool):
        value = "1" if value else "0"
    elif isinstance(value, (int, float)):
        value = str(value)
    elif isinstance(value, dt.datetime):
        return None
    elif isinstance(value, dt.date):
        return None
    if not isinstance(value, str):
        return Problem(name, f"a {type(value).__name__} is not a field value")
    if _CONTROL.search(value):
        return Problem(name, "contains control characters")
    if value == "":
        if info.required:
            return Problem(name, "required, may not be empty")
        return None
    ftype = info.type
    if ftype in ("enum", "radioenum") and info.options and value not in info.options:
        return Problem(name, f"{value[:40]!r} is not one of {', '.join(repr(o) for o in info.options[:12])}")
    if ftype == "multienum" and info.options:
        keys = [k.strip("^") for k in value.split(",")]
        bad = [k for k in keys if k and k not in info.options]
        if bad:
            return Problem(name, f"{', '.join(map(repr, bad[:5]))} not among the options")
    if ftype == "int" and not _INT_RE.match(value):
        return Problem(name, f"{value[:40]!r} is not a whole number")
    if ftype in ("decimal", "currency", "float") and not _DECIMAL_RE.match(value):
        return Problem(name, f"{value[:40]!r} is not a number")
    if ftype == "bool" and value not in ("0", "1"):
        return Problem(name, f"{value[:40]!r} is not a yes/no value")
    if ftype == "date":
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return Problem(name, f"{value[:40]!r} is not a date (YYYY-MM-DD)")
    if ftype in ("datetime", "datetimecombo"):
        try:
            dt.datetime.fromisoformat(value)
        except ValueError:
            return Problem(name, f"{value[:40]!r} is not a date and time")
    if ftype in ("id", "relate") and len(value) > 36:
        return Problem(name, "longer than an id")
    if name in _EMAIL_FIELDS or ftype == "email":
        if len(value) > 254 or not _EMAIL.match(value):
            return Problem(name, f"{value[:60]!r} is not an e-mail address")
    limit = max_text if ftype in _TEXT_TYPES else (info.length or 255)
    if len(value) > limit:
        return Problem(name, f"{len(value)} characters, at most {limit} fit")
    return None


def check_values(
    values: Mapping[str, Any], fields: Mapping[str, FieldInfo], *, max_text: int = 65535
) -> list[Problem]:
    """The problems of every value in ``values`` (internal field names) against the internal ``fields``."""
    out = []
    for name, value in values.items():
        problem = check_value(name, value, fields.get(name), max_text=max_text)
        if problem is not None:
            out.append(problem)
    return out


def check_filename(filename: Any, size: int, max_bytes: int) -> Problem | None:
    """An attachment from the portal: a plain file name (no path), not too big."""
    if not isinstance(filename, str) or not filename.strip():
        return Problem("filename", "an attachment needs a file name")
    if (
        len(filename) > 255
        or _CONTROL.search(filename)
        or "/" in filename
        or "\\" in filename
        or filename.strip() in (".", "..")
    ):
        return Problem("filename", f"{filename[:60]!r} is not a plain file name")
    if size > max_bytes:
        return Problem("filename", f"{filename[:60]!r} has {size} bytes, at most {max_bytes} are accepted")
    return None
