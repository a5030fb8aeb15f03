"""Fixtures for the workflow services: a FakeCRM with an organisation of users, roles and groups."""

from __future__ import annotations

import pytest

from suitecrm_ext.testing import FakeCRM, install_workflow
from suitecrm_ext.workflow import AccessModel

#: id: (first, last, reports_to, status, employee_status)
PEOPLE = {
    "u-ceo": ("Cyril", "Chief", "", "Active", "Active"),
    "u-head": ("Helen", "Head", "u-ceo", "Active", "Active"),
    "u-away": ("Arkady", "Away", "u-head", "Inactive", "Active"),
    "u-mgr": ("Maria", "Manager", "u-away", "Active", "Active"),
    "u-sec1": ("Sergey", "Security", "u-head", "Active", "Active"),
    "u-sec2": ("Svetlana", "Safety", "u-head", "Active", "Active"),
    "u-gone": ("Gleb", "Gone", "u-head", "Active", "Terminated"),
    "u-open": ("Olga", "Opener", "u-head", "Active", "Active"),
}


@pytest.fixture
def org():
    """(crm, ids): users above; roles 'Personal manager' (u-mgr), 'Security officer' (u-sec1, u-gone, and the
    group 'Security team' holding the role: u-sec2); groups 'Branch North' (u-mgr, u-sec1) and 'Branch South'
    (u-open); an Account in Branch North."""
    crm = FakeCRM()
    install_workflow(crm)
    for uid, (first, last, boss, status, emp) in PEOPLE.items():
        crm.insert(
            "Users",
            {
                "id": uid,
                "user_name": uid[2:],
                "first_name": first,
                "last_name": last,
                "reports_to_id": boss,
                "status": status,
                "employee_status": emp,
                "email1": f"{uid[2:]}@bank.test",
            },
        )
    ids = {}
    ids["pm"] = crm.save("ACLRoles", {"name": "Personal manager"})
    ids["so"] = crm.save("ACLRoles", {"name": "Security officer"})
    ids["north"] = crm.save("SecurityGroups", {"name": "Branch North"})
    ids["south"] = crm.save("SecurityGroups", {"name": "Branch South"})
    ids["team"] = crm.save("SecurityGroups", {"name": "Security team"})
    ids["private"] = crm.save("SecurityGroups", {"name": "Private", "noninheritable": True})
    crm.relate("ACLRoles", ids["pm"], "users", ["u-mgr"])
    crm.relate("ACLRoles", ids["so"], "users", ["u-sec1", "u-gone"])
    crm.relate("SecurityGroups", ids["team"], "aclroles", [ids["so"]])
    crm.relate("SecurityGroups", ids["team"], "users", ["u-sec2"])
    crm.relate("SecurityGroups", ids["north"], "users", ["u-mgr", "u-sec1"])
    crm.relate("SecurityGroups", ids["south"], "users", ["u-open"])
    ids["acc"] = crm.save("Accounts", {"name": "OOO Romashka"})
    crm.relate("Accounts", ids["acc"], "SecurityGroups", [ids["north"], ids["private"]])
    return crm, ids


@pytest.fixture
def access(org):
    return AccessModel(org[0])
