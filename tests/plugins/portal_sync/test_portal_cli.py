"""``suitecrm-ext portal ...`` through the real command line (the CRMs are the kit's FakeCRMs)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from test_portal_scenarios import registered_client

from suitecrm_ext.cli import cli
from suitecrm_ext.context import AppContext


@pytest.fixture
def run(sidecar, tmp_path, monkeypatch):
    sc = sidecar
    cfg = tmp_path / "suitecrm-ext.yaml"
    cfg.write_text(
        "suitecrm:\n  url: http://127.0.0.1:9\n"
        f"state:\n  path: {sc.tmp / 'state.sqlite3'}\n"
        "plugins:\n  portal_sync:\n    portal:\n"
        f"      url: {sc.web.url}\n      rest: {{username: admin, password: admin-pw}}\n"
    )
    monkeypatch.setattr(AppContext, "crm", property(lambda self: sc.internal))
    monkeypatch.setattr(AppContext, "portal_adapter", property(lambda self: sc.adapter), raising=False)
    cli.reset_plugin_commands()

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["--config", str(cfg), "portal", *args], catch_exceptions=False)

    yield invoke
    cli.reset_plugin_commands()


def test_invite_creates_the_login_and_says_until_when_the_link_works(run, sidecar):
    sc = sidecar
    acc = sc.client_account()
    cid = sc.client_contact(acc)
    result = run("invite", cid)
    assert result.exit_code == 0, result.output
    assert "invited ivan.petrov@romashka.example" in result.output and "valid until" in result.output
    assert sc.internal.get("Contacts", cid)["sxt_portal_status_c"] == "invited"
    assert len(sc.mails_to("ivan.petrov@romashka.example")) == 1


def test_invite_of_a_contact_without_address_says_so_and_sends_nothing(run, sidecar):
    sc = sidecar
    cid = sc.client_contact(sc.client_account(), email="")
    result = run("invite", cid)
    assert result.exit_code == 1
    assert "needs a valid e-mail address" in result.output and "nothing was sent" in result.output
    assert sc.sink.messages == []


def test_status_lists_logins_and_counts(run, sidecar):
    registered_client(sidecar)
    result = run("status")
    assert result.exit_code == 0, result.output
    assert "registered" in result.output and "Accounts 1" in result.output
    doc = json.loads(run("status", "--json").output)
    assert doc["logins"][0]["status"] == "registered" and doc["synced"]["Contacts"] == 1


def test_conflicts_lists_what_both_sides_changed(run, sidecar):
    sc = sidecar
    assert "no conflicts recorded" in run("conflicts").output
    acc, _cid, user = registered_client(sc)
    sc.internal.save("Accounts", {"id": acc, "name": "Internal name"})
    with sc.as_client(user) as portal:
        portal.save("Accounts", {"id": sc.sync.ids.right("Accounts", acc), "name": "Portal name"})
    sc.settle()
    result = run("conflicts")
    assert result.exit_code == 0 and "portal conflicts" in result.output and "name" in result.output
    [row] = json.loads(run("conflicts", "--json").output)
    assert (row["field"], row["winner"], row["internal"]) == ("name", "internal", "Internal name")


def test_resync_goes_through_the_pairs(run, sidecar, monkeypatch):
    sc = sidecar
    acc, _cid, _user = registered_client(sc)
    monkeypatch.setenv("SUITECRM_EXT_PROGRESS", "always")  # the bar as on a terminal (stderr)
    result = run("resync", "--module", "Accounts")
    assert result.exit_code == 0, result.output
    assert "Accounts" in result.stdout and "│ 1 " in result.stdout
    assert "syncing" in result.stderr and "1/1" in result.stderr
    monkeypatch.setenv("SUITECRM_EXT_PROGRESS", "never")
    result = run("resync", "--since", "2026-01-01")
    assert result.exit_code == 0, result.output
    assert "since 2026-01-01" in result.output


def test_setup_prepares_the_role(run, sidecar):
    result = run("setup")
    assert result.exit_code == 0, result.output
    assert "role 'Client portal user'" in result.output and "every other module disabled" in result.output
