"""Progress bars on long commands (drawn on a terminal, silent under cron), `events replay --all` in
chunks with a bar, and `events tail --follow` streaming events and delivery outcomes until SIGTERM."""

from __future__ import annotations

import datetime as dt
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from rich.console import Console

import suitecrm_ext.cli.runtime as runtime_cli
from suitecrm_ext.cli import cli
from suitecrm_ext.progress import progress, progress_wanted, track
from suitecrm_ext.state.sqlite import SQLiteStore
from suitecrm_ext.testing import make_event

ROOT = Path(__file__).parent.parent


def test_bars_draw_on_a_terminal_only_unless_told(monkeypatch):
    monkeypatch.delenv("SUITECRM_EXT_PROGRESS", raising=False)
    assert progress_wanted(io.StringIO()) is False
    monkeypatch.setenv("SUITECRM_EXT_PROGRESS", "always")
    assert progress_wanted(io.StringIO()) is True
    monkeypatch.setenv("SUITECRM_EXT_PROGRESS", "never")
    tty = io.StringIO()
    tty.isatty = lambda: True  # type: ignore[method-assign]
    assert progress_wanted(tty) is False


def test_without_a_terminal_nothing_is_drawn_but_the_count_is_kept(monkeypatch, capsys):
    monkeypatch.setenv("SUITECRM_EXT_PROGRESS", "never")
    with progress("importing", total=3, unit="payments") as bar:
        for _ in range(3):
            bar.advance()
    assert bar.completed == 3 and not bar.drawn
    assert list(track([1, 2], "x")) == [1, 2]
    assert capsys.readouterr().err == ""


def test_a_drawn_bar_shows_description_count_and_unit():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with progress("installing packages", total=2, unit="packages", console=console) as bar:
        bar.advance()
        bar.update(description="installing onec_bridge")
        bar.advance()
        bar.log("    installed onec_bridge 0.1.0")
    text = out.getvalue()
    assert "installing onec_bridge" in text and "2/2" in text and "packages" in text
    assert "installed onec_bridge 0.1.0" in text


@pytest.fixture
def rig(tmp_path, monkeypatch):
    config = tmp_path / "c.yaml"
    state = tmp_path / "state.sqlite3"
    config.write_text(yaml.safe_dump({"suitecrm": {"url": "http://suitecrm.test"},
                                      "state": {"path": str(state)}}))
    monkeypatch.setenv("SUITECRM_EXT_CONFIG", str(config))
    return config, state


def dead_letters(state: Path, n: int) -> None:
    store = SQLiteStore(state)
    t0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)
    store.enqueue([make_event("Accounts", f"a{i}", time=t0) for i in range(n)])
    store.fan_out(lambda ev: ["p1", "p2"])
    for d in store.claim("w", limit=10_000):
        store.fail(d.id, "w", "boom", None)
    store.close()


def test_replay_all_requeues_in_chunks_every_dead_letter(rig, monkeypatch):
    _, state = rig
    dead_letters(state, 23)
    monkeypatch.setattr(runtime_cli, "REPLAY_CHUNK", 5)
    monkeypatch.setenv("SUITECRM_EXT_PROGRESS", "never")
    r = CliRunner().invoke(cli, ["events", "replay", "--all", "--plugin", "p2"], catch_exceptions=False)
    assert r.stdout.strip() == "re-queued 23 dead letter(s)"
    r = CliRunner().invoke(cli, ["events", "replay", "--all"], catch_exceptions=False)
    assert r.stdout.strip() == "re-queued 23 dead letter(s)"
    store = SQLiteStore(state)
    assert store.queue_stats().dead == 0 and store.queue_stats().pending == 46
    store.close()


def test_replay_all_draws_its_bar_when_asked(rig, monkeypatch):
    _, state = rig
    dead_letters(state, 3)
    monkeypatch.setenv("SUITECRM_EXT_PROGRESS", "always")
    r = CliRunner().invoke(cli, ["events", "replay", "--all"], catch_exceptions=False)
    assert "re-queueing dead letters" in r.stderr and "6/6" in r.stderr
    assert r.stdout.strip() == "re-queued 6 dead letter(s)"


def test_tail_follow_streams_new_events_and_outcomes_until_sigterm(rig):
    config, state = rig
    store = SQLiteStore(state)
    t0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)
    store.enqueue([make_event("Accounts", "old-1", time=t0)])
    store.close()
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "--config", str(config), "events", "tail",
                             "--follow", "--interval", "0.1", "-n", "5"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=os.environ)
    try:
        assert "Accounts old-1 updated (poll)" in proc.stdout.readline()
        store = SQLiteStore(state)
        store.enqueue([make_event("Contacts", "new-1", "created", values={"last_name": "Smith"}, time=t0)])
        line = proc.stdout.readline()
        assert "Contacts new-1 created (poll) fields: last_name" in line and "#2" in line
        store.fan_out(lambda ev: ["collegial_actions"] if ev.module == "Contacts" else [])
        pending = proc.stdout.readline().strip()
        assert pending.endswith("(event #2) -> collegial_actions: pending, 0 failed attempt(s)")
        [d] = store.claim("w")
        store.ack(d.id, "w")
        done = proc.stdout.readline().strip()
        assert done.endswith("(event #2) -> collegial_actions: done, 0 failed attempt(s)")
        store.close()
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert rest == ""  # nothing repeated
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_tail_follow_json_prints_one_object_a_line(rig):
    config, state = rig
    store = SQLiteStore(state)
    store.enqueue([make_event("Accounts", "a1")])
    store.close()
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "--config", str(config), "events", "tail",
                             "-f", "--json", "--interval", "0.1"], stdout=subprocess.PIPE, text=True)
    try:
        import json

        doc = json.loads(proc.stdout.readline())
        assert doc["event"]["record_id"] == "a1" and doc["seq"] == 1
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
