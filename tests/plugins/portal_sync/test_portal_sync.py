"""The plugin's behaviour between two FakeCRMs: echo suppression, conflicts, ownership, untrusted portal
data, organisation isolation, logins, files — each through the same event pipeline `run` uses."""

from __future__ import annotations

import dataclasses

import pytest
from test_portal_scenarios import registered_client

from plugins.portal_sync.engine import SyncProblem


def writes(crm) -> int:
    return sum(
        1
        for c in crm.calls
        if c[0] in ("save", "create", "insert", "save_many", "relate", "delete", "set_attachment")
    )


def test_a_write_made_by_the_sync_is_not_synced_back(sidecar):
    sc = sidecar
    acc, cid, user = registered_client(sc)
    portal_acc = sc.sync.ids.right("Accounts", acc)
    sc.internal.save("Accounts", {"id": acc, "phone_office": "+7 1"})
    sc.cycle()  # the change goes out ...
    assert sc.portal.get("Accounts", portal_acc)["phone_office"] == "+7 1"
    before_i, before_p = writes(sc.internal), writes(sc.portal)
    sc.settle()  # ... and its echo from the portal's feed changes nothing anywhere
    assert (writes(sc.internal), writes(sc.portal)) == (before_i, before_p)
    with sc.as_client(user) as portal:
        portal.save("Accounts", {"id": portal_acc, "phone_fax": "+7 2"})
    sc.cycle()
    assert sc.internal.get("Accounts", acc)["phone_fax"] == "+7 2"
    before_i, before_p = writes(sc.internal), writes(sc.portal)
    sc.settle()
    assert (writes(sc.internal), writes(sc.portal)) == (before_i, before_p)
    assert sc.sync.journal.counts() == {"conflicts": 0, "refusals": 0}


def test_the_same_event_twice_changes_nothing_the_second_time(sidecar):
    sc = sidecar
    acc, _cid, user = registered_client(sc)
    portal_acc = sc.sync.ids.right("Accounts", acc)
    with sc.as_client(user) as portal:
        portal.save("Accounts", {"id": portal_acc, "website": "https://r.example"})
    sc.settle()
    before = writes(sc.internal), writes(sc.portal)
    sc.sync.orgs.portal_changed("Accounts", portal_acc)  # a redelivery
    sc.sync.orgs.internal_changed("Accounts", acc, __import__("suitecrm_ext").EventKind.UPDATED)
    assert (writes(sc.internal), writes(sc.portal)) == before


def test_a_conflict_is_settled_by_the_fields_rule_recorded_and_the_manager_gets_a_task(sidecar):
    sc = sidecar
    acc, _cid, user = registered_client(sc)
    portal_acc = sc.sync.ids.right("Accounts", acc)
    # both sides change name (internal_wins_task) and phone (portal_wins) between two syncs
    sc.internal.save("Accounts", {"id": acc, "name": "ООО Ромашка-М", "phone_office": "+7 111"})
    with sc.as_client(user) as portal:
        portal.save("Accounts", {"id": portal_acc, "name": "ООО Ромашка Плюс", "phone_office": "+7 222"})
    sc.settle()
    i, p = sc.internal.get("Accounts", acc), sc.portal.get("Accounts", portal_acc)
    assert i["name"] == p["name"] == "ООО Ромашка-М"
    assert i["phone_office"] == p["phone_office"] == "+7 222"
    conflicts = {c["field"]: c for c in sc.sync.journal.conflicts()}
    assert set(conflicts) == {"name", "phone_office"}
    name = conflicts["name"]
    assert (name["base"], name["internal"], name["portal"], name["winner"]) == (
        "ООО Ромашка",
        "ООО Ромашка-М",
        "ООО Ромашка Плюс",
        "internal",
    )
    task = sc.internal.get("Tasks", name["task_id"])
    assert task["parent_id"] == acc and task["assigned_user_id"] == "1"
    assert "ООО Ромашка Плюс" in task["description"]
    assert conflicts["phone_office"]["task_id"] is None  # portal_wins: no review needed
    sc.settle()
    sc.sync.orgs.sync_pair("Accounts", acc)
    assert len(sc.sync.journal.conflicts()) == 2 and sc.internal.count("Tasks") == 1  # recorded once


def test_the_group_is_renamed_with_the_account(sidecar):
    sc = sidecar
    acc, _cid, _user = registered_client(sc)
    sc.internal.save("Accounts", {"id": acc, "name": "АО Ромашка"})
    sc.settle()
    group = sc.sync.ids.entry("Accounts", acc).data["group"]
    assert sc.portal.get("SecurityGroups", group)["name"] == "Client: АО Ромашка"


def test_field_ownership_undoes_the_other_sides_change(make_sidecar):
    sc = make_sidecar(
        organisation={
            "Accounts": {
                "fields": {
                    "name": {"owner": "internal"},
                    "phone_office": {"owner": "portal", "conflict": "portal_wins"},
                }
            }
        }
    )
    sc.adapter.setup()
    acc, _cid, user = registered_client(sc)
    portal_acc = sc.sync.ids.right("Accounts", acc)
    with sc.as_client(user) as portal:
        portal.save("Accounts", {"id": portal_acc, "name": "Hacked name", "phone_office": "+7 333"})
    sc.settle()
    assert sc.portal.get("Accounts", portal_acc)["name"] == "ООО Ромашка"  # undone in the portal
    assert sc.internal.get("Accounts", acc)["phone_office"] == "+7 333"
    sc.internal.save("Accounts", {"id": acc, "phone_office": "+7 444"})  # the portal owns it
    sc.settle()
    assert sc.internal.get("Accounts", acc)["phone_office"] == "+7 333"
    reasons = [r["reason"] for r in sc.sync.journal.refusals()]
    assert any("owned by the internal CRM" in r for r in reasons)
    assert any("owned by the portal" in r for r in reasons)


def test_bad_portal_data_changes_nothing_and_is_recorded(sidecar):
    sc = sidecar
    acc, _cid, user = registered_client(sc)
    portal_acc = sc.sync.ids.right("Accounts", acc)
    # the portal's SuiteCRM keeps these fields longer than the internal one does (a SuiteCRM cuts a value
    # to its own column's length: a portal with the same lengths could not hand over a longer value)
    wide = [dataclasses.replace(sc.portal.fields("Accounts")[n], length=255)
            for n in ("phone_office", "billing_address_city")]
    sc.portal.add_fields("Accounts", wide)
    with sc.as_client(user) as portal:
        portal.save(
            "Accounts",
            {
                "id": portal_acc,
                "phone_office": "+7 495 " + "1" * 120,  # longer than the internal varchar(100)
                "website": "https://ok.example",
                "billing_address_city": "Москва" * 40,
            },
        )
    sc.settle()
    i = sc.internal.get("Accounts", acc)
    assert i["phone_office"] == "+7 495 000-00-01" and i["website"] == ""  # nothing of the record applied
    p = sc.portal.get("Accounts", portal_acc)
    assert p["website"] == "https://ok.example"  # and the client's input is not overwritten either
    problems = {r["field"]: r["reason"] for r in sc.sync.journal.refusals()}
    assert "at most 100" in problems["phone_office"]  # (control characters: test_portal_validation)
    assert "at most 100" in problems["billing_address_city"]
    with sc.as_client(user) as portal:  # the client fixes it
        portal.save("Accounts", {"id": portal_acc, "phone_office": "+7 555", "billing_address_city": "Тверь"})
    sc.settle()
    i = sc.internal.get("Accounts", acc)
    assert (i["phone_office"], i["website"], i["billing_address_city"]) == (
        "+7 555",
        "https://ok.example",
        "Тверь",
    )


def test_a_portal_user_cannot_change_another_organisations_records(sidecar):
    sc = sidecar
    acc_a, _cid_a, user_a = registered_client(sc, "a@romashka.example")
    acc_b = sc.client_account("ЗАО Василёк")
    cid_b = sc.client_contact(acc_b, "Олег", "Сидоров", "oleg@vasilek.example")
    sc.settle()
    sc.sync.logins.invite(cid_b)
    sc.settle()
    portal_b = sc.sync.ids.right("Accounts", acc_b)
    assert portal_b not in {r.id for r in sc.portal.as_user(user_a).find("Accounts")}  # SuiteCRM's ACL
    # and were the portal's ACL misconfigured, or the data forged: the sync refuses it on its own
    with sc.as_client(user_a) as portal:  # a login of organisation A writes into B's Account
        portal.save("Accounts", {"id": portal_b, "name": "Owned by A", "phone_office": "+7 666"})
        # and opens a case and a contact claiming B's Account
        case = portal.save("Cases", {"name": "A's case", "account_id": portal_b})
        person = portal.save("Contacts", {"last_name": "Intruder", "account_id": portal_b})
    sc.settle()
    b = sc.internal.get("Accounts", acc_b)
    assert (b["name"], b["phone_office"]) == ("ЗАО Василёк", "+7 495 000-00-01")
    assert any("another organisation" in r["reason"] for r in sc.sync.journal.refusals())
    icase = sc.sync.ids.left("Cases", case)
    assert sc.internal.get("Cases", icase)["account_id"] == acc_a  # the login's organisation, not the ids'
    iperson = sc.sync.ids.left("Contacts", person)
    assert [a.id for a in sc.internal.related("Contacts", iperson, "accounts")] == [acc_a]
    assert sc.portal.get("Cases", case)["account_id"] == sc.sync.ids.right("Accounts", acc_a)


def test_disabling_the_contact_disables_the_login_and_invite_enables_it_again(sidecar):
    sc = sidecar
    acc, cid, user = registered_client(sc)
    sc.internal.save("Contacts", {"id": cid, "sxt_portal_status_c": "disabled"})
    sc.settle()
    assert sc.portal.get("Users", user)["status"] == "Inactive"
    assert sc.internal.get("Contacts", cid)["sxt_portal_status_c"] == "disabled"
    sc.internal.save("Contacts", {"id": cid, "sxt_portal_status_c": "invite"})
    sc.settle()
    assert sc.portal.get("Users", user)["status"] == "Active"
    assert sc.internal.get("Contacts", cid)["sxt_portal_status_c"] == "invited"
    assert len(sc.mails_to("ivan.petrov@romashka.example")) == 2  # a new link
    assert sc.portal.count("Users", {"user_name": "ivan.petrov@romashka.example"}) == 1


def test_deleting_the_contact_or_the_account_locks_the_client_out(sidecar):
    sc = sidecar
    acc, cid, user = registered_client(sc)
    sc.internal.delete("Contacts", cid)
    sc.settle()
    assert sc.portal.get("Users", user)["status"] == "Inactive"
    acc2, cid2, user2 = registered_client(sc, "olga@romashka2.example")
    sc.internal.delete("Accounts", acc2)
    sc.settle()
    assert sc.portal.get("Users", user2)["status"] == "Inactive"


@pytest.mark.parametrize(
    "change,why",
    [
        ({"email1": ""}, "valid e-mail address"),
        ({"email1": "not-an-address"}, "valid e-mail address"),
        ("no account", "belongs to no Account"),
    ],
)
def test_an_invitation_that_cannot_be_done_says_why_and_sends_nothing(sidecar, change, why):
    sc = sidecar
    acc = sc.client_account()
    if change == "no account":
        cid = sc.internal.save("Contacts", {"last_name": "Loner", "email1": "loner@example.com"})
    else:
        cid = sc.client_contact(acc, **change) if "email1" not in change else sc.client_contact(acc)
        sc.internal.save("Contacts", {"id": cid, **change})
    with pytest.raises(SyncProblem, match=why):
        sc.sync.logins.invite(cid)
    assert sc.sink.messages == [] and sc.portal.count("Users") == 1  # only the portal's admin
    sc.internal.save("Contacts", {"id": cid, "sxt_portal_status_c": "invite"})  # the same from the UI
    sc.settle()
    assert any(why in r["reason"] for r in sc.sync.journal.refusals())
    assert sc.due_and_dead() == (0, 0)  # recorded for the manager, not retried forever


def test_the_user_name_taken_in_the_portal_is_refused(sidecar):
    sc = sidecar
    sc.portal.save("Users", {"user_name": "ivan.petrov@romashka.example", "last_name": "Other"})
    acc = sc.client_account()
    cid = sc.client_contact(acc)
    with pytest.raises(SyncProblem, match="already has a user named"):
        sc.sync.logins.invite(cid)


def test_files_go_both_ways_and_internal_ones_stay_internal(sidecar):
    sc = sidecar
    acc, cid, user = registered_client(sc)
    with sc.as_client(user) as portal:
        pcase = portal.save("Cases", {"name": "Акт сверки"})
    sc.settle()
    icase = sc.sync.ids.left("Cases", pcase)
    with sc.as_client(user) as portal:  # the client attaches a scan
        pnote = portal.save("Notes", {"name": "скан", "parent_type": "Cases", "parent_id": pcase})
        portal.set_attachment(pnote, "акт.pdf", b"%PDF-1.4 client scan")
    sc.settle()
    inote = sc.sync.ids.left("Notes", pnote)
    assert sc.internal.get_attachment(inote).content == b"%PDF-1.4 client scan"
    n = sc.internal.get("Notes", inote)
    assert (n["parent_type"], n["parent_id"], n["contact_id"]) == ("Cases", icase, cid)
    staff = sc.internal.save(
        "Notes", {"name": "подписанный акт", "parent_type": "Cases", "parent_id": icase, "portal_flag": True}
    )
    sc.internal.set_attachment(staff, "акт-подписан.pdf", b"%PDF-1.4 signed")
    private = sc.internal.save(
        "Notes", {"name": "внутренняя", "parent_type": "Cases", "parent_id": icase, "portal_flag": False}
    )
    sc.internal.set_attachment(private, "internal.pdf", b"%PDF-1.4 internal")
    sc.settle()
    out = sc.sync.ids.right("Notes", staff)
    assert sc.portal.get_attachment(out).content == b"%PDF-1.4 signed"
    assert sc.sync.ids.right("Notes", private) is None
    assert sc.portal.count("Notes") == 2
    group = sc.sync.ids.entry("Accounts", acc).data["group"]
    assert group in {g.id for g in sc.portal.related("Notes", out, "SecurityGroups")}


def test_a_too_big_or_badly_named_file_from_the_portal_is_refused(make_sidecar):
    sc = make_sidecar(cases={"max_attachment_bytes": 10})
    sc.adapter.setup()
    _acc, _cid, user = registered_client(sc)
    with sc.as_client(user) as portal:
        pcase = portal.save("Cases", {"name": "files"})
    sc.settle()
    with sc.as_client(user) as portal:
        big = portal.save("Notes", {"name": "big", "parent_type": "Cases", "parent_id": pcase})
        portal.set_attachment(big, "big.bin", b"x" * 11)
    sc.settle()
    assert sc.sync.ids.left("Notes", big) is None and sc.internal.count("Notes") == 0
    assert any("at most 10" in r["reason"] for r in sc.sync.journal.refusals())


def test_an_internal_update_made_public_later_goes_out_and_one_made_internal_is_withdrawn(sidecar):
    sc = sidecar
    _acc, _cid, user = registered_client(sc)
    with sc.as_client(user) as portal:
        pcase = portal.save("Cases", {"name": "вопрос"})
    sc.settle()
    icase = sc.sync.ids.left("Cases", pcase)
    upd = sc.internal.save(
        "AOP_Case_Updates", {"name": "x", "description": "draft", "case_id": icase, "internal": True}
    )
    sc.settle()
    assert sc.portal.count("AOP_Case_Updates") == 0
    sc.internal.save("AOP_Case_Updates", {"id": upd, "internal": False})
    sc.settle()
    assert sc.portal.count("AOP_Case_Updates") == 1
    sc.internal.save("AOP_Case_Updates", {"id": upd, "internal": True})
    sc.settle()
    assert sc.portal.count("AOP_Case_Updates") == 0


def test_a_client_may_only_close_or_reopen(sidecar):
    sc = sidecar
    _acc, _cid, user = registered_client(sc)
    with sc.as_client(user) as portal:
        pcase = portal.save("Cases", {"name": "status"})
    sc.settle()
    icase = sc.sync.ids.left("Cases", pcase)
    with sc.as_client(user) as portal:
        portal.save("Cases", {"id": pcase, "status": "Closed_Rejected"})
    sc.settle()
    assert sc.internal.get("Cases", icase)["status"] == "Open_New"
    assert sc.portal.get("Cases", pcase)["status"] == "Open_New"  # undone: the portal shows the real one
    with sc.as_client(user) as portal:
        portal.save("Cases", {"id": pcase, "status": "Closed_Closed"})
    sc.settle()
    assert sc.internal.get("Cases", icase)["status"] == "Closed_Closed"
    with sc.as_client(user) as portal:
        portal.save("Cases", {"id": pcase, "status": "Open_New"})  # reopened
    sc.settle()
    case = sc.internal.get("Cases", icase)
    assert (case["status"], case["state"]) == ("Open_New", "Open")


def test_publish_all_sends_every_account_and_resync_catches_up(make_sidecar):
    from plugins.portal_sync import resync

    sc = make_sidecar(organisation={"publish": "all"})
    accounts = [sc.client_account(f"Client {i}") for i in range(5)]
    sc.settle()
    assert all(sc.sync.ids.right("Accounts", a) for a in accounts)
    assert sc.portal.count("Accounts") == 5
    # the portal lost a change (the sidecar was down longer than the re-scan): resync makes it right
    pid = sc.sync.ids.right("Accounts", accounts[0])
    sc.internal.save("Accounts", {"id": accounts[0], "website": "https://late.example"})
    plan = resync.plan(sc.sync, ("Accounts",))
    assert plan.total == 5
    result = resync.run(sc.sync, plan)
    assert result == {"Accounts": {"synced": 5, "failed": 0}}
    assert sc.portal.get("Accounts", pid)["website"] == "https://late.example"
    assert sc.portal.count("Accounts") == 5


@pytest.mark.parametrize("side", ["Contacts", "Accounts"])
def test_a_contact_related_to_a_published_account_after_its_save_is_published(make_sidecar, side):
    # push delivers the Contact's "created" before the REST set_relationship / subpanel select that links
    # it; the "related" event (either side's after_relationship_add) is what publishes it
    import datetime as dt

    from suitecrm_ext import Event, EventKind

    sc = make_sidecar(organisation={"publish": "all"})
    acc = sc.client_account("Client R")
    sc.settle()
    cid = sc.internal.save("Contacts", {"first_name": "Пётр", "last_name": "Связанный"})
    now = dt.datetime.now(dt.timezone.utc)
    sc.sync.handle(Event("Contacts", cid, EventKind.CREATED, now, source="push"))
    assert sc.sync.ids.right("Contacts", cid) is None  # no Account yet: nothing to publish
    sc.internal.relate("Contacts", cid, "accounts", [acc])
    if side == "Contacts":
        related = Event("Contacts", cid, EventKind.RELATED, now, source="push", link="accounts",
                        related_module="Accounts", related_id=acc)
    else:
        related = Event("Accounts", acc, EventKind.RELATED, now, source="push", link="contacts",
                        related_module="Contacts", related_id=cid)
    assert any(spec.matches(related) for spec in sc.sync.watch_specs())
    sc.sync.handle(related)
    pid = sc.sync.ids.right("Contacts", cid)
    assert pid is not None and sc.portal.get("Contacts", pid)["last_name"] == "Связанный"
    # a relationship to something else is not an organisation change
    other = Event("Accounts", acc, EventKind.RELATED, now, source="push", link="opportunities",
                  related_module="Opportunities", related_id=cid)
    sc.sync.handle(other)
    assert sc.portal.count("Contacts") == 1


@pytest.mark.parametrize("die_after", ["link_many", "create_many", "update_many"])
def test_the_initial_sync_in_batches_resumes_without_duplicates(make_sidecar, die_after):
    from plugins.portal_sync import resync

    class Kill(BaseException):
        pass

    sc = make_sidecar(organisation={"publish": "all"})
    accounts = sc.internal.save_many("Accounts", [{"name": f"Client {i:04d}"} for i in range(250)])
    target = {"link_many": sc.sync.ids, "update_many": sc.sync.ids, "create_many": sc.portal}[die_after]
    original = getattr(target, die_after)
    calls = []

    def dying(*a, **kw):
        result = original(*a, **kw)
        calls.append(1)
        if len(calls) == 2:  # the second batch's step is done, then the process dies
            raise Kill()
        return result

    setattr(target, die_after, dying)
    with pytest.raises(Kill):
        resync.run(sc.sync, resync.plan(sc.sync, ("Accounts",)))
    setattr(target, die_after, original)
    sc.restart()
    result = resync.run(sc.sync, resync.plan(sc.sync, ("Accounts",)))
    assert result["Accounts"]["failed"] == 0
    assert sc.portal.count("Accounts") == 250
    assert sorted(r["name"] for r in sc.portal.find("Accounts", fields=["name"])) == [
        f"Client {i:04d}" for i in range(250)
    ]
    assert all(sc.sync.ids.entry("Accounts", a).data["state"] == "ok" for a in accounts)
