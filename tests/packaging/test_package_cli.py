"""``suitecrm-ext package check|build`` as a user runs them."""

from __future__ import annotations

import zipfile

from click.testing import CliRunner
from pkg_helpers import SIDECAR_URL

from suitecrm_ext.cli import cli
from suitecrm_ext.packaging import source


def run(*args: str):
    return CliRunner().invoke(cli, ["package", *args])


def test_check_shipped_plugin():
    result = run("check", "account_opening")
    assert result.exit_code == 0, result.output
    assert (
        "account_opening/schema.yaml: 3 module(s), 6 relationship(s), 14 custom field(s), 8 dropdown(s)"
        in (result.output)
    )


def test_check_lists_every_problem_and_exits_2(tmp_path, monkeypatch):
    bad = tmp_path / "schema.yaml"
    bad.write_text(
        "package: {id: x, name: x, version: 1.0.0}\n"
        "custom_fields:\n"
        "  Accounts:\n"
        "    - {name: group_c, type: strng, label: {en_us: G, ru_ru: Г}}\n"
        "    - {name: group, type: varchar, label: {en_us: G, ru_ru: Г}}\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(source.PluginRegistry, "call_one", lambda self, name, hook: bad)
    result = run("check", "routing")
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.startswith("schema error:")]
    where = f"schema error: plugin routing, {bad}"
    assert lines == [
        f"{where}:4: custom_fields.Accounts[0].type (group_c): unknown type 'strng'; expected one of "
        "bool, currency, date, datetime, decimal, enum, int, multienum, relate, text, varchar",
        f"{where}:5: custom_fields.Accounts[1].name (group): field name 'group' is a reserved SQL word",
        f"{where}:5: custom_fields.Accounts[1].name (group): custom field names end "
        "in _c, as SuiteCRM's Studio names them (write group_c)",
    ]


def test_unknown_plugin():
    result = run("check", "no_such_plugin")
    assert result.exit_code == 1
    assert "no plugin named 'no_such_plugin' is installed (installed:" in result.output
    assert "account_opening" in result.output


def test_build_writes_the_zip(tmp_path):
    result = run("build", "account_opening", "-o", str(tmp_path / "out"), "--sidecar-url", SIDECAR_URL)
    assert result.exit_code == 0, result.output
    path = tmp_path / "out" / "account_opening-0.1.0.zip"
    assert f"built {path}" in result.output
    assert "module ao_Applications (table ao_applications" in result.output
    with zipfile.ZipFile(path) as zf:
        assert "SugarModules/modules/ao_Applications/vardefs.php" in zf.namelist()


def test_build_refusals_are_clear(tmp_path):
    no_url = run("build", "account_opening", "-o", str(tmp_path))
    assert no_url.exit_code == 1 and "--sidecar-url URL" in no_url.output
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_a_schema_that_adds_nothing_builds_no_package(tmp_path, monkeypatch):
    # every shipped plugin now has a package: an empty schema of a plugin of its own
    empty = source.schema_from_artifacts("empty_plugin", {"package": {"id": "sxt_empty", "name": "empty",
                                                                           "version": "0.1.0"}})
    monkeypatch.setattr("suitecrm_ext.cli.package.load_plugin_schema", lambda name: empty)
    result = run("build", "empty_plugin", "-o", str(tmp_path))
    assert result.exit_code == 1 and "plugin empty_plugin adds nothing to SuiteCRM" in result.output
    assert list(tmp_path.iterdir()) == []


def test_build_takes_the_sidecar_url_from_the_config(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"suitecrm:\n  url: http://crm\nevents:\n  push:\n    public_url: {SIDECAR_URL}\n")
    result = CliRunner().invoke(cli, ["--config", str(cfg), "package", "build", "account_opening",
                                      "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(tmp_path / "out" / "account_opening-0.1.0.zip") as zf:
        hook = next(n for n in zf.namelist() if n.endswith(".php") and "Hook" in n)
        assert SIDECAR_URL in zf.read(hook).decode()
