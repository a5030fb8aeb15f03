"""collegial_actions walked through on a real SuiteCRM 7.14.6 as docs/plugins/collegial_actions.md tells
an admin: the core package and the plugin's installed (package scan on), a real ``suitecrm-ext run``
serving the validation hook and the pushes, SMTP mail to a server on loopback, and people acting
through their own REST sessions (what SuiteCRM's web UI does too: the same logic hooks).

All three processes, once with ``read_via: api`` and once with ``read_via: mysql`` (issue 11: with
mysql the plugin once did nothing): Tasks and e-mails when a stage starts and completes, a deputy
acting, refusals with the reason, the decision log, ``collegial status``. Polling-only reverts are in
test_collegial_polling_live.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import subprocess
import sys

import pytest
import yaml
from collegial_live import ACTIONS, People, plugins_section, wait_for

from suitecrm_ext.crm.base import ValidationRefused
from suitecrm_ext.testing import smtp_server

PEOPLE = ("owner", "voter", "approver", "signer", "reader", "deputy", "stranger")


@pytest.fixture(scope="module", params=["api", "mysql"])
def world(request, live_lab, live_kit, run_tag, tmp_path_factory):
    read_via = request.param
    live_kit.install("collegial_actions")  # after the core package it requires
    tag = f"{run_tag}{read_via[0]}"
    people = People(live_lab, tag)
    mail = contextlib.ExitStack()
    mailbox = mail.enter_context(smtp_server())  # a real SMTP server on loopback (``.to(address)``)
    try:
        people.add(*PEOPLE)
        # read through REST, a validation takes a dozen ~150 ms calls: an admin with read_via: api
        # raises the budget (docs/plugins/collegial_actions.md); MySQL reads fit the default 2 s
        events = {"push": {"validation_budget_ms": 8000}} if read_via == "api" else {}
        config = live_kit.config(
            plugins=plugins_section(live_kit), read_via=read_via, write_via="rest", events=events,
            smtp=mailbox.settings(sender="crm@office.test"))
        path = tmp_path_factory.mktemp(f"ca-{read_via}") / "suitecrm-ext.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        with live_kit.sidecar(config, "--worker-id", f"{tag}-ca") as proc:
            # the approver's deputy for everything from today (the core's Deputies module)
            people.save("owner", "sx_Deputies", {
                "name": f"{tag} deputy", "principal_id": people.ids["approver"],
                "deputy_id": people.ids["deputy"], "kind": "all",
                "start_date": dt.datetime.now(dt.timezone.utc).date().isoformat()})
            people.mailbox, people.sidecar, people.config_path = mailbox, proc, path
            people.read_via, people.state_path = read_via, config["state"]["path"]
            yield people
    finally:
        mail.close()
        people.cleanup()


def refused(world: People, key: str, module: str, values: dict) -> str:
    world.idle(world.state_path)
    try:
        world.save(key, module, values)
    except ValidationRefused as exc:
        return exc.reason
    raise AssertionError(f"{key}'s save of {module} {values} was not refused; the sidecar's log:\n"
                         + world.sidecar.log[-4000:])


def move(world: People, doc: str, status: str) -> None:
    world.save("owner", "Documents", {"id": doc, "ca_status_c": status})
    assert world.status(doc) == status


def act(world: People, key: str, action: str, outcome: str) -> None:
    world.save(key, ACTIONS, {"id": action, "outcome": outcome})
    wait_for(f"acted_by of {outcome}", lambda: world.action(action)["acted_by_id"] == world.ids[key])


def told(world: People, doc: str, key: str, subject: str) -> None:
    """``key`` got a Task on the document and an e-mail whose subject contains ``subject``."""
    wait_for(f"a Task for {key}", lambda: world.tasks(doc, key))
    wait_for(f"a mail to {key} about {subject}",
             lambda: any(subject in m["Subject"] for m in world.mailbox.to(world.email(key))))


def cli(world: People, *args: str) -> str:
    r = subprocess.run([sys.executable, "-c", "from suitecrm_ext.cli import main; main()", "--config",
                        str(world.config_path), *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_classic_from_preparation_to_archived(world):
    title = f"{world.tag} classic contract"
    doc, a = world.document("owner", "classic contract", "classic", [
        ("voting", "voter"), ("approval", "approver"), ("signing", "signer"), ("acknowledgement", "reader")])
    # the sidecar related each action to the document (its Collegial Actions subpanel) and set the stage
    wait_for("the actions' stages", lambda: all(world.action(i)["stage"] for i in a.values()))

    reason = refused(world, "owner", "Documents", {"id": doc, "ca_status_c": "Approval"})
    assert "Cannot move from Preparation to Approval: the Voting stage has actions" in reason, reason
    assert world.status(doc) == "Preparation"  # the row is unchanged

    move(world, doc, "Voting")
    told(world, doc, "voter", title)
    reason = refused(world, "stranger", ACTIONS, {"id": a["voting"], "outcome": "for"})
    assert f"{world.name('stranger')} may not perform this voting action: it is assigned to " \
           f"{world.name('voter')}" in reason, reason
    reason = refused(world, "owner", "Documents", {"id": doc, "ca_status_c": "Approval"})
    assert "voting by Voter" in reason and "pending" in reason, reason
    act(world, "voter", a["voting"], "for")
    told(world, doc, "owner", title)  # stage complete: the document's owner hears the outcomes

    move(world, doc, "Approval")
    told(world, doc, "approver", title)
    told(world, doc, "deputy", title)  # the approver's deputy in force is told too ("for ...")
    act(world, "deputy", a["approval"], "approved")
    assert world.action(a["approval"])["assigned_user_id"] == world.ids["approver"]  # the assignee stays

    for status, kind, who, outcome in (("Signing", "signing", "signer", "signed"),
                                       ("Acknowledgement", "acknowledgement", "reader", "acknowledged")):
        move(world, doc, status)
        told(world, doc, who, title)
        act(world, who, a[kind], outcome)
    move(world, doc, "Archived")
    reason = refused(world, "owner", "Documents", {"id": doc, "ca_status_c": "Preparation"})
    assert "Archived" in reason, reason

    # the decision log (the document's Decisions subpanel): every status change and every outcome
    log = wait_for("the decision log", lambda: (lambda d: d if len(d) >= 9 else None)(world.decisions(doc)))
    statuses = [(f, t) for tr, f, t, *_ in log if tr == "status"]
    assert statuses == [("Preparation", "Voting"), ("Voting", "Approval"), ("Approval", "Signing"),
                        ("Signing", "Acknowledgement"), ("Acknowledgement", "Archived")]
    outcomes = {d: (by, behalf) for tr, _, _, d, by, behalf in log if tr != "status"}
    assert outcomes["approved"] == (world.ids["deputy"], world.ids["approver"])
    assert outcomes["for"][0] == world.ids["voter"]

    status = cli(world, "collegial", "status", doc)
    assert "Process: Classic" in status and "Status: Archived" in status, status
    assert f"acted by {world.name('deputy')} (deputy)" in status, status
    assert not world.mailbox.to(world.email("stranger")) and not world.tasks(doc, "stranger")


def test_simplified_has_no_approval_and_passes_the_empty_voting(world):
    title = f"{world.tag} simplified order"
    doc, a = world.document("owner", "simplified order", "simplified",
                            [("signing", "signer"), ("acknowledgement", "reader")])
    reason = refused(world, "owner", "Documents", {"id": doc, "ca_status_c": "Approval"})
    assert "Approval" in reason, reason
    reason = refused(world, "owner", ACTIONS, {
        "name": "approval", "parent_type": "Documents", "parent_id": doc, "kind": "approval",
        "assigned_user_id": world.ids["approver"]})
    assert "approval" in reason.lower(), reason
    move(world, doc, "Signing")  # Voting has no actions: passed in one step
    told(world, doc, "signer", title)
    reason = refused(world, "signer", ACTIONS, {"id": a["signing"], "outcome": "approved"})
    assert "'approved' is not an outcome of a signing action" in reason, reason
    act(world, "signer", a["signing"], "signed")
    move(world, doc, "Acknowledgement")
    told(world, doc, "reader", title)
    act(world, "reader", a["acknowledgement"], "acknowledged")
    move(world, doc, "Archived")


def test_flexible_needs_only_an_acknowledgement_and_a_refused_signature_blocks(world):
    title = f"{world.tag} flexible memo"
    empty, _ = world.document("owner", "flexible memo without a plan", "flexible", [])
    reason = refused(world, "owner", "Documents", {"id": empty, "ca_status_c": "Acknowledgement"})
    assert "acknowledgement" in reason.lower(), reason  # the minimum: one acknowledgement

    doc, a = world.document("owner", "flexible memo", "flexible",
                            [("signing", "signer"), ("acknowledgement", "reader")])
    move(world, doc, "Signing")  # Voting and Approval have no actions: passed
    told(world, doc, "signer", title)
    act(world, "signer", a["signing"], "refused")
    reason = refused(world, "owner", "Documents", {"id": doc, "ca_status_c": "Acknowledgement"})
    assert "Cannot move from Signing to Acknowledgement" in reason, reason
    move(world, doc, "Preparation")  # rework is always allowed
    assert [(f, t) for tr, f, t, *_ in wait_for("the rework logged", lambda: (
        lambda d: d if len(d) >= 3 else None)(world.decisions(doc))) if tr == "status"][-1] == \
        ("Signing", "Preparation")
