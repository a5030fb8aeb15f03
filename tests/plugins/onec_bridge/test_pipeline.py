"""The bulk path writes batch N in a background thread while batch N+1 is matched: a write that fails
there stops the import with that error, leaves the cursor after the last committed batch (with its Tasks),
and a re-run completes the import with every payment and every Task exactly once."""

from __future__ import annotations

import threading

import pytest
from mysqlkit import SplitCRM, add_accounts, install_tables

from plugins.onec_bridge.importer import ImportOptions, PaymentImporter
from plugins.onec_bridge.statement import parse_statement
from plugins.onec_bridge.synthetic import company_inn, make_statement
from plugins.onec_bridge.writers import MODULE, REL_TABLE, TABLE, MySQLPaymentWriter
from suitecrm_ext import TransientError
from suitecrm_ext.crm.mysql import MySQLCRM
from suitecrm_ext.state.sqlite import SQLiteStore
from suitecrm_ext.testing import FakeCRM

pytestmark = pytest.mark.mysql
CURSOR = "onec_bridge.file.test"


class FailingWriter(MySQLPaymentWriter):
    """Fails (like a lost connection) on the ``fail_on``-th write; records the threads writes ran in."""

    def __init__(self, *args, fail_on: int = 0, **kw):
        super().__init__(*args, **kw)
        self.fail_on = fail_on
        self.calls = 0
        self.threads: set[str] = set()

    def write_prepared(self, prepared):
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        if self.calls == self.fail_on:
            raise TransientError("connection lost (simulated)", transport="mysql")
        return super().write_prepared(prepared)


def count(mysql, sql):
    return mysql.query(sql)[0]["n"]


def test_failed_background_write_stops_at_the_last_committed_batch_and_rerun_completes(
        mysql_server, suitecrm_db, tmp_path):
    inns = [company_inn(i) for i in range(10)]
    with mysql_server.connect(suitecrm_db) as conn:
        install_tables(conn)
        add_accounts(conn, [(f"acc-{i}", f"Payer {i}", inn, "") for i, inn in enumerate(inns[:8])])
    payments = parse_statement(make_statement(500, inns)).payments  # 2 of 10 payers have no Account
    mysql = MySQLCRM(**mysql_server.params(suitecrm_db))
    tasks = FakeCRM(["Tasks", "Users"])
    state = SQLiteStore(str(tmp_path / "state.sqlite3"))

    def importer(writer):
        return PaymentImporter(SplitCRM(mysql, tasks), writer, ImportOptions(batch_size=100), state=state)

    broken = FailingWriter(mysql, mysql.owned_writer([TABLE, REL_TABLE]), fail_on=3)
    with pytest.raises(TransientError, match="connection lost"):
        importer(broken).run(payments, cursor=CURSOR)
    assert broken.threads == {"onec-write_0"}  # the writes really ran in the background
    assert state.get_cursor(CURSOR)["next"] == 200  # batches 1 and 2 committed, batch 3 not
    assert count(mysql, f"SELECT COUNT(*) AS n FROM {TABLE}") == 200
    assert len(tasks.records("Tasks")) == 40  # the unmatched payments (1 in 5) of the committed batches

    healthy = FailingWriter(mysql, mysql.owned_writer([TABLE, REL_TABLE]))
    again = importer(healthy).run(payments, cursor=CURSOR)
    assert (again.resumed_at, again.new, again.unchanged) == (200, 300, 0)
    assert count(mysql, f"SELECT COUNT(DISTINCT onec_key) AS n FROM {TABLE}") == 500
    assert count(mysql, f"SELECT COUNT(*) AS n FROM {TABLE}") == 500
    assert count(mysql, f"SELECT COUNT(*) AS n FROM {REL_TABLE} WHERE deleted = 0") == 400
    parents = [t.get("parent_id") for t in tasks.records("Tasks") if t.get("parent_type") == MODULE]
    assert len(parents) == len(set(parents)) == 100
    assert state.get_cursor(CURSOR)["done"] is True
    mysql.close()
