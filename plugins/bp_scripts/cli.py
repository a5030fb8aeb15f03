"""``suitecrm-ext bp ...``: the scripts and processes there are, a record's processes, a script run by hand,
parked runs and their replay."""

from __future__ import annotations

import json
import typing
from typing import Any

import click
import yaml

from suitecrm_ext import NotFound
from suitecrm_ext.cli import plugin_context

PLUGIN = "bp_scripts"


def _settings_fields(model: Any) -> list[dict[str, str]]:
    out = []
    if model is None:
        return out
    for name, f in model.model_fields.items():
        ann = f.annotation
        shown = getattr(ann, "__name__", None) or str(ann).replace("typing.", "")
        if typing.get_origin(ann) is not None and getattr(ann, "__name__", None) is None:
            shown = str(ann).replace("typing.", "")
        default = "" if f.is_required() else repr(f.get_default(call_default_factory=True))
        out.append(
            {"name": name, "type": shown, "required": "yes" if f.is_required() else "", "default": default}
        )
    return out


@click.group()
def bp() -> None:
    """BP-scripts: business processes of Tasks and automatic steps."""


@bp.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def bp_list(as_json: bool) -> None:
    """The scripts processes may use, with their settings."""
    ctx = plugin_context(PLUGIN)
    cat = ctx.settings.catalogue
    rows = [
        {
            "name": n,
            "plugin": cat.plugin_of(n),
            "summary": cat[n].summary,
            "settings": _settings_fields(cat[n].settings),
        }
        for n in cat
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for r in rows:
        click.echo(f"{r['name']}  ({r['plugin']})  {r['summary']}")
        for f in r["settings"]:
            req = " required" if f["required"] else f" = {f['default']}"
            click.echo(f"    {f['name']}: {f['type']}{req}")
    for p in cat.problems:
        click.echo(f"warning: {p}", err=True)


@bp.command("processes")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def bp_processes(as_json: bool) -> None:
    """The configured processes: module, trigger, steps."""
    ctx = plugin_context(PLUGIN)
    procs = ctx.settings.processes
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "name": p.name,
                        "title": p.title,
                        "enabled": p.enabled,
                        "module": p.module,
                        "trigger": {
                            "on": p.trigger.on,
                            "when": p.trigger.when.source,
                            "every": p.trigger.every,
                        },
                        "steps": [{"name": s.name, "script": s.script} for s in p.steps],
                    }
                    for p in procs
                ],
                indent=2,
                ensure_ascii=False,
                default=str,
            )
        )
        return
    if not procs:
        click.echo("no processes (plugins.bp_scripts.process_files names none)")
    for p in procs:
        on = ", ".join(p.trigger.on) + (f" every {p.trigger.every}" if p.trigger.every else "")
        state = "" if p.enabled else "  [disabled]"
        click.echo(f"{p.name}: {p.label} - {p.module}, on {on}{state}")
        for i, s in enumerate(p.steps, 1):
            click.echo(f"  {i}. {s.name} ({s.script})" + (f" - {s.title}" if s.title else ""))


def _run_lines(run: Any, state: Any) -> list[str]:
    from .tracking import status_of

    lines = [f"{run.process} {run.id}: {run.status}" + (f" - {run.error}" if run.error else "")]
    for line, st in zip(run.log_lines(), run.steps, strict=True):
        lines.append(f"  {line}")
        sms = status_of(state, f"{run.id}:{st.name}")
        if sms:
            lines.append(f"     SMS +{sms['phone']} via {sms['provider']}: {sms.get('status')}")
    return lines


@bp.command("status")
@click.argument("module")
@click.argument("record_id")
def bp_status(module: str, record_id: str) -> None:
    """The processes of a record, step by step."""
    from .runs import RunStore

    ctx = plugin_context(PLUGIN)
    runs = RunStore(ctx.state).of_record(module, record_id)
    if not runs:
        click.echo(f"no process has run on {module} {record_id}")
        return
    for run in runs:
        for line in _run_lines(run, ctx.state):
            click.echo(line)


def _record(text: str) -> tuple[str, str]:
    module, sep, rid = text.partition(":")
    if not sep or not module or not rid:
        raise click.BadParameter("give the record as MODULE:ID, e.g. Opportunities:1b2c...")
    return module, rid


@bp.command("run")
@click.argument("script")
@click.option("--record", "record", required=True, help="MODULE:ID of the record to run the script on.")
@click.option("--settings", "settings_text", default="", help="The script's settings as YAML (or @FILE).")
@click.option("--dry-run", is_flag=True, help="Say what the script would do; change nothing.")
def bp_run(script: str, record: str, settings_text: str, dry_run: bool) -> None:
    """Run one script on one record (with --dry-run: only say what it would do)."""
    from suitecrm_ext import new_guid

    from .service import engine_for

    module, rid = _record(record)
    if settings_text.startswith("@"):
        with open(settings_text[1:], encoding="utf-8") as fh:
            settings_text = fh.read()
    try:
        settings = yaml.safe_load(settings_text) if settings_text.strip() else {}
    except yaml.YAMLError as exc:
        raise click.BadParameter(f"not YAML: {exc}", param_hint="--settings") from None
    if not isinstance(settings, dict):
        raise click.BadParameter("settings are a mapping of setting: value", param_hint="--settings")
    ctx = plugin_context(PLUGIN)
    engine = engine_for(ctx)
    if script not in engine.catalogue:
        raise click.ClickException(f"no script {script!r} (scripts: {', '.join(engine.catalogue)})")
    try:
        engine.catalogue[script].parse(settings)
    except Exception as exc:  # noqa: BLE001 - pydantic's message names the setting
        raise click.ClickException(f"settings of {script}: {exc}") from None
    try:
        ctx.crm.get(module, rid)  # a run on no record is refused, not started and cancelled
        if dry_run:
            result = engine.dry_run(script, settings, module, rid)
            click.echo(result.summary or "(nothing to say)")
            return
        run = engine.start_adhoc(new_guid(), script, settings, module, rid, trigger_key="cli")
    except NotFound:
        raise click.ClickException(f"no {module} record {rid!r}") from None
    except Exception as exc:  # noqa: BLE001 - bad settings are the user's to fix
        raise click.ClickException(f"{script}: {exc}") from None
    for line in _run_lines(run, ctx.state):
        click.echo(line)
    if run.status in ("parked", "cancelled"):
        raise click.exceptions.Exit(1)


@bp.command("parked")
def bp_parked() -> None:
    """Runs parked for an admin, with their reason."""
    from .runs import NS_RUNS, Run

    ctx = plugin_context(PLUGIN)
    keys = ctx.state.kv_keys(NS_RUNS, limit=100000)
    found = 0
    for data in ctx.state.kv_get_many(NS_RUNS, keys).values():
        run = Run.from_json(data)
        if run.status == "parked":
            found += 1
            step = run.current.name if run.current else ""
            click.echo(f"{run.id}  {run.process} on {run.module} {run.record_id}, step {step}: {run.error}")
    if not found:
        click.echo("no parked runs")


@bp.command("replay")
@click.argument("run_id")
@click.option("--skip", is_flag=True, help="Pass the parked step instead of running it again.")
def bp_replay(run_id: str, skip: bool) -> None:
    """Run a parked run's step again (after fixing its cause), or skip it."""
    from .service import engine_for

    ctx = plugin_context(PLUGIN)
    try:
        run = engine_for(ctx).replay(run_id, skip=skip)
    except KeyError:
        raise click.ClickException(f"no run {run_id!r} (bp parked lists the parked ones)") from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    for line in _run_lines(run, ctx.state):
        click.echo(line)
