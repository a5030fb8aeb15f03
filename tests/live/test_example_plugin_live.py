"""The crash safety that `plugin new`'s skeleton and examples/hello_plugin teach, on a real SuiteCRM 7.14.6:
a process running hello's change handler is killed (SIGKILL) right after SuiteCRM saved the greeting Note;
the event is handled again by a new process, and the Account has one Note. The Note is created under an id
derived from the Account (``crm.create(..., id=...)`` over REST), so the second attempt finds it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]

HANDLE = r"""
import datetime as dt, os, signal, sys, types
sys.path.insert(0, sys.argv[2])
from hello_plugin import plugin
from suitecrm_ext import Event, EventKind
from suitecrm_ext.lab import read_lab_env

crm = read_lab_env(sys.argv[1]).gateway("rest")
if sys.argv[5] == "kill":
    create = crm.create

    def create_then_die(*args, **kwargs):
        create(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)  # after SuiteCRM answered: the Note is saved

    crm.create = create_then_die
event = Event("Accounts", sys.argv[3], EventKind.CREATED, dt.datetime.now(dt.timezone.utc),
              values={"name": sys.argv[4]})
plugin.ext_on_record_change(event=event, ctx=types.SimpleNamespace(crm=crm, settings=plugin.Settings()))
crm.close()
"""


def handle(lab, account: str, name: str, mode: str) -> subprocess.CompletedProcess:
    args = [str(lab.path), str(ROOT / "examples" / "hello_plugin"), account, name, mode]
    return subprocess.run([sys.executable, "-c", HANDLE, *args], capture_output=True, text=True, timeout=120)


def test_killed_right_after_the_note_the_restart_leaves_one_note(live_lab, live_crm, run_tag):
    name = f"{run_tag} Initech"
    account = live_crm.save("Accounts", {"name": name})
    try:
        killed = handle(live_lab, account, name, "kill")
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert len(list(live_crm.find("Notes", {"parent_id": account}, ["name"]))) == 1  # saved, then killed
        again = handle(live_lab, account, name, "replay")
        assert again.returncode == 0, again.stderr
        notes = list(live_crm.find("Notes", {"parent_id": account}, ["name", "parent_type"]))
        assert [(n.get("name"), n.get("parent_type")) for n in notes] == [(f"Welcome, {name}!", "Accounts")]
    finally:
        for note in live_crm.find("Notes", {"parent_id": account}, ["id"]):
            live_crm.delete("Notes", note.id)
        live_crm.delete("Accounts", account)
