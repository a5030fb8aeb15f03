"""MariaDB helpers for onec_bridge tests: the plugin's tables, INN/KPP on Accounts, and a CRM that
reads through the MySQL transport while Tasks (a stock module, written through the API in production)
live in a FakeCRM. Also used by the crash test's child process."""

from __future__ import annotations

from typing import Any

import plugins.onec_bridge.plugin as plugin_module
from suitecrm_ext.crm.mysql import MySQLCRM
from suitecrm_ext.testing import FakeCRM, create_plugin_tables, load_plugin_schema


def install_tables(conn: Any) -> None:
    """Create what the plugin's package (and account_opening's INN/KPP fields) make SuiteCRM create."""
    create_plugin_tables(conn, load_plugin_schema(plugin_module))
    with conn.cursor() as cur:
        cur.execute("ALTER TABLE accounts_cstm ADD COLUMN IF NOT EXISTS ao_inn_c varchar(12) DEFAULT NULL")
        cur.execute("ALTER TABLE accounts_cstm ADD COLUMN IF NOT EXISTS ao_kpp_c varchar(9) DEFAULT NULL")
    conn.commit()


def add_accounts(conn: Any, rows: list[tuple[str, str, str, str]]) -> None:
    """Insert Accounts as SuiteCRM stores them: (id, name, inn, kpp) into accounts + accounts_cstm."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO accounts (id, name, date_entered, date_modified, created_by, modified_user_id, "
            "assigned_user_id, deleted) VALUES (%s, %s, UTC_TIMESTAMP(), UTC_TIMESTAMP(), '1', '1', "
            "'u-manager', 0)", [(i, n) for i, n, _, _ in rows])
        cur.executemany("INSERT INTO accounts_cstm (id_c, ao_inn_c, ao_kpp_c) VALUES (%s, %s, %s)",
                        [(i, inn, kpp) for i, _, inn, kpp in rows])
    conn.commit()


class SplitCRM:
    """Reads (and owned-table writes) through MySQLCRM; Tasks in a FakeCRM, as the API would keep them."""

    def __init__(self, mysql: MySQLCRM, fake: FakeCRM | None = None):
        self.mysql = mysql
        self.fake = fake or FakeCRM(["Tasks", "Users"])

    def _for(self, module: str) -> Any:
        return self.fake if module == "Tasks" else self.mysql

    def find(self, module: str, *args: Any, **kw: Any) -> Any:
        return self._for(module).find(module, *args, **kw)

    def get(self, module: str, *args: Any, **kw: Any) -> Any:
        return self._for(module).get(module, *args, **kw)

    def save(self, module: str, values: Any) -> str:
        return self._for(module).save(module, values)

    def fields(self, module: str) -> Any:
        return self._for(module).fields(module)

    def owned_writer(self, tables: Any) -> Any:
        return self.mysql.owned_writer(tables)

    def close(self) -> None:
        self.mysql.close()
