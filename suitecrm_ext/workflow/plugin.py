"""The built-in plugin ``workflow``: the core workflow services registered through the same hooks as any
plugin (as datasette registers its own features), so they show in ``plugins list``, get their settings
section ``plugins.workflow``, ship their SuiteCRM package (``package build|install workflow``: the
deputies and decision log modules) and validate deputy assignments before SuiteCRM saves them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from suitecrm_ext import hookimpl
from suitecrm_ext.crm.base import AuthError, CRMError, TransientError, parse_date
from suitecrm_ext.doctor import Check
from suitecrm_ext.events.model import EventKind, RecordChange, WatchSpec
from suitecrm_ext.workflow.decisions import DECISION_FIELDS
from suitecrm_ext.workflow.deputies import ALL_KINDS, DEPUTY_FIELDS, check_assignment
from suitecrm_ext.workflow.settings import WorkflowSettings

SCHEMA_FILE = Path(__file__).with_name("schema.yaml")


@hookimpl
def ext_settings_schema() -> type[BaseModel]:
    """``plugins.workflow``: language, module names, decision-log links, business calendar."""
    return WorkflowSettings


@hookimpl
def ext_suitecrm_artifacts() -> Path:
    """The core package: the sx_Deputies and sx_Decisions modules."""
    return SCHEMA_FILE


@hookimpl
def ext_watch(settings: WorkflowSettings | None) -> list[WatchSpec]:
    """Deputy assignments (validated before save)."""
    s = settings or WorkflowSettings()
    return [
        WatchSpec(
            s.deputies_module,
            ("principal_id", "deputy_id", "kind", "start_date", "end_date"),
            frozenset({EventKind.CREATED, EventKind.UPDATED}),
        )
    ]


def _value(change: RecordChange, name: str):
    return change.after[name] if name in change.after else change.before.get(name, "")


def _date(v):
    try:
        return parse_date(v)
    except ValueError:
        return None


@hookimpl
def ext_validate_record_change(change: RecordChange, ctx) -> str | None:
    """Refuse a deputy assignment without principal/deputy/start, for oneself, for a kind the module's
    dropdown does not offer, or ending before it starts."""
    s: WorkflowSettings = ctx.settings or WorkflowSettings()
    if change.module != s.deputies_module:
        return None
    try:
        info = ctx.crm.fields(s.deputies_module).get("kind")
    except CRMError:
        info = None  # metadata unreachable: the other rules still apply, the dropdown limits the UI
    kinds = [k for k in info.options if k and k != ALL_KINDS] if info is not None and info.options else None
    return check_assignment(
        str(_value(change, "principal_id") or ""),
        str(_value(change, "deputy_id") or ""),
        str(_value(change, "kind") or ""),
        _date(_value(change, "start_date")),
        _date(_value(change, "end_date")),
        kinds,
    )


@hookimpl
def ext_doctor_checks(ctx) -> list[Check]:
    """The core package's modules exist in SuiteCRM with their fields."""
    s: WorkflowSettings = ctx.settings or WorkflowSettings()
    hint = "install the core package: suitecrm-ext package install workflow --suitecrm-root DIR"
    out = []
    for module, fields in ((s.deputies_module, DEPUTY_FIELDS), (s.decisions_module, DECISION_FIELDS)):
        try:
            have = ctx.crm.fields(module)
        except (TransientError, AuthError) as exc:
            return [
                Check("workflow modules", False, str(exc), "fix the suitecrm transport checks above first")
            ]
        except Exception as exc:  # noqa: BLE001 - any failure is a failed check
            out.append(Check(f"workflow module {module}", False, str(exc), hint))
            continue
        missing = [f for f in fields if f not in have]
        out.append(
            Check(
                f"workflow module {module}",
                not missing,
                f"missing field(s): {', '.join(missing)}" if missing else f"{len(fields)} fields present",
                hint if missing else "",
            )
        )
    return out
