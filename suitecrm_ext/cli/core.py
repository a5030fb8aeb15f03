"""Core commands: version, config check, plugins list, doctor."""

from __future__ import annotations

import re
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from suitecrm_ext import __version__
from suitecrm_ext.cli.state import CliState
from suitecrm_ext.config import Config, ConfigError, load_config, resolve_config_path
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
    from suitecrm_ext.builtin.checks import config_warnings

    warnings = config_warnings(cfg, state.registry)
    for message in warnings:
        click.echo(f"warning: {message}", err=True)
    click.echo(f"ok: {cfg.path} is valid" + (f" ({len(warnings)} warning(s) above)" if warnings else ""))


@click.group()
def plugins() -> None:
    """Installed plugins."""


def _describe(reg: PluginRegistry, name: str, settings: object) -> dict[str, str]:
    info = reg.info(name)
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


_PLUGIN_KEY_RE = re.compile(r":\s*plugins\.([A-Za-z0-9_]+)(?=[.:\[\s]|$)")


def _raw_enabled_flags(path: Path) -> dict[str, bool]:
    """``plugins.<name>.enabled`` read straight from the YAML, for a config too broken to load."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    plugins = data.get("plugins") if isinstance(data, dict) else None
    if not isinstance(plugins, dict):
        return {}
    return {str(n): sec.get("enabled") is not False for n, sec in plugins.items() if isinstance(sec, dict)}


def _load_for_listing(state: CliState) -> tuple[PluginRegistry, dict[str, object], list[str], str]:
    """The registry, the validated plugin settings, the config problems and a note, for ``plugins list``:
    it must work without a config and show what is wrong with a broken one."""
    path = resolve_config_path(state.config_path)
    config: Config | None = None
    problems: list[str] = []
    note = ""
    try:
        config = load_config(state.config_path)
    except ConfigError as exc:
        if path.exists():
            problems = list(exc.problems)
        else:
            note = f"no config file at {path}: every plugin is shown as it would be with an empty config"
    enabled = CliState.enabled_flags(config) if config is not None else _raw_enabled_flags(path)
    reg = PluginRegistry.discover(enabled=enabled)
    schemas = reg.settings_schemas()
    settings: dict[str, object] = {}
    if config is not None:
        try:
            config.validate_plugin_sections(schemas)
        except ConfigError as exc:
            problems = list(exc.problems)
        settings = config.plugin_settings
    return reg, settings, problems, note


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--all", "show_all", is_flag=True, help="Also the core's own plugins (commands, checks, jobs).")
@pass_state
def plugins_list(state: CliState, as_json: bool, show_all: bool) -> None:
    """Every installed plugin: enabled?, version, what it registers, load and config errors.

    Exits 2 (after the listing) when the config file has errors.
    """
    reg, settings, problems, note = _load_for_listing(state)
    by_plugin: dict[str, list[str]] = {}
    general: list[str] = []
    for line in problems:
        m = _PLUGIN_KEY_RE.search(line)
        (by_plugin.setdefault(m.group(1), []) if m and m.group(1) in reg.infos else general).append(line)
    infos = sorted(reg.infos.items())
    if show_all:
        infos = sorted(reg.builtins.items()) + infos
    rows = []
    for name, info in infos:
        desc = _describe(reg, name, settings.get(name))
        config_errors = by_plugin.get(name, []) + (general if not info.builtin else [])
        rows.append({
            "name": name,
            "enabled": info.enabled and info.loaded and not config_errors,
            "version": info.version,
            "hooks": [h for h in info.hooks],
            **desc,
            "error": info.error or "",
            "config_errors": config_errors,
            "builtin": info.builtin,
            "source": info.source,
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
            if r["error"]:
                enabled = "ERROR"
            elif r["config_errors"]:
                enabled = "config error"
            else:
                enabled = "yes" if r["enabled"] else "no"
            hooks = ", ".join(h.removeprefix("ext_") for h in r["hooks"]) or r["error"]
            label = r["name"] + (" (core)" if r["builtin"] else "")
            table.add_row(label, enabled, r["version"], hooks, r["watch"], r["jobs"], r["commands"])
        Console(width=160).print(table)
    if note:
        click.echo(f"note: {note}", err=True)
    for err in reg.errors.values():
        click.echo(f"error: {err}", err=True)
    for problem in reg.problems:
        click.echo(f"warning: {problem}", err=True)
    for line in problems:
        click.echo(f"config error: {line}", err=True)
    if problems:
        raise click.exceptions.Exit(2)


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
    checks = run_checks(state.app, reg)
    for check in checks:
        click.echo(check.line())
    failed = sum(c.failed for c in checks)
    warned = sum(c.warning for c in checks)
    if failed:
        click.echo(f"{failed} check(s) failed" + (f", {warned} warning(s)" if warned else ""), err=True)
        raise click.exceptions.Exit(1)
    if warned:
        click.echo(f"{warned} warning(s); every check passed", err=True)


COMMANDS = (version, config, plugins, doctor)


def register(group: click.Group) -> None:
    """Add the core commands to a group (the CLI gets them through ``ext_cli_commands``)."""
    for cmd in COMMANDS:
        group.add_command(cmd)


def _add_aliases() -> None:
    from suitecrm_ext.cli.plugin_kit import plugin_new

    plugins.add_command(plugin_new, "new")  # `plugins new` = `plugin new`


_add_aliases()
