"""``package`` commands: check, build, install and uninstall a plugin's SuiteCRM Module Loader package."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from suitecrm_ext.cli.state import CliState
from suitecrm_ext.config import ConfigError
from suitecrm_ext.packaging.builder import PackageError, build_package, describe, package_files
from suitecrm_ext.packaging.ddl import stored_fields
from suitecrm_ext.packaging.installer import InstallError, check_suitecrm_root, find_php, run_installer
from suitecrm_ext.packaging.schema import Schema, SchemaError
from suitecrm_ext.packaging.source import PluginNotFound, load_plugin_schema


@click.group()
def package() -> None:
    """SuiteCRM Module Loader packages built from each plugin's schema.yaml."""


def _schema(plugin: str) -> Schema:
    try:
        schema = load_plugin_schema(plugin)
    except PluginNotFound as exc:
        raise click.ClickException(str(exc)) from None
    except SchemaError as exc:
        for line in exc.problems:
            click.echo(f"schema error: {line}", err=True)
        raise click.exceptions.Exit(2) from None
    if schema is None:
        raise click.ClickException(
            f"plugin {plugin} declares no SuiteCRM artefacts (no ext_suitecrm_artifacts)"
        )
    return schema


_SIDECAR_URL = click.option(
    "--sidecar-url",
    default=None,
    metavar="URL",
    help="The sidecar's push URL as SuiteCRM reaches it (needed when the schema asks for logic hooks; "
    "default: events.push.public_url from the config).",
)


def package_options(config, given: str | None = None) -> dict:
    """The builder's options from a loaded config (or None): ``sidecar_url`` (``given``, else
    ``events.push.public_url``), ``fail_modes`` (``events.validation_fail_mode``, what the logic hook
    does when the sidecar is unreachable) and ``validate_timeout_ms``
    (``events.push.validation_budget_ms`` + 1 s)."""
    if config is None:
        return {"sidecar_url": given or None}
    events = config.settings.events
    return {"sidecar_url": given or events.push.public_url, "fail_modes": dict(events.validation_fail_mode),
            # as render_for_plugins: the hook waits a second longer than the sidecar's budget
            "validate_timeout_ms": min(events.push.validation_budget_ms + 1000, 60_000)}


def _configured_options(given: str | None) -> dict:
    """:func:`package_options` of the config, when a valid config file is there."""
    state = click.get_current_context().find_object(CliState)
    config = None
    if state is not None:
        try:
            config, _ = state.load()
        except ConfigError:
            pass  # building a package needs no config; the builder says when a URL is missing
    return package_options(config, given)


@package.command("check")
@click.argument("plugin")
def check(plugin: str) -> None:
    """Validate PLUGIN's schema.yaml (exit 2 with every problem listed)."""
    schema = _schema(plugin)
    what = (
        "adds nothing to SuiteCRM"
        if schema.is_empty
        else (
            f"{len(schema.modules)} module(s), {len(schema.relationships)} relationship(s), "
            f"{sum(len(f) for f in schema.custom_fields.values())} custom field(s), "
            f"{len(schema.dropdowns)} dropdown(s)"
        )
    )
    if schema.requires:
        what += "; requires " + ", ".join(f"{r.plugin} ({r.package.id})" for r in schema.requires)
    click.echo(f"ok: {schema.source}: {what}")


@package.command("build")
@click.argument("plugin")
@click.option(
    "-o",
    "--output-dir",
    "out_dir",
    default=".",
    type=click.Path(file_okay=False),
    help="Where to write <plugin>-<version>.zip (default: current directory).",
)
@_SIDECAR_URL
def build(plugin: str, out_dir: str, sidecar_url: str | None) -> None:
    """Build PLUGIN's Module Loader zip."""
    schema = _schema(plugin)
    try:
        pkg = package_files(schema, **_configured_options(sidecar_url))
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        path = pkg.write_zip(Path(out_dir) / pkg.zip_name)
    except PackageError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot write the package to {out_dir}: {exc}") from None
    click.echo(f"built {path}")
    for line in describe(pkg)[1:]:
        click.echo(line)


def install_schema_package(schema: Schema, root: str | Path, action: str = "install", *,
                           php: str | None = None, options: dict | None = None):
    """Build ``schema``'s package in a temporary folder and run the PHP installer's ``action``
    (install, uninstall, scan, status) on it in the SuiteCRM at ``root``; returns the InstallReport.
    Raises InstallError, PackageError. ``options``: :func:`package_options`."""
    check_suitecrm_root(root)
    find_php(php)
    tables = [m.table for m in schema.modules] + [r.join_table for r in schema.relationships]
    tables += [f"{schema.table_of(mod)}_cstm" for mod in schema.custom_fields]
    with tempfile.TemporaryDirectory(prefix="suitecrm-ext-build-") as tmp:
        zip_path = build_package(schema, Path(tmp), **(options or {}))
        return run_installer(zip_path, root, action, php=php, tables=tables)


def dependency_hint(schema: Schema, exc: InstallError) -> str:
    """What to do about an install refused for missing required packages, or an uninstall refused
    because installed packages require this one ("" for other errors)."""
    if exc.missing_dependencies:
        names = [r.plugin for r in schema.requires]
        steps = "; ".join(f"suitecrm-ext package install {n}" for n in names)
        return f"\n{schema.plugin} requires {', '.join(names)}: install that first ({steps})"
    if exc.dependents:
        return f"\nuninstall first what requires {schema.plugin}: {', '.join(exc.dependents.values())}"
    return ""


def _run(plugin: str, root: str, php: str | None, sidecar_url: str | None, action: str) -> None:
    """Build PLUGIN's package and run the PHP installer's ``action`` on it; prints the report."""
    from suitecrm_ext.progress import progress

    schema = _schema(plugin)
    try:
        with progress(f"{action} {plugin} in {root} (SuiteCRM's ModuleInstaller)", transient=True):
            report = install_schema_package(schema, root, action, php=php,
                                            options=_configured_options(sidecar_url))
    except InstallError as exc:
        raise click.ClickException(f"{exc}{dependency_hint(schema, exc)}") from None
    except PackageError as exc:
        raise click.ClickException(str(exc)) from None
    what = f"{schema.plugin} {schema.package.version} (package id {schema.package.id})"
    if action == "scan":
        scan = "on" if report.package_scan else "off"
        if report.issues:
            click.echo(f"{what}: SuiteCRM's package scan finds {len(report.issues)} issue(s) "
                       f"(moduleInstaller.packageScan is {scan} in {root}):")
            for issue in report.issues:
                click.echo(f"  {issue}")
            raise click.exceptions.Exit(1)
        click.echo(f"{what}: passes SuiteCRM's package scan "
                   f"(moduleInstaller.packageScan is {scan} in {root})")
        return
    if action == "status":
        if not report.installed:
            click.echo(f"{what}: not installed (Admin -> Module Loader lists no {schema.package.id})")
        for row in report.installed:
            click.echo(f"{schema.package.id} {row['version']} installed {row['date_entered']} "
                       f"({'enabled' if row['enabled'] else 'disabled'}; zip {row['filename']}"
                       f"{'' if row['file_present'] else ' MISSING'}; md5 {row['md5sum']})")
        return
    if report.unchanged:
        click.echo(f"{what} is already installed in {root}: nothing to do")
        return
    click.echo(f"{action}ed {what} in {root} (as {report.ran_as})")
    for line in report.lines():
        click.echo(f"  {line}")
    if action == "install":
        for m in schema.modules:
            click.echo(f"  module {m.name}: {len(stored_fields(m))} columns besides the standard ones")
        for mod, fields in schema.custom_fields.items():
            click.echo(f"  {mod}: custom fields {', '.join(f.name for f in fields)}")


_ROOT = click.option(
    "--suitecrm-root",
    "root",
    default=None,
    type=click.Path(),
    help="SuiteCRM's installation directory (holds config.php); default: suitecrm.root of the config.",
)


def _root(given: str | None) -> str:
    """``--suitecrm-root``, else ``suitecrm.root`` of a valid config; a usage error without either."""
    if given:
        return given
    state = click.get_current_context().find_object(CliState)
    if state is not None:
        try:
            config, _ = state.load()
        except ConfigError:
            config = None
        if config is not None and config.settings.suitecrm.root:
            return config.settings.suitecrm.root
    raise click.UsageError("give --suitecrm-root DIR (SuiteCRM's installation directory) or set "
                           "suitecrm.root in the config")
_PHP = click.option("--php", default=None, help="php-cli binary (default: php on PATH).")


@package.command("install")
@click.argument("plugin")
@_ROOT
@_PHP
@_SIDECAR_URL
def install(plugin: str, root: str | None, php: str | None, sidecar_url: str | None) -> None:
    """Install PLUGIN's package as Module Loader does (run on the SuiteCRM host, as root or the web
    server user): package scan, ModuleInstaller, upgrade_history entry, repair. Idempotent."""
    _run(plugin, _root(root), php, sidecar_url, "install")


@package.command("uninstall")
@click.argument("plugin")
@_ROOT
@_PHP
@_SIDECAR_URL
def uninstall(plugin: str, root: str | None, php: str | None, sidecar_url: str | None) -> None:
    """Uninstall PLUGIN's package as Module Loader does (module tables and their data are kept)."""
    _run(plugin, _root(root), php, sidecar_url, "uninstall")


@package.command("scan")
@click.argument("plugin")
@_ROOT
@_PHP
@_SIDECAR_URL
def scan(plugin: str, root: str | None, php: str | None, sidecar_url: str | None) -> None:
    """Run SuiteCRM's package scan (ModuleScanner) on PLUGIN's package; exit 1 listing any issue."""
    _run(plugin, _root(root), php, sidecar_url, "scan")


@package.command("status")
@click.argument("plugin")
@_ROOT
@_PHP
@_SIDECAR_URL
def status(plugin: str, root: str | None, php: str | None, sidecar_url: str | None) -> None:
    """What Admin -> Module Loader knows about PLUGIN's package (version, date, stored zip)."""
    _run(plugin, _root(root), php, sidecar_url, "status")


def register(group: click.Group) -> None:
    """Add the ``package`` group to the CLI."""
    group.add_command(package)
