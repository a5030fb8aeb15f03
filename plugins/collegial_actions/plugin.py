"""Collegial actions on documents: voting, approval, signing, acknowledgement, deputies.

Hook implementations of the collegial_actions plugin. They are thin: the process rules are in
rules.py (configured by processes.yaml), the behaviour on a change in workflow.py, the commands in
cli.py. Deputies, Tasks and e-mails are the core workflow services' (suitecrm_ext.workflow; the deputies
module sx_Deputies comes with the core package). See docs/plugins/collegial_actions.md.
"""

from __future__ import annotations

from pathlib import Path

import click
from pydantic import BaseModel

from plugins.collegial_actions.records import ACTION_FIELDS
from plugins.collegial_actions.settings import Settings
from plugins.collegial_actions.workflow import workflow_for
from suitecrm_ext import (
    AuthError,
    Check,
    Event,
    EventKind,
    PluginContext,
    RecordChange,
    TransientError,
    WatchSpec,
    hookimpl,
)

SCHEMA_FILE = Path(__file__).with_name("schema.yaml")


@hookimpl
def ext_settings_schema() -> type[BaseModel]:
    """The plugin's settings model (module and field names, process map, notifications)."""
    return Settings


@hookimpl
def ext_suitecrm_artifacts() -> Path:
    """The package schema: the Collegial Actions module, Documents fields (needs the core package)."""
    return SCHEMA_FILE


@hookimpl
def ext_watch(settings: Settings | None) -> list[WatchSpec]:
    """Documents' status and type fields; the actions module's outcomes (and new actions). Deputy
    assignments are watched and validated by the core's built-in plugin ``workflow``."""
    s = settings or Settings()
    kinds = frozenset({EventKind.CREATED, EventKind.UPDATED})
    return [
        WatchSpec(s.documents_module, (s.status_field, s.type_field), kinds),
        WatchSpec(s.actions_module, ("outcome", "kind", "assigned_user_id"), kinds),
    ]


@hookimpl
def ext_validate_record_change(change: RecordChange, ctx: PluginContext) -> str | None:
    """Refuse a forbidden document status change or an outcome set by someone not entitled (also when
    SuiteCRM cannot be read to check it: a reader error never allows)."""
    return workflow_for(ctx).validate(change)


@hookimpl
def ext_on_record_change(event: Event, ctx: PluginContext) -> None:
    """Tasks and e-mails when a stage starts or completes; acted_by/acted_at; polling-only reverts."""
    workflow_for(ctx).on_event(event)


@hookimpl
def ext_cli_commands() -> list[click.Command]:
    """``suitecrm-ext collegial status DOCUMENT_ID`` and ``collegial deputies``."""
    from plugins.collegial_actions.cli import collegial

    return [collegial]


@hookimpl
def ext_doctor_checks(ctx: PluginContext) -> list[Check]:
    """The configured modules and fields exist in the CRM."""
    s: Settings = ctx.settings or Settings()
    wanted = {
        s.documents_module: [s.type_field, s.status_field],
        s.actions_module: ACTION_FIELDS,
    }
    checks = []
    hint = ("install the collegial_actions package (suitecrm-ext package build) "
            "or fix plugins.collegial_actions")
    for module, fields in wanted.items():
        try:
            have = ctx.crm.fields(module)
        except (TransientError, AuthError) as exc:
            # SuiteCRM cannot be asked at all: one line, not one (with retries) per module
            checks.append(Check(f"collegial_actions modules {', '.join(wanted)}", False, str(exc),
                                "SuiteCRM is unreachable or refused the login: fix the suitecrm "
                                "transport check above first"))
            break
        except Exception as exc:  # noqa: BLE001 - any failure is reported as a failed check
            checks.append(Check(f"collegial_actions module {module}", False, str(exc), hint))
            continue
        missing = [f for f in fields if f not in have]
        checks.append(Check(
            f"collegial_actions module {module}", not missing,
            f"missing field(s): {', '.join(missing)}" if missing else f"{len(fields)} fields present",
            hint if missing else "",
        ))
    return checks


@hookimpl
def ext_enforces_without_push(settings: Settings | None) -> bool | str:
    """With polling_only the plugin reverts forbidden status changes it sees (and leaves a Note)."""
    if settings is not None and settings.polling_only:
        return True
    return ("set plugins.collegial_actions.polling_only: true to revert forbidden changes seen by the "
            "change feed")


@hookimpl
def ext_demo_scenes() -> list:
    """A contract through the Classic process in ``suitecrm-ext demo``."""
    from plugins.collegial_actions.demo import scenes

    return scenes()
