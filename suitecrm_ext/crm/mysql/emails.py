"""E-mail address fields (``email1``, ``email2``, ``invalid_email``, ``email_opt_out``) over MySQL.

SuiteCRM keeps addresses in ``email_addresses`` joined to records through ``email_addr_bean_rel``;
the bean fields are ``non-db`` and filled on retrieve by ``SugarEmailAddress::handleLegacyRetrieve``.
This module does the same for a page of records in one query, with SuiteCRM's own rules
(``getAddressesByGUID`` + ``populateLegacyFields``): the live relationship rows of the record
(``ear.deleted = 0``) ordered by ``reply_to_address, primary_address DESC``; ``email1`` is the primary
address (else the first other one), ``email2`` the first other one after it; ``invalid_email`` and
``email_opt_out`` are those of the ``email1`` address. Employees share the Users rows.

Like every transport, the fields can be read but not filtered or sorted on (they are not columns).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from suitecrm_ext.crm.base import FieldInfo

#: the legacy fields, as REST v4_1's get_module_fields describes them
EMAIL_FIELDS: dict[str, FieldInfo] = {
    "email1": FieldInfo("email1", "varchar", "Email Address:", source="non-db"),
    "email2": FieldInfo("email2", "varchar", "Other Email:", source="non-db"),
    "invalid_email": FieldInfo("invalid_email", "bool", "Invalid Email:", source="non-db"),
    "email_opt_out": FieldInfo("email_opt_out", "bool", "Email Opt Out:", source="non-db"),
}

#: modules whose beans carry e-mail addresses (SuiteCRM's person and company templates, and Users)
EMAIL_MODULES = frozenset({"Accounts", "Contacts", "Leads", "Prospects", "Users", "Employees"})


def email_fields(module: str, stock: dict[str, FieldInfo]) -> dict[str, FieldInfo]:
    """The e-mail fields ``module`` has: those its stock metadata lists, else all four for the
    e-mail modules not in that metadata (Leads, Prospects), else none."""
    listed = {n: stock[n] for n in EMAIL_FIELDS if n in stock}
    if listed:
        return {n: EMAIL_FIELDS[n] for n in listed}
    return dict(EMAIL_FIELDS) if module in EMAIL_MODULES else {}


def bean_module(module: str) -> str:
    """The ``bean_module`` value of a module's rows (SugarEmailAddress::getCorrectedModule)."""
    return "Users" if module == "Employees" else module


def fetch_emails(run: Callable[[str, Sequence[Any]], Any], module: str,
                 ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``{record id: {email1, email2, invalid_email, email_opt_out}}`` for ``ids`` (records without an
    address are left out). ``run(sql, params)`` runs a guarded read and returns rows."""
    if not ids:
        return {}
    rows = run(
        "SELECT ear.bean_id, ea.email_address, ea.invalid_email, ea.opt_out, ear.primary_address"
        " FROM email_addr_bean_rel ear JOIN email_addresses ea ON ea.id = ear.email_address_id"
        " WHERE ear.bean_module = %s AND ear.deleted = 0 AND ear.bean_id IN ("
        + ", ".join(["%s"] * len(ids)) + ")"
        " ORDER BY ear.bean_id, ear.reply_to_address, ear.primary_address DESC, ear.id",
        [bean_module(module), *ids])
    by_bean: dict[str, list[tuple]] = {}
    for bean_id, *rest in rows:
        by_bean.setdefault(str(bean_id), []).append(tuple(rest))
    return {bean_id: legacy_values(addresses) for bean_id, addresses in by_bean.items()}


def legacy_values(addresses: list[tuple]) -> dict[str, Any]:
    """``populateLegacyFields`` on (address, invalid, opt_out, primary) rows in SuiteCRM's order."""
    primary = next((a for a in addresses if str(a[3]) == "1"), None)
    others = [a for a in addresses if a is not primary]
    first = primary if primary is not None else (others.pop(0) if others else None)
    out: dict[str, Any] = {"email1": "", "email2": "", "invalid_email": False, "email_opt_out": False}
    if first is None:
        return out
    out["email1"] = first[0] or ""
    out["invalid_email"] = bool(first[1])
    out["email_opt_out"] = bool(first[2])
    if others:
        out["email2"] = others[0][0] or ""
    return out


__all__ = ["EMAIL_FIELDS", "EMAIL_MODULES", "email_fields", "fetch_emails", "legacy_values"]
