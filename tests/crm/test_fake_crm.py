"""FakeCRM beyond the contract: the registry and the helpers plugin tests use."""

from __future__ import annotations

import datetime as dt

import pytest

import suitecrm_ext.testing
from suitecrm_ext.crm.base import FieldInfo, NotFound, PermissionDenied, ValidationError
from suitecrm_ext.crm.fake import FakeCRM


def test_testing_kit_exports_it(fake_crm):
    assert suitecrm_ext.testing.FakeCRM is FakeCRM
    assert isinstance(fake_crm, FakeCRM)
    assert "Accounts" in fake_crm.modules()


def test_stock_modules_subset_and_unknown_names():
    crm = FakeCRM(["Accounts", "Contacts"])
    assert crm.modules() == ["Accounts", "Contacts"]
    assert crm.links("Accounts")["contacts"] == "Contacts"
    assert "cases" not in crm.links("Accounts")  # Cases is not there
    with pytest.raises(ValueError, match="not stock modules: Nope"):
        FakeCRM(["Accounts", "Nope"])
    with pytest.raises(ValueError, match="page_size"):
        FakeCRM(page_size=0)


def test_admin_user_exists():
    crm = FakeCRM()
    admin = crm.get("Users", "1")
    assert admin["user_name"] == "admin" and admin["is_admin"] is True


def test_add_module_with_basic_fields_table_and_defaults():
    crm = FakeCRM(["Accounts"])
    crm.add_module("CA_Actions", [FieldInfo("kind", "enum", options=("voting", "approval")),
                                  FieldInfo("due", "date"), FieldInfo("done", "bool")],
                   defaults={"kind": "voting"})
    assert crm.table("CA_Actions") == "ca_actions"
    f = crm.fields("CA_Actions")
    assert {"id", "name", "date_entered", "date_modified", "deleted", "assigned_user_id"} <= set(f)
    rid = crm.save("CA_Actions", {"name": "vote", "due": "2026-12-01", "done": "1"})
    rec = crm.get("CA_Actions", rid)
    assert (rec["kind"], rec["due"], rec["done"]) == ("voting", dt.date(2026, 12, 1), True)
    crm.add_module("Other", {"code": FieldInfo("code", "varchar")}, table="x_other")
    assert crm.table("Other") == "x_other"
    with pytest.raises(ValueError, match="unknown fields: nope"):
        crm.add_module("Bad", [], defaults={"nope": 1})
    with pytest.raises(TypeError):
        crm.add_module("Bad", ["not a FieldInfo"])


def test_add_link_both_sides_and_one_to_many():
    crm = FakeCRM(["Accounts"])
    crm.add_module("Payments", [FieldInfo("account_id", "id"), FieldInfo("amount", "decimal")])
    crm.add_link("Accounts", "payments", "Payments", "account", one_to_many=True, id_field="account_id")
    a1, a2 = crm.save("Accounts", {"name": "A1"}), crm.save("Accounts", {"name": "A2"})
    p = crm.save("Payments", {"amount": "10.00"})
    crm.relate("Payments", p, "account", [a1])
    assert crm.get("Payments", p)["account_id"] == a1
    crm.relate("Accounts", a2, "payments", [p])  # moves it
    assert [r.id for r in crm.related("Payments", p, "account")] == [a2]
    assert crm.get("Payments", p)["account_id"] == a2
    crm.unrelate("Accounts", a2, "payments", [p])
    assert crm.get("Payments", p)["account_id"] == ""
    with pytest.raises(ValueError, match="no field 'nope'"):
        crm.add_link("Accounts", "x", "Payments", id_field="nope")
    with pytest.raises(NotFound):
        crm.add_link("Accounts", "x", "Nowhere")


def test_records_include_deleted_and_calls_are_logged():
    crm = FakeCRM(page_size=2)
    ids = crm.save_many("Accounts", [{"name": f"a{i}"} for i in range(5)])
    crm.delete("Accounts", ids[0])
    crm.calls.clear()
    assert len(list(crm.find("Accounts", fields=["name"]))) == 4
    assert [c for c in crm.calls if c[0] == "find_page"] == [
        ("find_page", "Accounts", 0, 2), ("find_page", "Accounts", 2, 2), ("find_page", "Accounts", 4, 0)]
    assert len(crm.records("Accounts")) == 5
    assert {r.id: r.deleted for r in crm.records("Accounts")}[ids[0]] is True
    crm.calls.clear()
    crm.save_many("Accounts", [{"name": "x"}, {"name": "y"}])
    assert crm.calls == [("save_many", "Accounts", 2)]  # one call, not one per record


def test_acting_user_and_clock():
    now = dt.datetime(2026, 3, 1, 12, 0, 0, 500000)  # naive = UTC
    crm = FakeCRM(clock=lambda: now)
    crm.user_id = "seed_sally_id"
    rid = crm.save("Accounts", {"name": "A"})
    crm.user_id = "seed_max_id"
    crm.save("Accounts", {"id": rid, "name": "B"})
    rec = crm.get("Accounts", rid)
    assert (rec["created_by"], rec["modified_user_id"]) == ("seed_sally_id", "seed_max_id")
    assert rec["date_entered"] == dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.timezone.utc)


def test_insert_with_known_id():
    crm = FakeCRM()
    assert crm.insert("Accounts", {"id": "acc-1", "name": "Known"}) == "acc-1"
    assert crm.get("Accounts", "acc-1")["name"] == "Known"
    with pytest.raises(ValidationError, match="already exists"):
        crm.insert("Accounts", {"id": "acc-1", "name": "Again"})
    assert crm.get("Accounts", "acc-1")["name"] == "Known"


def test_stock_defaults_on_create():
    crm = FakeCRM()
    case = crm.get("Cases", crm.save("Cases", {"name": "c"}))
    task = crm.get("Tasks", crm.save("Tasks", {"name": "t", "priority": "High"}))
    assert case["state"] == "Open" and task["status"] == "Not Started"
    assert crm.get("Tasks", crm.save("Tasks", {"name": "u", "status": "Completed"}))["status"] == "Completed"


def test_bad_values_are_refused_naming_fields():
    crm = FakeCRM()
    with pytest.raises(ValidationError) as err:
        crm.save("Cases", {"name": "c", "case_number": "twelve", "date_entered": "someday"})
    assert sorted(err.value.fields) == ["case_number", "date_entered"]
    with pytest.raises(ValidationError, match="mapping"):
        crm.save("Cases", ["name", "c"])  # type: ignore[arg-type]
    assert crm.count("Cases") == 0


def test_records_are_copies():
    crm = FakeCRM()
    rid = crm.save("Accounts", {"name": "A"})
    rec = crm.get("Accounts", rid)
    rec.values["name"] = "changed"
    assert crm.get("Accounts", rid)["name"] == "A"


def test_limit_zero_and_order_strings():
    crm = FakeCRM()
    crm.save_many("Accounts", [{"name": "b"}, {"name": "a"}])
    assert list(crm.find("Accounts", limit=0)) == []
    got = [r["name"] for r in crm.find("Accounts", fields=["name"], order="name, -date_entered")]
    assert got == ["a", "b"]
    with pytest.raises(ValueError, match="bad field name in order"):
        list(crm.find("Accounts", order="name; DROP"))


def test_deny_and_allow_acl_operations():
    crm = FakeCRM()
    rid = crm.save("Accounts", {"name": "A"})
    crm.deny("Accounts", "read")
    with pytest.raises(PermissionDenied):
        crm.get("Accounts", rid)
    with pytest.raises(PermissionDenied):
        crm.count("Accounts")
    crm.save("Accounts", {"id": rid, "name": "B"})  # writing is still allowed
    crm.allow("Accounts")
    assert crm.get("Accounts", rid)["name"] == "B"
    crm.deny("Accounts")
    for call in (lambda: crm.delete("Accounts", rid), lambda: crm.relate("Accounts", rid, "contacts", []),
                 lambda: crm.save_many("Accounts", [{"name": "x"}])):
        with pytest.raises(PermissionDenied):
            call()
    with pytest.raises(ValueError, match="unknown ACL operations: fly"):
        crm.deny("Accounts", "fly")
