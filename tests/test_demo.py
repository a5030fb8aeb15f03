"""`suitecrm-ext demo`, run as a newcomer would: a subprocess, its story read from stdout.

The demo is the real sidecar (Runtime: push endpoint on loopback, dispatcher, change feed, jobs) against
the in-memory FakeCRM; each plugin contributes its scene through ``ext_demo_scenes`` — a plugin file
given with --plugins-dir adds one here the same way.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
CLI = [sys.executable, str(ROOT / "cli.py")]


def demo(*args: str, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def scenes(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("[")]


def test_the_story_plays_every_ready_plugin_and_exits_0():
    out = demo("demo")
    assert out.returncode == 0, out.stdout + out.stderr
    assert scenes(out.stdout) == [
        "[1/4] The sidecar starts against an in-memory SuiteCRM  (core)",
        "[2/4] A contract goes through the Classic approval process  (collegial_actions)",
        "[3/4] A bank statement from 1C is imported and matched by INN  (onec_bridge)",
        "[4/4] What went through the sidecar  (core)",
    ]
    text = out.stdout
    assert "plugins in the story: collegial_actions, onec_bridge (with workflow, which they build on)" in text
    # the validation endpoint refused what the process forbids, with the message a user would see
    assert 'Sally Bronsen tries to move it straight to Signing: refused —' in text
    assert "Chris Olliver may not perform this approval action: it is assigned to Max Jensen" in text
    assert "✓ the document went through the whole Classic process" in text
    assert "job onec-import: ok: 3 new, 2 matched by INN, 1 unmatched" in text
    assert "✓ OOO Neva Trade shows its payment now" in text
    assert "logic hook calls: 13 validation(s) (2 refused), 11 pushed change(s)" in text
    assert "✓ every event was delivered, none is dead" in text
    assert "✗" not in text
    checks = text.count("  ✓ ")
    assert text.strip().splitlines()[-1].startswith(f"story done: 4 scenes, {checks} claims checked, in ")


SCENE_PLUGIN = '''
"""A third-party plugin with its own demo scene: refuses Accounts named ACME."""
from suitecrm_ext import EventKind, WatchSpec, hookimpl
from suitecrm_ext.demo import DemoScene, Refused

@hookimpl
def ext_watch(settings):
    return [WatchSpec("Accounts", kinds=frozenset({EventKind.CREATED}))]

@hookimpl
def ext_validate_record_change(change, ctx):
    if change.module == "Accounts" and change.after.get("name") == "ACME":
        return "No ACME here."

@hookimpl
def ext_on_record_change(event, ctx):
    ctx.crm.save("Notes", {"name": "seen " + event.values.get("name", ""), "parent_type": "Accounts",
                           "parent_id": event.record_id})

def play(stage):
    try:
        stage.save("Accounts", {"name": "ACME"}, user="seed_max_id")
        stage.check(False, "ACME was refused")
    except Refused as exc:
        stage.say(f"refused: {exc.message}")
    acc = stage.save("Accounts", {"name": "Initech"}, user="seed_max_id")
    notes = [n.get("name") for n in stage.crm.records("Notes") if n.get("parent_id") == acc]
    stage.check(notes == ["seen Initech"], "the sidecar noted the new Account")
    stage.check(False, "this claim is false on purpose")

@hookimpl
def ext_demo_scenes():
    return [DemoScene("Guarding account names", play, order=50)]
'''


def test_a_plugin_adds_its_scene_through_the_hook_and_a_false_claim_fails_the_demo(tmp_path):
    (tmp_path / "guard.py").write_text(SCENE_PLUGIN)
    out = demo("--plugins-dir", str(tmp_path), "demo")
    assert out.returncode == 1, out.stdout + out.stderr
    assert scenes(out.stdout)[1] == "[2/5] Guarding account names  (guard)"
    assert "refused: No ACME here." in out.stdout
    assert "✓ the sidecar noted the new Account" in out.stdout
    assert "✗ FAILED: expected: this claim is false on purpose" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "story FAILED in 1 of 5 scenes: Guarding account names"
    # the other scenes still played
    assert "✓ the document went through the whole Classic process" in out.stdout


def test_serve_keeps_the_sidecar_running_until_sigterm(tmp_path):
    workdir = tmp_path / "demo"
    proc = subprocess.Popen([*CLI, "demo", "--serve", "--workdir", str(workdir)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        url = None
        deadline = time.monotonic() + 120
        lines = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.strip().startswith("curl "):
                url = line.split()[1]
            if "Ctrl-C stops it" in line:
                break
        assert url, "".join(lines)
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert json.loads(resp.read())["ok"] is True
        # the demo's config is real: other commands read its state store
        tail = subprocess.run([*CLI, "--config", str(workdir / "suitecrm-ext.yaml"), "events", "tail",
                               "-n", "1"], capture_output=True, text=True, timeout=60)
        assert tail.returncode == 0 and "queue: 11 event(s)" in tail.stdout, tail.stdout + tail.stderr
        assert oct((workdir / "demo.env").stat().st_mode & 0o777) == "0o600"
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0
        assert rest.strip().endswith("stopped")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_push_endpoint_stays_on_loopback():
    out = demo("demo", "--listen", "0.0.0.0:8765")
    assert out.returncode == 2 and "stays on loopback" in out.stderr


@pytest.mark.parametrize("load", [""])
def test_with_no_plugins_the_frame_still_plays(load):
    out = demo("demo", env={"SUITECRM_EXT_LOAD_PLUGINS": load})
    assert out.returncode == 0, out.stdout + out.stderr
    assert "plugins in the story: none" in out.stdout
    assert "story done: 2 scenes" in out.stdout


def test_the_example_plugin_joins_the_demo_once_installed(tmp_path, monkeypatch):
    from test_plugins import install_entry_points

    install_entry_points(tmp_path, monkeypatch, "suitecrm_ext_hello", {"hello": "hello_plugin.plugin"})
    path = os.pathsep.join([str(tmp_path), str(ROOT / "examples" / "hello_plugin"),
                            os.environ.get("PYTHONPATH", "")])
    out = demo("demo", env={"PYTHONPATH": path})
    assert out.returncode == 0, out.stdout + out.stderr
    assert "  (hello)" in "\n".join(scenes(out.stdout))
    assert "Max Jensen tries to create ACME: refused — Accounts may not be called ACME." in out.stdout
    assert "✓ the new Account was greeted" in out.stdout
