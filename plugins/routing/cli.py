"""``suitecrm-ext routing ...``: where a record stands on its routes, and which steps are waiting."""

from __future__ import annotations

import click

from plugins.routing.explain import Explainer
from suitecrm_ext.cli import plugin_context

PLUGIN = "routing"


def _explainer() -> Explainer:
    from plugins.routing.plugin import engine_for

    return Explainer(engine_for(plugin_context(PLUGIN)))


@click.group("routing")
def routing() -> None:
    """Record routing: routes, runs, steps, deadlines."""


@routing.command("explain")
@click.argument("module")
@click.argument("record_id")
def explain_cmd(module: str, record_id: str) -> None:
    """Which route matches MODULE RECORD_ID and why, its open step, who may act, the deadline."""
    click.echo(_explainer().explain(module, record_id))


@routing.command("steps")
@click.option("--overdue", is_flag=True, help="Only steps past their deadline.")
@click.option("--route", "route", default=None, help="Only the steps of this route.")
@click.option(
    "--limit", default=200, show_default=True, type=click.IntRange(1, 100000), help="Show at most this many."
)
def steps_cmd(overdue: bool, route: str | None, limit: int) -> None:
    """Open route steps, soonest due first (assignee, deadline, working time left)."""
    click.echo(_explainer().steps(overdue=overdue, route=route, limit=limit))
