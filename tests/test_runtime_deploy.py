"""The deployment examples in docs/deploy: systemd units verified by systemd-analyze, the crontab
parsed line by line, and every suitecrm-ext command line in them accepted by the real CLI."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import click
import pytest
from croniter import croniter

from suitecrm_ext.cli import cli

DEPLOY = Path(__file__).resolve().parent.parent / "docs" / "deploy"
BINARY = "/opt/suitecrm-ext/venv/bin/suitecrm-ext"


def parse_cli(args: list[str]) -> dict:
    """Parse a suitecrm-ext argument list as the CLI would (raises click.UsageError)."""
    ctx = cli.make_context("suitecrm-ext", list(args))
    name, cmd, rest = cli.resolve_command(ctx, list(getattr(ctx, "_protected_args", [])) + ctx.args)
    while isinstance(cmd, click.Group):
        ctx = cmd.make_context(name, rest, parent=ctx)
        name, cmd, rest = cmd.resolve_command(ctx, list(getattr(ctx, "_protected_args", [])) + ctx.args)
    return {"command": name, **cmd.make_context(name, rest, parent=ctx).params}


def test_parse_cli_rejects_what_the_cli_rejects():
    with pytest.raises(click.UsageError):
        parse_cli(["run", "--bogus"])


UNITS = ["suitecrm-ext.service", "suitecrm-ext@.service"]


@pytest.mark.parametrize("unit", UNITS)
def test_systemd_unit_passes_systemd_analyze_verify(unit, tmp_path):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed")
    exe = shutil.which("suitecrm-ext")
    assert exe, "suitecrm-ext must be installed (pip install -e .)"
    text = (DEPLOY / unit).read_text()
    assert BINARY in text
    (tmp_path / unit).write_text(text.replace(BINARY, exe))  # verify insists the binary exists
    target = unit
    if unit.endswith("@.service"):
        target = unit.replace("@.service", "@1.service")
        (tmp_path / target).symlink_to(tmp_path / unit)
    proc = subprocess.run([tool, "verify", f"./{target}"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr


@pytest.mark.parametrize("unit", UNITS)
def test_systemd_exec_start_is_a_valid_command_line(unit):
    text = (DEPLOY / unit).read_text()
    (line,) = [ln for ln in text.splitlines() if ln.startswith("ExecStart=")]
    env = dict(re.findall(r'^Environment="?([A-Z_]+)=(.*?)"?$', text, re.M))
    words = shlex.split(line.removeprefix("ExecStart="))
    assert words[0] == BINARY
    args = []
    for w in words[1:]:
        w = w.replace("%H", "host").replace("%i", "1")
        args.extend(env[w[1:]].split() if w.startswith("$") else [w])
    parsed = parse_cli(args)
    assert parsed["command"] == "run" and parsed["once"] is False and parsed["worker_id"].startswith("host")
    if unit.endswith("@.service"):
        assert parsed["no_poll"] and parsed["no_push"]
    for key in ("KillSignal=SIGTERM", "Restart=on-failure", "User=suitecrm-ext"):
        assert key in text


def test_crontab_lines_parse_and_their_commands_are_valid():
    text = (DEPLOY / "suitecrm-ext.cron").read_text()
    jobs, env = [], {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([A-Z_]+)=(.*)$", line)
        if m:
            env[m.group(1)] = m.group(2)
            continue
        fields = line.split(None, 6)
        assert len(fields) == 7, f"cron.d line needs 5 time fields, a user and a command: {line}"
        schedule, user, command = " ".join(fields[:5]), fields[5], fields[6]
        assert croniter.is_valid(schedule), schedule
        assert user == "suitecrm-ext"
        assert "%" not in command, "an unescaped % is a newline to cron"
        words = shlex.split(command)
        start = words.index(BINARY) + 1
        end = next((i for i in range(start, len(words)) if words[i] in (">>", ">", "&&", "||", "|", ";")),
                   len(words))
        jobs.append(parse_cli(words[start:end]))
    assert env["SUITECRM_EXT_CONFIG"].endswith(".yaml")
    assert [j["command"] for j in jobs] == ["run", "run"]
    assert jobs[0]["once"] is True and jobs[1]["name"] == "onec-import"
