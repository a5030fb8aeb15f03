"""OwnedTableWriter: the one sanctioned SQL write path, for sidecar/plugin-owned tables only."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suitecrm_ext import NotFound, PermissionDenied, ValidationError
from suitecrm_ext.crm.mysql import MySQLCRM

pytestmark = pytest.mark.mysql

PAYMENTS = """CREATE TABLE sxt_payments (
  id char(36) NOT NULL PRIMARY KEY,
  ext_key varchar(64) NOT NULL,
  inn varchar(12) DEFAULT NULL,
  amount decimal(26,2) DEFAULT NULL,
  paid_at datetime DEFAULT NULL,
  matched tinyint(1) DEFAULT 0,
  UNIQUE KEY uk_ext (ext_key)
)"""


@pytest.fixture
def crm(mysql_server, suitecrm_db):
    with mysql_server.connect(suitecrm_db) as conn, conn.cursor() as cur:
        cur.execute(PAYMENTS)
    c = MySQLCRM(**mysql_server.params(suitecrm_db))
    yield c
    c.close()


@pytest.fixture
def writer(crm):
    with crm.owned_writer(["sxt_payments"], chunk_size=100) as w:
        yield w


def rows(n, start=0, amount="10.50"):
    return [{"id": f"p{i:05d}", "ext_key": f"1c-{i}", "inn": "7707083893", "amount": decimal.Decimal(amount),
             "paid_at": dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=3))),
             "matched": False} for i in range(start, start + n)]


def test_insert_many_chunks_and_upsert_is_idempotent(crm, writer):
    assert writer.insert_many("sxt_payments", rows(250)) == 250  # three chunks of <=100
    again = writer.insert_many("sxt_payments", rows(250, amount="11.00"),
                               update_on_duplicate=["amount"])
    assert again == 500  # MySQL counts 2 per updated row
    assert writer.insert_many("sxt_payments", rows(250, amount="11.00"), update_on_duplicate=["amount"]) == 0
    got = crm.query("SELECT COUNT(*) AS n, MIN(amount) AS lo, MIN(paid_at) AS t FROM sxt_payments")[0]
    assert got["n"] == 250 and got["lo"] == decimal.Decimal("11.00")
    assert got["t"] == dt.datetime(2026, 11, 23, 5, 0)  # aware +03:00 stored as UTC


def test_bad_rows_change_nothing(crm, writer):
    bad = rows(3)
    bad[2] = {**bad[2], "surprise": 1}
    with pytest.raises(ValidationError, match="row 2 has columns"):
        writer.insert_many("sxt_payments", bad)
    with pytest.raises(ValidationError) as exc:
        writer.insert_many("sxt_payments", [{"id": "x", "ext_key": "y", "nope": 1}])
    assert exc.value.fields == ["nope"]
    with pytest.raises(ValidationError, match="unknown column"):
        writer.insert_many("sxt_payments", rows(1), update_on_duplicate=["amount`=1, id=`id"])
    # a duplicate in a later chunk rolls back the earlier chunks too (one transaction)
    dup = rows(150) + [rows(1)[0]]
    with pytest.raises(ValidationError, match="duplicate key"):
        writer.insert_many("sxt_payments", dup)
    assert crm.query("SELECT COUNT(*) AS n FROM sxt_payments") == [{"n": 0}]


def test_transaction_rolls_back_everything_on_error(crm, writer):
    with pytest.raises(RuntimeError):
        with writer.transaction():
            writer.insert_many("sxt_payments", rows(5))
            writer.execute("UPDATE sxt_payments SET matched = 1 WHERE inn = %s", ["7707083893"])
            raise RuntimeError("crash in the middle")
    assert crm.query("SELECT COUNT(*) AS n FROM sxt_payments") == [{"n": 0}]
    with writer.transaction():
        writer.insert_many("sxt_payments", rows(5))
        assert writer.execute("UPDATE sxt_payments SET matched = 1 WHERE id = %s", ["p00001"]) == 1
    assert crm.query("SELECT SUM(matched) AS m FROM sxt_payments") == [{"m": decimal.Decimal(1)}]


def test_writer_refuses_stock_and_unowned_tables(crm, writer, mysql_server, suitecrm_db):
    with pytest.raises(PermissionDenied, match="'accounts' is a stock SuiteCRM table"):
        crm.owned_writer(["sxt_payments", "accounts"])
    with pytest.raises(PermissionDenied, match="stock SuiteCRM table"):
        crm.owned_writer(["Accounts_Cstm"])
    with pytest.raises(ValidationError, match="not a plain table name"):
        crm.owned_writer(["sxt`; DROP TABLE accounts; --"])
    with pytest.raises(PermissionDenied, match="not owned by this writer"):
        writer.insert_many("contacts", [{"id": "1"}])
    with pytest.raises(PermissionDenied):
        writer.execute("DELETE FROM accounts")
    with pytest.raises(PermissionDenied):
        writer.execute("UPDATE sxt_payments p JOIN accounts a ON a.id = p.id SET a.name = 'x'")
    with pytest.raises(NotFound, match="owned table 'sxt_missing' does not exist"):
        crm.owned_writer(["sxt_missing"]).insert_many("sxt_missing", [{"id": "1"}])
    with mysql_server.connect(suitecrm_db) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s"
                    " AND table_name = 'accounts'", (suitecrm_db,))
        assert cur.fetchone() == (1,)


HOSTILE = ["'; DROP TABLE accounts; --", "\\", "\\'", "a\tb\nc\r\nd", "nul\x00byte", "ctrl-z\x1a", '"quoted"',
           "%s %(x)s {0}", "ёжик — «кавычки» 😀", "`id`", "\\0\\n", " ", ""]


@pytest.mark.parametrize("sql_mode", ["", "NO_BACKSLASH_ESCAPES"])
def test_hostile_values_round_trip_and_write_nothing_else(crm, writer, sql_mode, mysql_server, suitecrm_db):
    """Values are spliced into the statement as literals: every byte must come back as it went in."""
    with mysql_server.connect(suitecrm_db) as conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE sxt_payments ADD COLUMN note text CHARACTER SET utf8mb4")
    got_rows = [{"id": f"h{i:04d}", "ext_key": f"k{i}", "inn": None, "amount": decimal.Decimal("-0.01"),
                 "paid_at": dt.datetime(2026, 1, 2, 3, 4, 5), "matched": True, "note": v}
                for i, v in enumerate(HOSTILE)]
    writer.execute("SET SESSION sql_mode = %s", [sql_mode])
    assert writer.insert_many("sxt_payments", got_rows, update_on_duplicate=["note"]) == len(HOSTILE)
    back = {r["id"]: r for r in crm.query("SELECT id, inn, amount, paid_at, matched, note FROM sxt_payments")}
    assert [back[r["id"]]["note"] for r in got_rows] == HOSTILE
    one = back["h0000"]
    assert (one["inn"], one["amount"], one["paid_at"], one["matched"]) == (
        None, decimal.Decimal("-0.01"), dt.datetime(2026, 1, 2, 3, 4, 5), 1)
    # the upsert with the same hostile values changes nothing; the stock table is still there
    assert writer.insert_many("sxt_payments", got_rows, update_on_duplicate=["note"]) == 0
    assert crm.query("SELECT COUNT(*) AS n FROM accounts") == [{"n": 0}]


def test_values_that_sql_cannot_hold_are_refused_before_writing(crm, writer):
    bad = rows(3)
    bad[2] = {**bad[2], "inn": object()}
    with pytest.raises(ValidationError, match=r"sxt_payments\.inn: cannot use a object value"):
        writer.insert_many("sxt_payments", bad)
    assert crm.query("SELECT COUNT(*) AS n FROM sxt_payments") == [{"n": 0}]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
                      min_size=1, max_size=8))
def test_any_text_round_trips(crm, writer, mysql_server, suitecrm_db, texts):
    with mysql_server.connect(suitecrm_db) as conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE sxt_payments ADD COLUMN IF NOT EXISTS note text CHARACTER SET utf8mb4")
    batch = [{"id": f"t{i}", "ext_key": f"t{i}", "note": t} for i, t in enumerate(texts)]
    writer.insert_many("sxt_payments", batch, update_on_duplicate=["note"])
    back = {r["id"]: r["note"] for r in crm.query("SELECT id, note FROM sxt_payments")}
    assert [back[r["id"]] for r in batch] == texts


def test_prepared_insert_runs_once_on_its_own_writer_and_follows_the_session_quoting(crm, writer):
    with pytest.raises(PermissionDenied, match="not owned by this writer"):
        writer.prepare_insert("accounts", [{"id": "1"}])
    with pytest.raises(ValidationError, match="unknown column"):
        writer.prepare_insert("sxt_payments", [{"id": "1", "ext_key": "k", "nope": 1}])
    hostile = [{"id": "q1", "ext_key": "it's \\ a 'key'\n", "inn": None}]
    handle = writer.prepare_insert("sxt_payments", hostile)
    # the session switches to NO_BACKSLASH_ESCAPES after preparing: the statement is rendered again
    writer.execute("SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'")
    assert writer.run_prepared(handle) == 1
    with pytest.raises(ValidationError, match="already ran"):
        writer.run_prepared(handle)
    other = crm.owned_writer(["sxt_payments"])
    with pytest.raises(ValidationError, match="not prepared by this writer"):
        other.run_prepared(writer.prepare_insert("sxt_payments", rows(1)))
    with pytest.raises(ValidationError, match="not prepared by this writer"):
        writer.run_prepared("INSERT INTO accounts (id) VALUES ('x')")
    assert crm.query("SELECT ext_key FROM sxt_payments") == [{"ext_key": "it's \\ a 'key'\n"}]
