"""The workflow access model on a real SuiteCRM 7.14.6: roles, security groups, visibility, inheritance.

Each test makes its own users (REST set_entry with a known password), role and group, tagged with the run
tag, and removes them. Visibility is checked with each user's own REST session.
"""

from __future__ import annotations

import hashlib

import pytest

from suitecrm_ext.crm.base import Cond, CRMError, PermissionDenied
from suitecrm_ext.crm.rest_v4 import RestV4CRM
from suitecrm_ext.workflow import (
    AccessModel,
    AssigneeContext,
    AssigneeResolver,
    Facts,
    Notifier,
    RoleRights,
    StateMachine,
    WebUI,
)

PASSWORD = "Live-test-pw-1"


def rights_of(lab, crm) -> RoleRights:
    """Role rights over the instance's web UI, as the REST admin (what RoleRights.for_context builds)."""
    return RoleRights(crm, WebUI(lab.url, lab["SUITECRM_USER"], lab["SUITECRM_PASSWORD"]))


@pytest.fixture
def people(live_crm, run_tag):
    made: list[tuple[str, str]] = []

    def user(name: str) -> str:
        uid = live_crm.save(
            "Users",
            {
                "user_name": f"{run_tag}_{name}",
                "last_name": f"{name} {run_tag}",
                "status": "Active",
                "employee_status": "Active",
                "user_hash": hashlib.md5(PASSWORD.encode()).hexdigest(),
            },
        )
        made.append(("Users", uid))
        return uid

    user.made = made
    yield user
    for module, rid in reversed(made):
        try:
            live_crm.delete(module, rid)
        except CRMError:
            pass


def _session(lab, user_name: str) -> RestV4CRM:
    return RestV4CRM(lab.url, user_name, PASSWORD, retries=0)


def test_a_role_made_in_suitecrm_and_its_member_are_seen_over_every_transport(
    live_lab, live_crm, people, run_tag
):
    u1 = people("officer")
    access = AccessModel(live_crm)
    role = access.ensure_role(f"{run_tag} Security officer", "live test")
    people.made.append(("ACLRoles", role.id))
    assert AccessModel(live_crm).ensure_role(f"{run_tag} security OFFICER").id == role.id  # idempotent
    access.add_user_to_role(role, u1)
    for flavour in ("rest", "mysql"):  # V8 refuses the Users module to API users (checked: see NOTES)
        crm = live_lab.transport(flavour)
        try:
            a = AccessModel(crm)
            assert a.has_role(u1, role.name), flavour
            assert u1 in [u.id for u in a.role_users(role.name)], flavour
        finally:
            crm.close()


def test_a_record_in_a_group_is_visible_to_its_members_only_and_children_inherit_explicitly(
    live_lab, live_crm, people, run_tag
):
    insider, outsider = people("insider"), people("outsider")
    access = AccessModel(live_crm)
    role = access.ensure_role(f"{run_tag} Branch staff")
    people.made.append(("ACLRoles", role.id))
    rights = rights_of(live_lab, live_crm)
    group_rights = {m: {"list": "group", "view": "group"} for m in ("Accounts", "Cases")}
    assert rights.set(role, group_rights) == [
        "Accounts.list=group",
        "Accounts.view=group",
        "Cases.list=group",
        "Cases.view=group",
    ]
    assert rights.set(role, group_rights) == []  # idempotent: read back from SuiteCRM's own role form
    assert rights.get(role, ["Accounts"])["Accounts"]["list"] == "group"
    group = access.ensure_group(f"{run_tag} Branch North")
    people.made.append(("SecurityGroups", group.id))
    for u in (insider, outsider):
        access.add_user_to_role(role, u)
    access.add_user_to_group(group, insider)
    acc = live_crm.save("Accounts", {"name": f"{run_tag} Romashka", "assigned_user_id": "1"})
    people.made.append(("Accounts", acc))
    access.add_record_to_groups("Accounts", acc, [group.name])
    assert [g.name for g in AccessModel(live_crm).record_groups("Accounts", acc)] == [group.name]

    case = live_crm.save(
        "Cases", {"name": f"{run_tag} card blocked", "account_id": acc, "assigned_user_id": "1"}
    )
    people.made.append(("Cases", case))
    assert AccessModel(live_crm).record_groups("Cases", case) == []  # an API create inherits nothing
    assert [g.name for g in access.inherit_groups("Cases", case, "Accounts", acc)] == [group.name]
    assert access.inherit_groups("Cases", case, "Accounts", acc) == []

    for user_name, sees in ((f"{run_tag}_insider", True), (f"{run_tag}_outsider", False)):
        own = _session(live_lab, user_name)
        try:
            for module, rid in (("Accounts", acc), ("Cases", case)):
                found = [r.id for r in own.find(module, Cond("id", "eq", rid), ["name"])]
                assert (found == [rid]) is sees, (user_name, module)
                if sees:
                    assert own.get(module, rid, ["name"]).id == rid
                else:  # as FakeCRM.as_user answers: "Access Denied"
                    with pytest.raises(PermissionDenied):
                        own.get(module, rid, ["name"])
        finally:
            own.close()


def test_guards_assignees_and_notices_use_the_real_roles_and_managers(live_lab, live_crm, people, run_tag):
    """A role-gated transition, the manager chain (reports_to_id) and a Task per active role member, all
    over the real users and roles."""
    boss, clerk, away = people("boss"), people("clerk"), people("away")
    live_crm.save("Users", {"id": clerk, "reports_to_id": away})
    live_crm.save("Users", {"id": away, "reports_to_id": boss, "status": "Inactive"})
    access = AccessModel(live_crm)
    role = access.ensure_role(f"{run_tag} Approver")
    people.made.append(("ACLRoles", role.id))
    for u in (boss, away):
        access.add_user_to_role(role, u)
    flow = StateMachine.load(
        {
            "statuses": ["Draft", "Approved"],
            "initial": "Draft",
            "transitions": [{"name": "approve", "from": "Draft", "to": "Approved", "roles": [role.name]}],
        },
        label="request status",
    )
    fresh = AccessModel(live_crm)
    assert flow.check("Draft", "Approved", Facts({}, actor=boss), fresh)
    v = flow.check("Draft", "Approved", Facts({}, actor=clerk), fresh)
    assert not v and v.rule == "roles" and role.name in v.reason
    resolver = AssigneeResolver(fresh)
    record = {"assigned_user_id": clerk}
    assert [u.id for u in resolver.resolve({"manager_of": "assignee"}, AssigneeContext(values=record))] == [
        boss
    ]
    assert [u.id for u in resolver.resolve({"role": role.name})] == [boss]  # the inactive member is skipped

    class State(dict):
        def kv_get(self, ns, key):
            return self.get((ns, key))

        def kv_set(self, ns, key, value):
            self[(ns, key)] = value

    acc = live_crm.save("Accounts", {"name": f"{run_tag} for approval"})
    people.made.append(("Accounts", acc))
    notifier = Notifier(live_crm, State())
    for _ in range(2):
        out = notifier.to_users(
            fresh.role_users(role.name),
            key=f"{run_tag}-approve",
            subject="Approve",
            body="Please approve.",
            parent_module="Accounts",
            parent_id=acc,
        )
    people.made.extend(("Tasks", t) for t in out.values())
    tasks = list(live_crm.find("Tasks", {"parent_id": acc}, ["assigned_user_id"]))
    assert [t.get("assigned_user_id") for t in tasks] == [boss]
