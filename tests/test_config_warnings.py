"""Configurations that are valid but quietly enforce nothing, a missing push secret in SuiteCRM's
config_override.php, a readable env file: `config check` and `doctor` warn; `plugins list` shows
config errors instead of hiding them."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from suitecrm_ext.cli import cli
from suitecrm_ext.config_override import write_settings

ROOT = Path(__file__).parent.parent
SECRET = "0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def fresh_plugin_commands():
    cli.reset_plugin_commands()
    yield
    cli.reset_plugin_commands()


def run(*args, env=None):
    return CliRunner().invoke(cli, list(args), env=env or {}, catch_exceptions=False)


def write(tmp_path: Path, body: str) -> Path:
    cfg = tmp_path / "suitecrm-ext.yaml"
    cfg.write_text(f"suitecrm:\n  url: http://127.0.0.1:9\n{body}\nstate:\n  path: {tmp_path / 's.db'}\n")
    return cfg


def only(*enabled: str) -> str:
    names = ["collegial_actions", "account_opening", "routing", "portal_sync", "onec_bridge", "bp_scripts",
             "workflow"]
    lines = ["plugins:"]
    for n in names:
        lines.append(f"  {n}:\n    enabled: {'true' if n in enabled else 'false'}")
    return "\n".join(lines)


def fake_suitecrm(tmp_path: Path) -> Path:
    root = tmp_path / "suitecrm"
    for marker in ("config.php", "include/entryPoint.php", "ModuleInstall/ModuleInstaller.php",
                   "suitecrm_version.php"):
        (root / marker).parent.mkdir(parents=True, exist_ok=True)
        (root / marker).write_text("<?php\n")
    (root / "config_override.php").write_text("<?php\n/***CONFIGURATOR***/\n$sugar_config['x'] = 1;\n"
                                              "/***CONFIGURATOR***/")
    return root


def test_validating_plugin_without_push_or_polling_only_is_warned(tmp_path):
    cfg = write(tmp_path, only("collegial_actions"))
    r = run("--config", str(cfg), "config", "check")
    assert r.exit_code == 0, r.output
    assert "(1 warning(s) above)" in r.stdout
    [warning] = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
    assert f"{cfg}" in warning and "plugin collegial_actions refuses forbidden changes" in warning
    assert "its rules are not enforced" in warning
    assert "set plugins.collegial_actions.polling_only: true" in warning


@pytest.mark.parametrize("push, collegial", [
    (f"events:\n  push:\n    enabled: true\n    secret: {SECRET}\n", "    enabled: true"),
    ("", "    polling_only: true"),
])
def test_push_or_polling_only_silences_the_warning(tmp_path, push, collegial):
    cfg = write(tmp_path, push + only("collegial_actions").replace("  collegial_actions:\n    enabled: true",
                                                                   "  collegial_actions:\n" + collegial))
    r = run("--config", str(cfg), "config", "check")
    assert r.exit_code == 0, r.output
    assert "warning:" not in r.stderr


def test_a_plugin_without_a_polling_fallback_gets_the_generic_warning(tmp_path):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "guard.py").write_text("from suitecrm_ext import hookimpl\n\n@hookimpl\n"
                                     "def ext_validate_record_change(change, ctx):\n    return 'no'\n")
    cfg = write(tmp_path, only())
    r = run("--plugins-dir", str(folder), "--config", str(cfg), "config", "check")
    assert "plugin guard refuses forbidden changes" in r.stderr
    assert "polling_only" not in r.stderr  # it has no such mode: the hint is only to turn push on


GUARD = """from suitecrm_ext import WatchSpec, hookimpl

@hookimpl
def ext_watch(settings):
    return [WatchSpec("Accounts"), WatchSpec("Contacts")]

@hookimpl
def ext_validate_record_change(change, ctx):
    return "no"
"""
GUARD_SCHEMA = """
@hookimpl
def ext_suitecrm_artifacts():
    return {"package": {"id": "sxt_guard", "name": "guard", "version": "0.1.0"},
            "logic_hooks": [%s]}
"""


@pytest.mark.parametrize("hooks, unhooked", [
    (None, "Accounts, Contacts"),
    ('{"module": "Accounts", "push": True, "validate": False}', "Accounts, Contacts"),
    ('{"module": "Accounts", "validate": True}', "Contacts"),
    ('{"module": "Accounts", "validate": True}, {"module": "Contacts", "validate": True}', None),
])
def test_a_validating_plugin_without_a_validating_logic_hook_is_warned(tmp_path, hooks, unhooked):
    """Push is on, but SuiteCRM asks before a save only where some package put a validating hook."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "guard.py").write_text(GUARD + (GUARD_SCHEMA % hooks if hooks else ""))
    cfg = write(tmp_path, f"events:\n  push:\n    enabled: true\n    secret: {SECRET}\n" + only())
    r = run("--plugins-dir", str(folder), "--config", str(cfg), "config", "check")
    assert r.exit_code == 0, r.output
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
    if unhooked is None:
        assert warnings == []
        return
    [warning] = warnings
    assert f"plugin guard refuses forbidden changes of {unhooked}, but no enabled plugin's package" in warning
    assert "its rules are not enforced on them" in warning
    assert "validate: true}" in warning and "package install guard" in warning


def test_another_packages_validating_hook_covers_the_module(tmp_path):
    """The hook asks every plugin watching the module: collegial_actions' package validates Documents."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "guard.py").write_text(GUARD.replace('WatchSpec("Accounts"), WatchSpec("Contacts")',
                                                   'WatchSpec("Documents")'))
    body = f"events:\n  push:\n    enabled: true\n    secret: {SECRET}\n"
    r = run("--plugins-dir", str(folder), "--config", str(write(tmp_path, body + only("collegial_actions"))),
            "config", "check")
    assert "warning:" not in r.stderr, r.stderr
    r = run("--plugins-dir", str(folder), "--config", str(write(tmp_path, body + only())), "config", "check")
    assert "plugin guard refuses forbidden changes of Documents" in r.stderr


def test_no_hook_warning_when_a_schema_cannot_be_read(tmp_path, monkeypatch):
    """collegial_actions' schema requires workflow's package; loaded alone, its hooks are unknown."""
    monkeypatch.setenv("SUITECRM_EXT_LOAD_PLUGINS", "collegial_actions")
    body = f"events:\n  push:\n    enabled: true\n    secret: {SECRET}\n"
    r = run("--config", str(write(tmp_path, body + only("collegial_actions"))), "config", "check")
    assert r.exit_code == 0, r.output
    assert "warning:" not in r.stderr, r.stderr


def test_doctor_prints_the_warnings_as_warn_lines_and_still_passes_them(tmp_path):
    cfg = write(tmp_path, only("collegial_actions"))
    r = run("--config", str(cfg), "doctor")
    assert "WARN  config: " in r.stdout and "its rules are not enforced" in r.stdout


def test_missing_or_different_secret_in_config_override_is_warned_when_the_root_is_known(tmp_path):
    root = fake_suitecrm(tmp_path)
    body = (f"events:\n  push:\n    enabled: true\n    secret: {SECRET}\n" + only())
    cfg = write(tmp_path, body)
    cfg.write_text(cfg.read_text().replace("suitecrm:\n  url: http://127.0.0.1:9\n",
                                           f"suitecrm:\n  url: http://127.0.0.1:9\n  root: {root}\n"))
    r = run("--config", str(cfg), "config", "check")
    assert "has no $sugar_config['suitecrm_ext']['secret']" in r.stderr
    assert f"suitecrm-ext init --suitecrm-root {root}" in r.stderr and SECRET not in r.stderr
    write_settings(root, {"secret": "another-secret-value-1234"})
    r = run("--config", str(cfg), "config", "check")
    assert "differs from events.push.secret" in r.stderr and "another-secret" not in r.stderr
    write_settings(root, {"secret": SECRET})
    r = run("--config", str(cfg), "config", "check")
    assert "warning:" not in r.stderr, r.stderr
    # a root that is not SuiteCRM's
    cfg.write_text(cfg.read_text().replace(f"root: {root}", f"root: {tmp_path}"))
    assert "is not a SuiteCRM root" in run("--config", str(cfg), "config", "check").stderr


def test_env_file_readable_by_others_is_warned(tmp_path):
    env = tmp_path / "secrets.env"
    env.write_text('PW="x"\n')
    env.chmod(0o644)
    cfg = write(tmp_path, "env_file: secrets.env\n" + only())
    r = run("--config", str(cfg), "config", "check")
    assert "mode 0644: other users can read it (chmod 600" in r.stderr
    env.chmod(0o600)
    assert "warning:" not in run("--config", str(cfg), "config", "check").stderr


def test_plugins_list_shows_config_errors_and_exits_2(tmp_path):
    cfg = write(tmp_path, "plugins:\n  collegial_actions:\n    polling_onyl: true\n"
                          "  routing:\n    enabled: false")
    r = run("--config", str(cfg), "plugins", "list", "--json")
    assert r.exit_code == 2
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    [problem] = rows["collegial_actions"]["config_errors"]
    assert "plugins.collegial_actions.polling_onyl: unknown key" in problem
    assert rows["collegial_actions"]["enabled"] is False  # a plugin whose section is invalid does not run
    assert rows["routing"]["enabled"] is False and rows["routing"]["config_errors"] == []
    assert rows["onec_bridge"]["enabled"] is True
    assert "config error: " in r.stderr and "polling_onyl" in r.stderr
    table = run("--config", str(cfg), "plugins", "list")
    line = next(line for line in table.stdout.splitlines() if "collegial_actions" in line)
    assert "config error" in line


def test_plugins_list_with_a_broken_core_section_keeps_the_enabled_flags(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("suitecrm:\n  url: not-a-url\nplugins:\n  routing:\n    enabled: false\n")
    r = run("--config", str(cfg), "plugins", "list", "--json")
    assert r.exit_code == 2 and "suitecrm.url" in r.stderr
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert rows["routing"]["enabled"] is False
    assert all("suitecrm.url" in rows[n]["config_errors"][0] for n in ("collegial_actions", "onec_bridge"))


@pytest.mark.skipif(shutil.which("php") is None, reason="needs php-cli")
def test_config_check_reads_config_override_with_php_like_suitecrm(tmp_path):
    root = fake_suitecrm(tmp_path)
    # written the way an admin might: double quotes, spaces; php decides what SuiteCRM sees
    (root / "config_override.php").write_text(
        "<?php\n/***CONFIGURATOR***/\n$sugar_config[ \"suitecrm_ext\" ][ \"secret\" ] = \"" + SECRET + "\";\n"
        "/***CONFIGURATOR***/")
    cfg = write(tmp_path, f"events:\n  push:\n    enabled: true\n    secret: {SECRET}\n" + only())
    cfg.write_text(cfg.read_text().replace("url: http://127.0.0.1:9\n",
                                           f"url: http://127.0.0.1:9\n  root: {root}\n"))
    r = run("--config", str(cfg), "config", "check", env={"PATH": os.environ["PATH"]})
    assert "warning:" not in r.stderr, r.stderr
