"""``suitecrm-ext portal``: invite a Contact, see logins and sync state, resync, list conflicts, set up
the portal."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from suitecrm_ext import CRMError
from suitecrm_ext.progress import progress

PLUGIN = "portal_sync"
KINDS = ("Accounts", "Contacts", "Cases", "AOP_Case_Updates", "Notes", "login")


def _sync() -> Any:
    from suitecrm_ext.cli import plugin_context

    from .service import AdapterError, sync_for

    try:
        return sync_for(plugin_context(PLUGIN))
    except AdapterError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("portal")
def portal() -> None:
    """Client portal sync: invitations, status, resync, conflicts."""


@portal.command("invite")
@click.argument("contact_id")
def invite_cmd(contact_id: str) -> None:
    """Invite the internal Contact CONTACT_ID to the portal: login + registration link e-mailed."""
    from .engine import SyncProblem

    sync = _sync()
    try:
        done = sync.logins.invite(contact_id)
    except SyncProblem as exc:
        raise click.ClickException(f"{exc} — nothing was sent") from None
    finally:
        sync.portal.close()
    click.echo(
        f"invited {done['user_name']} (portal user {done['login_id']}, Account {done['account_id']}); "
        f"the registration link is valid until {done['link_valid_until']}"
    )


@portal.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status_cmd(as_json: bool) -> None:
    """Portal logins (invited / registered / disabled), synced records, conflicts and refused changes."""
    sync = _sync()
    logins = sync.logins.rows()
    counts = {kind: sync.ids.count(kind) for kind in KINDS}
    journal = sync.journal.counts()
    refusals = sync.journal.refusals(limit=10)
    if as_json:
        click.echo(
            json.dumps(
                {"logins": logins, "synced": counts, **journal, "recent_refusals": refusals},
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    console = Console()
    table = Table(title="portal logins")
    for col in ("contact", "user name", "status", "invited", "registered"):
        table.add_column(col)
    for row in logins:
        table.add_row(
            row["contact_id"], row["user_name"], row["status"], row["invited_at"], row["registered_at"]
        )
    console.print(table)
    synced = ", ".join(f"{k} {v}" for k, v in counts.items() if k != "login")
    console.print(
        f"synced: {synced}; conflicts {journal['conflicts']} (portal conflicts); "
        f"refused changes {journal['refusals']}"
    )
    for r in refusals:
        where = f"{r['module']} {r['portal_id'] or r['internal_id']}"
        console.print(f"  refused {r['at']} {where}: {r['field'] + ': ' if r['field'] else ''}{r['reason']}")


@portal.command("conflicts")
@click.option("-n", "--limit", default=50, show_default=True, help="How many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def conflicts_cmd(limit: int, as_json: bool) -> None:
    """Fields changed on both sides since the last sync, and how their rule settled them."""
    rows = _sync().journal.conflicts(limit=limit)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no conflicts recorded")
        return
    table = Table(title="portal conflicts (newest first)")
    for col in ("when", "record", "field", "was", "internal", "portal", "rule", "kept", "task"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["at"],
            f"{r['module']} {r['record']}",
            r["field"],
            r["base"],
            r["internal"],
            r["portal"],
            r["rule"],
            r["winner"],
            r.get("task_id") or "",
        )
    Console().print(table)


@portal.command("resync")
@click.option(
    "--module",
    "module",
    type=click.Choice(["Accounts", "Contacts", "Cases"]),
    default=None,
    help="Only this module (default: all three).",
)
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    default=None,
    help="Only records modified on either side since then (UTC), e.g. 2026-11-23.",
)
def resync_cmd(module: str | None, since: dt.datetime | None) -> None:
    """Sync records again (after an outage longer than the re-scan window, or a rule change)."""
    from . import resync

    sync = _sync()
    modules = (module,) if module else resync.MODULES
    when = since.replace(tzinfo=dt.timezone.utc) if since else None
    with progress("collecting records", unit="records") as bar:
        try:
            the_plan = resync.plan(sync, modules, when)
            bar.update(total=the_plan.total, description="syncing")
            result = resync.run(sync, the_plan, progress=bar.advance)
        except CRMError as exc:
            raise click.ClickException(f"SuiteCRM: {exc}") from None
        finally:
            sync.portal.close()
    table = Table(title="portal resync" + (f" since {when:%Y-%m-%d %H:%M:%S}" if when else ""))
    for col in ("module", "synced", "failed"):
        table.add_column(col)
    for name, counts in result.items():
        table.add_row(name, str(counts["synced"]), str(counts["failed"]))
    Console().print(table)
    if any(c["failed"] for c in result.values()):
        raise click.ClickException("some records failed (see the log above); run the resync again")


@portal.command("setup")
def setup_cmd() -> None:
    """Prepare the portal SuiteCRM once: the portal role and its module rights."""
    from .suitecrm_portal import PortalSetupError

    sync = _sync()
    try:
        for line in sync.portal.setup():
            click.echo(line)
    except PortalSetupError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        sync.portal.close()


@portal.group("package")
def package_group() -> None:
    """The portal SuiteCRM's push hooks (posting to the sidecar's /o/portal/events)."""


_SIDECAR = click.option(
    "--sidecar-url",
    required=True,
    help="The sidecar's push URL as the PORTAL reaches it, e.g. http://sidecar:8765.",
)


@package_group.command("build")
@click.option("-o", "out_dir", default="dist", show_default=True, help="Where to write the zip.")
@_SIDECAR
def package_build(out_dir: str, sidecar_url: str) -> None:
    """Build the portal's Module Loader zip (install it in the portal's Admin -> Module Loader)."""
    from suitecrm_ext.packaging import PackageError

    from .portal_package import build, portal_push_url

    try:
        path = build(out_dir, sidecar_url)
    except PackageError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"built {path}: hooks post to {portal_push_url(sidecar_url)}/events; set "
        "$sugar_config['suitecrm_ext']['secret'] in the portal's config_override.php"
    )


@package_group.command("install")
@click.option(
    "--suitecrm-root",
    "root",
    required=True,
    type=click.Path(),
    help="The portal SuiteCRM's directory on this host.",
)
@_SIDECAR
def package_install(root: str, sidecar_url: str) -> None:
    """Install the portal's push hooks with SuiteCRM's ModuleInstaller (run on the portal's host)."""
    from suitecrm_ext.packaging import InstallError, PackageError

    from .portal_package import install

    try:
        report = install(root, sidecar_url)
    except (InstallError, PackageError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"installed the portal push hooks in {root}")
    for line in report.lines():
        click.echo(f"  {line}")
