"""A save the sidecar makes itself, validated by a plugin that reads SuiteCRM: the refusal still
comes back. SuiteCRM's REST v4_1 session is a PHP session serving one request at a time; while
/validate's plugins read on the sidecar's own session, that read waited for the save it was asked
about, the validation budget ran out and the save was let through (fail-open)."""

from __future__ import annotations

import pymysql
import pytest

from suitecrm_ext import ValidationRefused, WatchSpec, hookimpl

MARK = "NEEDS-READ"


class ReadingGate:
    """Refuses a rename of a Document when the stored record (read back from SuiteCRM) is marked."""

    def __init__(self):
        self.read = []

    @hookimpl
    def ext_watch(self, settings):
        return [WatchSpec("Documents")]

    @hookimpl
    def ext_validate_record_change(self, change, ctx):
        if not change.record_id:
            return None
        stored = ctx.crm.get("Documents", change.record_id, ["document_name"])
        self.read.append(stored["document_name"])
        if MARK in stored["document_name"]:
            return "a marked document keeps its name"
        return None

    @hookimpl
    def ext_on_record_change(self, event, ctx):
        return None


def test_the_sidecars_own_save_is_refused_after_a_read_during_validation(live_kit, live_lab, run_tag):
    live_kit.install("collegial_actions")  # its package validates Documents
    gw = live_lab.gateway("rest")
    doc = gw.save("Documents", {"document_name": f"{run_tag} {MARK}", "status_id": "Active"})
    gate = ReadingGate()
    try:
        with live_kit.receiver({"gate": gate}, real_crm=True) as server:
            crm = server.app.crm  # the gateway the dispatcher's handlers write with
            with pytest.raises(ValidationRefused) as info:
                crm.save("Documents", {"id": doc, "document_name": f"{run_tag} renamed"})
            assert info.value.reason == "a marked document keeps its name"
            assert gate.read == [f"{run_tag} {MARK}"]
        with pymysql.connect(**live_lab.db_params(read_only=True)) as conn, conn.cursor() as cur:
            cur.execute("SELECT document_name FROM documents WHERE id = %s", (doc,))
            assert cur.fetchone()[0] == f"{run_tag} {MARK}"
    finally:
        gw.delete("Documents", doc)
        gw.close()
