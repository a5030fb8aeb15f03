"""The commands (status, check), the roles setup and the doctor checks, on FakeCRM."""

from __future__ import annotations

import logging

import pytest
from ao_kit import APPS, IP, ROLES
from click.testing import CliRunner

from plugins.account_opening.cli import account_opening
from plugins.account_opening.settings import Settings
from plugins.account_opening.setup import (
    RIGHTS,
    ensure_roles,
    rights_differences,
    setup_report,
    wanted_rights,
)
from suitecrm_ext import PermissionDenied
from suitecrm_ext.cli import CliState
from suitecrm_ext.testing import FakeCRM, install_workflow, load_plugin_schema, register_schema
from suitecrm_ext.workflow import AccessModel, RoleRights


def run_cli(bank, *args):
    names = ("suitecrm_ext", "plugins", "urllib3", "zeep", "pymysql")
    saved = {
        n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate, logging.getLogger(n).level)
        for n in names
    }
    try:
        state = CliState()
        state._loaded = (bank.ctx.app.config, bank.registry)
        state._app = bank.ctx.app
        return CliRunner().invoke(account_opening, list(args), obj=state, catch_exceptions=False)
    finally:
        for n, (handlers, propagate, level) in saved.items():
            logger = logging.getLogger(n)
            logger.handlers[:] = handlers
            logger.propagate = propagate
            logger.setLevel(level)


def test_status_shows_stage_decisions_who_may_act_and_blockers(bank):
    acc = bank.client("Romashka")
    app = bank.application("u-mgr", acc, name="Settlement account")
    out = run_cli(bank, "status", app).output
    assert "Status: Draft" in out and "Decisions (0):" in out
    assert "Security groups of the application: Branch North" in out
    assert "→ Security review (submit) — Personal manager: Maria Manager" in out  # not Mikhail (South)
    bank.move("u-mgr", app, "security_review")
    bank.move("u-sec", app, "returned", comment="No charter")
    out = run_cli(bank, "status", app).output
    assert "Status: Returned for rework" in out and "Decisions (2):" in out
    assert "submitted" in out and "returned" in out and '"No charter"' in out and "Sergey Security" in out
    bank.save("u-mgr", "Accounts", {"id": acc, "ao_kpp_c": ""})
    out = run_cli(bank, "status", app).output
    assert (
        "blocked: the requisites of the client Romashka are not complete: the KPP of an organisation is "
        "not filled in (field ao_kpp_c)" in out
    )
    result = run_cli(bank, "status", "nope")
    assert result.exit_code == 1 and "no ao_Applications record with id 'nope'" in result.output


def test_status_of_an_opened_application_shows_its_number(bank):
    app = bank.application("u-mgr", bank.client("Romashka"))
    bank.walk(app, "opened")
    out = run_cli(bank, "status", app).output
    assert f"Account number: {bank.app(app).get('account_number')}" in out
    assert "Next: none (Account opened is final)" in out


def test_check_reports_requisites_and_exits_1_when_incomplete(bank):
    good = bank.client("Romashka")
    result = run_cli(bank, "check", good)
    assert result.exit_code == 0 and "Requisites complete and valid." in result.output
    assert "legal        125009, г. Москва, ул. Тверская, д. 7, кв. 15" in result.output
    half = bank.client("Half", requisites={**IP, "ao_ogrn_c": ""}, address=False)
    result = run_cli(bank, "check", half)
    assert result.exit_code == 1
    assert "- the OGRNIP is not filled in (field ao_ogrn_c)" in result.output
    assert "- no legal address" in result.output


def fresh_crm() -> FakeCRM:
    crm = FakeCRM()
    install_workflow(crm)
    register_schema(crm, load_plugin_schema("account_opening"))
    return crm


def test_setup_creates_the_roles_with_rights_idempotently_and_says_what_to_do():
    crm = fresh_crm()
    access, rights, settings = AccessModel(crm), RoleRights(crm), Settings()
    dry = ensure_roles(access, rights, settings, dry_run=True)
    assert [r.created for r in dry] == [True, True, True] and access.roles() == []
    first = ensure_roles(access, rights, settings)
    assert sorted(r.name for r in AccessModel(crm).roles()) == sorted(ROLES.values())
    assert all(r.created and r.rights_changed for r in first)
    security = AccessModel(crm).role("Security officer")
    assert RoleRights(crm).get(security, [APPS])[APPS] == wanted_rights("security")[APPS]
    assert crm.acl_role_rights(security.id)[(APPS, "delete")] == -99
    text = setup_report(first, access, settings)
    assert "Personal manager           created; set 40 right(s)" in text
    assert "members: NO MEMBERS" in text and "Put the personal managers" in text
    assert "Set the bank's BIK" in text
    assert "Users in none of these roles keep SuiteCRM's default rights" in text
    # run again: nothing to create or change
    access = AccessModel(crm)
    crm.insert("Users", {"id": "u1", "user_name": "maria", "first_name": "Maria", "status": "Active"})
    access.add_user_to_role("Personal manager", "u1")
    again = ensure_roles(access, RoleRights(crm), settings)
    assert not any(r.created or r.rights_changed for r in again)
    text = setup_report(again, access, Settings(bank={"bik": "044525225"}))
    assert "Personal manager           exists; rights as required" in text and "members: Maria" in text
    assert "in no security group and will see no application: Maria" in text


def test_a_right_changed_by_hand_is_put_back_by_setup(bank):
    run_cli(bank, "setup")
    role = AccessModel(bank.crm).role("Security officer")
    bank.crm.set_acl_role_rights(role.id, {(APPS, "delete"): 90})  # an admin allowed deleting
    out = run_cli(bank, "setup", "--dry-run").output
    assert (
        "Security officer           exists; would set 1 right(s): ao_Applications.delete: all -> none" in out
    )
    assert bank.crm.acl_role_rights(role.id)[(APPS, "delete")] == 90  # a dry run changes nothing
    assert "set 1 right(s): ao_Applications.delete: all -> none" in run_cli(bank, "setup").output
    assert bank.crm.acl_role_rights(role.id)[(APPS, "delete")] == -99


def test_with_the_roles_set_up_the_groups_decide_who_sees_an_application(bank):
    run_cli(bank, "setup")
    north = bank.application("u-mgr", bank.client("Romashka"))
    south = bank.application("u-mgr-s", bank.client("Far away", group="Branch South"), name="South")
    # a user in none of the roles keeps SuiteCRM's default (all) — setup's report says so
    for user, sees in (
        ("u-sec", {north}),
        ("u-sec-s", {south}),
        ("u-open", {north}),
        ("u-clerk", {north, south}),
    ):
        view = bank.crm.as_user(user)
        assert {r.id for r in view.find(APPS, None, ["name"])} & {north, south} == sees, user
    with pytest.raises(PermissionDenied):
        bank.crm.as_user("u-sec-s").get(APPS, north)
    with pytest.raises(PermissionDenied):  # officers cannot delete applications
        bank.crm.as_user("u-sec").delete(APPS, north)


def test_the_rights_fit_the_roles():
    assert RIGHTS["manager"][APPS]["edit"] == "group" and RIGHTS["manager"]["Accounts"]["edit"] == "group"
    for officer in ("security", "opening"):
        assert RIGHTS[officer][APPS]["delete"] == "none"  # officers cannot delete applications
        assert RIGHTS[officer][APPS]["edit"] == "group"  # they change the status
        assert RIGHTS[officer]["Accounts"]["edit"] == "none"  # only managers keep client data
    assert all(
        a["view"] == "group" for r in RIGHTS.values() for a in r.values()
    )  # groups decide which records
    assert rights_differences(wanted_rights("manager"), wanted_rights("manager")) == []
    assert rights_differences({APPS: {"delete": "all"}}, {APPS: {"delete": "none"}}) == [
        "ao_Applications.delete: all -> none"
    ]


def test_doctor_reports_missing_roles_roles_without_members_and_the_bik(bank):
    checks = {c.name: c for c in bank.registry.call_one("account_opening", "ext_doctor_checks", ctx=bank.ctx)}
    rights = checks["account_opening rights of Personal manager"]
    assert not rights.ok and "40 differ" in rights.detail and "account-opening setup" in rights.hint
    run_cli(bank, "setup")
    checks = {c.name: c for c in bank.registry.call_one("account_opening", "ext_doctor_checks", ctx=bank.ctx)}
    assert checks["account_opening rights of Personal manager"].ok
    assert checks["account_opening module ao_Applications"].ok
    assert checks["account_opening role Personal manager"].ok
    assert "Maria Manager" in checks["account_opening role Personal manager"].detail
    assert checks["account_opening bank BIK"].ok
    access = AccessModel(bank.crm)
    for uid in ("u-sec", "u-sec-s"):
        access.remove_user_from_role("Security officer", uid)
    bank.crm.delete("ACLRoles", bank.ids["opening"])
    checks = {c.name: c for c in bank.registry.call_one("account_opening", "ext_doctor_checks", ctx=bank.ctx)}
    sec = checks["account_opening role Security officer"]
    assert not sec.ok and sec.detail == "no members" and "Admin → Role Management" in sec.hint
    opening = checks["account_opening role Account-opening officer"]
    assert not opening.ok and opening.detail == "missing" and "account-opening setup" in opening.hint
