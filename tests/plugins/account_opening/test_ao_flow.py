"""The whole application flow on FakeCRM, through the plugin's hooks: groups inherited on an API create,
role-gated decisions vetoed before save with the rule named, the decision log, Tasks and e-mails for the
next role in the client's groups, the account number on opening, card-issue applications, polling-only."""

from __future__ import annotations

import pytest
from ao_kit import APPS, BIK, HOLDER, IP, NKO, Refused

from plugins.account_opening.identifiers import check_account
from plugins.account_opening.numbering import Series


def test_an_api_created_application_inherits_its_clients_groups(bank):
    north = bank.client("Romashka")
    app = bank.application("u-mgr", north)
    assert bank.groups_of(APPS, app) == ["Branch North"]
    # a licence and an address of the client too
    assert bank.groups_of("ao_Addresses", bank.crm.records("ao_Addresses")[0].id) == ["Branch North"]


def test_only_a_personal_manager_or_an_admin_creates_an_application(bank):
    north = bank.client("Romashka")
    with pytest.raises(
        Refused,
        match="Only a user with the role Personal manager creates applications; "
        "Sergey Security has Security officer",
    ):
        bank.application("u-sec", north)
    assert bank.application("1", north)  # the admin
    with pytest.raises(Refused, match="A new application starts as Draft, not Security review"):
        bank.application("u-mgr", north, status="security_review")
    with pytest.raises(Refused, match="account number is given when the account is opened"):
        bank.application("u-mgr", north, account_number="40702810000010000001")


def test_the_happy_path_with_decisions_tasks_emails_and_the_account_number(bank, smtp_server):
    north = bank.client("Romashka")
    app = bank.application("u-mgr", north, name="Settlement account for Romashka", assigned_user_id="u-mgr")

    bank.move("u-mgr", app, "security_review")
    # a Task for the security officer of the client's group, not for the one of the other branch
    [task] = bank.tasks_for("u-sec")
    assert (
        task.get("parent_id") == app
        and task.get("name") == "Security review: Settlement account for Romashka"
    )
    assert "waits for the security review" in task.get("description")
    assert bank.tasks_for("u-sec-s") == []
    [mail] = smtp_server.to("sec@bank.test")
    assert mail["Subject"] == "Security review: Settlement account for Romashka"
    assert task.get("date_due") is not None  # due in 8 working hours
    assert "INN 7707083893" in mail.get_content()
    assert smtp_server.to("sec-s@bank.test") == []

    bank.move("u-sec", app, "security_approved")
    [task] = bank.tasks_for("u-open")
    assert task.get("name").startswith("Ready for opening") and bank.tasks_for("u-open-s") == []
    bank.move("u-open", app, "opening_review")
    bank.move("u-open", app, "opened")

    rec = bank.app(app)
    number = rec.get("account_number")
    assert number.startswith("40702810") and number[9:13] == "0001" and check_account(number, BIK) is None
    assert rec.get("opened_on") is not None
    [done] = smtp_server.to("mgr@bank.test")
    assert (
        done["Subject"].endswith("Account opened: Settlement account for Romashka")
        and number in done.get_content()
    )

    log = bank.ctx.workflow.decisions.history(APPS, app)
    assert [(d.decision, d.acted_by_id, d.from_status, d.to_status) for d in log] == [
        ("submitted", "u-mgr", "Draft", "Security review"),
        ("approved", "u-sec", "Security review", "Approved by security"),
        ("taken into opening review", "u-open", "Approved by security", "Opening review"),
        ("opened", "u-open", "Opening review", "Account opened"),
    ]
    assert all(d.acted_at is not None and d.flow == "account_opening" for d in log)
    # shown in the application's Decisions subpanel (the relationship to the core's sx_Decisions)
    assert {r.id for r in bank.crm.related(APPS, app, "ao_applications_decisions", ["id"])} == {
        d.id for d in log
    }


def test_a_return_needs_a_comment_which_is_logged_and_the_box_emptied(bank):
    app = bank.application("u-mgr", bank.client("Romashka"), assigned_user_id="u-mgr")
    bank.move("u-mgr", app, "security_review")
    with pytest.raises(
        Refused,
        match=r"\(transition security_return\): write the reason into the decision "
        r"comment \(field decision_comment\) with this change\.",
    ):
        bank.move("u-sec", app, "returned")
    bank.move("u-sec", app, "returned", comment="The charter is missing")
    assert bank.status(app) == "returned" and bank.app(app).get("decision_comment") == ""
    last = bank.ctx.workflow.decisions.history(APPS, app)[-1]
    assert (last.decision, last.comment, last.acted_by_id) == ("returned", "The charter is missing", "u-sec")
    [task] = bank.tasks_for("u-mgr")
    assert "The charter is missing" in task.get("description")
    bank.move("u-mgr", app, "security_review")  # resubmitted
    assert bank.ctx.workflow.decisions.history(APPS, app)[-1].decision == "resubmitted"
    assert len(bank.tasks_for("u-sec")) == 2  # a Task per stage entered


def test_submitting_needs_complete_valid_requisites_named(bank):
    no_kpp = bank.client(
        "Half",
        requisites={**IP, "ao_legal_form_c": "ooo", "ao_inn_c": "7707083893", "ao_ogrn_c": "1027700132195"},
    )
    app = bank.application("u-mgr", no_kpp)
    with pytest.raises(
        Refused,
        match=r"from Draft to Security review \(transition submit\): the requisites of "
        r"the client Half are not complete: the KPP of an organisation is not "
        r"filled in \(field ao_kpp_c\)",
    ):
        bank.move("u-mgr", app, "security_review")
    nowhere = bank.client("Nowhere", address=False)
    app2 = bank.application("u-mgr", nowhere)
    with pytest.raises(Refused, match="no legal address"):
        bank.move("u-mgr", app2, "security_review")
    orphan = bank.application("u-mgr", None)
    with pytest.raises(Refused, match="the application has no client"):
        bank.move("u-mgr", orphan, "security_review")


def test_a_bad_requisite_is_refused_on_save_naming_the_field(bank):
    acc = bank.client("Romashka")
    with pytest.raises(
        Refused,
        match=r"Cannot save the account Romashka: INN 7707083894: the check digit is 3, "
        r"not 4 \(field ao_inn_c\)",
    ):
        bank.save("u-mgr", "Accounts", {"id": acc, "ao_inn_c": "7707083894"})
    assert bank.crm.get("Accounts", acc).get("ao_inn_c") == "7707083893"
    with pytest.raises(Refused, match=r"has no KPP .*\(field ao_kpp_c\)"):
        bank.save("u-mgr", "Accounts", {"id": acc, **IP, "ao_kpp_c": "773601001"})
    with pytest.raises(Refused, match=r"Cannot save the contact: .*\(field ao_passport_number_c\)"):
        bank.save("u-mgr", "Contacts", {**HOLDER, "ao_passport_number_c": "12"})
    with pytest.raises(Refused, match=r"Cannot save the address: postal code '1250': 6 digits"):
        bank.save("u-mgr", "ao_Addresses", {"kind": "legal", "postal_code": "1250", "city": "г. Москва"})
    with pytest.raises(Refused, match=r"Cannot save the licence: .*before the issue date"):
        bank.save(
            "u-mgr", "ao_Licences", {"number": "1", "issued_on": "2020-01-02", "valid_until": "2020-01-01"}
        )


def test_an_address_gets_its_full_text_composed(bank):
    acc = bank.client("Romashka")
    [addr] = bank.crm.records("ao_Addresses")
    assert addr.get("full_address") == "125009, г. Москва, ул. Тверская, д. 7, кв. 15"
    assert addr.get("name") == addr.get("full_address")  # it had no name
    bank.save("u-mgr", "ao_Addresses", {"id": addr.id, "house": "9"})
    assert (
        bank.crm.get("ao_Addresses", addr.id).get("full_address")
        == "125009, г. Москва, ул. Тверская, д. 9, кв. 15"
    )
    assert acc


@pytest.mark.parametrize("requisites,prefix", [(IP, "40802"), (NKO, "40703")])
def test_balance_account_follows_the_clients_legal_form(bank, requisites, prefix):
    app = bank.application("u-mgr", bank.client("Client", requisites=requisites), currency_code="840")
    bank.walk(app, "opened")
    number = bank.app(app).get("account_number")
    assert number.startswith(prefix + "840") and check_account(number, BIK) is None


def test_numbers_are_unique_and_a_redelivered_open_keeps_its_number(bank):
    acc = bank.client("Romashka")
    apps = [bank.application("u-mgr", acc) for _ in range(3)]
    for a in apps:
        bank.walk(a, "opened")
    numbers = [bank.app(a).get("account_number") for a in apps]
    assert len(set(numbers)) == 3
    assert [Series("40702", "810", "0001").sequence_of(n) for n in numbers] == [1, 2, 3]
    opened = next(
        e
        for e in reversed(bank.events)
        if e.module == APPS and e.changes.get("status") and e.changes["status"].after == "opened"
    )
    bank.deliver(opened)  # at least once: the same event again
    assert bank.app(opened.record_id).get("account_number") in numbers
    assert (
        len(
            [d for d in bank.ctx.workflow.decisions.history(APPS, opened.record_id) if d.decision == "opened"]
        )
        == 1
    )
    assert len(bank.tasks_for("u-sec")) == 3  # no second Task for a repeated event


def test_the_number_cannot_be_typed_in_and_the_content_is_frozen_under_review(bank):
    app = bank.application("u-mgr", bank.client("Romashka"))
    bank.move("u-mgr", app, "security_review")
    with pytest.raises(
        Refused,
        match="The account type of an application can only be changed while it is "
        "Draft or Returned for rework; this one is Security review",
    ):
        bank.save("u-mgr", APPS, {"id": app, "account_type": "payment_agent"})
    bank.walk(app, "opened")
    with pytest.raises(Refused, match="cannot be typed in or changed"):
        bank.save("1", APPS, {"id": app, "account_number": "40702810000010000001"})


def test_a_card_issue_application_follows_the_same_flow_for_an_opened_account(bank):
    acc = bank.client("Romashka")
    account_app = bank.application("u-mgr", acc)
    bank.walk(account_app, "opened")
    number = bank.app(account_app).get("account_number")

    card = bank.application(
        "u-mgr",
        acc,
        name="Corporate card",
        application_type="card_issue",
        card_type="corporate_debit",
        card_account_number=number,
        assigned_user_id="u-mgr",
    )
    with pytest.raises(Refused, match="a card-issue application needs the card holder"):
        bank.move("u-mgr", card, "security_review")
    bank.holder(card)
    bank.walk(card, "opened")
    rec = bank.app(card)
    assert rec.get("account_number") in ("", None) and rec.get("opened_on") is not None
    assert {d.flow for d in bank.ctx.workflow.decisions.history(APPS, card)} == {"card_issue"}

    other = bank.application(
        "u-mgr", acc, application_type="card_issue", card_account_number="40702810000010000001"
    )
    bank.holder(other)
    bank.walk(other, "opening_review")
    with pytest.raises(
        Refused,
        match=r"\(transition open\): account number 40702810000010000001: the control "
        r"key does not match BIK 044525225",
    ):
        bank.move("u-open", other, "opened")


def test_nobody_to_tell_leaves_a_note(bank):
    lonely = bank.client("Far away", group="Branch South")
    bank.crm.unrelate("SecurityGroups", bank.ids["Branch South"], "users", ["u-sec-s"])
    app = bank.application("u-mgr-s", lonely)
    bank.move("u-mgr-s", app, "security_review")
    [note] = [n for n in bank.crm.records("Notes") if n.get("parent_id") == app]
    assert "no active user is the role Security officer in the record's groups" in note.get("description")


def test_polling_only_reverts_a_forbidden_change_with_a_note(tmp_path, smtp_server):
    from ao_kit import make_bank

    bank = make_bank(tmp_path, smtp_server.port, polling_only=True)
    bank.no_validation = True
    app = bank.application("u-mgr", bank.client("Romashka"))
    bank.move("u-sec", app, "security_review")  # the wrong role: nothing stops the save ...
    assert bank.status(app) == "draft"  # ... but it is put back
    [note] = [n for n in bank.crm.records("Notes") if n.get("parent_id") == app]
    assert note.get("name") == "Status change to Security review reverted"
    assert "only a user with the role Personal manager may do this; Sergey Security has" in note.get(
        "description"
    )
    [entry] = bank.ctx.workflow.decisions.history(APPS, app)
    assert entry.decision == "refused (reverted)" and entry.acted_by_id == "u-sec"
    assert bank.tasks_for("u-sec") == []
    bank.move("u-mgr", app, "security_review")  # the right role: kept, and the next role told
    assert bank.status(app) == "security_review" and len(bank.tasks_for("u-sec")) == 1
    bank.ctx.app.close()
