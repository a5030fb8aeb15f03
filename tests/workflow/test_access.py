"""The access model on FakeCRM: SuiteCRM's semantics for roles, groups, inheritance, managers, users."""

from __future__ import annotations

import pytest

from suitecrm_ext.workflow import AccessError, AccessModel


def names(items):
    return [i.name if hasattr(i, "name") and not hasattr(i, "user_name") else i.id for i in items]


def test_user_roles_direct_and_through_groups(access):
    assert [r.name for r in access.user_roles("u-mgr")] == ["Personal manager"]
    assert [r.name for r in access.user_roles("u-sec2")] == ["Security officer"]  # via Security team
    assert access.user_roles("u-sec2", via_groups=False) == []  # getUserRoleNames
    assert access.has_role("u-sec2", "security OFFICER")  # names: case-insensitive
    assert not access.has_role("u-mgr", "Security officer")
    assert access.user_roles("no-such-user") == []


def test_role_users_skip_inactive_and_terminated(access):
    assert [u.id for u in access.role_users("Security officer")] == ["u-sec1", "u-sec2"]
    assert [u.id for u in access.role_users("Security officer", active_only=False)] == [
        "u-gone",
        "u-sec1",
        "u-sec2",
    ]
    assert [u.id for u in access.role_users("Security officer", via_groups=False)] == ["u-sec1"]
    with pytest.raises(
        AccessError, match="no ACL role 'Cashier' in SuiteCRM \\(roles: Personal manager, Security officer\\)"
    ):
        access.role_users("Cashier")


def test_ensure_role_is_idempotent_and_membership_changes(org, access):
    crm, _ = org
    r1 = access.ensure_role("Account-opening officer", "opens accounts")
    r2 = AccessModel(crm).ensure_role("account-opening officer")
    assert r1.id == r2.id and crm.count("ACLRoles") == 3
    access.add_user_to_role(r1, "u-open")
    access.add_user_to_role(r1, "u-open")
    assert access.has_role("u-open", "Account-opening officer")
    access.remove_user_from_role("Account-opening officer", "u-open")
    assert not AccessModel(crm).has_role("u-open", "Account-opening officer")


def test_groups_of_users_and_records(org, access):
    crm, ids = org
    assert [g.name for g in access.user_groups("u-mgr")] == ["Branch North"]
    assert [u.id for u in access.group_users("branch north")] == ["u-mgr", "u-sec1"]
    assert [g.name for g in access.record_groups("Accounts", ids["acc"])] == ["Branch North", "Private"]
    assert access.shares_group("u-sec1", "Accounts", ids["acc"])
    assert not access.shares_group("u-open", "Accounts", ids["acc"])
    access.add_record_to_groups("Accounts", ids["acc"], ["Branch South"])
    assert access.shares_group("u-open", "Accounts", ids["acc"])
    access.remove_record_from_groups("Accounts", ids["acc"], ["Branch South"])
    assert not access.shares_group("u-open", "Accounts", ids["acc"])
    with pytest.raises(AccessError, match="no security group 'Branch West'"):
        access.add_record_to_groups("Accounts", ids["acc"], ["Branch West"])


def test_inherit_groups_copies_inheritable_groups_once(org, access):
    crm, ids = org
    case = crm.save("Cases", {"name": "Card blocked", "account_id": ids["acc"]})
    assert access.record_groups("Cases", case) == []  # an API create inherits nothing
    added = access.inherit_groups("Cases", case, "Accounts", ids["acc"])
    assert [g.name for g in added] == ["Branch North"]  # Private is noninheritable
    assert access.inherit_groups("Cases", case, "Accounts", ids["acc"]) == []
    assert [g.name for g in access.record_groups("Cases", case)] == ["Branch North"]


def test_manager_chain_and_manager_skip_inactive(org, access):
    crm, _ = org
    assert [u.id for u in access.manager_chain("u-mgr")] == ["u-away", "u-head", "u-ceo"]
    assert access.manager("u-mgr").id == "u-head"  # u-away is inactive
    assert access.manager("u-mgr", skip_inactive=False).id == "u-away"
    assert access.manager("u-ceo") is None
    crm.save("Users", {"id": "u-ceo", "reports_to_id": "u-mgr"})  # a cycle in the data
    assert [u.id for u in AccessModel(crm).manager_chain("u-mgr")] == ["u-away", "u-head", "u-ceo"]


def test_users_admin_inactive_email(access):
    assert access.is_admin("1") and not access.is_admin("u-mgr")
    assert access.is_active("u-mgr") and not access.is_active("u-away") and not access.is_active("u-gone")
    assert not access.is_active("nobody")
    mgr = access.user("u-mgr")
    assert (mgr.display, mgr.email, mgr.reports_to_id) == ("Maria Manager", "mgr@bank.test", "u-away")
    assert access.user_by_name("MGR").id == "u-mgr"
    assert access.user_by_name("nobody") is None
