"""Contract: create under a client-chosen id, and Note attachments — on every backend that has them;
the others refuse with Unsupported before any request."""

from __future__ import annotations

import pytest

from suitecrm_ext.crm.base import NotFound, Unsupported, ValidationError
from suitecrm_ext.crm.guid import new_guid


def _needs(crm, capability):
    if capability not in crm.capabilities:
        return False
    return True


def test_create_with_id_makes_the_record_under_that_id(harness, crm):
    rid = new_guid()
    if not _needs(crm, "create_with_id"):
        before = harness.wire_calls()
        with pytest.raises(Unsupported):
            crm.create("Accounts", {"name": "Acme"}, id=rid)
        assert harness.wire_calls() == before
        return
    assert crm.create("Accounts", {"name": "Acme", "industry": "Banking"}, id=rid) == rid
    rec = crm.get("Accounts", rid, ["name", "industry"])
    assert (rec["name"], rec["industry"]) == ("Acme", "Banking")


def test_create_with_id_again_updates_and_never_makes_a_second_record(harness, crm):
    if not _needs(crm, "create_with_id"):
        pytest.skip("checked by test_create_with_id_makes_the_record_under_that_id")
    rid = new_guid()
    crm.create("Accounts", {"name": "Acme"}, id=rid)
    assert crm.create("Accounts", {"name": "Acme Group"}, id=rid) == rid  # a repeat after a crash
    assert [r.id for r in harness.store.records("Accounts")] == [rid]
    assert crm.get("Accounts", rid, ["name"])["name"] == "Acme Group"


def test_create_with_the_id_of_a_deleted_record_is_not_found(harness, crm):
    if not _needs(crm, "create_with_id"):
        pytest.skip("checked by test_create_with_id_makes_the_record_under_that_id")
    rid = new_guid()
    crm.create("Accounts", {"name": "gone"}, id=rid)
    crm.delete("Accounts", rid)
    with pytest.raises(NotFound):
        crm.create("Accounts", {"name": "back"}, id=rid)
    assert len(harness.store.records("Accounts")) == 1


def test_create_with_a_bad_id_is_a_validation_error_and_sends_nothing(harness, crm):
    if not _needs(crm, "create_with_id"):
        pytest.skip("checked by test_create_with_id_makes_the_record_under_that_id")
    with pytest.raises(ValidationError) as err:
        crm.create("Accounts", {"name": "x"}, id="1 OR 1=1")
    assert err.value.fields == ["id"]
    assert harness.store.records("Accounts") == []


def test_create_with_id_after_a_lost_answer_makes_one_record(harness, crm):
    if not _needs(crm, "create_with_id"):
        pytest.skip("checked by test_create_with_id_makes_the_record_under_that_id")
    harness.require("lost_answer")
    rid = new_guid()
    harness.lose_next_answer("create")
    assert crm.create("Accounts", {"name": "once"}, id=rid) == rid
    assert [r.id for r in harness.store.records("Accounts")] == [rid]


def test_attachment_round_trip(harness, crm):
    note = crm.save("Notes", {"name": "contract scan"})
    content = bytes(range(256)) * 40 + "Договор №1".encode()
    if not _needs(crm, "attachments"):
        with pytest.raises(Unsupported):
            crm.set_attachment(note, "scan.pdf", content)
        with pytest.raises(Unsupported):
            crm.get_attachment(note)
        return
    assert crm.get_attachment(note) is None  # a Note without a file
    crm.set_attachment(note, "scan.pdf", content)
    att = crm.get_attachment(note)
    assert att.filename == "scan.pdf" and att.content == content
    assert att.mime_type == "application/octet-stream"  # SuiteCRM's getMimeSoap, seen live
    assert crm.get("Notes", note, ["filename"])["filename"] == "scan.pdf"


def test_attachment_of_a_missing_note_is_not_found_and_bad_files_are_refused(harness, crm):
    if not _needs(crm, "attachments"):
        pytest.skip("checked by test_attachment_round_trip")
    ghost = new_guid()
    with pytest.raises(NotFound):
        crm.get_attachment(ghost)
    with pytest.raises(NotFound):
        crm.set_attachment(ghost, "a.txt", b"x")
    note = crm.save("Notes", {"name": "n"})
    with pytest.raises(ValidationError):
        crm.set_attachment(note, "../../etc/passwd", b"x")
    with pytest.raises(ValidationError):
        crm.set_attachment(note, "empty.txt", b"")
    assert crm.get_attachment(note) is None


def test_create_many_under_client_ids_and_again(harness, crm):
    if not _needs(crm, "create_with_id"):
        pytest.skip("checked by test_create_with_id_makes_the_record_under_that_id")
    ids = [new_guid() for _ in range(7)]
    assert crm.create_many("Accounts", [{"id": i, "name": f"n{k}"} for k, i in enumerate(ids)]) == ids
    # a repeat after a crash (some rows made, some not) makes no second record
    more = [new_guid() for _ in range(2)]
    rows = [{"id": i, "name": f"again {i[:4]}"} for i in ids[:3] + more]
    crm.create_many("Accounts", rows)
    assert sorted(r.id for r in harness.store.records("Accounts")) == sorted(ids + more)
    assert crm.get("Accounts", ids[0], ["name"])["name"] == f"again {ids[0][:4]}"
    with pytest.raises(ValidationError):
        crm.create_many("Accounts", [{"name": "no id"}])
    crm.delete("Accounts", ids[6])
    with pytest.raises(NotFound):
        crm.create_many("Accounts", [{"id": ids[6], "name": "back"}])
