"""Two-way sync between the internal SuiteCRM and a client portal ("личный кабинет").

Hooks: settings (``plugins.portal_sync``, settings.py), the internal SuiteCRM's fields (``schema.yaml``:
the Contact's portal status, the Case's "from the portal" flag, push hooks), what to watch on both
sides (internal events and the portal's, origin ``portal``), the ``portal-sync`` job (polls the
portal, picks up registrations), doctor checks and the ``portal`` CLI group. The work is in
engine.py (dispatch), orgs.py, logins.py, cases.py; the portal behind adapter.py. See
docs/plugins/portal_sync.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from suitecrm_ext import Check, Event, JobSpec, PluginContext, WatchSpec, hookimpl

from .settings import Settings


@hookimpl
def ext_settings_schema() -> type[BaseModel]:
    """The plugin's settings model."""
    return Settings


@hookimpl
def ext_suitecrm_artifacts() -> Path:
    """The internal SuiteCRM's side: the Contact's portal status, the Case's portal flag, push hooks."""
    return Path(__file__).with_name("schema.yaml")


@hookimpl
def ext_watch(settings: Any) -> list[WatchSpec]:
    """Accounts, Contacts, Cases, case updates and Notes — internal ones and the portal's."""
    from .engine import watch_specs

    return watch_specs(settings if settings is not None else Settings())


@hookimpl
def ext_on_record_change(event: Event, ctx: PluginContext) -> None:
    """A change on either side: sync what it touches (idempotent; raises to be retried)."""
    from .service import sync_for

    sync_for(ctx).handle(event)


def run_job(ctx: PluginContext) -> str:
    """The ``portal-sync`` job: queue the portal's changes, pick up registrations."""
    from .service import sync_for

    done = sync_for(ctx).poll()
    return f"queued {done['queued']} portal change(s); {done['registered']} registration(s)"


@hookimpl
def ext_jobs(settings: Any) -> list[JobSpec]:
    """``portal-sync``: every ``poll_schedule`` (default 5 s)."""
    schedule = settings.poll_schedule if settings is not None else "5s"
    return [JobSpec("portal-sync", schedule, run_job, "poll the client portal for changes and registrations")]


@hookimpl
def ext_doctor_checks(ctx: PluginContext) -> list[Check]:
    """The portal reachable and prepared (role); the internal Contact has the status field."""
    from .service import AdapterError, load_adapter

    checks: list[Check] = []
    field = ctx.settings.status_field
    try:
        has = field in ctx.crm.fields("Contacts")
        checks.append(
            Check(
                "portal_sync: Contacts." + field,
                has,
                "" if has else "missing",
                ""
                if has
                else "install the plugin's package: suitecrm-ext package install "
                "portal_sync --suitecrm-root DIR",
            )
        )
    except Exception as exc:  # noqa: BLE001 - reported as a failed check
        checks.append(Check("portal_sync: Contacts." + field, False, str(exc)))
    try:
        adapter = load_adapter(ctx.settings, ctx.state)
    except AdapterError as exc:
        return [*checks, Check("portal_sync: adapter", False, str(exc))]
    try:
        checks.extend(adapter.checks())
    finally:
        adapter.close()
    return checks


@hookimpl
def ext_cli_commands() -> list[Any]:
    """``suitecrm-ext portal invite|status|resync|conflicts|setup``."""
    from .cli import portal

    return [portal]
