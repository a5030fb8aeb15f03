"""The SuiteCRM-shaped test schema itself: loads, and its relationship metadata points at real columns."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.mysql


def _columns(conn, db: str) -> dict[str, set[str]]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s", (db,)
        )
        out: dict[str, set[str]] = {}
        for table, column in cur.fetchall():
            out.setdefault(table, set()).add(column)
    return out


def test_every_relationship_row_names_existing_tables_and_columns(mysql_server, suitecrm_db):
    with mysql_server.connect(suitecrm_db) as conn:
        cols = _columns(conn, suitecrm_db)
        with conn.cursor() as cur:
            cur.execute(
                "SELECT relationship_name, lhs_table, lhs_key, rhs_table, rhs_key, join_table, join_key_lhs,"
                " join_key_rhs, relationship_role_column FROM relationships WHERE deleted = 0"
            )
            rows = cur.fetchall()
    assert len(rows) > 40
    problems = []
    for name, lt, lk, rt, rk, jt, jl, jr, role in rows:
        need = [(lt, lk), (rt, rk)]
        if jt:
            need += [(jt, jl), (jt, jr), (jt, "deleted")] + ([(jt, role)] if role else [])
        elif role:
            need.append((rt, role))
        for table, column in need:
            if column not in cols.get(table, set()):
                problems.append(f"{name}: {table}.{column}")
    assert problems == []


def test_schema_has_the_tables_the_issue_names_with_reference_types(mysql_server, suitecrm_db):
    with mysql_server.connect(suitecrm_db) as conn:
        cols = _columns(conn, suitecrm_db)
        with conn.cursor() as cur:
            cur.execute(
                "SELECT column_type FROM information_schema.columns WHERE table_schema = %s"
                " AND table_name = 'accounts' AND column_name = 'id'", (suitecrm_db,)
            )
            assert cur.fetchone() == ("char(36)",)
    for table in ("accounts", "accounts_cstm", "contacts", "contacts_cstm", "accounts_contacts", "cases",
                  "cases_cstm", "documents", "document_revisions", "tasks", "notes", "users",
                  "securitygroups",
                  "securitygroups_records", "securitygroups_users", "acl_roles", "acl_roles_users",
                  "acl_actions", "acl_roles_actions", "relationships", "email_addresses",
                  "email_addr_bean_rel", "config"):
        assert table in cols, table
    assert "id_c" in cols["accounts_cstm"]
