"""SqlGuard: the SQL-level enforcement that the sidecar never writes SuiteCRM's own tables."""

from __future__ import annotations

import pytest

from suitecrm_ext import PermissionDenied
from suitecrm_ext.crm.mysql import SqlGuard

OWNED = SqlGuard(["sxt_payments", "ca_actions"])
NONE = SqlGuard()


@pytest.mark.parametrize("sql", [
    "SELECT * FROM accounts WHERE name = 'DELETE FROM accounts'",
    "select id from accounts where name = %s for update",
    "SHOW TABLES",
    "SELECT 1;",
    "  -- a comment\nSELECT VERSION()",
    "SET SESSION sql_mode = 'ANSI'",
    "BEGIN", "COMMIT", "ROLLBACK",
    "WITH x AS (SELECT id FROM accounts) SELECT * FROM x",
    "SELECT 'it''s; fine', \"x;y\" FROM dual",
])
def test_reads_pass(sql):
    NONE.check(sql)
    OWNED.check(sql)


@pytest.mark.parametrize("sql", [
    "INSERT INTO accounts (id) VALUES ('1')",
    "insert ignore into `accounts` (id) values (%s)",
    "REPLACE INTO contacts (id) VALUES ('1')",
    "UPDATE accounts SET name = 'x'",
    "UPDATE sxt_payments p JOIN accounts a ON a.id = p.account_id SET a.name = p.inn",
    "DELETE FROM accounts WHERE id = %s",
    "DELETE a FROM accounts a JOIN sxt_payments p ON p.account_id = a.id",
    "DELETE FROM sxt_payments USING sxt_payments JOIN accounts",
    "ALTER TABLE accounts ADD COLUMN x int",
    "DROP TABLE IF EXISTS sxt_payments, accounts",
    "TRUNCATE accounts",
    "TRUNCATE TABLE accounts_cstm",
    "CREATE TABLE accounts_copy (id int)",
    "CREATE INDEX idx_x ON accounts (name)",
    "RENAME TABLE sxt_payments TO accounts",
    "LOAD DATA INFILE '/tmp/x' INTO TABLE sxt_payments",
    "GRANT ALL ON *.* TO 'x'@'%'",
    "CALL do_things()",
    "SELECT * FROM accounts INTO OUTFILE '/tmp/x'",
    "SELECT 1; DELETE FROM accounts",
    "SELECT 1 /*! ; DELETE FROM accounts */",
    "/*!40101 DELETE FROM accounts */",
    "INSERT INTO otherdb.sxt_payments (id) VALUES (1)",
    "INSERT INTO `sxt_payments` SELECT * FROM x; DROP TABLE accounts",
    "UPDATE (SELECT 1) x SET a = 1",
    "WITH x AS (SELECT 1) DELETE FROM accounts",
    "SET PASSWORD = PASSWORD('x')",
    "SET GLOBAL read_only = 0",
    "CREATE TABLE sxt_new SELECT * FROM accounts",
    "DROP DATABASE suitecrm",
    "LOCK TABLES accounts WRITE",
    "",
    "SELECT 'unterminated",
])
def test_writes_to_tables_not_owned_are_refused(sql):
    with pytest.raises(PermissionDenied):
        OWNED.check(sql)


@pytest.mark.parametrize("sql", [
    "INSERT INTO sxt_payments (id, inn) VALUES (%s, %s) ON DUPLICATE KEY UPDATE inn = VALUES(inn)",
    "INSERT INTO `sxt_payments` (id) SELECT id FROM accounts",
    "UPDATE sxt_payments SET status = 'matched' WHERE id = %s",
    "UPDATE LOW_PRIORITY sxt_payments p SET p.status = 'x'",
    "DELETE FROM ca_actions WHERE deleted = 1",
    "DELETE QUICK FROM ca_actions",
    "CREATE TABLE IF NOT EXISTS sxt_payments (id char(36) PRIMARY KEY)",
    "ALTER TABLE ca_actions ADD COLUMN x int",
    "TRUNCATE TABLE sxt_payments",
    "DROP TABLE IF EXISTS sxt_payments, ca_actions",
    "CREATE UNIQUE INDEX u ON sxt_payments (inn)",
    "UPDATE sxt_payments p JOIN ca_actions a ON a.id = p.x SET p.y = a.z",
])
def test_writes_to_owned_tables_pass(sql):
    OWNED.check(sql)
    with pytest.raises(PermissionDenied, match="read-only towards SuiteCRM tables"):
        NONE.check(sql)


def test_refusal_names_the_statement_and_table():
    with pytest.raises(PermissionDenied) as exc:
        OWNED.check("UPDATE accounts SET name = 'x'")
    assert "UPDATE" in str(exc.value) and "'accounts'" in str(exc.value)
    assert "sxt_payments" in str(exc.value)  # says what it may write


def test_a_refused_statement_stays_refused_and_a_passed_one_is_remembered():
    guard = SqlGuard(owned=["sxt_payments"])
    bad = "UPDATE accounts SET name = %s WHERE id = %s"
    for _ in range(3):
        with pytest.raises(PermissionDenied):
            guard.check(bad)
    ok = "INSERT INTO sxt_payments (id) VALUES (%s), (%s)"
    guard.check(ok)
    guard.check(ok)
    assert ok in guard._passed and bad not in guard._passed
    for i in range(SqlGuard._CACHE_SIZE + 5):
        guard.check(f"SELECT {i}")
    assert len(guard._passed) == SqlGuard._CACHE_SIZE


@pytest.mark.parametrize("sql", [
    # MariaDB runs the statement after FOR (checked on a real MariaDB 10.11: the DELETE happens)
    "SET STATEMENT max_statement_time = 100 FOR DELETE FROM accounts",
    "set statement sql_mode = '' for update accounts set name = 'x'",
    # MySQL 8 EXPLAIN ANALYZE executes the statement it explains
    "EXPLAIN ANALYZE DELETE FROM accounts",
    "EXPLAIN ANALYZE FORMAT = TREE UPDATE accounts SET name = 'x'",
    "DESCRIBE ANALYZE DELETE FROM accounts",
    # a later assignment of the same SET may be global
    "SET @@session.sql_mode = '', GLOBAL read_only = 0",
    "SET sql_mode = '', @@global.read_only = 0",
    "SET PERSIST max_connections = 10",
])
def test_statements_wrapping_a_write_or_a_global_change_are_refused(sql):
    with pytest.raises(PermissionDenied):
        OWNED.check(sql)


@pytest.mark.parametrize("sql", [
    "SET STATEMENT max_statement_time = 100 FOR SELECT * FROM accounts",
    "SET STATEMENT max_statement_time = 100 FOR DELETE FROM sxt_payments",
    "EXPLAIN ANALYZE SELECT * FROM accounts",
    "EXPLAIN SELECT * FROM accounts",
    "DESCRIBE accounts",
    "SET @a = 1, @@session.sql_mode = ''",
])
def test_wrapped_reads_and_owned_writes_pass(sql):
    OWNED.check(sql)
