"""Core commands: version, config check, plugins list, doctor."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from suitecrm_ext import __version__
from suitecrm_ext.cli.state import CliState
from suitecrm_ext.config import ConfigError
from suitecrm_ext.doctor import Check, run_checks
from suitecrm_ext.plugins import PluginRegistry

pass_state = click.make_pass_decorator(CliState)


@click.command()
def version() -> None:
    """Print the version."""
    click.echo(f"suitecrm-ext {__version__}")


@click.group()
def config() -> None:
    """Configuration commands."""


@config.command("check")
@pass_state
def config_check(state: CliState) -> None:
    """Validate the config file (and every plugin section); exit 2 on the first file with problems."""
    try:
        cfg, _ = state.load()
    except ConfigError as exc:
        for line in exc.problems:
            click.echo(f"config error: {line}", err=True)
        raise click.exceptions.Exit(2) from None
    from suitecrm_ext.events.push import push_settings_problems

    # checks of what the schema cannot see on its own: an enabled push receiver must be able to start
    problems = push_settings_problems(cfg.settings.events.push)
    for key, message in problems:
        click.echo(f"config error: {cfg.where(('events', 'push', key))}: {message}", err=True)
    if problems:
        raise click.exceptions.Exit(2)
    click.echo(f"ok: {cfg.path} is valid")


@click.group()
def plugins() -> None:
    """Installed plugins."""


def _describe(reg: PluginRegistry, name: str, settings: object) -> dict[str, str]:
    info = reg.infos[name]
    out = {"jobs": "", "watch": "", "commands": ""}
    if not info.loaded:
        return out
    try:
        jobs = reg.call_one(name, "ext_jobs", settings=settings) or []
        out["jobs"] = ", ".join(f"{j.name} ({j.schedule})" for j in jobs)
        specs = reg.call_one(name, "ext_watch", settings=settings) or []
        out["watch"] = ", ".join(
            (f"{s.origin}:" if s.origin else "") + s.module + (f"[{','.join(s.fields)}]" if s.fields else "")
            for s in specs
        )
        cmds = reg.call_one(name, "ext_cli_commands") or []
        out["commands"] = ", ".join(c.name for c in cmds)
    except Exception as exc:  # noqa: BLE001 - a listing must not die on one plugin
        out["jobs"] = f"error: {exc}"
    return out


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def plugins_list(state: CliState, as_json: bool) -> None:
    """Every installed plugin: enabled?, version, what it registers, load errors."""
    settings: dict[str, object] = {}
    try:
        cfg, reg = state.load()
        settings = cfg.plugin_settings
    except ConfigError:
        # listing what is installed must work before a config exists
        reg = PluginRegistry.discover()
        reg.settings_schemas()
    rows = []
    for name, info in sorted(reg.infos.items()):
        desc = _describe(reg, name, settings.get(name))
        rows.append({
            "name": name,
            "enabled": info.enabled and info.loaded,
            "version": info.version,
            "hooks": [h for h in info.hooks],
            **desc,
            "error": info.error or "",
            "description": info.description,
        })
    if as_json:
        import json

        click.echo(json.dumps(rows, indent=2))
    else:
        table = Table(title="suitecrm-ext plugins")
        for col in ("plugin", "enabled", "version", "hooks", "watches", "jobs", "commands"):
            table.add_column(col, overflow="fold")
        for r in rows:
            enabled = "yes" if r["enabled"] else ("ERROR" if r["error"] else "no")
            hooks = ", ".join(h.removeprefix("ext_") for h in r["hooks"]) or r["error"]
            table.add_row(r["name"], enabled, r["version"], hooks, r["watch"], r["jobs"], r["commands"])
        Console(width=160).print(table)
    if reg.errors:
        for err in reg.errors.values():
            click.echo(f"error: {err}", err=True)


@click.command()
@pass_state
def doctor(state: CliState) -> None:
    """Check config, plugins, state store and every configured SuiteCRM transport; exit 1 on a FAIL."""
    try:
        cfg, reg = state.load()
    except ConfigError as exc:
        for line in exc.problems:
            click.echo(Check("config", False, line, "fix the config file; see the example").line())
        raise click.exceptions.Exit(1) from None
    state._loaded = (cfg, reg)  # reuse for state.app
    failed = 0
    for check in run_checks(state.app, reg):
        click.echo(check.line())
        failed += not check.ok
    if failed:
        click.echo(f"{failed} check(s) failed", err=True)
        raise click.exceptions.Exit(1)


def register(group: click.Group) -> None:
    """Add the core commands to the top-level group."""
    for cmd in (version, config, plugins, doctor):
        group.add_command(cmd)
