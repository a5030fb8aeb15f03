"""``account-opening setup`` and the plugin's ``doctor`` checks: the three ACL roles with their module rights,
and what the admin still has to do (members, security groups).

A role decides *what* its users may do in a module (the rights below, as SuiteCRM's Role Management
sets them); security groups decide *which* records: every right is "Group" (80), so a user sees and edits
only the records of their security groups (an application inherits its client's groups). Officers may
not delete applications; only managers keep client data; only managers create applications (SuiteCRM has
no separate create right — "edit" allows it — so the validation hook refuses a new application from
anyone else).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from plugins.account_opening.desk import ADDRESSES, APP_FIELDS, APPLICATIONS, LICENCES
from plugins.account_opening.settings import Settings
from suitecrm_ext import AuthError, Check, TransientError

#: modules whose rights the roles set
MODULES = (APPLICATIONS, "Accounts", "Contacts", LICENCES, ADDRESSES)
ACTIONS = ("access", "view", "list", "edit", "delete", "import", "export", "massupdate")

_KEEPS_DATA = {
    "access": "enabled",
    "view": "group",
    "list": "group",
    "edit": "group",
    "delete": "owner",
    "import": "none",
    "export": "group",
    "massupdate": "none",
}
_READS_DATA = {
    "access": "enabled",
    "view": "group",
    "list": "group",
    "edit": "none",
    "delete": "none",
    "import": "none",
    "export": "group",
    "massupdate": "none",
}
_DECIDES = {
    "access": "enabled",
    "view": "group",
    "list": "group",
    "edit": "group",
    "delete": "none",
    "import": "none",
    "export": "group",
    "massupdate": "none",
}

#: role key -> module -> action -> level (names of SuiteCRM's ACL_ALLOW_* levels)
RIGHTS: dict[str, dict[str, dict[str, str]]] = {
    "manager": {m: dict(_KEEPS_DATA) for m in MODULES},
    "security": {APPLICATIONS: dict(_DECIDES), **{m: dict(_READS_DATA) for m in MODULES[1:]}},
    "opening": {APPLICATIONS: dict(_DECIDES), **{m: dict(_READS_DATA) for m in MODULES[1:]}},
}
DESCRIPTIONS = {
    "manager": "Keeps client and related-company data, creates account-opening and card-issue applications "
    "and submits them (suitecrm-ext account_opening).",
    "security": "Checks the client's data and approves, returns or rejects applications in the security "
    "review (suitecrm-ext account_opening).",
    "opening": "Checks sufficiency after the security approval, opens the account or returns or rejects the "
    "application (suitecrm-ext account_opening).",
}
WHO = {
    "manager": "the personal managers who keep clients and create applications",
    "security": "the security service's officers",
    "opening": "the officers who open accounts and issue cards",
}


@dataclass
class RoleReport:
    """What setup found and did for one role."""

    key: str
    name: str
    created: bool = False
    rights_changed: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)


def wanted_rights(key: str) -> dict[str, dict[str, str]]:
    """The rights of a role (by key: manager, security, opening)."""
    return {m: dict(actions) for m, actions in RIGHTS[key].items()}


def rights_differences(
    have: Mapping[str, Mapping[str, str]], want: Mapping[str, Mapping[str, str]]
) -> list[str]:
    """``Module.action: have -> want`` for every right that differs."""
    out = []
    for module, actions in want.items():
        for action, level in actions.items():
            current = (have.get(module) or {}).get(action, "default")
            if current != level:
                out.append(f"{module}.{action}: {current} -> {level}")
    return out


def ensure_roles(access: Any, rights: Any, settings: Settings, *, dry_run: bool = False) -> list[RoleReport]:
    """Create the three roles when missing and give them their rights (idempotent); report their members.

    ``access``: an AccessModel; ``rights``: the core's :class:`~suitecrm_ext.workflow.RoleRights`."""
    out = []
    names = {
        "manager": settings.roles.manager,
        "security": settings.roles.security,
        "opening": settings.roles.opening,
    }
    for key, name in names.items():
        rep = RoleReport(key, name)
        role = access.role(name)
        if role is None:
            rep.created = True
            if dry_run:
                rep.rights_changed = rights_differences({}, wanted_rights(key))
                out.append(rep)
                continue
            role = access.ensure_role(name, DESCRIPTIONS[key])
        rep.rights_changed = rights_differences(rights.get(role, list(MODULES)), wanted_rights(key))
        if rep.rights_changed and not dry_run:
            rights.set(role, wanted_rights(key))
        rep.members = [u.display for u in access.role_users(role)]
        rep.groups = [g.name for g in _role_groups(access, role)]
        out.append(rep)
    return out


def _role_groups(access: Any, role: Any) -> list[Any]:
    return [g for g in access.groups() if any(r.id == role.id for r in _group_roles(access, g))]


def _group_roles(access: Any, group: Any) -> list[Any]:
    try:
        return list(access.crm.related("SecurityGroups", group.id, "aclroles", ["name"]))
    except Exception:  # noqa: BLE001 - a group we cannot read holds no role for this report
        return []


def setup_report(reports: list[RoleReport], access: Any, settings: Settings, *, dry_run: bool = False) -> str:
    """The text ``account-opening setup`` prints: each role, then what the admin has to do."""
    lines = ["Roles (Admin → Role Management):"]
    for r in reports:
        if r.created:
            done = "to be created" if dry_run else "created"
        else:
            done = "exists"
        if r.rights_changed:
            verb = "would set" if dry_run else "set"
            rights = f"; {verb} {len(r.rights_changed)} right(s): {', '.join(r.rights_changed[:4])}" + (
                ", ..." if len(r.rights_changed) > 4 else ""
            )
        else:
            rights = "; rights as required"
        members = ", ".join(r.members) or "NO MEMBERS"
        via = f" (groups holding it: {', '.join(r.groups)})" if r.groups else ""
        lines.append(f"  {r.name:<26} {done}{rights}")
        lines.append(f"  {'':<26} members: {members}{via}")
    todo = []
    for r in reports:
        if not r.members:
            todo.append(
                f"Put {WHO[r.key]} into the role {r.name!r} (Admin → Role Management → {r.name} → "
                "Users), or give the role to a security group they are in."
            )
    todo.append(
        "Make a security group per team that serves a set of clients (Admin → Security Suite Group "
        "Management) and put its managers, security officers and account-opening officers into it."
    )
    todo.append(
        "Put each client Account into its team's group: its applications, licences and addresses "
        "inherit the client's groups, and only users sharing a group see them (every right is Group)."
    )
    todo.append(
        "Users in none of these roles keep SuiteCRM's default rights (all) on these modules: give the "
        "others a role that disables Account Applications, Licences and Addresses (access Disabled)."
    )
    lonely = _role_users_without_groups(access, reports)
    if lonely:
        todo.append(
            f"These role members are in no security group and will see no application: {', '.join(lonely)}."
        )
    if not settings.bank.bik:
        todo.append("Set the bank's BIK (plugins.account_opening.bank.bik): without it no account is opened.")
    lines.append("")
    lines.append("What to do next:")
    lines += [f"  {i}. {t}" for i, t in enumerate(todo, 1)]
    return "\n".join(lines)


def _role_users_without_groups(access: Any, reports: list[RoleReport]) -> list[str]:
    out = []
    for r in reports:
        role = access.role(r.name)
        if role is None:
            continue
        for u in access.role_users(role):
            if not access.user_groups(u.id) and u.display not in out:
                out.append(u.display)
    return out


def doctor_checks(ctx: Any, settings: Settings) -> list[Check]:
    """Modules and fields, the three roles (exist, have members), the bank's BIK."""
    out: list[Check] = []
    hint_pkg = (
        "install the packages: suitecrm-ext package install workflow, then account_opening "
        "(--suitecrm-root DIR)"
    )
    try:
        have = ctx.crm.fields(APPLICATIONS)
    except (TransientError, AuthError) as exc:
        return [Check("account_opening", False, str(exc), "fix the suitecrm transport checks above first")]
    except Exception as exc:  # noqa: BLE001 - any failure is a failed check
        out.append(Check(f"account_opening module {APPLICATIONS}", False, str(exc), hint_pkg))
    else:
        missing = [f for f in APP_FIELDS if f not in have]
        out.append(
            Check(
                f"account_opening module {APPLICATIONS}",
                not missing,
                f"missing field(s): {', '.join(missing)}" if missing else f"{len(APP_FIELDS)} fields present",
                hint_pkg if missing else "",
            )
        )
    access = ctx.workflow.access
    for key, name in (
        ("manager", settings.roles.manager),
        ("security", settings.roles.security),
        ("opening", settings.roles.opening),
    ):
        role = access.role(name)
        if role is None:
            out.append(
                Check(
                    f"account_opening role {name}",
                    False,
                    "missing",
                    "create the roles: suitecrm-ext account-opening setup",
                )
            )
            continue
        members = access.role_users(role)
        out.append(
            Check(
                f"account_opening role {name}",
                bool(members),
                f"{len(members)} member(s): {', '.join(u.display for u in members[:5])}"
                if members
                else "no members",
                "" if members else f"put {WHO[key]} into the role (Admin → Role Management → {name})",
            )
        )
        out.append(_rights_check(ctx, key, role))
    out.append(
        Check(
            "account_opening bank BIK",
            bool(settings.bank.bik),
            f"BIK {settings.bank.bik}, branch {settings.bank.branch}" if settings.bank.bik else "not set",
            "" if settings.bank.bik else "set plugins.account_opening.bank.bik (numbers of opened accounts)",
        )
    )
    return out


def _rights_check(ctx: Any, key: str, role: Any) -> Check:
    name = f"account_opening rights of {role.name}"
    try:
        differ = rights_differences(ctx.workflow.rights.get(role, list(MODULES)), wanted_rights(key))
    except Exception as exc:  # noqa: BLE001 - the web UI or the modules cannot be read: a failed check
        return Check(name, False, f"cannot read them: {exc}", "see the suitecrm transport checks above")
    if differ:
        more = f" (and {len(differ) - 3} more)" if len(differ) > 3 else ""
        return Check(
            name,
            False,
            f"{len(differ)} differ: {', '.join(differ[:3])}{more}",
            "suitecrm-ext account-opening setup sets them",
        )
    return Check(name, True, f"as required on {len(MODULES)} modules")


__all__ = [
    "ACTIONS",
    "MODULES",
    "RIGHTS",
    "RoleReport",
    "doctor_checks",
    "ensure_roles",
    "setup_report",
    "wanted_rights",
]
