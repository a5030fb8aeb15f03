"""The schema gives tests the tables SuiteCRM would create (real MariaDB) and FakeCRM the same modules."""

from __future__ import annotations

import pytest

from suitecrm_ext import NotFound, ValidationError
from suitecrm_ext.packaging.ddl import ddl
from suitecrm_ext.testing import FakeCRM, create_plugin_tables, load_plugin_schema, register_schema


def _columns(conn, table: str) -> dict[str, str]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT column_name, column_type FROM information_schema.columns"
            " WHERE table_schema = DATABASE() AND table_name = %s ORDER BY ordinal_position",
            (table,),
        )
        return {name: ctype for name, ctype in cur.fetchall()}


@pytest.mark.mysql
def test_tables_match_what_suitecrm_creates(mysql_server, suitecrm_db, small_schema):
    with mysql_server.connect(suitecrm_db) as conn:
        create_plugin_tables(conn, small_schema)
        create_plugin_tables(conn, small_schema)  # idempotent: a second run changes nothing
        cols = _columns(conn, "sxt_payments")
        assert list(cols)[:9] == [
            "id",
            "name",
            "date_entered",
            "date_modified",
            "modified_user_id",
            "created_by",
            "description",
            "deleted",
            "assigned_user_id",
        ]
        assert cols["amount"] == "decimal(26,6)" and cols["currency_id"] == "char(36)"
        assert cols["payer_inn"] == "varchar(12)" and cols["status"] == "varchar(100)"
        assert cols["rate"] == "decimal(10,4)" and cols["confirmed"] == "tinyint(1)"
        assert (
            cols["contact_id"] == "char(36)" and "contact_name" not in cols
        )  # relate: only its id is stored
        assert "parent_id" in _columns(conn, "sxt_payments_audit")
        cstm = _columns(conn, "accounts_cstm")
        assert cstm["id_c"] == "char(36)" and cstm["sxt_inn_c"] == "varchar(12)"
        assert list(_columns(conn, "sxt_payments_accounts_c")) == [
            "id",
            "date_modified",
            "deleted",
            "sxt_payments_accountsaccounts_ida",
            "sxt_payments_accountssxt_payments_idb",
        ]
        assert "document_revision_id" in _columns(conn, "sxt_payments_documents_c")
        with conn.cursor() as cur:
            # a row the way SuiteCRM writes it, defaults from the schema
            cur.execute("INSERT INTO sxt_payments (id, name) VALUES (%s, %s)", ("p1", "Payment 1"))
            cur.execute(
                "SELECT status, confirmed, line_count, deleted FROM sxt_payments WHERE id = %s", ("p1",)
            )
            assert cur.fetchone() == ("new", 0, 0, 0)


@pytest.mark.mysql
def test_account_opening_tables(mysql_server, suitecrm_db):
    schema = load_plugin_schema("account_opening")
    with mysql_server.connect(suitecrm_db) as conn:
        statements = create_plugin_tables(conn, schema)
        # the core package it requires first (SuiteCRM installs that first), then its own
        assert statements == ddl(load_plugin_schema("workflow")) + ddl(schema)
        assert {"decision", "acted_by_id"} <= set(_columns(conn, "sx_decisions"))
        assert {"application_type", "status", "account_number"} <= set(_columns(conn, "ao_applications"))
        assert {"postal_code", "fias_house_id", "full_address"} <= set(_columns(conn, "ao_addresses"))
        assert "ao_passport_number_c" in _columns(conn, "contacts_cstm")
        assert "ao_ogrn_c" in _columns(conn, "accounts_cstm")


def test_fake_crm_gets_the_schema_modules_fields_and_links(small_schema):
    crm = FakeCRM()
    old = crm.save("Accounts", {"name": "Before"})
    register_schema(crm, small_schema)
    fields = crm.fields("sxt_Payments")
    assert fields["status"].options == ("new", "matched", "parked")
    assert fields["contact_name"].source == "non-db" and fields["contact_id"].type == "id"
    assert crm.fields("Accounts")["sxt_inn_c"].source == "custom_fields"
    assert crm.get("Accounts", old).get("sxt_inn_c") in ("", None)  # existing records are kept

    acc = crm.save("Accounts", {"name": "Romashka", "sxt_inn_c": "7707083893"})
    pay = crm.save("sxt_Payments", {"name": "P1", "amount": "10.00", "status": "new"})
    crm.relate("Accounts", acc, "sxt_payments_accounts", [pay])
    assert [r.id for r in crm.related("Accounts", acc, "sxt_payments_accounts")] == [pay]
    assert [r.id for r in crm.related("sxt_Payments", pay, "sxt_payments_accounts")] == [acc]
    assert crm.table("sxt_Payments") == "sxt_payments"
    with pytest.raises(ValidationError):
        crm.save("sxt_Payments", {"name": "P2", "not_a_field": "x"})


def test_fake_crm_gives_security_groups_modules_their_link_and_new_records_their_defaults():
    crm = FakeCRM()
    register_schema(crm, load_plugin_schema("account_opening"))  # ao_Applications: template security_groups
    group = crm.save("SecurityGroups", {"name": "Branch North"})
    app = crm.save("ao_Applications", {"name": "A1"})
    crm.relate("ao_Applications", app, "SecurityGroups", [group])
    assert [g.id for g in crm.related("ao_Applications", app, "SecurityGroups")] == [group]
    # vardef defaults reach new records (SugarBean::populateDefaultValues), also created through an API
    assert crm.get("ao_Applications", app).get("status") == "draft"
    assert crm.get("ao_Applications", app).get("currency_code") == "810"


def test_fake_crm_refuses_custom_fields_on_a_module_it_lacks(small_schema):
    crm = FakeCRM(modules=["Contacts", "Documents"])
    with pytest.raises(ValueError, match="custom fields on Accounts"):
        register_schema(crm, small_schema)
    assert "sxt_Payments" not in crm.modules()  # refused before changing anything


def test_unknown_module_stays_unknown_without_the_schema():
    with pytest.raises(NotFound):
        FakeCRM().save("sxt_Payments", {"name": "x"})
