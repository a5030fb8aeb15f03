"""`suitecrm-ext init` against the REST v4_1 emulator (the fast layer; tests/live/test_init_live.py runs
the whole flow against a real SuiteCRM, packages and config_override.php included)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import responses
import yaml
from click.testing import CliRunner
from crm.emulators.rest import RestV4Emulator

from suitecrm_ext.cli import cli
from suitecrm_ext.crm.fake import FakeCRM
from suitecrm_ext.demo import install_plugin_schema
from suitecrm_ext.envfile import read_env_file

URL = "http://crm.test"
PASSWORD = "s3cr3t-Admin-pw 42"


@pytest.fixture(autouse=True)
def fresh_plugin_commands():
    cli.reset_plugin_commands()
    yield
    cli.reset_plugin_commands()


@pytest.fixture
def suitecrm():
    """A REST v4_1 endpoint over a FakeCRM that has the ready plugins' packages installed."""
    crm = FakeCRM()
    for plugin in ("account_opening", "workflow", "collegial_actions", "onec_bridge"):
        install_plugin_schema(crm, plugin)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield RestV4Emulator(crm, base_url=URL, username="admin", password=PASSWORD).install(rsps)


def init(tmp_path: Path, *args: str, env: dict | None = None, input: str | None = None):
    config = tmp_path / "etc" / "suitecrm-ext.yaml"
    return CliRunner().invoke(cli, ["--config", str(config), "init", *args], input=input,
                              env={"SUITECRM_PASSWORD": None, "SUITECRM_URL": None, **(env or {})},
                              catch_exceptions=False), config


FLAGS = ("--yes", "--url", URL, "--username", "admin", "--listen", "127.0.0.1:8799")


def test_flags_only_writes_config_and_secrets_builds_packages_and_doctor_passes(tmp_path, suitecrm,
                                                                                monkeypatch):
    monkeypatch.chdir(tmp_path)
    r, config = init(tmp_path, *FLAGS, "--password", PASSWORD)
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "[1/5] SuiteCRM at http://crm.test: testing the credentials" in out
    assert "ok    suitecrm.rest authenticated: as admin" in out
    env_path = config.with_name("suitecrm-ext.env")
    assert stat.S_IMODE(env_path.stat().st_mode) == 0o600
    secrets = read_env_file(env_path)
    assert secrets["SUITECRM_EXT_REST_PASSWORD"] == PASSWORD
    assert len(secrets["SUITECRM_EXT_PUSH_SECRET"]) == 64
    text = config.read_text()
    assert PASSWORD not in text and secrets["SUITECRM_EXT_PUSH_SECRET"] not in text
    data = yaml.safe_load(text)
    assert data["env_file"] == "suitecrm-ext.env"
    assert data["suitecrm"]["rest"] == {"username": "admin", "password": "${SUITECRM_EXT_REST_PASSWORD}"}
    assert data["events"]["push"]["public_url"] == "http://127.0.0.1:8799"
    assert data["state"]["path"] == str(tmp_path / "var" / "state.sqlite3")
    # the ready plugins (with a demo scene) and the core package they build on; account_opening's package
    # (INN/KPP fields for onec_bridge) is built too, the plugin itself stays off
    assert {n for n, s in data["plugins"].items() if s["enabled"]} == {"collegial_actions", "onec_bridge",
                                                                        "workflow"}
    # SuiteCRM runs elsewhere: the packages are built for the admin to install, and the secret line explained
    packages = sorted(p.name.rsplit("-", 1)[0] for p in (config.parent / "packages").glob("*.zip"))
    assert packages == ["account_opening", "collegial_actions", "onec_bridge", "workflow"]
    assert "$sugar_config['suitecrm_ext']['secret'] = '<SUITECRM_EXT_PUSH_SECRET from the env file>';" in out
    assert secrets["SUITECRM_EXT_PUSH_SECRET"] not in out and PASSWORD not in out
    assert "FAIL" not in out and "ok    collegial_actions module Documents" in out
    assert out.strip().splitlines()[-2].strip() == f"suitecrm-ext --config {config.resolve()} run"
    # the written config is what config check and doctor read, with no warning
    check = CliRunner().invoke(cli, ["--config", str(config), "config", "check"],
                               env={"SUITECRM_PASSWORD": None})
    assert check.exit_code == 0 and "warning" not in check.output, check.output

    # a second run refuses to overwrite; --force keeps the push secret, --new-secret makes another
    again, _ = init(tmp_path, *FLAGS, "--password", PASSWORD)
    assert again.exit_code == 1 and "exists; run with --force" in again.output
    forced, _ = init(tmp_path, *FLAGS, "--password", PASSWORD, "--force")
    assert forced.exit_code == 0, forced.output
    assert read_env_file(env_path)["SUITECRM_EXT_PUSH_SECRET"] == secrets["SUITECRM_EXT_PUSH_SECRET"]
    rotated, _ = init(tmp_path, *FLAGS, "--password", PASSWORD, "--force", "--new-secret")
    assert rotated.exit_code == 0
    assert read_env_file(env_path)["SUITECRM_EXT_PUSH_SECRET"] != secrets["SUITECRM_EXT_PUSH_SECRET"]


def test_the_password_may_come_from_the_environment(tmp_path, suitecrm):
    r, config = init(tmp_path, *FLAGS, env={"SUITECRM_PASSWORD": PASSWORD})
    assert r.exit_code == 0, r.output
    assert read_env_file(config.with_name("suitecrm-ext.env"))["SUITECRM_EXT_REST_PASSWORD"] == PASSWORD


def test_refused_credentials_write_nothing(tmp_path, suitecrm):
    r, config = init(tmp_path, *FLAGS, "--password", "wrong")
    assert r.exit_code == 1
    assert "FAIL  suitecrm.rest authenticated" in r.stdout
    assert "SuiteCRM did not accept these settings; nothing was written" in r.output
    assert not config.exists() and not config.with_name("suitecrm-ext.env").exists()


def test_scripted_mode_names_the_missing_flag(tmp_path):
    r, config = init(tmp_path, "--yes", "--username", "admin")
    assert r.exit_code == 2 and "--url is required with --yes" in r.output
    r, _ = init(tmp_path, "--yes", "--url", URL, "--auth", "v8")
    assert r.exit_code == 2 and "--v8-client-id is required" in r.output
    r, _ = init(tmp_path, *FLAGS, "--password", "x", "--plugins", "collegial_actions,nope")
    assert r.exit_code == 2 and "nope: not installed" in r.output
    r, _ = init(tmp_path, *FLAGS, "--password", "x", "--mysql-dsn", "postgres://x@y/z")
    assert r.exit_code == 2 and "expected mysql://user:password@host:port/database" in r.output
    assert not config.exists()


def test_interactive_prompts_for_what_the_flags_do_not_say(tmp_path, suitecrm):
    answers = "\n".join([
        URL,            # SuiteCRM URL
        "rest",         # log in with
        "admin",        # user
        PASSWORD,       # password (hidden)
        "",             # no read-only DB user
        "onec_bridge",  # plugins
        "n",            # no push
        "127.0.0.1:8799",
        "",             # public URL: default
        "",             # no SuiteCRM root
    ]) + "\n"
    r, config = init(tmp_path, "--interactive", input=answers)
    assert r.exit_code == 0, r.output
    assert "SuiteCRM URL:" in r.output and "Password of admin:" in r.output
    assert PASSWORD not in r.output
    data = yaml.safe_load(config.read_text())
    assert data["events"]["push"]["enabled"] is False and "secret" not in data["events"]["push"]
    assert {n for n, s in data["plugins"].items() if s["enabled"]} == {"onec_bridge"}
    assert "account_opening" in r.output  # its package is built for onec_bridge
    assert "SUITECRM_EXT_PUSH_SECRET" not in read_env_file(config.with_name("suitecrm-ext.env"))
    assert "push is off: nothing for config_override.php" in r.output


def test_without_push_a_validating_plugin_is_warned_about(tmp_path, suitecrm):
    r, _ = init(tmp_path, *FLAGS, "--password", PASSWORD, "--no-push")
    assert r.exit_code == 0, r.output
    assert "WARN  config:" in r.stdout and "plugin collegial_actions refuses forbidden changes" in r.stdout


def test_a_suitecrm_root_that_is_not_one_is_refused_before_anything_is_written(tmp_path, suitecrm):
    r, config = init(tmp_path, *FLAGS, "--password", PASSWORD, "--suitecrm-root", str(tmp_path))
    assert r.exit_code == 2
    assert "not a SuiteCRM root (missing config.php" in r.output
    assert not config.exists()


def test_packages_install_the_core_workflow_package_first_then_what_others_build_on():
    """SuiteCRM resolves a package's relationships to another package's modules at install time."""
    from suitecrm_ext.cli.init import _packages_to_install
    from suitecrm_ext.plugins import PluginRegistry

    order = _packages_to_install(["collegial_actions", "onec_bridge", "workflow"], PluginRegistry.discover())
    assert order[0] == "workflow"
    assert order.index("account_opening") < order.index("onec_bridge")  # its INN/KPP fields
    assert sorted(order) == ["account_opening", "collegial_actions", "onec_bridge", "workflow"]


def test_a_required_package_goes_before_the_package_that_requires_it_even_when_not_chosen():
    from suitecrm_ext.cli.init import _schemas
    from suitecrm_ext.plugins import PluginRegistry

    names = [s.plugin for s in _schemas(PluginRegistry.discover(), ["collegial_actions", "onec_bridge"])]
    assert names == ["workflow", "collegial_actions", "onec_bridge"]  # collegial_actions requires workflow
