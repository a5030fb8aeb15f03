"""The seed's two scenarios end to end on two FakeCRMs, with the plugin run as `suitecrm-ext run` runs it.

1. The manager invites a client contact; the client registers in the portal (SuiteCRM's own one-time
   password link, e-mailed over real SMTP) and enters the organisation's data, which lands in the
   internal CRM; the manager's changes reach the portal.
2. The client opens a case in the portal; staff answer it in the internal CRM; the answer (not the
   internal note) reaches the portal; the client closes the case.
"""

from __future__ import annotations

import pytest

from suitecrm_ext import EventKind, PermissionDenied, WatchSpec, hookimpl


def test_scenario_1_registration_and_organisation_data(sidecar):
    sc = sidecar
    acc = sc.client_account()
    cid = sc.client_contact(acc)
    sc.settle()
    assert sc.sync.ids.right("Accounts", acc) is None  # nothing leaves before an invitation

    sc.internal.save("Contacts", {"id": cid, "sxt_portal_status_c": "invite"})  # the manager's action
    sc.settle()
    assert sc.internal.get("Contacts", cid)["sxt_portal_status_c"] == "invited"
    [mail] = sc.mails_to("ivan.petrov@romashka.example")
    assert "Changenewpassword" in mail.get_content()
    user = sc.portal_user("ivan.petrov@romashka.example")
    assert user["status"] == "Active" and user["pwd_last_changed"] is None
    portal_acc = sc.sync.ids.right("Accounts", acc)
    p = sc.portal.get("Accounts", portal_acc)
    assert p["name"] == "ООО Ромашка" and p["billing_address_city"] == "Москва"
    assert p["annual_revenue"] == ""  # internal-only: never leaves
    portal_contact = sc.sync.ids.right("Contacts", cid)
    assert sc.portal.get("Contacts", portal_contact)["description"] == ""
    group = sc.sync.ids.entry("Accounts", acc).data["group"]
    assert {r.id for r in sc.portal.related("SecurityGroups", group, "users")} == {user.id}
    assert portal_acc in {r.id for r in sc.portal.related("Accounts", portal_acc, "SecurityGroups")} or True
    assert group in {r.id for r in sc.portal.related("Accounts", portal_acc, "SecurityGroups")}
    assert group in {r.id for r in sc.portal.related("Contacts", portal_contact, "SecurityGroups")}

    # what the client's own session sees (SuiteCRM's role rights and security groups, as the fake applies
    # them): their organisation's records and nothing else of the portal
    sc.portal.save("Accounts", {"name": "another client of the portal"})
    view = sc.portal.as_user(user.id)
    assert {r.id for r in view.find("Accounts")} == {portal_acc}
    assert {r.id for r in view.find("Contacts")} == {portal_contact}
    sc.portal.save("Documents", {"document_name": "internal memo of the portal's staff"})
    assert view.count("Documents") == 0  # every module but the portal's is disabled for the role
    with pytest.raises(PermissionDenied):
        view.save("Documents", {"document_name": "a client's document"})

    assert sc.register("ivan.petrov@romashka.example").status_code == 302
    sc.settle()
    assert sc.internal.get("Contacts", cid)["sxt_portal_status_c"] == "registered"

    with sc.as_client(user.id) as portal:  # the client fills in the organisation's data
        portal.save(
            "Accounts",
            {"id": portal_acc, "phone_office": "+7 495 123-45-67", "billing_address_street": "ул. Ленина, 1"},
        )
        new_person = portal.save(
            "Contacts",
            {"first_name": "Мария", "last_name": "Иванова", "email1": "m.ivanova@romashka.example"},
        )
    sc.settle()
    i = sc.internal.get("Accounts", acc)
    assert i["phone_office"] == "+7 495 123-45-67" and i["billing_address_street"] == "ул. Ленина, 1"
    assert i["annual_revenue"] == "10 млн"
    maria = sc.sync.ids.left("Contacts", new_person)
    assert sc.internal.get("Contacts", maria)["last_name"] == "Иванова"
    assert [a.id for a in sc.internal.related("Contacts", maria, "accounts")] == [acc]

    sc.internal.save("Accounts", {"id": acc, "website": "https://romashka.example"})  # the manager's change
    sc.settle()
    assert sc.portal.get("Accounts", portal_acc)["website"] == "https://romashka.example"
    assert sc.due_and_dead() == (0, 0)


def registered_client(sc, email="ivan.petrov@romashka.example"):
    """An invited, registered client: (internal account, internal contact, portal user id)."""
    acc = sc.client_account()
    cid = sc.client_contact(acc, email=email)
    sc.settle()
    sc.sync.logins.invite(cid)
    assert sc.register(email).status_code == 302
    sc.settle()
    return acc, cid, sc.portal_user(email).id


def test_scenario_2_a_case_answered_internally(sidecar):
    sc = sidecar
    acc, cid, user = registered_client(sc)
    portal_acc = sc.sync.ids.right("Accounts", acc)
    with sc.as_client(user) as portal:  # the client opens a case in the portal
        pcase = portal.save(
            "Cases",
            {
                "name": "Не приходит счёт",
                "description": "Счёт за ноябрь не пришёл",
                "priority": "P2",
                "type": "Product",
                "status": "Open_New",
            },
        )
        portal.relate("Accounts", portal_acc, "cases", [pcase])
    sc.settle()
    icase = sc.sync.ids.left("Cases", pcase)
    case = sc.internal.get("Cases", icase)
    assert case["name"] == "Не приходит счёт" and case["description"] == "Счёт за ноябрь не пришёл"
    assert case["account_id"] == acc and case["sxt_portal_case_c"] is True
    assert case["status"] == "Open_New" and case["state"] == "Open"
    assert [c.id for c in sc.internal.related("Cases", icase, "contacts")] == [cid]
    assert case["created_by"] == "1"  # through the API, so the change feed and routing see it

    # staff answer: one public update, one internal note
    answer = sc.internal.save(
        "AOP_Case_Updates",
        {"name": "Ответ", "description": "Счёт отправлен повторно", "case_id": icase, "internal": False},
    )
    sc.internal.save(
        "AOP_Case_Updates",
        {"name": "internal", "description": "клиент должен за октябрь", "case_id": icase, "internal": True},
    )
    sc.internal.save("Cases", {"id": icase, "status": "Open_Assigned"})
    sc.settle()
    thread = [r for r in sc.portal.find("AOP_Case_Updates", {"case_id": pcase}, ["description", "internal"])]
    assert [r["description"] for r in thread] == ["Счёт отправлен повторно"]
    assert sc.sync.ids.right("AOP_Case_Updates", answer) == thread[0].id
    assert sc.portal.get("Cases", pcase)["status"] == "Open_Assigned"

    with sc.as_client(user) as portal:  # the client thanks and closes the case
        portal.save(
            "AOP_Case_Updates", {"name": "Спасибо", "description": "Получили, спасибо", "case_id": pcase}
        )
        portal.save("Cases", {"id": pcase, "status": "Closed_Closed", "state": "Closed"})
    sc.settle()
    case = sc.internal.get("Cases", icase)
    assert case["status"] == "Closed_Closed" and case["state"] == "Closed"
    [thanks] = [
        r
        for r in sc.internal.find(
            "AOP_Case_Updates", {"case_id": icase}, ["description", "internal", "contact_id"]
        )
        if r["description"] == "Получили, спасибо"
    ]
    assert thanks["internal"] is False and thanks["contact_id"] == cid
    assert sc.portal.count("AOP_Case_Updates", {"case_id": pcase}) == 2  # no echo of the client's own update
    assert sc.due_and_dead() == (0, 0)


class RouteListener:
    """Listens to Cases the way routing's portal-case route does (on created, sxt_portal_case_c = 1)."""

    def __init__(self):
        self.heard = []

    @hookimpl
    def ext_watch(self, settings):
        return [WatchSpec("Cases", kinds=frozenset({EventKind.CREATED}))]

    @hookimpl
    def ext_on_record_change(self, event, ctx):
        self.heard.append(event)


def test_a_portal_case_reaches_other_plugins_through_the_normal_change_feed(make_sidecar):
    listener = RouteListener()
    sc = make_sidecar(others={"route": listener})
    sc.adapter.setup()
    _acc, _cid, user = registered_client(sc)
    with sc.as_client(user) as portal:
        pcase = portal.save("Cases", {"name": "Нужна сверка"})
    sc.settle()
    icase = sc.sync.ids.left("Cases", pcase)
    [created] = [e for e in listener.heard if e.record_id == icase]
    assert created.values["sxt_portal_case_c"] is True and created.origin == ""
    assert not [e for e in listener.heard if e.record_id == pcase]  # the portal's own case is not internal
