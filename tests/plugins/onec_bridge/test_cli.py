"""``suitecrm-ext onec import`` through the real command line (CRM replaced by the FakeCRM)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from onec_kit import FIXTURES, add_account

from plugins.onec_bridge.writers import MODULE
from suitecrm_ext.cli import cli
from suitecrm_ext.context import AppContext


@pytest.fixture
def run(crm, tmp_path, monkeypatch):
    cfg = tmp_path / "suitecrm-ext.yaml"
    cfg.write_text("suitecrm:\n  url: http://127.0.0.1:9\n"
                   f"state:\n  path: {tmp_path / 'state.sqlite3'}\n"
                   "plugins:\n  onec_bridge:\n    task_user_id: u-accountant\n")
    monkeypatch.setattr(AppContext, "crm", property(lambda self: crm))
    cli.reset_plugin_commands()

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["--config", str(cfg), "onec", *args], catch_exceptions=False)

    yield invoke
    cli.reset_plugin_commands()


def test_import_a_file_prints_the_summary_table(run, crm):
    add_account(crm, 'ПАО "Ростелеком"', "7707049388", "770701001")
    result = run("import", "--file", str(FIXTURES / "statement_windows.txt"))
    assert result.exit_code == 0, result.output
    out = result.output
    for label, count in (("new", 3), ("matched", 1), ("unmatched", 2), ("skipped", 1), ("tasks created", 2)):
        assert any(line.split("│")[1:3] and line.split("│")[1].strip().startswith(label)
                   and line.split("│")[2].strip() == str(count) for line in out.splitlines()), (label, out)
    assert len(crm.records(MODULE)) == 3


def test_dry_run_writes_nothing(run, crm):
    result = run("import", "--file", str(FIXTURES / "statement_utf8.txt"), "--dry-run")
    assert result.exit_code == 0 and "dry run" in result.output
    assert crm.records(MODULE) == []


def test_a_broken_file_is_refused_with_its_line(run, crm, tmp_path):
    bad = tmp_path / "bad.txt"
    text = (FIXTURES / "statement_utf8.txt").read_bytes().decode().replace("Дата=14.03.2026", "Дата=1403")
    bad.write_bytes(text.encode())
    result = run("import", "--file", str(bad))
    assert result.exit_code == 1
    line = text.splitlines().index("Дата=1403") + 1
    assert f"bad.txt, line {line}: Дата: bad date '1403'" in result.output
    assert "nothing was imported" in result.output
    assert crm.records(MODULE) == []


def test_odata_import_without_odata_settings_says_what_to_configure(run):
    result = run("import")
    assert result.exit_code == 1
    assert "plugins.onec_bridge.odata is not configured" in result.output


def test_since_with_file_is_a_usage_error(run):
    result = run("import", "--file", str(FIXTURES / "statement_utf8.txt"), "--since", "2026-03-01")
    assert result.exit_code == 2 and "--since applies to the OData import" in result.output
