"""FakeCRM.add_fields: custom fields on a module the fake already has, as a package install adds them."""

from __future__ import annotations

import datetime as dt

import pytest

from suitecrm_ext.crm.base import Cond, FieldInfo, NotFound, ValidationError
from suitecrm_ext.crm.fake import FakeCRM


@pytest.fixture
def crm():
    return FakeCRM(["Accounts", "Contacts"], page_size=2)


def test_new_fields_are_usable_and_old_records_read_them_empty(crm):
    old = crm.save("Accounts", {"name": "before"})
    acc_contact = crm.save("Contacts", {"last_name": "Petrov"})
    crm.relate("Accounts", old, "contacts", [acc_contact])
    crm.add_fields("Accounts", [
        FieldInfo("inn_c", "varchar", "INN", length=12, source="custom_fields"),
        FieldInfo("verified_c", "bool", source="custom_fields"),
        FieldInfo("checked_at_c", "datetime", source="custom_fields"),
        FieldInfo("tier_c", "enum", options=("gold", "silver"), source="custom_fields"),
    ])
    f = crm.fields("Accounts")
    assert f["inn_c"].source == "custom_fields" and f["inn_c"].length == 12
    assert f["tier_c"].options == ("gold", "silver")
    assert crm.get("Accounts", old, ["inn_c", "verified_c", "checked_at_c", "tier_c"]).values == {
        "inn_c": "", "verified_c": False, "checked_at_c": None, "tier_c": ""}
    when = dt.datetime(2026, 11, 23, 8, 0, 5, tzinfo=dt.timezone.utc)
    new = crm.save("Accounts", {"name": "after", "inn_c": "7707083893", "verified_c": True,
                                "checked_at_c": when})
    rec = crm.get("Accounts", new)
    assert (rec["inn_c"], rec["verified_c"], rec["checked_at_c"]) == ("7707083893", True, when)
    assert [r.id for r in crm.find("Accounts", Cond("inn_c", "eq", "7707083893"))] == [new]
    assert crm.count("Accounts", {"verified_c": False}) == 1
    # the records and links it had are kept
    assert crm.get("Accounts", old, ["name"])["name"] == "before"
    assert [r.id for r in crm.related("Accounts", old, "contacts")] == [acc_contact]
    assert "inn_c" not in crm.fields("Contacts")


def test_defaults_apply_to_new_records_only(crm):
    old = crm.save("Accounts", {"name": "before"})
    crm.add_fields("Accounts", {"tier_c": FieldInfo("tier_c", "enum", options=("gold", "silver"))},
                   defaults={"tier_c": "silver"})
    assert crm.get("Accounts", old, ["tier_c"])["tier_c"] == ""
    assert crm.get("Accounts", crm.save("Accounts", {"name": "n"}), ["tier_c"])["tier_c"] == "silver"
    gold = crm.save("Accounts", {"name": "g", "tier_c": "gold"})
    assert crm.get("Accounts", gold, ["tier_c"])["tier_c"] == "gold"


def test_adding_again_redefines_and_keeps_values(crm):
    crm.add_fields("Accounts", [FieldInfo("tier_c", "enum", options=("gold",))])
    rid = crm.save("Accounts", {"name": "a", "tier_c": "gold"})
    crm.add_fields("Accounts", [FieldInfo("tier_c", "enum", options=("gold", "platinum"))])  # re-install
    assert crm.fields("Accounts")["tier_c"].options == ("gold", "platinum")
    assert crm.get("Accounts", rid, ["tier_c"])["tier_c"] == "gold"


def test_unknown_field_is_still_refused_before_adding(crm):
    with pytest.raises(ValidationError) as err:
        crm.save("Accounts", {"name": "a", "inn_c": "1"})
    assert err.value.fields == ["inn_c"]


@pytest.mark.parametrize(("fields", "defaults", "error", "message"), [
    ([FieldInfo("ok_c", "varchar"), "inn_c"], None, TypeError, "must be FieldInfo, got str 'inn_c'"),
    ([FieldInfo("ok_c", "varchar"), FieldInfo("date_modified", "varchar")], None, ValueError,
     "cannot redefine date_modified"),
    ([FieldInfo("ok_c", "varchar")], {"nope_c": 1}, ValueError, "name fields not being added: nope_c"),
    ([FieldInfo("ok_c", "varchar")], {"ok_c": ["a"]}, ValueError, "default of Accounts.ok_c"),
])
def test_bad_input_names_the_problem_and_changes_nothing(crm, fields, defaults, error, message):
    rid = crm.save("Accounts", {"name": "a"})
    before = dict(crm.fields("Accounts"))
    with pytest.raises(error, match=message.replace(".", r"\.")):
        crm.add_fields("Accounts", fields, defaults=defaults)
    assert crm.fields("Accounts") == before
    assert "ok_c" not in crm.get("Accounts", rid).values


def test_unknown_module_is_not_found(crm):
    with pytest.raises(NotFound, match="Cases"):
        crm.add_fields("Cases", [FieldInfo("x_c", "varchar")])
