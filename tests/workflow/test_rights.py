"""Role rights and what users see: RoleRights over FakeCRM, and FakeCRM.as_user with SuiteCRM's ACL rules."""

from __future__ import annotations

import pytest

from suitecrm_ext import PermissionDenied
from suitecrm_ext.workflow import AccessModel, RightsError, RoleRights, check_rights


def test_set_is_idempotent_and_get_names_levels(org):
    crm, ids = org
    rights = RoleRights(crm)
    changed = rights.set(
        "Personal manager", {"Accounts": {"list": "group", "view": "group", "delete": "none"}}
    )
    assert changed == ["Accounts.delete=none", "Accounts.list=group", "Accounts.view=group"]
    assert rights.set("personal manager", {"Accounts": {"list": "group"}}) == []
    assert rights.get("Personal manager") == {
        "Accounts": {"list": "group", "view": "group", "delete": "none"}
    }
    assert rights.set("Personal manager", {"Accounts": {"delete": "owner"}}) == ["Accounts.delete=owner"]


@pytest.mark.parametrize(
    "table,needle",
    [
        ({"Accounts": {"fly": "all"}}, "Accounts.fly: unknown action"),
        ({"Accounts": {"list": "most"}}, "level 'most' is not one of all, group, owner, none, default"),
        ({"Accounts": {"access": "all"}}, "level 'all' is not one of enabled, disabled, default"),
        ({"Accounts": "all"}, "rights are a mapping"),
    ],
)
def test_bad_rights_tables(table, needle):
    with pytest.raises(RightsError, match=needle):
        check_rights(table)


def test_user_views_follow_role_rights_and_groups(org):
    crm, ids = org
    rights = RoleRights(crm)
    rights.set("Personal manager", {"Accounts": {"list": "group", "view": "group", "edit": "owner"}})
    rights.set("Security officer", {"Accounts": {"list": "owner", "view": "owner"}})
    north_acc = ids["acc"]  # in Branch North
    other = crm.save("Accounts", {"name": "Elsewhere", "assigned_user_id": "u-ceo"})
    own = crm.save("Accounts", {"name": "Mine", "assigned_user_id": "u-mgr"})
    mgr = crm.as_user("u-mgr")  # Personal manager, in Branch North
    assert sorted(r.id for r in mgr.find("Accounts")) == sorted([north_acc, own])
    assert mgr.count("Accounts") == 2
    assert mgr.get("Accounts", north_acc).id == north_acc
    with pytest.raises(PermissionDenied):
        mgr.get("Accounts", other)
    with pytest.raises(PermissionDenied):  # edit: owner only
        mgr.save("Accounts", {"id": north_acc, "name": "renamed"})
    mgr.save("Accounts", {"id": own, "name": "Mine too"})
    assert crm.get("Accounts", own).get("modified_user_id") == "u-mgr"
    sec2 = crm.as_user("u-sec2")  # Security officer through its group: owner level
    assert list(sec2.find("Accounts")) == []
    # the most permissive role wins (securitysuite_additive): give u-sec2 Personal manager too
    AccessModel(crm).add_user_to_role("Personal manager", "u-sec2")
    AccessModel(crm).add_user_to_group("Branch North", "u-sec2")
    assert [r.id for r in crm.as_user("u-sec2").find("Accounts")] == [north_acc]
    admin = crm.as_user("1")
    assert admin.count("Accounts") == 3
    nobody_set = crm.as_user("u-open")  # no role: SuiteCRM's default, all
    assert nobody_set.count("Accounts") == 3


def test_disabled_module_and_none(org):
    crm, _ = org
    RoleRights(crm).set("Personal manager", {"Cases": {"access": "disabled"}, "Accounts": {"list": "none"}})
    mgr = crm.as_user("u-mgr")
    crm.save("Cases", {"name": "c"})
    assert "Cases" not in mgr.modules() and list(mgr.find("Cases")) == []
    assert list(mgr.find("Accounts")) == []
