"""``doctor`` lines for what the plugin needs inside SuiteCRM and from 1C.

- **the Payments module** (this plugin's package): ``onec_Payments`` with every field the importer writes
  and the relate field of its Accounts link, readable on the read path (REST, or MySQL with
  ``read_via: mysql``); a module from an older package lacks fields → install the package again;
- **the INN/KPP fields** payments are matched on: ``inn_field`` / ``kpp_field`` on Accounts. The defaults
  ``ao_inn_c`` / ``ao_kpp_c`` are *not* in this plugin's package: they come from account_opening's
  package, and the line says so;
- with ``write: mysql``: the MySQL user may write the plugin's two tables (a no-op UPDATE of each);
- 1C OData reachable with the configured user; the statement inbox exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from suitecrm_ext import Check, Cond, CRMError, NotFound

from .writers import FIELDS, LINK, MODULE, REL_TABLE, TABLE

DEFAULT_INN, DEFAULT_KPP = "ao_inn_c", "ao_kpp_c"
PACKAGE = "suitecrm-ext package install onec_bridge --suitecrm-root <SuiteCRM dir>"


def package_version() -> str:
    """The version of the package this plugin ships (schema.yaml)."""
    data = yaml.safe_load(Path(__file__).with_name("schema.yaml").read_text(encoding="utf-8"))
    return str(data["package"]["version"])


def payments_module(crm: Any) -> list[Check]:
    """The Payments module is installed, complete and readable."""
    name = "onec_bridge: Payments module"
    version = package_version()
    try:
        fields = crm.fields(MODULE)
    except NotFound:
        return [Check(name, False, f"SuiteCRM has no module {MODULE}",
                      f"install the plugin's package {version}: {PACKAGE}")]
    except CRMError as exc:
        return [Check(name, False, f"cannot read the fields of {MODULE}: {exc}")]
    missing = [f for f in (*FIELDS, f"{LINK}_name") if f not in fields]
    if missing:
        return [Check(name, False, f"{MODULE} lacks {', '.join(missing)} (a package older than {version}?)",
                      f"install the package again (upgrades in place, keeps the data): {PACKAGE}")]
    try:
        next(iter(crm.find(MODULE, Cond("onec_key", "eq", "-"), fields=["id", *FIELDS], limit=1)), None)
    except CRMError as exc:
        return [Check(name, False, f"{MODULE} is installed but cannot be read: {exc}",
                      "run Admin -> Repair -> Quick Repair and Rebuild (a column missing in the database?)")]
    return [Check(name, True, f"{MODULE} with every field the importer writes")]


def inn_kpp_fields(crm: Any, inn_field: str, kpp_field: str) -> list[Check]:
    """The Accounts fields matched on exist and are readable; says where the defaults come from."""
    name = "onec_bridge: Accounts INN/KPP fields"
    defaults = (inn_field, kpp_field) == (DEFAULT_INN, DEFAULT_KPP)
    where = (" (from account_opening's package)" if defaults
             else " (plugins.onec_bridge.inn_field / kpp_field)")
    try:
        fields = crm.fields("Accounts")
    except CRMError as exc:
        return [Check(name, False, f"cannot read the fields of Accounts: {exc}")]
    missing = [f for f in (inn_field, kpp_field) if f not in fields]
    if missing:
        if defaults:
            hint = ("the default INN/KPP fields ao_inn_c / ao_kpp_c come from account_opening's package, "
                    "not from onec_bridge's: install it (suitecrm-ext package install account_opening "
                    "--suitecrm-root <SuiteCRM dir>), or set plugins.onec_bridge.inn_field / kpp_field to "
                    "the Accounts fields that hold INN and KPP")
        else:
            hint = "fix plugins.onec_bridge.inn_field / kpp_field: name fields Accounts has"
        return [Check(name, False, f"Accounts has no field {', '.join(missing)}{where}", hint)]
    try:
        next(iter(crm.find("Accounts", Cond(inn_field, "eq", "-"), fields=["id", inn_field, kpp_field],
                           limit=1)), None)
    except CRMError as exc:
        return [Check(name, False, f"Accounts.{inn_field} cannot be read: {exc}",
                      "run Admin -> Repair -> Quick Repair and Rebuild (a column missing in accounts_cstm?)")]
    return [Check(name, True, f"{inn_field} / {kpp_field}{where}")]


def mysql_writes(crm: Any) -> list[Check]:
    """``write: mysql``: the MySQL user may write the plugin's own two tables."""
    name = "onec_bridge: write: mysql"
    owned_writer = getattr(crm, "owned_writer", None)
    if owned_writer is None:
        return [Check(name, False, "the CRM gateway has no MySQL access", "configure suitecrm.mysql")]
    try:
        owned = owned_writer([TABLE, REL_TABLE])
        try:
            for table in (TABLE, REL_TABLE):
                owned.execute(f"UPDATE `{table}` SET deleted = deleted WHERE 1 = 0")
        finally:
            owned.close()
    except CRMError as exc:
        return [Check(name, False, str(exc), f"the suitecrm.mysql user needs INSERT and UPDATE on {TABLE} "
                      f"and {REL_TABLE} (GRANT INSERT, UPDATE ON <db>.{TABLE} TO ...; the same for "
                      f"{REL_TABLE})")]
    return [Check(name, True, f"the MySQL user may write {TABLE} and {REL_TABLE}")]
