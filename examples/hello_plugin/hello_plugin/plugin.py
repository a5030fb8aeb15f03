"""Greets every new Account with a Note, and says hello from the command line.

A complete tiny suitecrm-ext plugin: settings, a watched module, an idempotent change handler, a
validation rule, a job, a CLI command and a doctor check.
"""

from __future__ import annotations

import uuid

import click
from pydantic import BaseModel, ConfigDict

from suitecrm_ext import Check, Event, EventKind, JobSpec, NotFound, RecordChange, WatchSpec, hookimpl

__version__ = "0.1.0"
#: the namespace of the greeting Notes' ids (create-with-id: REST and SOAP can, V8 cannot)
NOTE_IDS = uuid.uuid5(uuid.NAMESPACE_URL, "suitecrm-ext:hello:greeting")


class Settings(BaseModel):
    """``plugins.hello`` section."""

    model_config = ConfigDict(extra="forbid")
    greeting: str = "Welcome"
    forbidden_name: str = "ACME"


@hookimpl
def ext_settings_schema():
    """Our settings model."""
    return Settings


@hookimpl
def ext_watch(settings):
    """We care about new Accounts."""
    return [WatchSpec("Accounts", kinds=frozenset({EventKind.CREATED}))]


@hookimpl
def ext_on_record_change(event: Event, ctx):
    """Add one Note per new Account. Its id is derived from the Account's, so a repeated event, or a
    retry after the sidecar was killed mid-way, updates that Note instead of adding a second one."""
    name = event.values.get("name", "")
    try:
        ctx.crm.create(
            "Notes",
            {
                "name": f"{ctx.settings.greeting}, {name}!",
                "parent_type": "Accounts",
                "parent_id": event.record_id,
            },
            id=str(uuid.uuid5(NOTE_IDS, event.record_id)),
        )
    except NotFound:
        pass  # made by an earlier attempt and deleted since by a user: leave it deleted


@hookimpl
def ext_validate_record_change(change: RecordChange, ctx):
    """Refuse Accounts named like the configured forbidden name."""
    # a new name only: every save comes here (a delete too), and an existing ACME must stay editable
    if change.module == "Accounts" and "name" in change.changed and \
            change.after.get("name") == ctx.settings.forbidden_name:
        return f"Accounts may not be called {ctx.settings.forbidden_name}."
    return None


def _count_accounts(ctx):
    return {"accounts": ctx.crm.count("Accounts")}


@hookimpl
def ext_jobs(settings):
    """Count Accounts every hour."""
    return [JobSpec("hello-count", "1h", _count_accounts, "count Accounts")]


@click.command("hello")
@click.argument("name", default="world")
def hello_command(name: str) -> None:
    """Say hello."""
    click.echo(f"hello, {name}")


@hookimpl
def ext_cli_commands():
    """Add `suitecrm-ext hello`."""
    return [hello_command]


@hookimpl
def ext_doctor_checks(ctx):
    """A check that always knows its greeting."""
    return [Check("hello greeting", bool(ctx.settings.greeting), ctx.settings.greeting)]


@hookimpl
def ext_demo_scenes():
    """Our scene in `suitecrm-ext demo`."""
    from hello_plugin.demo import scenes

    return scenes()
