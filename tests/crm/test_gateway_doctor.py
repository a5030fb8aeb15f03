"""`suitecrm-ext doctor` transport checks, through the CLI, against mocked REST v4_1 and a real MariaDB."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import responses
from click.testing import CliRunner
from crm.emulators.v8 import V8Emulator

from suitecrm_ext.cli import cli

pytestmark = pytest.mark.mysql

URL = "http://crm.test"
ENDPOINT = f"{URL}/service/v4_1/rest.php"
REST = Path(__file__).parent.parent / "fixtures" / "rest_v4"
PASSWORD = "s3cret-Admin-pw"


def recorded(name: str):
    return json.loads((REST / f"{name}.json").read_text(encoding="utf-8"))["response"]


def rest_server(rsps: responses.RequestsMock, password: str = PASSWORD) -> list[str]:
    """A REST v4_1 endpoint answering with the recorded SuiteCRM 7.14.6 answers; returns the methods seen."""
    seen: list[str] = []
    md5 = hashlib.md5(password.encode()).hexdigest()
    session = recorded("login")["id"]

    def answer(request):
        form = dict(p.split("=", 1) for p in request.body.split("&"))
        from urllib.parse import unquote_plus

        method = unquote_plus(form["method"])
        data = json.loads(unquote_plus(form["rest_data"]))
        seen.append(method)
        if method == "get_server_info":
            body = recorded("get_server_info")
        elif method == "login":
            body = recorded("login") if data[0]["password"] == md5 else recorded("login-bad-password")
        elif data[0] != session:
            body = recorded("invalid-session")
        elif method == "get_available_modules":
            body = recorded("get_available_modules")
        elif method == "get_entries_count":
            body = recorded("get_entries_count-Accounts")
        elif method == "get_module_fields":
            body = recorded("get_module_fields-Accounts")
        elif method == "logout":
            body = None
        else:
            body = recorded("invalid-method")
        return 200, {"Content-Type": "application/json; charset=UTF-8"}, json.dumps(body)

    rsps.add_callback(responses.POST, ENDPOINT, callback=answer)
    return seen


@pytest.fixture(autouse=True)
def no_plugins(monkeypatch):
    """Only the core checks: installed plugins (and their own checks) are other tests' business."""
    monkeypatch.setattr("suitecrm_ext.plugins.entry_points", lambda group: [])


def write_config(tmp_path, mysql_server, db, *, mysql_password=None) -> Path:
    p = mysql_server.params(db)
    my = "\n".join(f"    {k}: {json.dumps(v)}" for k, v in p.items() if k != "password")
    cfg = tmp_path / "suitecrm-ext.yaml"
    cfg.write_text(
        f"suitecrm:\n  url: {URL}\n  read_via: mysql\n  rest:\n    username: admin\n"
        f"    password: ${{SUITECRM_PASSWORD}}\n  mysql:\n{my}\n    password: ${{DB_PASSWORD:-}}\n"
        f"state:\n  path: {tmp_path / 'state.sqlite3'}\n"
    )
    return cfg


def doctor(cfg: Path, env: dict) -> object:
    return CliRunner().invoke(cli, ["--config", str(cfg), "doctor"], env=env)


def test_doctor_all_ok(tmp_path, mysql_server, suitecrm_db):
    cfg = write_config(tmp_path, mysql_server, suitecrm_db)
    with responses.RequestsMock() as rsps:
        rest_server(rsps)
        r = doctor(cfg, {"SUITECRM_PASSWORD": PASSWORD, "DB_PASSWORD": mysql_server.password})
    lines = r.stdout.splitlines()
    assert r.exit_code == 0, r.output
    assert f"ok    suitecrm.rest reachable: {URL}" in lines
    assert "ok    suitecrm.rest authenticated: as admin" in lines
    assert "ok    suitecrm.rest can read Accounts: 51 record(s)" in lines
    assert "ok    suitecrm.rest server version: SuiteCRM 7.14.6, Sugar CE 6.5.25" in lines
    assert f"ok    suitecrm.mysql authenticated: as {mysql_server.user}" in lines
    assert "ok    suitecrm.mysql can read Accounts: 0 record(s)" in lines
    mysql_version = [x for x in lines if x.startswith("ok    suitecrm.mysql server version: database ")]
    assert mysql_version and mysql_version[0].endswith(", sugar_version 6.5.25")
    assert not any(x.startswith("FAIL") for x in lines)


def test_doctor_wrong_rest_password_fails_without_showing_it(tmp_path, mysql_server, suitecrm_db):
    cfg = write_config(tmp_path, mysql_server, suitecrm_db)
    with responses.RequestsMock() as rsps:
        rest_server(rsps, password="the-real-one")
        r = doctor(cfg, {"SUITECRM_PASSWORD": PASSWORD, "DB_PASSWORD": mysql_server.password})
    assert r.exit_code == 1
    fail = [x for x in r.stdout.splitlines() if x.startswith("FAIL")]
    assert len(fail) == 1 and fail[0].startswith("FAIL  suitecrm.rest authenticated: auth error:")
    assert "Invalid Login" in fail[0] and "(hint: check suitecrm.rest.username / password" in fail[0]
    assert "ok    suitecrm.rest reachable: http://crm.test" in r.stdout
    assert "suitecrm.rest can read Accounts" not in r.stdout  # stops at the first failure
    assert "ok    suitecrm.mysql can read Accounts" in r.stdout  # the other transport is still checked
    assert PASSWORD not in r.output and hashlib.md5(PASSWORD.encode()).hexdigest() not in r.output
    assert "check(s) failed" in r.stderr


def test_doctor_wrong_mysql_password(tmp_path, mysql_server, suitecrm_db):
    cfg = write_config(tmp_path, mysql_server, suitecrm_db)
    with responses.RequestsMock() as rsps:
        rest_server(rsps)
        r = doctor(cfg, {"SUITECRM_PASSWORD": PASSWORD, "DB_PASSWORD": "wrong-db-pw-123"})
    assert r.exit_code == 1
    fail = [x for x in r.stdout.splitlines() if x.startswith("FAIL")]
    assert len(fail) == 1 and fail[0].startswith("FAIL  suitecrm.mysql authenticated: auth error:")
    assert "GRANT SELECT" in fail[0]
    assert "wrong-db-pw-123" not in r.output


def test_doctor_unreachable_rest(tmp_path, mysql_server, suitecrm_db):
    cfg = write_config(tmp_path, mysql_server, suitecrm_db)
    with responses.RequestsMock():  # nothing answers: connection refused
        r = doctor(cfg, {"SUITECRM_PASSWORD": PASSWORD, "DB_PASSWORD": mysql_server.password})
    assert r.exit_code == 1
    assert "FAIL  suitecrm.rest reachable: unreachable:" in r.stdout
    assert "check suitecrm.url" in r.stdout


def test_doctor_without_any_api_transport(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"suitecrm:\n  url: {URL}\nstate:\n  path: {tmp_path / 's.db'}\n")
    r = CliRunner().invoke(cli, ["--config", str(cfg), "doctor"])
    assert r.exit_code == 1
    assert "FAIL  suitecrm transports: no API transport is configured" in r.stdout


@pytest.mark.parametrize("secret, ok", [("client-secret-123", True), ("not-the-secret", False)])
def test_doctor_v8(tmp_path, secret, ok):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"suitecrm:\n  url: {URL}\n  write_via: v8\n  v8:\n    client_id: cid\n"
        f"    client_secret: ${{V8_SECRET}}\nstate:\n  path: {tmp_path / 's.db'}\n")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        emulator = V8Emulator(base_url=URL, client_id="cid", client_secret="client-secret-123").install(rsps)
        emulator.crm.save("Accounts", {"name": "Acme"})
        r = CliRunner().invoke(cli, ["--config", str(cfg), "doctor"], env={"V8_SECRET": secret})
    lines = r.stdout.splitlines()
    if ok:
        assert r.exit_code == 0, r.output
        assert "ok    suitecrm.v8 authenticated: client cid (client_credentials)" in lines
        assert "ok    suitecrm.v8 can read Accounts: 1 record(s)" in lines
        assert "ok    suitecrm.v8 server version: V8 JSON:API (V8 does not report the SuiteCRM version)" \
            in lines
    else:
        assert r.exit_code == 1
        fail = [x for x in lines if x.startswith("FAIL")]
        assert len(fail) == 1 and fail[0].startswith("FAIL  suitecrm.v8 authenticated: auth error:")
        assert "client_id / client_secret" in fail[0] and secret not in r.output
