"""Declarative record routing: steps, approvals, deadlines, escalation.

Hook implementations of the routing plugin. They are thin: the route format is routes.py, the engine
engine.py (decisions.py, moving.py, activation.py, quorum.py), the checks before save validation.py,
the job escalation.py, the commands cli.py. See docs/plugins/routing.md.
"""

from __future__ import annotations

from pathlib import Path

import click
from pydantic import BaseModel

from plugins.routing.engine import RouteEngine
from plugins.routing.routes import condition_fields, route_fields
from plugins.routing.settings import Settings
from suitecrm_ext import (
    AuthError,
    Check,
    Event,
    EventKind,
    JobSpec,
    PluginContext,
    RecordChange,
    TransientError,
    WatchSpec,
    hookimpl,
)

SCHEMA_FILE = Path(__file__).with_name("schema.yaml")
RUN_FIELDS_NEEDED = ("route", "status", "snapshot", "parent_type", "parent_id", "initiator_id")
STEP_FIELDS_NEEDED = (
    "run_id",
    "route",
    "step",
    "seq",
    "seat",
    "status",
    "decision",
    "comment",
    "due",
    "decided_by_id",
    "on_behalf_of_id",
    "escalated_from_id",
    "escalation_level",
)

_SERVICE_IDS: dict[tuple[int, str], str] = {}


@hookimpl
def ext_settings_schema() -> type[BaseModel]:
    """The plugin's settings model (routes, route files, role hierarchy, modules, notices)."""
    return Settings


@hookimpl
def ext_suitecrm_artifacts() -> Path:
    """The package: Route Runs and Route Steps modules, subpanels on the shipped routes' modules."""
    return SCHEMA_FILE


@hookimpl
def ext_watch(settings: Settings | None) -> list[WatchSpec]:
    """Step records' decisions; the routed modules' fields the routes read; complete_on modules."""
    s = settings or Settings()
    kinds = frozenset({EventKind.CREATED, EventKind.UPDATED})
    specs = [WatchSpec(s.steps_module, ("decision", "assigned_user_id"), kinds)]
    routed: dict[str, set[str]] = {}
    related: dict[str, tuple[set[str], set[EventKind]]] = {}
    for route in s.all_routes():
        routed.setdefault(route.module, set()).update(route_fields(route))
        for step in route.steps:
            c = step.complete_on
            if c is not None:
                fields, on = related.setdefault(c.module, (set(), set()))
                fields.update({c.field, *condition_fields(c.when)})
                on.update(EventKind(k) for k in c.on)
    for module, fields in sorted(routed.items()):
        specs.append(WatchSpec(module, tuple(sorted(fields)), kinds | {EventKind.DELETED}))
    for module, (fields, on) in sorted(related.items()):
        specs.append(WatchSpec(module, tuple(sorted(fields)), frozenset(on)))
    return specs


def service_user_id(ctx: PluginContext, settings: Settings) -> str:
    """The id of the SuiteCRM user the sidecar writes as (``service_user``, else the write transport's)."""
    login = settings.service_user
    if not login:
        try:
            sc = ctx.app.config.settings.suitecrm
            section = getattr(sc, sc.write_via, None)
            login = getattr(section, "username", "") or ""
        except AttributeError:
            login = ""
    if not login:
        return ""
    key = (id(ctx.app), login)
    if key not in _SERVICE_IDS:
        user = ctx.workflow.access.user_by_name(login)
        if user is None:
            return ""
        _SERVICE_IDS[key] = user.id
    return _SERVICE_IDS[key]


def engine_for(ctx: PluginContext, settings: Settings | None = None) -> RouteEngine:
    """The engine over a plugin context's services (one per hook call: fresh caches)."""
    s = settings or ctx.settings or Settings()
    url = ""
    try:
        url = ctx.app.config.settings.suitecrm.url
    except AttributeError:
        pass
    return RouteEngine(
        s, ctx.crm, ctx.workflow, ctx.state, crm_url=url, service_user_id=service_user_id(ctx, s)
    )


@hookimpl
def ext_on_record_change(event: Event, ctx: PluginContext) -> None:
    """Start, cancel and move runs; count decisions; complete task steps."""
    engine_for(ctx).on_event(event)


@hookimpl
def ext_validate_record_change(change: RecordChange, ctx: PluginContext) -> str | None:
    """Refuse a decision by someone not entitled, a second decision, an edit of the route's own fields,
    and a vetoed change of a routed record (e.g. the sales stage before the discount is approved)."""
    from plugins.routing.validation import validate

    return validate(engine_for(ctx), change)


@hookimpl
def ext_jobs(settings: Settings | None) -> list[JobSpec]:
    """``routing-escalate``: reminders before deadlines, escalation at the breach."""
    from plugins.routing.escalation import escalate_job

    s = settings or Settings()
    return [
        JobSpec(
            "routing-escalate",
            s.escalation_schedule,
            escalate_job,
            "reminders before step deadlines and escalation at the breach (routing)",
        )
    ]


@hookimpl
def ext_cli_commands() -> list[click.Command]:
    """``suitecrm-ext routing explain MODULE ID`` and ``routing steps [--overdue]``."""
    from plugins.routing.cli import routing

    return [routing]


@hookimpl
def ext_doctor_checks(ctx: PluginContext) -> list[Check]:
    """The package's modules and fields exist; the routes' modules, fields and roles exist."""
    s: Settings = ctx.settings or Settings()
    checks: list[Check] = []
    hint = "install the routing package: suitecrm-ext package install routing --suitecrm-root DIR"
    wanted = {s.runs_module: RUN_FIELDS_NEEDED, s.steps_module: STEP_FIELDS_NEEDED}
    for route in s.all_routes():
        wanted.setdefault(route.module, ())
    for module, fields in wanted.items():
        try:
            have = ctx.crm.fields(module)
        except (TransientError, AuthError) as exc:
            return [
                Check("routing modules", False, str(exc), "fix the suitecrm transport checks above first")
            ]
        except Exception as exc:  # noqa: BLE001 - any failure is a failed check
            checks.append(
                Check(
                    f"routing module {module}",
                    False,
                    str(exc),
                    hint if module in (s.runs_module, s.steps_module) else "fix the route's module",
                )
            )
            continue
        need = set(fields)
        for route in s.all_routes():
            if route.module == module:
                need |= route_fields(route)
        missing = sorted(f for f in need if f not in have)
        checks.append(
            Check(
                f"routing module {module}",
                not missing,
                f"missing field(s): {', '.join(missing)}" if missing else f"{len(need)} fields present",
                (
                    hint
                    if module in (s.runs_module, s.steps_module)
                    else "add the field(s) in Studio or fix the routes"
                )
                if missing
                else "",
            )
        )
    roles = set(s.role_hierarchy)
    for route in s.all_routes():
        roles |= set(route.role_hierarchy or [])
        for step in route.steps:
            for spec in [*step.assignee.specs, *(x for c in step.assignee.first_match for x in c.to)]:
                if spec.role:
                    roles.add(spec.role)
    if roles:
        access = ctx.workflow.access
        missing = sorted(r for r in roles if access.role(r) is None)
        checks.append(
            Check(
                "routing roles",
                not missing,
                f"no ACL role(s) {', '.join(missing)} in SuiteCRM"
                if missing
                else f"{len(roles)} roles present",
                "create them in Admin → Role Management or fix the routes" if missing else "",
            )
        )
    if "create_with_id" not in getattr(ctx.crm, "capabilities", frozenset()):
        checks.append(
            Check(
                "routing writes",
                False,
                "the write transport cannot create records under a chosen id (V8 cannot)",
                "set suitecrm.write_via: rest (or soap)",
            )
        )
    return checks
