"""The seed's walk-through through the plugin's hooks on FakeCRM, with e-mail to a real SMTP server.

A user creates a Document of each type, adds collegial actions to it through the actions module,
tries status changes as they would in SuiteCRM, sees the refusals with their reasons, the assignees
complete their actions (one through a deputy; an unentitled user is refused) and the document is
archived.
"""

from __future__ import annotations

import datetime as dt

import pytest
from collegial_kit import Refused

MAIL = "{}@example.test"


def refusal(fn, *args) -> str:
    with pytest.raises(Refused) as err:
        fn(*args)
    return str(err.value)


def test_classic_document_from_preparation_to_archived(desk, smtp_server):
    doc = desk.document("u-author", "Supply contract 17", "classic")
    assert desk.status(doc) == "Preparation"
    v1 = desk.action("u-author", doc, "voting", "u-voter1")
    v2 = desk.action("u-author", doc, "voting", "u-voter2")
    # the plan is incomplete: Classic needs an approval and a signing action (and an acknowledgement)
    msg = refusal(desk.move, "u-author", doc, "Voting")
    assert "the Classic process needs at least 1 approval action (the document has 0)" in msg
    assert "at least 1 signing action" in msg
    ap = desk.action("u-author", doc, "approval", "u-approver", due_date="2030-01-31")
    sg = desk.action("u-author", doc, "signing", "u-signer")
    ak = desk.action("u-author", doc, "acknowledgement", "u-reader")
    # the stage is filled from the kind
    assert desk.crm.get("ca_CollegialActions", ap).get("stage") == "Approval"

    # no stage may be skipped while it has actions; nobody gets a Task yet
    msg = refusal(desk.move, "u-author", doc, "Approval")
    assert "the Voting stage has actions" in msg
    assert desk.tasks_for("u-voter1") == []

    desk.move("u-author", doc, "Voting")
    assert desk.status(doc) == "Voting"
    for voter in ("u-voter1", "u-voter2"):
        [task] = desk.tasks_for(voter)
        assert task.get("parent_type") == "Documents" and task.get("parent_id") == doc
        assert task.get("name") == "Voting: Supply contract 17"
        [mail] = smtp_server.to(MAIL.format(voter[2:]))
        assert mail["Subject"] == "[SuiteCRM] Voting: Supply contract 17"
        assert "\"Supply contract 17\" is now in Voting" in mail.get_content()
    assert desk.tasks_for("u-approver") == []  # not their stage yet

    msg = refusal(desk.move, "u-author", doc, "Approval")
    assert msg == ("Cannot move from Voting to Approval: voting by Vera Voterova is pending; "
                   "voting by Viktor Voterov is pending.")

    # a user who is neither the assignee nor a deputy is refused, and nothing changes
    msg = refusal(desk.act, "u-stranger", v1, "for")
    assert msg.startswith("Stepan Strangerov may not perform this voting action: "
                          "it is assigned to Vera Voterova")
    assert desk.crm.get("ca_CollegialActions", v1).get("outcome") == ""

    desk.act("u-voter1", v1, "against")
    rec = desk.crm.get("ca_CollegialActions", v1)
    assert rec.get("acted_by_id") == "u-voter1" and rec.get("acted_at") is not None
    assert [t.get("name") for t in desk.tasks_for("u-author")] == []
    desk.act("u-voter2", v2, "abstain")
    # every vote is in: the document's owner is told the stage is complete
    [owner_task] = desk.tasks_for("u-author")
    assert owner_task.get("name") == "Voting complete: Supply contract 17"
    [owner_mail] = smtp_server.to(MAIL.format("author"))
    assert "can move on to Approval" in owner_mail.get_content()

    # Voting needs completion only: an 'against' vote does not block
    desk.move("u-author", doc, "Approval")
    assert len(desk.tasks_for("u-approver")) == 1
    assert desk.tasks_for("u-approver")[0].get("date_due") is not None
    # acting out of stage is refused
    msg = refusal(desk.act, "u-signer", sg, "signed")
    assert "can only be performed while the document is in Signing; it is Approval" in msg
    desk.act("u-approver", ap, "not_approved")
    msg = refusal(desk.move, "u-author", doc, "Signing")
    assert "approval by Anna Approverova is not approved" in msg
    desk.act("u-approver", ap, "approved")  # changed their mind while still in Approval

    # the signer is away: a deputy for signing is named; when Signing starts the deputy is told too
    today = dt.datetime.now(dt.timezone.utc).date()
    desk.save("u-author", "sx_Deputies", {"name": "Signer away", "principal_id": "u-signer",
                                          "deputy_id": "u-deputy", "kind": "signing",
                                          "start_date": today - dt.timedelta(days=1),
                                          "end_date": today + dt.timedelta(days=1)})
    desk.move("u-author", doc, "Signing")
    [deputy_task] = desk.tasks_for("u-deputy")
    assert deputy_task.get("name") == "Signing: Supply contract 17 (for Semyon Signerov)"
    [deputy_mail] = smtp_server.to(MAIL.format("deputy"))
    assert deputy_mail["Subject"] == "[SuiteCRM] Signing: Supply contract 17 (for Semyon Signerov)"
    assert "you are Semyon Signerov's deputy for signing" in deputy_mail.get_content()
    # the deputy signs; acted_by records the deputy, the assignee stays
    desk.act("u-deputy", sg, "signed")
    rec = desk.crm.get("ca_CollegialActions", sg)
    assert rec.get("acted_by_id") == "u-deputy" and rec.get("assigned_user_id") == "u-signer"

    assert "the Acknowledgement stage has actions" in refusal(desk.move, "u-author", doc, "Archived")
    desk.move("u-author", doc, "Acknowledgement")
    assert "acknowledgement by Roman Readerov is pending" in refusal(desk.move, "u-author", doc, "Archived")
    desk.act("u-reader", ak, "acknowledged")
    desk.move("u-author", doc, "Archived")
    assert desk.status(doc) == "Archived"
    assert "cannot change status" in refusal(desk.move, "u-author", doc, "Preparation")
    assert "no actions can be added" in refusal(desk.action, "u-author", doc, "acknowledgement", "u-voter1")


def test_flexible_document_with_only_an_acknowledgement(desk, smtp_server):
    long_name = "Memo on the use of meeting rooms during the winter holidays of 2026"
    doc = desk.document("u-author", long_name, "flexible")
    msg = refusal(desk.move, "u-author", doc, "Voting")
    assert "the Flexible process needs at least 1 acknowledgement action" in msg
    ak = desk.action("u-author", doc, "acknowledgement", "u-reader")
    # empty stages are passed through
    desk.move("u-author", doc, "Acknowledgement")
    [mail] = smtp_server.to(MAIL.format("reader"))
    assert mail["Subject"] == f"[SuiteCRM] Acknowledgement: {long_name}"
    [task] = desk.tasks_for("u-reader")  # tasks.name is varchar(50); SuiteCRM trims names on save
    assert task.get("name") == f"Acknowledgement: {long_name}"[:50].rstrip()
    desk.act("u-reader", ak, "acknowledged")
    desk.move("u-author", doc, "Archived")
    assert desk.status(doc) == "Archived"


def test_simplified_document(desk, smtp_server):
    doc = desk.document("u-author", "Order 5", "simplified")
    desk.action("u-author", doc, "acknowledgement", "u-reader")
    assert "at least 1 signing action" in refusal(desk.move, "u-author", doc, "Signing")
    assert "has no approval actions" in refusal(desk.action, "u-author", doc, "approval", "u-approver")
    s1 = desk.action("u-author", doc, "signing", "u-signer")
    s2 = desk.action("u-author", doc, "signing", "u-approver")
    assert "has no status 'Approval'" in refusal(desk.move, "u-author", doc, "Approval")
    desk.move("u-author", doc, "Signing")
    desk.act("u-signer", s1, "signed")
    desk.act("u-approver", s2, "refused")
    assert "signing by Anna Approverova is refused" in refusal(desk.move, "u-author", doc, "Acknowledgement")
    # rework, then reject
    desk.move("u-author", doc, "Preparation")
    desk.move("u-author", doc, "Rejected")
    assert desk.status(doc) == "Rejected"
    assert "only be reopened" in refusal(desk.move, "u-author", doc, "Signing")


def test_action_created_from_the_documents_subpanel_gets_its_parent(desk):
    doc = desk.document("u-author", "Policy", "flexible")
    # SuiteCRM's subpanel quick-create sets the relationship's id field, not parent_id
    desk.crm.user_id = "u-author"
    aid = desk.crm.save("ca_CollegialActions", {"name": "ack", "kind": "acknowledgement",
                                               "assigned_user_id": "u-reader"})
    desk.crm.relate("Documents", doc, "ca_documents_actions", [aid])
    from suitecrm_ext import Event, EventKind

    desk.deliver(Event("ca_CollegialActions", aid, EventKind.CREATED, desk.now(), "push", user_id="u-author"))
    rec = desk.crm.get("ca_CollegialActions", aid)
    assert (rec.get("parent_type"), rec.get("parent_id")) == ("Documents", doc)
    # ... and one created with parent_id appears in the subpanel
    other = desk.action("u-author", doc, "voting", "u-voter1")
    assert {r.id for r in desk.crm.related("Documents", doc, "ca_documents_actions")} == {aid, other}
