"""The gateway facade: routing of reads and writes, build_gateway from config, owned writer access."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from suitecrm_ext import PermissionDenied, Unsupported
from suitecrm_ext.cli import cli
from suitecrm_ext.config import ConfigError
from suitecrm_ext.crm.gateway import Gateway, build_gateway
from suitecrm_ext.crm.mysql import MySQLCRM
from suitecrm_ext.crm.rest_v4 import RestV4CRM
from suitecrm_ext.testing import FakeCRM, build_config

pytestmark = pytest.mark.mysql

T0 = dt.datetime(2026, 11, 23, 5, 17, 26)


@pytest.fixture
def mysql(mysql_server, suitecrm_db):
    with mysql_server.connect(suitecrm_db) as conn, conn.cursor() as cur:
        for i in range(4):
            cur.execute("INSERT INTO accounts (id, name, date_modified, deleted) VALUES (%s, %s, %s, 0)",
                        (f"db-{i}", f"From DB {i}", T0))
        cur.execute("CREATE TABLE sxt_marks (id varchar(36) PRIMARY KEY, note varchar(50))")
    c = MySQLCRM(**mysql_server.params(suitecrm_db), page_size=2, tables={"Config": "config"})
    yield c
    c.close()


def test_reads_go_to_mysql_and_writes_to_the_api(mysql):
    api = FakeCRM()
    gw = Gateway(api, mysql, mysql=mysql)
    assert sorted(r.id for r in gw.find("Accounts")) == ["db-0", "db-1", "db-2", "db-3"]
    assert gw.count("Accounts") == 4 and gw.get("Accounts", "db-2")["name"] == "From DB 2"
    new_id = gw.save("Accounts", {"name": "Through the API"})
    assert [r.id for r in api.records("Accounts")] == [new_id]  # written by the API transport
    assert gw.count("Accounts") == 4  # and not into SuiteCRM's table behind its back
    gw.delete("Accounts", new_id)
    assert api.records("Accounts")[0].deleted is True
    assert "Accounts" in gw.modules() and gw.fields("Accounts")["name"].label  # metadata from the API


def test_reads_go_to_the_api_without_a_reader(mysql):
    api = FakeCRM()
    api.save("Accounts", {"name": "Only in the API"})
    gw = Gateway(api, None, mysql=mysql)
    assert [r["name"] for r in gw.find("Accounts")] == ["Only in the API"]


def test_a_read_mysql_cannot_serve_falls_back_to_the_api(mysql):
    class Recorder(FakeCRM):
        asked: list[str] = []

        def count(self, module, where=None, *, include_deleted=False):
            self.asked.append(module)
            return 42

    api = Recorder()
    gw = Gateway(api, mysql, mysql=mysql)
    # the `config` table has no id/deleted columns: MySQL says Unsupported, the API answers
    assert gw.count("Config") == 42 and api.asked == ["Config"]


def test_owned_writer_through_the_gateway(mysql):
    gw = Gateway(FakeCRM(), mysql, mysql=mysql)
    with gw.owned_writer(["sxt_marks"]) as w:
        assert w.insert_many("sxt_marks", [{"id": "1", "note": "x"}]) == 1
    with pytest.raises(PermissionDenied):
        gw.owned_writer(["accounts"])
    with pytest.raises(Unsupported, match="configure suitecrm.mysql"):
        Gateway(FakeCRM()).owned_writer(["sxt_marks"])


def test_build_gateway_builds_the_configured_transports(mysql_server, suitecrm_db):
    my = {k: v for k, v in mysql_server.params(suitecrm_db).items()}
    with mysql_server.connect(suitecrm_db) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO users (id, user_name, deleted) VALUES ('u1', 'sally', 0)")
        cur.execute("INSERT INTO accounts (id, name, assigned_user_id, deleted) VALUES ('a1', 'A', 'u1', 0)")
    cfg = build_config(suitecrm={"url": "http://crm.test", "write_via": "rest", "read_via": "mysql",
                                 "rest": {"username": "admin", "password": "pw"},
                                 "mysql": {**my, "links": {"Users.accounts": "accounts_assigned_user"}}})
    gw = build_gateway(cfg.settings.suitecrm)
    assert isinstance(gw.writer, RestV4CRM) and isinstance(gw.reader, MySQLCRM) and gw.mysql is gw.reader
    assert gw.count("Accounts") == 1  # served by MySQL: no HTTP call was made (none is mocked)
    assert [r.id for r in gw.related("Users", "u1", "accounts")] == ["a1"]  # config links: resolve it
    gw.close()
    api_only = build_gateway(build_config(suitecrm={"url": "http://crm.test", "rest": {
        "username": "admin", "password": "pw"}, "mysql": my}).settings.suitecrm)
    assert api_only.reader is None and isinstance(api_only.mysql, MySQLCRM)


def test_build_gateway_without_the_write_transport_names_the_key():
    with pytest.raises(ConfigError) as exc:
        build_gateway(build_config().settings.suitecrm)  # no rest: section
    assert exc.value.problems == [
        "suitecrm.write_via: 'rest' is not configured: add an enabled suitecrm.rest: section "
        "(configured: none)"]


@pytest.mark.parametrize("body, message", [
    ("  write_via: v8\n  rest:\n    username: admin\n    password: pw\n",
     "suitecrm: write_via: 'v8' is not configured: add an enabled suitecrm.v8: section (configured: rest)"),
    ("  rest:\n    enabled: false\n    username: admin\n    password: pw\n",
     "suitecrm: write_via: 'rest' is not configured"),
    ("  read_via: mysql\n  rest:\n    username: admin\n    password: pw\n",
     "suitecrm: read_via: 'mysql' needs an enabled suitecrm.mysql: section"),
])
def test_config_check_catches_a_via_naming_an_unconfigured_transport(tmp_path, body, message):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("state:\n  path: x.db\nsuitecrm:\n  url: http://crm.test\n" + body)
    r = CliRunner().invoke(cli, ["--config", str(cfg), "config", "check"])
    assert r.exit_code == 2
    assert f"{cfg}:3: {message}" in r.stderr
