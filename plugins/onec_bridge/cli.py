"""``suitecrm-ext onec``: import payments now (from a file or 1C OData), re-match unmatched payments,
export Accounts to 1C as counterparties (all of them, or one)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .importer import ImportSummary
from .odata import OneCError
from .statement import StatementError

PLUGIN = "onec_bridge"
ROWS = (("new", "new"), ("updated", "updated"), ("unchanged", "unchanged"),
        ("joined", "joined (the other source's record: kept once)"), ("matched", "matched"),
        ("unmatched", "unmatched"), ("ignored", "ignored (deleted / not posted in 1C)"),
        ("skipped", "skipped (outgoing / other operations)"), ("transfers", "transfers between own accounts"),
        ("tasks", "tasks created"), ("vanished", "no longer in 1C"), ("resumed_at", "resumed at payment"))
#: rows shown only when not zero
OPTIONAL_ROWS = ("joined", "vanished", "resumed_at")


def _context() -> Any:
    from suitecrm_ext.cli import plugin_context

    return plugin_context(PLUGIN)


def summary_table(summary: ImportSummary, title: str) -> Table:
    """The summary as a rich table (one row per count)."""
    table = Table(title=title)
    table.add_column("payments")
    table.add_column("count", justify="right")
    values = summary.as_dict()
    for key, label in ROWS:
        if key in OPTIONAL_ROWS and not values[key]:
            continue
        table.add_row(label, str(values[key]))
    return table


@click.group("onec")
def onec() -> None:
    """1C:Enterprise bridge: incoming payments, counterparties."""


@onec.command("import")
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False),
              help="A 1CClientBankExchange statement file (otherwise: 1C OData).")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="OData: read documents dated on/after this day (YYYY-MM-DD) instead of the cursor.")
@click.option("--dry-run", is_flag=True, help="Parse and match, show what would change, write nothing.")
def import_cmd(file: str | None, since: dt.datetime | None, dry_run: bool) -> None:
    """Import incoming payments now and print new / updated / matched / unmatched / skipped."""
    from .service import ConfigProblem, import_file, import_odata

    if file and since:
        raise click.UsageError("--since applies to the OData import; a --file is imported whole")
    ctx = _context()
    with _progress() as bar:
        task = bar.add_task("reading" + (f" {file}" if file else " 1C OData"), total=None)

        def parsed(n: int) -> None:
            bar.update(task, total=n, description="importing" + (" (dry run)" if dry_run else ""))

        def advance(n: int) -> None:
            bar.advance(task, n)

        try:
            if file:
                summary = import_file(ctx, file, dry_run=dry_run, progress=advance, on_parsed=parsed)
            else:
                summary = import_odata(ctx, since=since, dry_run=dry_run, progress=advance, on_parsed=parsed)
        except StatementError as exc:
            raise click.ClickException(f"{exc} — nothing was imported") from None
        except (OneCError, ConfigProblem) as exc:
            raise click.ClickException(str(exc)) from None
    title = f"{'dry run: ' if dry_run else ''}payments from {file or '1C OData'}"
    out = Console()
    out.print(summary_table(summary, title))
    for note in summary.notes:
        out.print(f"note: {note}", markup=False, highlight=False)


@onec.command("rematch")
def rematch_cmd() -> None:
    """Match stored unmatched payments again (after Accounts got their INN)."""
    from .service import make_importer

    summary = make_importer(_context()).rematch()
    Console().print(summary_table(summary, "re-matched unmatched payments"))


@onec.command("export")
@click.option("--all", "all_", is_flag=True, help="Every Account (the first full export; resumable).")
@click.option("--account", "account_id", default=None, metavar="ID", help="One Account, by its SuiteCRM id.")
@click.option("--restart", is_flag=True, help="With --all: start from the first Account, not where a "
              "killed run stopped.")
def export_cmd(all_: bool, account_id: str | None, restart: bool) -> None:
    """Export Accounts to 1C as counterparties (Catalog_Контрагенты) now."""
    from .export import ExportBusy, NotExported, export_all
    from .service import ConfigProblem, make_exporter

    if all_ == bool(account_id):
        raise click.UsageError("give --all (every Account) or --account ID (one)")
    if restart and not all_:
        raise click.UsageError("--restart goes with --all")
    try:
        exporter = make_exporter(_context())
        if account_id:
            ref, what = exporter.export_account(account_id)
            click.echo(f"Account {account_id}: counterparty {ref} {what}")
            return
        with _progress() as bar:
            task = bar.add_task("exporting Accounts to 1C", total=None)
            summary = export_all(exporter, restart=restart, on_total=lambda n: bar.update(task, total=n),
                                 progress=lambda n: bar.advance(task, n))
    except OneCError as exc:
        raise click.ClickException(f"{exc} — run it again: it resumes where it stopped") from None
    except (ConfigProblem, ExportBusy, NotExported) as exc:
        raise click.ClickException(str(exc)) from None
    table = Table(title="Accounts exported to 1C (Catalog_Контрагенты)")
    table.add_column("accounts")
    table.add_column("count", justify="right")
    values = summary.as_dict()
    for key, label in EXPORT_ROWS:
        if key != "resumed_at" or values[key]:
            table.add_row(label, str(values[key]))
    Console().print(table)


EXPORT_ROWS = (("total", "total"), ("created", "created in 1C"), ("updated", "updated in 1C"),
               ("unchanged", "unchanged (sent before)"), ("skipped", "skipped (no valid INN)"),
               ("resumed_at", "resumed after"))


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=True)
