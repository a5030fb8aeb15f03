"""collegial_actions with ``polling_only: true`` on a real SuiteCRM 7.14.6: no sidecar answers the package's
hooks (nothing listens on the push address, so SuiteCRM saves fail open, as on a site that could not
install the validation hook), ``suitecrm-ext run --no-push`` polls SuiteCRM (``read_via: mysql``) and
puts back what the process forbids, leaving a Note on the document saying why; allowed changes stay,
and the stage's assignee still gets a Task."""

from __future__ import annotations

import time

import pytest
from collegial_live import ACTIONS, People, plugins_section, wait_for


@pytest.fixture(scope="module")
def polled(live_lab, live_kit, run_tag):
    live_kit.install("collegial_actions")
    live_kit.wait_free()  # no receiver: the hooks cannot reach a sidecar
    people = People(live_lab, f"{run_tag}p")
    try:
        people.add("owner", "approver", "signer", "reader", "stranger")
        config = live_kit.config(plugins=plugins_section(live_kit, polling_only=True,
                                                         notify={"email": False}),
                                 read_via="mysql", write_via="rest",
                                 events={"poll_interval_seconds": 1.0})
        with live_kit.sidecar(config, "--no-push", "--worker-id", f"{run_tag}-poll", wait=False) as proc:
            proc.wait_for(r"running as .* feed=on push=off", timeout=60)
            people.sidecar, people.state_path = proc, config["state"]["path"]
            yield people
    finally:
        people.cleanup()


def notes_named(w: People, doc: str, name: str) -> list[tuple[str, str]]:
    return [n for n in w.notes(doc) if n[0] == name]


def test_a_forbidden_status_change_and_outcome_are_reverted_with_a_note(polled):
    w = polled
    doc, a = w.document("owner", "polled contract", "classic",
                        [("approval", "approver"), ("signing", "signer"), ("acknowledgement", "reader")])
    w.idle(w.state_path)
    time.sleep(2.5)  # the feed has seen the document as it is now (its next change is judged against it)

    w.save("owner", "Documents", {"id": doc, "ca_status_c": "Signing"})  # nothing refuses it...
    assert w.status(doc) == "Signing"
    wait_for("the revert", lambda: w.status(doc) == "Preparation", timeout=60)  # ...the poller puts it back
    notes = wait_for("the Note", lambda: notes_named(w, doc, "Status change to Signing reverted"))
    assert "Cannot move from Preparation to Signing: the Approval stage has actions" in notes[0][1], notes

    # the feed must see the revert's own change before the next save: a change made within the same poll
    # interval would be judged against the status the poller saw last (Signing), not Preparation
    w.idle(w.state_path)
    time.sleep(2.5)
    w.save("owner", "Documents", {"id": doc, "ca_status_c": "Approval"})  # allowed: it stays
    wait_for("the approver's Task", lambda: w.tasks(doc, "approver"), timeout=60)
    assert w.status(doc) == "Approval"

    w.idle(w.state_path)
    time.sleep(2.5)
    w.save("stranger", ACTIONS, {"id": a["approval"], "outcome": "approved"})
    wait_for("the outcome reverted", lambda: w.action(a["approval"])["outcome"] in ("", None), timeout=60)
    notes = wait_for("the outcome Note", lambda: notes_named(w, doc, "approval outcome reverted"))
    assert f"{w.name('stranger')} may not perform this approval action" in notes[0][1], notes
    time.sleep(3)  # the revert's own change comes back through the feed and is not reverted again
    assert w.action(a["approval"])["outcome"] in ("", None) and w.status(doc) == "Approval"
    assert len([n for n in w.notes(doc) if "reverted" in n[0]]) == 2
