"""The command line: version, plugins list, config check, doctor, plugin commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_plugins import SHIPPED, install_entry_points

from suitecrm_ext import __version__
from suitecrm_ext.cli import cli

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "config" / "suitecrm-ext.example.yaml"
CONFIGS = Path(__file__).parent / "fixtures" / "configs"


@pytest.fixture(autouse=True)
def fresh_plugin_commands():
    cli.reset_plugin_commands()
    yield
    cli.reset_plugin_commands()


def run(*args, env=None):
    return CliRunner().invoke(cli, list(args), env=env or {}, catch_exceptions=False)


def test_version():
    r = run("version")
    assert r.exit_code == 0 and r.output.strip() == f"suitecrm-ext {__version__}"


def test_console_script_is_installed():
    out = subprocess.run(["suitecrm-ext", "version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"suitecrm-ext {__version__}"
    out = subprocess.run([sys.executable, str(ROOT / "cli.py"), "version"], capture_output=True, text=True)
    assert out.stdout.strip() == f"suitecrm-ext {__version__}"


def test_plugins_list_shows_every_shipped_plugin_without_a_config(tmp_path):
    r = run("--config", str(tmp_path / "absent.yaml"), "plugins", "list", "--json")
    assert r.exit_code == 0, r.output
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert SHIPPED <= set(rows)
    assert all(rows[n]["enabled"] and rows[n]["version"] for n in SHIPPED)


def test_plugins_list_table_and_disabled_flag():
    r = run("--config", str(EXAMPLE), "plugins", "list", env={"SUITECRM_PASSWORD": "x"})
    assert r.exit_code == 0, r.output
    lines = {line.split("│")[1].strip(): line for line in r.stdout.splitlines() if line.count("│") > 3}
    assert SHIPPED <= set(lines)
    assert " no " in lines["routing"] and " yes " in lines["collegial_actions"]


def test_config_check_ok_on_example():
    r = run("--config", str(EXAMPLE), "config", "check", env={"SUITECRM_PASSWORD": "x"})
    assert r.exit_code == 0, r.output
    assert "is valid" in r.stdout


@pytest.mark.parametrize(
    "name, expected",
    [
        ("unknown_key.yaml", ":6: suitecrm.rest.pagesize: unknown key"),
        ("wrong_type.yaml", ":3: suitecrm.timeout:"),
        ("missing_required.yaml", ":3: suitecrm.rest.username: required key is missing"),
        ("missing_env.yaml", ":5: suitecrm.rest.password: environment variable"),
        ("bad_enum.yaml", ":4: state.backend:"),
        ("unknown_plugin.yaml", ":4: plugins.collegial_actionz: no installed plugin"),
    ],
)
def test_config_check_fails_naming_key_and_line(name, expected):
    r = run("--config", str(CONFIGS / name), "config", "check")
    assert r.exit_code == 2
    assert f"config error: {CONFIGS / name}{expected}" in r.stderr


def test_a_command_needing_config_exits_2_with_the_problems():
    r = run("--config", str(CONFIGS / "wrong_type.yaml"), "doctor")
    assert r.exit_code == 1
    assert "FAIL  config:" in r.stdout and "suitecrm.timeout" in r.stdout


PLUGIN_WITH_COMMAND = """
import click
from suitecrm_ext import hookimpl, Check
from suitecrm_ext.cli import plugin_context

@click.command("greet")
def greet():
    ctx = plugin_context("greeter")
    click.echo(f"hello from {ctx.name}")

@click.command("version")
def clash():
    pass

@hookimpl
def ext_cli_commands():
    return [greet, clash]

@hookimpl
def ext_doctor_checks(ctx):
    return [Check("greeter ready", False, "not ready", "make it ready")]
"""


def test_plugin_commands_and_doctor_checks(tmp_path, monkeypatch):
    install_entry_points(tmp_path, monkeypatch, "sxt_greeter", {"greeter": "sxt_greeter"},
                         {"sxt_greeter": PLUGIN_WITH_COMMAND})
    cfg = tmp_path / "c.yaml"
    cfg.write_text("suitecrm:\n  url: http://127.0.0.1:9\nstate:\n  path: " + str(tmp_path / "s.db") + "\n")
    r = run("--config", str(cfg), "greet")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == "hello from greeter"
    # the clashing command did not replace the core one
    assert run("version").stdout.startswith("suitecrm-ext ")
    r = run("--config", str(cfg), "doctor")
    assert r.exit_code == 1
    assert "FAIL  greeter ready: not ready (hint: make it ready)" in r.stdout
    assert "ok    plugin greeter" in r.stdout


def test_disabled_plugin_command_refuses(tmp_path, monkeypatch):
    install_entry_points(tmp_path, monkeypatch, "sxt_greeter", {"greeter": "sxt_greeter"},
                         {"sxt_greeter": PLUGIN_WITH_COMMAND})
    cfg = tmp_path / "c.yaml"
    cfg.write_text("suitecrm:\n  url: http://127.0.0.1:9\nplugins:\n  greeter:\n    enabled: false\n")
    r = CliRunner().invoke(cli, ["--config", str(cfg), "greet"])
    assert r.exit_code == 1
    assert "plugin 'greeter' is disabled" in r.output
