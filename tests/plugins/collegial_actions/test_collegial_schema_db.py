"""The plugin's schema.yaml gives real MariaDB tables of the shape the plugin reads and writes."""

from __future__ import annotations

import pytest

import plugins.collegial_actions.plugin as plugin_module
import suitecrm_ext.workflow.plugin as workflow_plugin
from plugins.collegial_actions.records import ACTION_FIELDS
from suitecrm_ext.testing import create_plugin_tables, load_plugin_schema
from suitecrm_ext.workflow.deputies import DEPUTY_FIELDS


@pytest.mark.mysql
def test_schema_creates_the_tables_and_columns_the_plugin_uses(mysql_server, suitecrm_db):
    schema = load_plugin_schema(plugin_module)
    with mysql_server.connect(suitecrm_db) as conn:
        create_plugin_tables(conn, load_plugin_schema(workflow_plugin))  # the core package (deputies)
        create_plugin_tables(conn, schema)
        with conn.cursor() as cur:
            def columns(table: str) -> set[str]:
                cur.execute("SELECT column_name FROM information_schema.columns "
                            "WHERE table_schema = %s AND table_name = %s", (suitecrm_db, table))
                return {r[0] for r in cur.fetchall()}

            stored_action_fields = set(ACTION_FIELDS) | {"assigned_user_id", "deleted", "date_modified"}
            assert stored_action_fields <= columns("ca_collegialactions")
            assert set(DEPUTY_FIELDS) <= columns("sx_deputies")
            assert {"id_c", "ca_doc_type_c", "ca_status_c"} <= columns("documents_cstm")
            assert {"ca_documents_actionsdocuments_ida",
                    "ca_documents_actionsca_collegialactions_idb"} <= columns("ca_documents_actions_c")
            # a row as SuiteCRM stores it fits (outcome keys, a 36-char parent id, UTC datetime)
            cur.execute(
                "INSERT INTO ca_collegialactions (id, name, deleted, parent_type, parent_id, kind, stage, "
                "outcome, acted_by_id, acted_at, due_date) "
                "VALUES (%s, %s, 0, %s, %s, %s, %s, %s, %s, %s, %s)",
                ("a" * 36, "Sign", "Documents", "d" * 36, "signing", "Signing", "not_approved", "1",
                 "2026-11-23 09:00:00", "2026-11-30"),
            )
            cur.execute("SELECT outcome, acted_at FROM ca_collegialactions WHERE id = %s", ("a" * 36,))
            outcome, acted_at = cur.fetchone()
            assert outcome == "not_approved" and acted_at.isoformat() == "2026-11-23T09:00:00"
