"""What the job and the CLI run: import a statement file, import from 1C OData, re-match, the whole job.

Cursors in the state store:

- ``onec_bridge.file.<sha256 of the file>`` — ``{"next": i, "done": bool}``: an interrupted import of
  that file resumes at payment ``i``; a finished one is imported again from the start when asked
  (unchanged payments are not rewritten, newly matching ones get linked);
- ``onec_bridge.odata`` — ``{"newest": "<Date of the newest document seen>"}``: the next run reads
  from ``newest - overlap_days``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .importer import ImportOptions, ImportSummary, PaymentImporter
from .odata import ODataClient, OneCError
from .odata_source import ODataPaymentSource
from .statement import StatementError, parse_statement_file
from .writers import REL_TABLE, TABLE, ApiPaymentWriter, MySQLPaymentWriter

log = logging.getLogger("suitecrm_ext.plugins.onec_bridge")

ODATA_CURSOR = "onec_bridge.odata"


class ConfigProblem(RuntimeError):
    """The plugin's settings cannot do what was asked (the message names the key)."""


def make_writer(ctx: Any) -> Any:
    """The payment writer the settings ask for (``write: api`` or ``write: mysql``)."""
    s = ctx.settings
    if s.write == "mysql":
        owned_writer = getattr(ctx.crm, "owned_writer", None)
        if owned_writer is None:
            raise ConfigProblem(
                "plugins.onec_bridge.write: mysql needs direct MySQL access (suitecrm.mysql in the config); "
                f"the CRM gateway in use ({type(ctx.crm).__name__}) has no owned-table writer")
        return MySQLPaymentWriter(ctx.crm, owned_writer([TABLE, REL_TABLE]), user_id=s.user_id)
    return ApiPaymentWriter(ctx.crm, batch_size=s.batch_size, parallel=s.api_parallel, clients=ctx.new_crm)


def make_importer(ctx: Any, progress: Callable[[int], None] | None = None, writer: Any = None
                  ) -> PaymentImporter:
    """A PaymentImporter wired to the plugin's settings, CRM and state."""
    s = ctx.settings
    opts = ImportOptions(inn_field=s.inn_field, kpp_field=s.kpp_field, batch_size=s.batch_size,
                         task_user_id=s.task_user_id, default_user_id=s.user_id, create_tasks=s.create_tasks)
    return PaymentImporter(ctx.crm, writer or make_writer(ctx), opts, state=ctx.state, progress=progress)


def make_exporter(ctx: Any) -> Any:
    """The CounterpartyExporter over the plugin's 1C client, CRM and state."""
    from .export import CounterpartyExporter

    s = ctx.settings
    return CounterpartyExporter(make_client(ctx), ctx.crm, ctx.state, inn_field=s.inn_field,
                                kpp_field=s.kpp_field)


def make_client(ctx: Any) -> ODataClient:
    """The 1C OData client from ``plugins.onec_bridge.odata``."""
    o = ctx.settings.odata
    if o is None:
        raise ConfigProblem("plugins.onec_bridge.odata is not configured (url, username, password)")
    return ODataClient(o.url, o.username, o.password.get_secret_value(), timeout=o.timeout,
                       retries=o.retries, verify_tls=o.verify_tls)


def import_file(ctx: Any, path: str | Path, *, dry_run: bool = False,
                progress: Callable[[int], None] | None = None,
                on_parsed: Callable[[int], None] | None = None) -> ImportSummary:
    """Import one 1CClientBankExchange file. A malformed file raises StatementError and writes nothing."""
    path = Path(path)
    statement = parse_statement_file(path, own_inns=ctx.settings.own_inn)
    if on_parsed:
        on_parsed(len(statement.payments))
    cursor = "onec_bridge.file." + file_digest(path)
    summary = make_importer(ctx, progress).run(statement.payments, cursor=cursor, dry_run=dry_run,
                                               skipped=statement.outgoing, transfers=statement.transfers)
    if statement.encoding_note:
        log.info("%s: %s", path.name, statement.encoding_note)
        summary.notes.append(f"{path.name}: {statement.encoding_note}")
    return summary


def file_digest(path: Path) -> str:
    """The first 40 hex digits of the file's SHA-256 (names its resume cursor)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:40]


def odata_since(ctx: Any, since: dt.date | dt.datetime | None = None) -> dt.datetime:
    """Where the next OData read starts: ``since`` if given, else the cursor minus the overlap window."""
    if since is not None:
        return since if isinstance(since, dt.datetime) else dt.datetime.combine(since, dt.time())
    o = ctx.settings.odata
    saved = ctx.state.get_cursor(ODATA_CURSOR) or {}
    if saved.get("newest"):
        return dt.datetime.fromisoformat(saved["newest"]) - dt.timedelta(days=o.overlap_days)
    if o.start_date:
        return dt.datetime.combine(o.start_date, dt.time())
    today = dt.datetime.combine(dt.date.today(), dt.time())
    return today - dt.timedelta(days=o.initial_days)


def import_odata(ctx: Any, *, since: dt.date | dt.datetime | None = None, dry_run: bool = False,
                 progress: Callable[[int], None] | None = None,
                 on_parsed: Callable[[int], None] | None = None, client: ODataClient | None = None
                 ) -> ImportSummary:
    """Import incoming payments from 1C OData (incremental; see the module docstring)."""
    o = ctx.settings.odata
    client = client or make_client(ctx)
    source = ODataPaymentSource(client, page_size=o.page_size, operation_kinds=o.operation_kinds,
                                default_currency=o.default_currency, own_inns=ctx.settings.own_inn)
    start = odata_since(ctx, since)
    result = source.fetch(start)
    if on_parsed:
        on_parsed(len(result.payments))
    importer = make_importer(ctx, progress)
    summary = importer.run(result.payments, dry_run=dry_run, skipped=result.skipped,
                           transfers=result.transfers)
    if not dry_run:
        # only whole days were read again: a document earlier on the window's first day than its
        # start time was not asked for, which does not make it vanished
        first_day = start.date() if start.time() == dt.time() else start.date() + dt.timedelta(days=1)
        summary.vanished = importer.mark_vanished(first_day, result.seen_keys)
        saved = ctx.state.get_cursor(ODATA_CURSOR) or {}
        newest = result.newest.isoformat() if result.newest else saved.get("newest")
        if newest and (not saved.get("newest") or newest > saved["newest"]):
            ctx.state.set_cursor(ODATA_CURSOR, {"newest": newest})
    return summary


def run_job(ctx: Any) -> dict[str, Any]:
    """The ``onec-import`` job: OData (if configured), files in ``statement_dir``, then re-matching."""
    s = ctx.settings
    total = ImportSummary()
    failed: list[str] = []
    odata_error: Exception | None = None
    if s.odata is not None:
        try:
            total.add(import_odata(ctx))
        except OneCError as exc:  # 1C down must not hold back the statement files; reported below
            log.error("1C OData import failed: %s", exc)
            odata_error = exc
    if s.statement_dir:
        inbox = Path(s.statement_dir)
        for path in sorted(p for p in inbox.glob("*") if p.is_file()):
            try:
                total.add(import_file(ctx, path))
            except StatementError as exc:
                log.error("statement file rejected, nothing imported from it: %s", exc)
                failed.append(path.name)
                _move(path, inbox / "failed")
                continue
            _move(path, inbox / "imported")
    rematched = make_importer(ctx).rematch()
    out = total.as_dict()
    out["rematched"] = rematched.matched
    if failed:
        out["failed_files"] = failed
    if odata_error is not None:
        raise OneCError(f"{odata_error} (statement files and re-matching ran: {out})")
    return out


def _move(path: Path, folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    if target.exists():
        target = folder / f"{path.stem}.{dt.datetime.now():%Y%m%d%H%M%S}{path.suffix}"
    shutil.move(str(path), str(target))
