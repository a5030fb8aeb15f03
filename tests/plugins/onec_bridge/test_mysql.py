"""The bulk path into MariaDB: rows filled as SuiteCRM fills them, idempotent re-runs, and a SIGKILLed
import of 20,000 payments that, re-run, leaves exactly 20,000 payments."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mysqlkit import SplitCRM, add_accounts, install_tables
from onec_kit import FIXTURES, PLUGIN, SAMPLES

import plugins.onec_bridge.plugin as plugin_module
from plugins.onec_bridge.payment import record_id
from plugins.onec_bridge.service import import_file, make_importer
from plugins.onec_bridge.statement import parse_statement
from plugins.onec_bridge.synthetic import company_inn, make_statement
from plugins.onec_bridge.writers import REL_LHS, REL_RHS, REL_TABLE, TABLE
from suitecrm_ext.crm.mysql import MySQLCRM
from suitecrm_ext.testing import FakeCRM, build_app, build_config, build_registry

pytestmark = pytest.mark.mysql
HERE = Path(__file__).parent
STATEMENT = FIXTURES / "statement_windows.txt"


@pytest.fixture
def db(mysql_server, suitecrm_db):
    with mysql_server.connect(suitecrm_db) as conn:
        install_tables(conn)
    return suitecrm_db


def mysql_ctx(server, database, tmp_path, tasks=None, **settings):
    """The plugin's context over MariaDB; ``tasks``: the FakeCRM keeping Tasks (share it between runs)."""
    config = build_config(plugins={PLUGIN: {"write": "mysql", **settings}},
                          state={"backend": "sqlite", "path": str(tmp_path / "state.sqlite3")})
    reg = build_registry({PLUGIN: plugin_module}, config=config)
    crm = SplitCRM(MySQLCRM(**server.params(database)), tasks)
    return build_app(reg, config=config, crm=crm).for_plugin(PLUGIN)


def rows(server, database, sql, params=()):
    with server.connect(database) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def test_bulk_rows_are_filled_as_suitecrm_fills_them_and_rerun_is_idempotent(mysql_server, db, tmp_path):
    with mysql_server.connect(db) as conn:
        add_accounts(conn, [("acc-rtk", 'ПАО "Ростелеком"', "7707049388", "770701001")])
    tasks = FakeCRM(["Tasks", "Users"])
    ctx = mysql_ctx(mysql_server, db, tmp_path, tasks, user_id="u-sync")
    summary = import_file(ctx, STATEMENT)
    assert (summary.new, summary.matched, summary.unmatched, summary.tasks) == (3, 1, 2, 2)
    sql = (f"SELECT payment_number, id, onec_key, name, date_entered, date_modified, created_by, "
           f"modified_user_id, deleted, assigned_user_id, status, amount, payment_date, payer_inn "
           f"FROM {TABLE}")
    got = {r[0]: r for r in rows(mysql_server, db, sql)}
    assert set(got) == {"418", "95", "3"}
    rtk = got["418"]
    assert rtk[1] == record_id(rtk[2])  # the id is derived from the payment key
    assert rtk[4] is not None and rtk[5] is not None
    assert (rtk[6], rtk[7], rtk[8], rtk[9]) == ("u-sync", "u-sync", 0, "u-manager")
    assert (rtk[10], str(rtk[11]), str(rtk[12])) == ("matched", "120000.00", "2026-03-13")
    assert rtk[13] == "7707049388"
    rel = rows(mysql_server, db, f"SELECT id, date_modified, deleted, {REL_LHS}, {REL_RHS} FROM {REL_TABLE}")
    assert len(rel) == 1 and rel[0][2:] == (0, "acc-rtk", rtk[1]) and rel[0][1] is not None
    first_entered = rtk[4]
    again = import_file(mysql_ctx(mysql_server, db, tmp_path, tasks, user_id="u-sync"), STATEMENT)
    assert (again.new, again.updated, again.unchanged, again.tasks) == (0, 0, 3, 0)
    assert rows(mysql_server, db, f"SELECT COUNT(*) FROM {TABLE}") == ((3,),)
    # the Account for the invalid-INN payer can never match; the KPP-less one appears now:
    with mysql_server.connect(db) as conn:
        add_accounts(conn, [("acc-rks", "АО РКС", "7722698789", "")])
    ctx = mysql_ctx(mysql_server, db, tmp_path, tasks, user_id="u-sync")
    re = make_importer(ctx).rematch()
    assert (re.matched, re.updated) == (1, 1)
    assert len(rows(mysql_server, db, f"SELECT id FROM {REL_TABLE} WHERE deleted = 0")) == 2
    assert rows(mysql_server, db, f"SELECT date_entered FROM {TABLE} WHERE payment_number = '418'")[0][0] \
        == first_entered


def test_a_payment_from_1c_and_a_statement_is_one_row_on_the_bulk_path_too(mysql_server, db, tmp_path):
    import responses
    from odata_kit import BANK_ACCOUNTS, BANKS, ODATA, FakeOneC, receipt

    from plugins.onec_bridge.service import import_odata

    with mysql_server.connect(db) as conn:
        add_accounts(conn, [("acc-rtk", 'ПАО "Ростелеком"', "7707049388", "770701001")])
    tasks = FakeCRM(["Tasks", "Users"])
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        FakeOneC(rsps, [receipt()], bank_accounts=BANK_ACCOUNTS, banks=BANKS)
        for _ in range(2):  # the second round finds everything as it is
            ctx = mysql_ctx(mysql_server, db, tmp_path, tasks, odata={**ODATA, "retries": 0})
            file_run = import_file(ctx, SAMPLES["cp1251"])
            odata_run = import_odata(ctx)
        assert (file_run.unchanged, odata_run.unchanged, odata_run.joined) == (4, 1, 0)
    got = rows(mysql_server, db, f"SELECT source, onec_key, twin_key, payer_bik, id FROM {TABLE} "
                                 "WHERE payer_inn = '7707049388'")
    assert len(got) == 1
    source, key, twin, bik, rid = got[0]
    assert (source, key.split(":")[0], twin.split(":")[0], bik) == ("both", "file", "odata", "044525555")
    assert rid == record_id(key)
    assert rows(mysql_server, db, f"SELECT COUNT(*) FROM {TABLE}") == ((4,),)
    assert rows(mysql_server, db, f"SELECT {REL_LHS} FROM {REL_TABLE} WHERE {REL_RHS} = %s AND deleted = 0",
                (rid,)) == (("acc-rtk",),)


def test_owned_writer_is_refused_without_mysql(ctx_factory):
    from plugins.onec_bridge.service import ConfigProblem, make_writer

    with pytest.raises(ConfigProblem, match="write: mysql needs direct MySQL access"):
        make_writer(ctx_factory(write="mysql"))


CHILD = """
import json, sys
sys.path[:0] = {paths!r}
from mysqlkit import SplitCRM
from plugins.onec_bridge.importer import ImportOptions, PaymentImporter
from plugins.onec_bridge.service import import_file
from plugins.onec_bridge.statement import parse_statement
from plugins.onec_bridge.writers import MySQLPaymentWriter, TABLE, REL_TABLE
from suitecrm_ext.crm.mysql import MySQLCRM
from suitecrm_ext.state.sqlite import SQLiteStore
import hashlib
params, path, state_path = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
mysql = MySQLCRM(**params)
crm = SplitCRM(mysql)
data = open(path, "rb").read()
payments = parse_statement(data).payments
writer = MySQLPaymentWriter(mysql, mysql.owned_writer([TABLE, REL_TABLE]))
importer = PaymentImporter(crm, writer, ImportOptions(batch_size=500), state=SQLiteStore(state_path))
summary = importer.run(payments, cursor="onec_bridge.file." + hashlib.sha256(data).hexdigest()[:40])
print(json.dumps(summary.as_dict()))
"""


def test_killed_import_of_20000_payments_rerun_gives_exactly_20000(mysql_server, db, tmp_path):
    inns = [company_inn(i) for i in range(50)]
    with mysql_server.connect(db) as conn:
        add_accounts(conn, [(f"acc-{i:03d}", f"Payer {i}", inn, "") for i, inn in enumerate(inns)])
    path = tmp_path / "big.txt"
    path.write_bytes(make_statement(20_000, inns))
    script = tmp_path / "child.py"
    root = str(Path(__file__).parents[3])
    script.write_text(CHILD.format(paths=[str(HERE), root]))
    args = [sys.executable, str(script), json.dumps(mysql_server.params(db)), str(path),
            str(tmp_path / "state.sqlite3")]
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    count = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        count = rows(mysql_server, db, f"SELECT COUNT(*) FROM {TABLE}")[0][0]
        if count >= 1000:
            break
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL, child.stderr.read().decode()[-2000:]
    killed_at = rows(mysql_server, db, f"SELECT COUNT(*) FROM {TABLE}")[0][0]
    assert 0 < killed_at < 20_000  # it really died mid-way
    done = subprocess.run(args, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    summary = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert summary["resumed_at"] > 0  # continued from the cursor, not from scratch
    assert rows(mysql_server, db, f"SELECT COUNT(*), COUNT(DISTINCT onec_key) FROM {TABLE}") \
        == ((20_000, 20_000),)
    assert rows(mysql_server, db, f"SELECT COUNT(*), COUNT(DISTINCT {REL_RHS}) FROM {REL_TABLE} "
                                  f"WHERE deleted = 0") == ((20_000, 20_000),)
    keys = {p.key for p in parse_statement(path.read_bytes()).payments}
    stored = {r[0] for r in rows(mysql_server, db, f"SELECT onec_key FROM {TABLE}")}
    assert stored == keys
