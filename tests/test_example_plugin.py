"""The example plugin of docs/plugin-authoring.md, tested the way the guide tells plugin authors to."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

from suitecrm_ext import Event, EventKind, RecordChange

ROOT = Path(__file__).parent.parent


@pytest.fixture
def hello(monkeypatch, make_config, make_registry, make_app, fake_crm, tmp_path):
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "hello_plugin"))
    sys.modules.pop("hello_plugin.plugin", None)
    config = make_config(plugins={"hello": {"greeting": "Hi"}},
                         state={"path": str(tmp_path / "state.sqlite3")})
    reg = make_registry({"hello": "hello_plugin.plugin"}, config)
    app = make_app(reg, crm=fake_crm)
    yield reg, app
    app.close()


def test_greets_each_new_account_once_even_when_the_event_repeats(hello, fake_crm):
    reg, app = hello
    acc = fake_crm.save("Accounts", {"name": "Initech"})
    now = dt.datetime.now(dt.timezone.utc)
    ev = Event("Accounts", acc, EventKind.CREATED, now, values={"name": "Initech"})
    for _ in range(2):  # at-least-once delivery
        reg.call_one("hello", "ext_on_record_change", event=ev, ctx=app.for_plugin("hello"))
    notes = list(fake_crm.find("Notes", {"parent_id": acc}))
    assert [n["name"] for n in notes] == ["Hi, Initech!"]


class Killed(BaseException):
    """The sidecar killed right after a write (nothing in the hook may catch it)."""


def test_killed_right_after_the_note_the_retry_adds_no_second_one(hello, fake_crm):
    reg, app = hello
    acc = fake_crm.save("Accounts", {"name": "Initech"})
    now = dt.datetime.now(dt.timezone.utc)
    ev = Event("Accounts", acc, EventKind.CREATED, now, values={"name": "Initech"})
    create = fake_crm.create

    def create_then_die(*args, **kwargs):
        create(*args, **kwargs)
        raise Killed

    fake_crm.create = create_then_die
    with pytest.raises(Killed):
        reg.call_one("hello", "ext_on_record_change", event=ev, ctx=app.for_plugin("hello"))
    fake_crm.create = create
    reg.call_one("hello", "ext_on_record_change", event=ev, ctx=app.for_plugin("hello"))  # the restart
    assert [n["name"] for n in fake_crm.find("Notes", {"parent_id": acc})] == ["Hi, Initech!"]
    # a user deleted the greeting; the event comes once more: it stays deleted, and nothing fails
    (note,) = fake_crm.find("Notes", {"parent_id": acc})
    fake_crm.delete("Notes", note.id)
    reg.call_one("hello", "ext_on_record_change", event=ev, ctx=app.for_plugin("hello"))
    assert list(fake_crm.find("Notes", {"parent_id": acc})) == []


def test_vetoes_the_forbidden_name(hello):
    reg, app = hello
    ctx = app.for_plugin("hello")
    bad = RecordChange("Accounts", None, {}, {"name": "ACME"})
    good = RecordChange("Accounts", None, {}, {"name": "Initech"})
    assert reg.call_one("hello", "ext_validate_record_change", change=bad, ctx=ctx) == \
        "Accounts may not be called ACME."
    assert reg.call_one("hello", "ext_validate_record_change", change=good, ctx=ctx) is None
    # an ACME from before the rule can still be deleted (SuiteCRM's delete is a save with deleted=1)
    deleted = RecordChange("Accounts", "a1", {"name": "ACME", "deleted": "0"},
                           {"name": "ACME", "deleted": "1"})
    assert reg.call_one("hello", "ext_validate_record_change", change=deleted, ctx=ctx) is None


def test_job_and_doctor_check(hello, fake_crm):
    reg, app = hello
    fake_crm.save("Accounts", {"name": "A"})
    [job] = reg.call_one("hello", "ext_jobs", settings=app.config.plugin_settings["hello"])
    assert (job.name, job.schedule) == ("hello-count", "1h")
    assert job.func(app.for_plugin("hello")) == {"accounts": 1}
    [check] = reg.call_one("hello", "ext_doctor_checks", ctx=app.for_plugin("hello"))
    assert check.ok and check.detail == "Hi"
