"""The live instance answers on every transport the gateway has (the layer's own smoke test)."""

from __future__ import annotations

import pymysql
import pytest


@pytest.mark.parametrize("flavour", ["rest", "v8", "v8_password", "mysql"])
def test_each_transport_counts_the_same_accounts(live_lab, flavour):
    with pymysql.connect(**live_lab.db_params(read_only=True)) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM accounts WHERE deleted = 0")
        (in_db,) = cur.fetchone()
    crm = live_lab.transport(flavour)
    try:
        assert crm.count("Accounts") == in_db
    finally:
        crm.close()


def test_live_crm_fixture_reads_the_admin_user(live_crm):
    admin = live_crm.get("Users", "1", ["user_name", "status"])
    assert admin.get("user_name") == "admin"
