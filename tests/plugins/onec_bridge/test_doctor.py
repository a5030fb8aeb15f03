"""``doctor`` for onec_bridge: its Payments module and the Accounts INN/KPP fields it matches on (whose
defaults come from account_opening's package, not its own), MySQL write rights with ``write: mysql``."""

from __future__ import annotations

import pytest
from mysqlkit import install_tables
from onec_kit import PLUGIN, install_schema, make_ctx

import plugins.onec_bridge.plugin as plugin_module
from suitecrm_ext import FieldInfo
from suitecrm_ext.crm.mysql import MySQLCRM
from suitecrm_ext.testing import FakeCRM, build_app, build_config, build_registry


def checks(ctx) -> dict:
    return {c.name: c for c in plugin_module.ext_doctor_checks(ctx=ctx)}


def test_all_there_is_one_ok_line_each(crm, ctx_factory):
    got = checks(ctx_factory())
    module, fields = got["onec_bridge: Payments module"], got["onec_bridge: Accounts INN/KPP fields"]
    assert module.ok and module.detail == "onec_Payments with every field the importer writes"
    assert fields.ok and fields.detail == "ao_inn_c / ao_kpp_c (from account_opening's package)"
    assert "onec_bridge: write: mysql" not in got  # only checked when asked for


def test_without_the_package_the_line_says_to_install_it(tmp_path):
    crm = FakeCRM()  # neither this plugin's package nor account_opening's
    got = checks(make_ctx(crm, tmp_path))
    module = got["onec_bridge: Payments module"]
    assert not module.ok and module.detail == "SuiteCRM has no module onec_Payments"
    assert "suitecrm-ext package install onec_bridge" in module.hint and "0.3.0" in module.hint
    fields = got["onec_bridge: Accounts INN/KPP fields"]
    assert not fields.ok
    assert fields.detail == "Accounts has no field ao_inn_c, ao_kpp_c (from account_opening's package)"
    assert "come from account_opening's package" in fields.hint
    assert "package install account_opening" in fields.hint and "inn_field / kpp_field" in fields.hint


def test_a_module_from_the_older_package_lacks_fields_and_says_to_reinstall(tmp_path):
    crm = FakeCRM()
    install_schema(crm)
    old = [f for f in crm.fields("onec_Payments").values() if f.name not in ("twin_key", "payment_identity")]
    crm.add_module("onec_Payments", old, table="onec_payments")
    module = checks(make_ctx(crm, tmp_path))["onec_bridge: Payments module"]
    assert not module.ok and "lacks payment_identity, twin_key" in module.detail
    assert "install the package again" in module.hint


def test_own_inn_fields_that_do_not_exist_name_the_setting(crm, ctx_factory):
    fields = checks(ctx_factory(inn_field="inn_c"))["onec_bridge: Accounts INN/KPP fields"]
    assert not fields.ok
    assert fields.detail == "Accounts has no field inn_c (plugins.onec_bridge.inn_field / kpp_field)"
    assert "account_opening" not in fields.hint and "plugins.onec_bridge.inn_field" in fields.hint
    crm.add_fields("Accounts", [FieldInfo("inn_c", "varchar", "INN", length=12, source="custom_fields")])
    assert checks(ctx_factory(inn_field="inn_c"))["onec_bridge: Accounts INN/KPP fields"].ok


@pytest.mark.mysql
def test_write_mysql_needs_a_user_that_may_write_the_plugins_tables(mysql_server, suitecrm_db, tmp_path):
    with mysql_server.connect(suitecrm_db) as conn:
        install_tables(conn)
        with conn.cursor() as cur:
            cur.execute("CREATE USER IF NOT EXISTS 'sxt_onec_ro'@'%' IDENTIFIED BY 'ro-pw'")
            cur.execute(f"GRANT SELECT ON `{suitecrm_db}`.* TO 'sxt_onec_ro'@'%'")
    try:
        def line(**params):
            crm = FakeCRM()
            install_schema(crm)
            config = build_config(plugins={PLUGIN: {"write": "mysql"}},
                                  state={"backend": "sqlite", "path": str(tmp_path / "state.sqlite3")})
            app = build_app(build_registry({PLUGIN: plugin_module}, config=config), config=config,
                            crm=_WithMySQL(crm, MySQLCRM(**{**mysql_server.params(suitecrm_db), **params})))
            try:
                return checks(app.for_plugin(PLUGIN))["onec_bridge: write: mysql"]
            finally:
                app.close()

        assert line().ok
        refused = line(user="sxt_onec_ro", password="ro-pw")
        assert not refused.ok and "GRANT INSERT, UPDATE ON <db>.onec_payments" in refused.hint
        assert "ro-pw" not in refused.detail
    finally:
        with mysql_server.connect(suitecrm_db) as conn, conn.cursor() as cur:
            cur.execute("DROP USER IF EXISTS 'sxt_onec_ro'@'%'")


class _WithMySQL:
    """A FakeCRM for metadata and reads, with the MySQL transport's owned-table writer (as the gateway)."""

    def __init__(self, fake, mysql):
        self.fake, self.mysql = fake, mysql

    def __getattr__(self, name):
        return getattr(self.fake, name)

    def owned_writer(self, tables):
        return self.mysql.owned_writer(tables)

    def close(self):
        self.mysql.close()
