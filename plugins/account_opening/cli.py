"""``suitecrm-ext account-opening ...``: set up the roles, show an application, check a client."""

from __future__ import annotations

import click

from plugins.account_opening.desk import APPLICATIONS, ApplicationDesk, app_type_of
from plugins.account_opening.settings import APPLICATION_TYPES, Settings
from suitecrm_ext import NotFound
from suitecrm_ext.cli import plugin_context
from suitecrm_ext.workflow import AssigneeContext, AssigneeSpec, Facts, RightsError

PLUGIN = "account_opening"


def status_report(desk: ApplicationDesk, app_id: str) -> str:
    """The text of ``account-opening status``: stage, decisions, who may act next, what blocks it."""
    try:
        app = desk.application(app_id)
    except NotFound:
        raise click.ClickException(f"no {APPLICATIONS} record with id {app_id!r}") from None
    machine = desk.machine(app.values)
    status = machine.status_of(app.values)
    access = desk.wf.access
    lines = [
        f"Application: {app.get('name') or app.id} ({app.id})",
        f"Type: {APPLICATION_TYPES[app_type_of(app.values)]}",
    ]
    client = desk.client_id(app.id)
    if client:
        acc = desk.client(client)
        groups = ", ".join(g.name for g in access.record_groups("Accounts", client)) or "none"
        lines.append(
            f"Client: {acc.get('name') or client} ({client}), INN {acc.get('ao_inn_c') or '-'}; "
            f"groups: {groups}"
        )
    else:
        lines.append("Client: none")
    app_groups = ", ".join(g.name for g in access.record_groups(APPLICATIONS, app.id)) or "none"
    lines.append(f"Security groups of the application: {app_groups}")
    lines.append(f"Status: {machine.label_of(status)}")
    if app.get("account_number"):
        lines.append(f"Account number: {app.get('account_number')} (opened {app.get('opened_on') or '?'})")
    history = desk.decisions.history(APPLICATIONS, app.id)
    lines.append(f"Decisions ({len(history)}):")
    for d in history:
        when = d.acted_at.strftime("%Y-%m-%d %H:%M") if d.acted_at else "?"
        comment = f': "{d.comment}"' if d.comment else ""
        lines.append(
            f"  {when}  {d.decision:<26} {access.user(d.acted_by_id).display}  "
            f"{d.from_status} → {d.to_status}{comment}"
        )
    if not history:
        lines.append("  (none)")
    nexts = machine.transitions_from(status)
    if not nexts:
        lines.append(f"Next: none ({machine.label_of(status)} is final)")
        return "\n".join(lines)
    facts = Facts(app.values, None, module=APPLICATIONS, record_id=app.id, extra={"desk": desk})
    lines.append("Next:")
    for t in nexts:
        who = []
        for role in t.roles:
            users = desk.wf.assignees.resolve(
                AssigneeSpec(role=role, in_record_groups=True),
                AssigneeContext(APPLICATIONS, app.id, app.values),
            )
            who.append(f"{role}: {', '.join(u.display for u in users) or 'NOBODY in the application groups'}")
        blockers = []
        for name in t.check:
            fn = machine.predicates.get(name)[0] if machine.predicates else None
            result = fn(facts) if fn else True
            if result is not True and name != "comment_given":
                blockers.append(result if isinstance(result, str) else f"{name} does not pass")
        lines.append(f"  → {machine.label_of(t.to)} ({t.name}) — {'; '.join(who) or 'anyone'}")
        if "comment_given" in t.check:
            lines.append("      needs a comment in decision_comment")
        for b in blockers:
            lines.append(f"      blocked: {b}")
    return "\n".join(lines)


def check_report(desk: ApplicationDesk, account_id: str) -> tuple[str, bool]:
    """The text of ``account-opening check`` and whether the requisites are complete and valid."""
    try:
        acc = desk.client(account_id)
    except NotFound:
        raise click.ClickException(f"no Accounts record with id {account_id!r}") from None
    problems = desk.requisites_report(account_id)
    lines = [f"Client: {acc.get('name') or account_id} ({account_id})"]
    for name, label in (
        ("ao_legal_form_c", "Legal form"),
        ("ao_full_name_c", "Full name"),
        ("ao_short_name_c", "Short name"),
        ("ao_inn_c", "INN"),
        ("ao_kpp_c", "KPP"),
        ("ao_ogrn_c", "OGRN / OGRNIP"),
        ("ao_bank_bik_c", "Bank BIK"),
        ("ao_bank_account_c", "Bank account"),
    ):
        lines.append(f"  {label:<14} {acc.get(name) or '-'}")
    addresses = desk.addresses(account_id)
    lines.append(f"Addresses ({len(addresses)}):")
    lines += [
        f"  {a.get('kind') or '?':<12} {a.get('full_address') or a.get('name') or a.id}" for a in addresses
    ]
    licences = desk.licences(account_id)
    lines.append(f"Licences ({len(licences)}):")
    for lic in licences:
        until = lic.get("valid_until") or "no limit"
        lines.append(
            f"  {lic.get('kind') or '?':<12} {lic.get('number') or '-'} ({lic.get('issuer') or '-'}), "
            f"until {until}"
        )
    if problems:
        lines.append(f"Problems ({len(problems)}):")
        lines += [f"  - {p}" for p in problems]
    else:
        lines.append("Requisites complete and valid.")
    return "\n".join(lines), not problems


def _desk() -> ApplicationDesk:
    from plugins.account_opening.plugin import desk_for

    return desk_for(plugin_context(PLUGIN))


@click.group("account-opening")
def account_opening() -> None:
    """Bank account-opening and card-issue applications."""


@account_opening.command("setup")
@click.option("--dry-run", is_flag=True, help="Only say what would be created or changed.")
def setup_cmd(dry_run: bool) -> None:
    """Create the three ACL roles with their module rights (idempotent); say who and which groups go where."""
    from plugins.account_opening.setup import ensure_roles, setup_report

    ctx = plugin_context(PLUGIN)
    settings: Settings = ctx.settings or Settings()
    wf = ctx.workflow
    try:
        reports = ensure_roles(wf.access, wf.rights, settings, dry_run=dry_run)
    except RightsError as exc:  # e.g. the package is not installed: no ACL actions for its modules
        raise click.ClickException(
            f"{exc}; install the packages first: suitecrm-ext package install workflow, then account_opening"
        ) from None
    click.echo(setup_report(reports, wf.access, settings, dry_run=dry_run))


@account_opening.command("status")
@click.argument("app_id")
def status_cmd(app_id: str) -> None:
    """Show an application's stage, decisions, who may act next and what blocks it."""
    click.echo(status_report(_desk(), app_id))


@account_opening.command("check")
@click.argument("account_id")
def check_cmd(account_id: str) -> None:
    """Check a client's requisites (exit 1 when something is missing or wrong)."""
    text, ok = check_report(_desk(), account_id)
    click.echo(text)
    if not ok:
        raise SystemExit(1)
