"""Bank account-opening and card-issue applications on SuiteCRM roles and security groups.

Hook implementations of the account_opening plugin. They are thin: the flow is flow.yaml (checked by
settings.py), the identifier rules identifiers.py and requisites.py, the before-save rules desk.py, what
happens after a save handlers.py, account numbers numbering.py, the roles setup.py, the commands cli.py.
See docs/plugins/account_opening.md.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from pydantic import BaseModel

from plugins.account_opening import requisites as rq
from plugins.account_opening.desk import ADDRESSES, APPLICATIONS, LICENCES, ApplicationDesk
from plugins.account_opening.handlers import ApplicationEvents
from plugins.account_opening.predicates import COMMENT_FIELD
from plugins.account_opening.settings import Settings
from suitecrm_ext import (
    Check,
    Cond,
    Event,
    EventKind,
    JobSpec,
    PluginContext,
    RecordChange,
    WatchSpec,
    hookimpl,
)

SCHEMA_FILE = Path(__file__).with_name("schema.yaml")
PLUGIN = "account_opening"
_SAVES = frozenset({EventKind.CREATED, EventKind.UPDATED})


def desk_for(ctx: PluginContext, settings: Settings | None = None) -> ApplicationDesk:
    """The desk over a plugin context's services (one per hook call: its caches are fresh)."""
    url = ""
    try:
        url = ctx.app.config.settings.suitecrm.url
    except AttributeError:
        pass
    return ApplicationDesk(
        settings or ctx.settings or Settings(), ctx.crm, ctx.workflow, ctx.state, log=ctx.log, crm_url=url
    )


@hookimpl
def ext_settings_schema() -> type[BaseModel]:
    """Roles, flows, the bank's numbering, notices (settings.py)."""
    return Settings


@hookimpl
def ext_suitecrm_artifacts() -> Path:
    """The Applications, Licences and Addresses modules, requisite fields on Accounts and Contacts, the
    validation hooks."""
    return SCHEMA_FILE


@hookimpl
def ext_watch(settings: Settings | None) -> list[WatchSpec]:
    """Applications (status, comment, content; relationship events for the client), requisites on
    Accounts and Contacts (validated only), licences and addresses (validated; groups; full text)."""
    return [
        WatchSpec(
            APPLICATIONS,
            ("status", COMMENT_FIELD, "application_type", "account_number"),
            _SAVES | {EventKind.RELATED},
        ),
        WatchSpec("Accounts", rq.ACCOUNT_FIELDS, frozenset()),
        WatchSpec("Contacts", rq.CONTACT_FIELDS, frozenset()),
        WatchSpec(LICENCES, rq.LICENCE_FIELDS, _SAVES | {EventKind.RELATED}),
        WatchSpec(ADDRESSES, rq.ADDRESS_FIELDS, _SAVES | {EventKind.RELATED}),
    ]


@hookimpl
def ext_validate_record_change(change: RecordChange, ctx: PluginContext) -> str | None:
    """Refuse a status change the user's role may not make, and requisites that break their rules."""
    return desk_for(ctx).validate(change)


@hookimpl
def ext_on_record_change(event: Event, ctx: PluginContext) -> None:
    """Decision log, Tasks and e-mails for the next role, account numbers, inherited security groups."""
    ApplicationEvents(desk_for(ctx)).on_event(event)


def inherit_recent_groups(ctx: PluginContext) -> str:
    """Job: applications created in the last day get their client's security groups (a safety net for
    API creates whose client was set without a push event, e.g. in polling-only mode)."""
    desk = desk_for(ctx)
    events = ApplicationEvents(desk)
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
    seen = fixed = 0
    for rec in ctx.crm.find(APPLICATIONS, Cond("date_entered", "gte", since), ["id"]):
        seen += 1
        fixed += bool(events.inherit_groups(APPLICATIONS, rec.id))
    return f"{seen} recent application(s), {fixed} given their client's groups"


@hookimpl
def ext_jobs(settings: Settings | None) -> list[JobSpec]:
    """``account-opening-groups`` every 10 minutes (see :func:`inherit_recent_groups`)."""
    return [
        JobSpec(
            "account-opening-groups",
            "10m",
            inherit_recent_groups,
            "recent applications get their client's security groups",
        )
    ]


@hookimpl
def ext_cli_commands() -> list[click.Command]:
    """``suitecrm-ext account-opening setup | status APP_ID | check ACCOUNT_ID``."""
    from plugins.account_opening.cli import account_opening

    return [account_opening]


@hookimpl
def ext_doctor_checks(ctx: PluginContext) -> list[Check]:
    """The modules and fields exist; the three roles exist, have their rights and members; the bank's BIK."""
    from plugins.account_opening.setup import doctor_checks

    return doctor_checks(ctx, ctx.settings or Settings())
