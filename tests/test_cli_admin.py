"""What a CRM admin meets on the command line when SuiteCRM is not reachable or a job fails."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from test_plugins import install_entry_points

from suitecrm_ext.cli import cli
from suitecrm_ext.crm.base import TransientError


@pytest.fixture(autouse=True)
def fresh_plugin_commands():
    cli.reset_plugin_commands()
    yield
    cli.reset_plugin_commands()


PLUGIN_HITTING_CRM = """
import click
from suitecrm_ext import hookimpl
from suitecrm_ext.crm.base import TransientError

@click.command("fetch")
def fetch():
    raise TransientError("REST login: cannot connect: connection refused", transport="rest")

@hookimpl
def ext_cli_commands():
    return [fetch]
"""


def test_plugin_command_crm_failure_is_a_message_not_a_traceback(tmp_path, monkeypatch):
    install_entry_points(tmp_path, monkeypatch, "sxt_fetcher", {"fetcher": "sxt_fetcher"},
                         {"sxt_fetcher": PLUGIN_HITTING_CRM})
    cfg = tmp_path / "c.yaml"
    cfg.write_text("suitecrm:\n  url: http://127.0.0.1:9\nstate:\n  path: " + str(tmp_path / "s.db") + "\n")
    r = CliRunner().invoke(cli, ["--config", str(cfg), "fetch"], catch_exceptions=False)
    assert r.exit_code == 1
    assert "Traceback" not in r.output
    assert "REST login: cannot connect" in r.output
    assert "suitecrm-ext doctor" in r.output


def test_a_job_failing_on_suitecrm_logs_one_line_a_bug_keeps_its_traceback(tmp_path, caplog):
    from suitecrm_ext import JobSpec, hookimpl
    from suitecrm_ext.crm.base import TransientError
    from suitecrm_ext.jobs import Scheduler
    from suitecrm_ext.state.sqlite import SQLiteStore
    from suitecrm_ext.testing import build_app, build_config, build_registry

    def unreachable(ctx):
        raise TransientError("REST login: cannot connect", transport="rest")

    def buggy(ctx):
        raise KeyError("oops")

    class Jobs:
        @hookimpl
        def ext_jobs(self, settings):
            return [JobSpec("unreachable", "1h", unreachable), JobSpec("buggy", "1h", buggy)]

    store = SQLiteStore(tmp_path / "state.sqlite3")
    try:
        config = build_config()
        reg = build_registry({"j": Jobs()}, config)
        sched = Scheduler(build_app(reg, config, state=store), reg, owner="w")
        with caplog.at_level("ERROR", logger="suitecrm_ext.jobs"):
            assert sched.run_job("unreachable").status == "failed"
            assert sched.run_job("buggy").status == "failed"
    finally:
        store.close()
    by_job = {r.getMessage().split()[1]: r for r in caplog.records}
    assert not by_job["unreachable"].exc_info
    assert "REST login: cannot connect" in by_job["unreachable"].getMessage()
    assert by_job["buggy"].exc_info is not None


def test_retry_log_never_announces_a_retry_that_does_not_happen(caplog):
    from suitecrm_ext.crm.http import RetryPolicy

    def boom():
        raise TransientError("REST login: cannot connect")

    policy = RetryPolicy(retries=2, sleep=lambda s: None, rng=lambda: 0.0)
    with caplog.at_level("WARNING", logger="suitecrm_ext.crm.http"), pytest.raises(TransientError):
        policy.call(boom)
    retrying = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(retrying) == 2, retrying  # 3 attempts, 2 retries
    assert policy.waits == [0.25, 0.5]


def test_package_build_ships_the_configured_validation_fail_modes(tmp_path):
    import zipfile

    cfg = tmp_path / "c.yaml"
    cfg.write_text("suitecrm:\n  url: http://crm\nevents:\n  push:\n    public_url: http://sidecar:8765\n"
                   "  validation_fail_mode: {Documents: closed}\n")
    r = CliRunner().invoke(cli, ["--config", str(cfg), "package", "build", "collegial_actions",
                                 "-o", str(tmp_path / "out")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    with zipfile.ZipFile(tmp_path / "out" / "collegial_actions-0.1.0.zip") as zf:
        hook = next(zf.read(n).decode() for n in zf.namelist() if "/logic_hooks/" in n)
    assert "'fail_modes' => array('Documents' => 'closed')" in hook


def test_package_build_gives_the_hook_more_time_than_the_configured_validation_budget(tmp_path):
    import zipfile

    cfg = tmp_path / "c.yaml"
    cfg.write_text("suitecrm:\n  url: http://crm\nevents:\n  push:\n    public_url: http://sidecar:8765\n"
                   "    validation_budget_ms: 5000\n")
    r = CliRunner().invoke(cli, ["--config", str(cfg), "package", "build", "collegial_actions",
                                 "-o", str(tmp_path / "out")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    with zipfile.ZipFile(tmp_path / "out" / "collegial_actions-0.1.0.zip") as zf:
        hook = next(zf.read(n).decode() for n in zf.namelist() if "/logic_hooks/" in n)
    assert "'validate_timeout_ms' => 6000" in hook


def test_collegial_doctor_with_suitecrm_unreachable_asks_once_and_points_at_the_connection():
    import plugins.collegial_actions.plugin as collegial
    from suitecrm_ext.testing import build_app, build_config, build_registry

    class Unreachable:
        calls = 0

        def fields(self, module):
            Unreachable.calls += 1
            raise TransientError("REST login: cannot connect")

    config = build_config()
    reg = build_registry({"collegial_actions": collegial}, config)
    app = build_app(reg, config=config, crm=Unreachable())
    checks = reg.call_one("collegial_actions", "ext_doctor_checks", ctx=app.for_plugin("collegial_actions"))
    assert Unreachable.calls == 1  # not once per module, each with its own retries
    assert len(checks) == 1 and not checks[0].ok
    assert "REST login: cannot connect" in checks[0].detail
    assert "package build" not in checks[0].hint and "suitecrm" in checks[0].hint


@pytest.mark.parametrize("exit_code, mailed", [(0, False), (1, True), (75, True)])
def test_crontab_lines_print_something_for_cron_to_mail_only_when_the_command_fails(
        tmp_path, exit_code, mailed):
    """cron mails what a line prints, whatever its exit status: a failure must print something."""
    import shutil
    import subprocess
    from pathlib import Path

    if shutil.which("flock") is None:
        pytest.skip("flock not installed")
    stub = tmp_path / "suitecrm-ext"
    stub.write_text(f"#!/bin/sh\necho progress\nexit {exit_code}\n")
    stub.chmod(0o755)
    (tmp_path / "var").mkdir()
    text = (Path(__file__).parent.parent / "docs" / "deploy" / "suitecrm-ext.cron").read_text()
    lines = [line.split(None, 6)[6] for line in text.splitlines()
             if line.strip() and not line.startswith("#") and "=" not in line.split()[0]]
    assert len(lines) == 2
    for command in lines:
        command = command.replace("/opt/suitecrm-ext/venv/bin/suitecrm-ext", str(stub))
        command = command.replace("cd /opt/suitecrm-ext", f"cd {tmp_path}")
        out = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True)
        assert bool(out.stdout + out.stderr) is mailed, (command, out.stdout, out.stderr)
        assert "progress" in (tmp_path / "var" / "cron.log").read_text()


def test_config_check_refuses_a_mysql_state_backend_without_its_section(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("suitecrm:\n  url: http://crm\nstate:\n  backend: mysql\n")
    r = CliRunner().invoke(cli, ["--config", str(cfg), "config", "check"], catch_exceptions=False)
    assert r.exit_code == 2, r.output
    assert f"{cfg}:" in r.output and "state" in r.output and "state.mysql" in r.output


def test_jobs_run_of_a_disabled_plugins_job_says_the_plugin_is_disabled(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("suitecrm:\n  url: http://127.0.0.1:9\nstate:\n  path: " + str(tmp_path / "s.db")
                   + "\nplugins:\n  onec_bridge:\n    enabled: false\n")
    r = CliRunner().invoke(cli, ["--config", str(cfg), "jobs", "run", "onec-import"], catch_exceptions=False)
    assert r.exit_code == 1
    assert f"job 'onec-import' belongs to plugin onec_bridge, which is disabled in {cfg}" in r.output


def test_run_with_the_push_address_taken_names_the_address_and_the_key(tmp_path, caplog):
    import errno

    from suitecrm_ext.runtime import Runtime
    from suitecrm_ext.state.sqlite import SQLiteStore
    from suitecrm_ext.testing import build_app, build_config, build_registry

    class Taken:
        def start(self):
            raise OSError(errno.EADDRINUSE, "Address already in use")

    config = build_config(events={"push": {"enabled": True, "listen": "127.0.0.1:8765"}})
    reg = build_registry({}, config)
    store = SQLiteStore(tmp_path / "state.sqlite3")
    try:
        rt = Runtime(build_app(reg, config, state=store), reg, worker_id="w1", poll=False,
                     push_factory=lambda rt: Taken())
        with caplog.at_level("ERROR", logger="suitecrm_ext.runtime"):
            assert rt.run_forever() == 1
    finally:
        store.close()
    message = " ".join(r.getMessage() for r in caplog.records)
    assert "127.0.0.1:8765" in message and "events.push.listen" in message
    assert "Address already in use" in message


@pytest.mark.parametrize("push, needle", [
    ("{enabled: true}", "events.push.secret: required"),
    ("{enabled: true, secret: short}", "events.push.secret: at least 16 characters"),
    ("{enabled: true, secret: 0123456789abcdef0123, listen: localhost}", "events.push.listen: expected"),
])
def test_config_check_refuses_an_enabled_push_receiver_that_could_not_start(tmp_path, push, needle):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"suitecrm:\n  url: http://crm\nevents:\n  push: {push}\n")
    r = CliRunner().invoke(cli, ["--config", str(cfg), "config", "check"], catch_exceptions=False)
    assert r.exit_code == 2, r.output
    assert needle in r.output
    r = CliRunner().invoke(cli, ["--config", str(cfg), "doctor"], catch_exceptions=False)
    assert f"FAIL  push receiver: {needle}" in r.output


def test_config_check_accepts_a_disabled_push_receiver_without_a_secret(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("suitecrm:\n  url: http://crm\nevents:\n  push: {enabled: false}\n")
    r = CliRunner().invoke(cli, ["--config", str(cfg), "config", "check"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
