"""BP-scripts: business processes of Tasks and automatic steps, composed by admins from reusable blocks.

Hook implementations of the bp_scripts plugin. They are thin: processes are read and checked in
settings.py/processes.py, run by engine.py; the shipped scripts are in scripts/ (one module each), SMS
providers in sms/, documents in documents.py. See
docs/plugins/bp_scripts.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel

from suitecrm_ext import (
    AowCall,
    AuthError,
    Check,
    Event,
    EventKind,
    JobSpec,
    PluginContext,
    TransientError,
    WatchSpec,
    hookimpl,
)

from .settings import Settings

SCHEMA_FILE = Path(__file__).with_name("schema.yaml")


@hookimpl
def ext_settings_schema() -> type[BaseModel]:
    """The plugin's settings: process files, SMS providers, webhooks, documents."""
    return Settings


@hookimpl
def ext_suitecrm_artifacts() -> Path:
    """The package: process instances (bp_Runs) with their subpanels, subscriptions, the processes' fields."""
    return SCHEMA_FILE


@hookimpl
def ext_bp_scripts() -> list:
    """The shipped scripts (scripts/)."""
    from .scripts import SHIPPED

    return list(SHIPPED)


@hookimpl
def ext_watch(settings: Settings | None) -> list[WatchSpec]:
    """The modules of the enabled processes (with the fields their conditions read), Tasks (a person's
    step ends when its Task is completed)."""
    from .watching import watch_specs

    return watch_specs(settings or Settings())


@hookimpl
def ext_on_record_change(event: Event, ctx: PluginContext) -> None:
    """Start triggered processes; move on runs waiting on the record."""
    from .service import engine_for

    engine_for(ctx).on_event(event)


def _advance(ctx: PluginContext) -> str:
    from .processes import interval_seconds
    from .service import engine_for, providers_for
    from .tracking import poll_statuses

    engine = engine_for(ctx)
    counts = engine.tick()
    s: Settings = ctx.settings or Settings()
    sms = poll_statuses(ctx.crm, ctx.state, providers_for(s), every=interval_seconds(s.sms.status_every))
    return (
        f"started={counts['started']}, advanced={counts['advanced']}, scanned={counts['scanned']}, "
        f"sms_checked={sms['checked']}"
    )


@hookimpl
def ext_aow_action(call: AowCall, ctx: PluginContext) -> dict[str, Any] | None:
    """SuiteCRM's workflow action "Run BP-script": store the run once per workflow run (aow.py)."""
    from .aow import take

    return take(call, ctx)


@hookimpl
def ext_jobs(settings: Settings | None) -> list[JobSpec]:
    """``bp-advance``: retries, waiting steps, scheduled triggers, SMS delivery statuses."""
    s = settings or Settings()
    return [
        JobSpec(
            "bp-advance",
            s.advance_every,
            _advance,
            "move BP processes on: retries, waiting steps, scheduled triggers, SMS statuses",
        )
    ]


@hookimpl
def ext_cli_commands() -> list[click.Command]:
    """``suitecrm-ext bp list | processes | status | run | replay``."""
    from .cli import bp

    return [bp]


@hookimpl
def ext_doctor_checks(ctx: PluginContext) -> list[Check]:
    """The package's modules, the fields the processes use, the SMS providers' credentials."""
    from .checks import doctor_checks

    try:
        return doctor_checks(ctx)
    except (TransientError, AuthError) as exc:
        return [Check("bp_scripts", False, str(exc), "fix the suitecrm transport checks above first")]


__all__ = ["EventKind"]
