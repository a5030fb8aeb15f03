"""The generated logic hook through the real Apache/PHP path: pushes from web-UI and API saves reach the
receiver, and a veto reaches the web user (message shown, row unchanged) and each API client as a
typed ValidationRefused carrying the plugin's message.

The hook comes with the collegial_actions package (it pushes and validates Documents); a test plugin
on the session's push address stands in for the plugins, so this tests the channel, not a plugin.
"""

from __future__ import annotations

import time

import pymysql
import pytest
from webui import WebUI, read_form

from suitecrm_ext import ValidationRefused, WatchSpec, hookimpl

MARK = "FORBIDDEN"


class Gate:
    """Refuses any Documents save whose name carries the mark; records what it was asked."""

    def __init__(self):
        self.asked = []

    @hookimpl
    def ext_watch(self, settings):
        return [WatchSpec("Documents")]

    @hookimpl
    def ext_validate_record_change(self, change, ctx):
        self.asked.append(change)
        name = str(change.after.get("document_name") or "")
        if MARK in name:
            return f"Документ «{name}» нельзя так назвать (test veto)"
        return None

    @hookimpl
    def ext_on_record_change(self, event, ctx):
        return None


@pytest.fixture(scope="module")
def documents(live_kit):
    live_kit.install("collegial_actions")
    return live_kit


@pytest.fixture
def gate_server(documents):
    gate = Gate()
    with documents.receiver({"gate": gate}) as server:
        server.gate = gate
        yield server


def _db_name(lab, doc_id):
    with pymysql.connect(**lab.db_params()) as conn, conn.cursor() as cur:
        cur.execute("SELECT document_name FROM documents WHERE id = %s", (doc_id,))
        row = cur.fetchone()
        return row[0] if row else None


def _wait_pushed(server, doc_id, name, timeout=10.0):
    """The queued update event of ``doc_id`` that set document_name to ``name``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for q in server.store.recent_events(limit=200):
            ch = q.event.changes.get("document_name")
            if q.event.record_id == doc_id and q.event.kind.value == "updated" and ch and ch.after == name:
                return q.event
        time.sleep(0.05)
    raise AssertionError(f"no pushed update of {doc_id} to {name!r} within {timeout} s")


@pytest.fixture
def doc(live_lab, run_tag):
    gw = live_lab.gateway("rest")
    doc_id = gw.save("Documents", {"document_name": f"{run_tag} contract", "status_id": "Active"})
    yield doc_id
    try:
        gw.delete("Documents", doc_id)
    finally:
        gw.close()


@pytest.mark.parametrize("flavour", ["rest", "v8", "soap"])
def test_a_veto_reaches_each_api_client_as_validation_refused(gate_server, live_lab, doc, run_tag, flavour):
    gw = live_lab.gateway({"v8": "v8"}.get(flavour, flavour))
    try:
        with pytest.raises(ValidationRefused) as info:
            gw.save("Documents", {"id": doc, "document_name": f"{run_tag} {MARK} {flavour}"})
    finally:
        gw.close()
    assert info.value.reason == f"Документ «{run_tag} {MARK} {flavour}» нельзя так назвать (test veto)"
    assert info.value.transport == flavour
    assert _db_name(live_lab, doc) == f"{run_tag} contract"  # the row is unchanged
    asked = [c for c in gate_server.gate.asked if c.record_id == doc]
    assert asked and asked[-1].before["document_name"] == f"{run_tag} contract"


@pytest.mark.parametrize("flavour", ["rest", "v8", "soap"])
def test_an_api_save_is_pushed_to_the_receiver(gate_server, live_lab, doc, run_tag, flavour):
    gw = live_lab.gateway(flavour)
    try:
        gw.save("Documents", {"id": doc, "document_name": f"{run_tag} renamed via {flavour}"})
    finally:
        gw.close()
    ev = _wait_pushed(gate_server, doc, f"{run_tag} renamed via {flavour}")
    assert ev.changes["document_name"].before == f"{run_tag} contract"
    assert ev.source == "push" and ev.kind.value == "updated"
    assert gate_server.stats.snapshot()["accepted"].get("events", 0) >= 1


def test_a_veto_is_shown_to_the_web_user_and_the_row_is_unchanged(gate_server, live_lab, doc, run_tag):
    web = WebUI(live_lab)
    edit = web.get(f"index.php?module=Documents&action=EditView&record={doc}")
    action, fields = read_form(edit.text, "EditView")
    fields.update({"document_name": f"{run_tag} {MARK} web", "action": "Save", "module": "Documents",
                   "record": doc})
    answer = web.post("index.php", fields)
    assert "нельзя так назвать (test veto)" in answer.text  # SuiteCRM shows the refusal
    assert f"record={doc}" in answer.url and "DetailView" in answer.url
    assert _db_name(live_lab, doc) == f"{run_tag} contract"


def test_a_web_ui_save_is_pushed_to_the_receiver(gate_server, live_lab, doc, run_tag):
    web = WebUI(live_lab)
    edit = web.get(f"index.php?module=Documents&action=EditView&record={doc}")
    _, fields = read_form(edit.text, "EditView")
    fields.update({"document_name": f"{run_tag} renamed in the browser", "action": "Save",
                   "module": "Documents", "record": doc})
    web.post("index.php", fields)
    assert _db_name(live_lab, doc) == f"{run_tag} renamed in the browser"
    ev = _wait_pushed(gate_server, doc, f"{run_tag} renamed in the browser")
    assert ev.user_id == "1"  # the admin who saved in the browser
