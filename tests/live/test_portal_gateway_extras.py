"""What portal_sync needs from the gateway, on the real SuiteCRM: create under a client-chosen id
(retry-safe) and Note attachments through REST v4_1."""

from __future__ import annotations

import pytest

from suitecrm_ext import NotFound, new_guid


def test_create_with_a_client_chosen_id_and_again_is_one_record(live_crm, run_tag):
    rid = new_guid()
    try:
        assert live_crm.create("Accounts", {"name": f"{run_tag} chosen id"}, id=rid) == rid
        assert live_crm.create("Accounts", {"name": f"{run_tag} chosen id again"}, id=rid) == rid
        assert live_crm.get("Accounts", rid, ["name"])["name"] == f"{run_tag} chosen id again"
        assert live_crm.count("Accounts", {"name": f"{run_tag} chosen id"}) == 0
        live_crm.delete("Accounts", rid)
        with pytest.raises(NotFound):
            live_crm.create("Accounts", {"name": "back"}, id=rid)
    finally:
        try:
            live_crm.delete("Accounts", rid)
        except NotFound:
            pass


def test_note_attachment_round_trip(live_crm, run_tag):
    note = live_crm.save("Notes", {"name": f"{run_tag} attachment"})
    try:
        assert live_crm.get_attachment(note) is None
        content = bytes(range(256)) * 10 + "Счёт №7".encode()
        live_crm.set_attachment(note, "invoice.pdf", content)
        att = live_crm.get_attachment(note)
        assert att.filename == "invoice.pdf" and att.content == content
        assert att.mime_type == "application/octet-stream"  # SuiteCRM's getMimeSoap, seen live
        with pytest.raises(NotFound):
            live_crm.get_attachment(new_guid())
    finally:
        live_crm.delete("Notes", note)
