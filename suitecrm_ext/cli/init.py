"""``suitecrm-ext init``: from nothing to a sidecar that ``doctor`` passes, in one command.

Asks (or takes from flags, for scripts) the SuiteCRM URL and how to log in (REST user + password, or
a V8 OAuth2 client), tests the credentials before anything is written, writes the config and an env
file (mode 0600) holding the secrets it references, generates the push secret, and — given
``--suitecrm-root`` on the SuiteCRM host — builds and installs the enabled plugins' packages (which
bring the logic hook) and writes the secret into SuiteCRM's config_override.php. Without the root it
builds the packages into ``<config dir>/packages/`` and says what to do with them. Then it runs
``doctor`` and prints the one command that starts the sidecar.

Every prompt has a flag; ``--yes`` (or no terminal) never prompts and a missing required value is an
error. Secrets may come from the environment instead of the command line (``ps`` shows arguments):
``SUITECRM_PASSWORD``, ``SUITECRM_V8_CLIENT_SECRET``.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Any

import click

from suitecrm_ext.cli.state import CliState
from suitecrm_ext.init_config import (
    PUSH_SECRET_VAR,
    InitAnswers,
    MySQLAnswer,
    absolute,
    env_file_reference,
    env_values,
    render_config,
    suitecrm_section,
)

pass_state = click.make_pass_decorator(CliState)


class Asker:
    """Prompts on a terminal; with ``--yes`` or without a terminal, a missing value is a usage error."""

    def __init__(self, interactive: bool):
        self.interactive = interactive

    def value(self, given: Any, flag: str, text: str, *, default: Any = None, hide: bool = False,
              type: Any = None, required: bool = True) -> Any:
        """``given`` if set, else a prompt (interactive) or ``default``, else a usage error."""
        if given not in (None, ""):
            return given
        if self.interactive:
            return click.prompt(text, default=default, hide_input=hide, type=type,
                                show_default=not hide and default not in (None, ""))
        if default not in (None, "") or not required:
            return default
        raise click.UsageError(f"{flag} is required with --yes (or when stdin is not a terminal)")

    def confirm(self, given: bool | None, text: str, default: bool) -> bool:
        """A yes/no flag pair's value, else a prompt (interactive) or the default."""
        if given is not None:
            return given
        return click.confirm(text, default=default) if self.interactive else default


def _needs(registry: Any) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Plugin -> (plugins it needs enabled, plugins whose packages it needs), as its demo scenes
    declare (``requires``, ``packages``); only installed names."""
    from suitecrm_ext.demo.runner import collect_scenes

    out: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for staged in collect_scenes(registry)[0]:
        if registry.is_builtin(staged.plugin):
            continue
        enable, packages = out.get(staged.plugin, ((), ()))
        enable += tuple(r for r in staged.scene.requires if r in registry.infos)
        packages += tuple(r for r in staged.scene.packages if r in registry.infos)
        out[staged.plugin] = (tuple(dict.fromkeys(enable)), tuple(dict.fromkeys(packages)))
    return out


def _ready_plugins(registry: Any) -> list[str]:
    """The default choice: plugins that tell their story in ``suitecrm-ext demo`` count as ready."""
    return sorted(_needs(registry))


def _with_requirements(chosen: list[str], registry: Any) -> list[str]:
    """``chosen`` plus the plugins they need enabled (said on the way)."""
    needs = _needs(registry)
    out = list(chosen)
    for name in chosen:
        for needed in needs.get(name, ((), ()))[0]:
            if needed not in out:
                out.append(needed)
                click.echo(f"also enabling {needed}: {name} builds on it")
    return out


def _packages_to_install(enabled: list[str], registry: Any) -> list[str]:
    """The enabled plugins' packages and the packages they need (those first, and the core's
    ``workflow`` package before everything), each once."""
    needs = _needs(registry)
    extra = [p for name in enabled for p in needs.get(name, ((), ()))[1] if p not in enabled]
    base = {"workflow"} | {r for e, p in needs.values() for r in (*e, *p)}
    names = list(dict.fromkeys([*enabled, *extra]))
    return sorted(names, key=lambda n: (n != "workflow", n not in base, n))


def _existing_push_secret(env_path: Path) -> str:
    from suitecrm_ext.envfile import EnvFileError, read_env_file

    if not env_path.exists():
        return ""
    try:
        return read_env_file(env_path).get(PUSH_SECRET_VAR, "")
    except EnvFileError:
        return ""


def _step(n: int, total: int, text: str) -> None:
    click.echo(f"[{n}/{total}] {text}")


@click.command("init")
@click.option("--url", default=None,
              help="SuiteCRM's base URL, e.g. https://crm.example.com ($SUITECRM_URL).")
@click.option("--auth", type=click.Choice(["rest", "v8"]), default=None,
              help="How the sidecar logs in: rest (user + password, REST v4_1) or v8 (OAuth2 client).")
@click.option("--username", default=None, help="SuiteCRM user (rest, or v8 with --v8-grant password).")
@click.option("--password", default=None, help="Its password (better: $SUITECRM_PASSWORD).")
@click.option("--v8-client-id", default=None, help="V8 OAuth2 client id (Admin → OAuth2 Clients and Tokens).")
@click.option("--v8-client-secret", default=None, help="Its secret (better: $SUITECRM_V8_CLIENT_SECRET).")
@click.option("--v8-grant", type=click.Choice(["client_credentials", "password"]),
              default="client_credentials", show_default=True)
@click.option("--mysql-dsn", default=None, metavar="DSN",
              help="Optional read-only DB user for fast reads and the change feed: "
                   "mysql://user:password@host:3306/database.")
@click.option("--plugins", "plugin_list", default=None, metavar="A,B",
              help="Plugins to enable (default: the ready ones, those with a demo scene; `none`: "
                   "none); others are disabled.")
@click.option("--push/--no-push", default=None,
              help="The push + validation endpoint SuiteCRM's logic hook calls (default: on).")
@click.option("--listen", default=None, help="Where the push endpoint listens (default 127.0.0.1:8765).")
@click.option("--public-url", default=None,
              help="How SuiteCRM reaches the push endpoint (default http://<listen>).")
@click.option("--suitecrm-root", "root", type=click.Path(file_okay=False), default=None,
              help="On the SuiteCRM host: its directory; init installs the plugins' packages there and "
                   "writes the push secret into config_override.php.")
@click.option("--php", default=None, help="php-cli binary for the package install (default: php on PATH).")
@click.option("--env-file", "env_file", type=click.Path(dir_okay=False), default=None,
              help="Where the secrets go (default: suitecrm-ext.env next to the config).")
@click.option("--state-path", default="var/state.sqlite3", show_default=True,
              help="The SQLite state store (made absolute against the working directory).")
@click.option("--new-secret", is_flag=True, help="Generate a new push secret even if the env file has one.")
@click.option("--force", is_flag=True, help="Overwrite an existing config and env file.")
@click.option("-y", "--yes", is_flag=True, help="Never prompt: take flags and defaults (for scripts).")
@click.option("-i", "--interactive", is_flag=True, help="Prompt even when stdin is not a terminal.")
@pass_state
def init(state: CliState, url, auth, username, password, v8_client_id, v8_client_secret, v8_grant, mysql_dsn,
         plugin_list, push, listen, public_url, root, php, env_file, state_path, new_secret, force, yes,
         interactive) -> None:
    """Set the sidecar up for your SuiteCRM: config, secrets, packages, push secret, doctor."""
    from suitecrm_ext.config import resolve_config_path
    from suitecrm_ext.plugins import PluginRegistry

    if yes and interactive:
        raise click.UsageError("--yes never prompts, --interactive always does: give one of them")
    ask = Asker(interactive=interactive or (not yes and sys.stdin.isatty()))
    config_path = resolve_config_path(state.config_path)
    env_path = Path(env_file) if env_file else config_path.with_name("suitecrm-ext.env")
    for path in (config_path, env_path):
        if path.exists() and not force:
            raise click.ClickException(f"{path} exists; run with --force to overwrite it (the push secret in "
                                       f"{env_path.name} is kept unless --new-secret)")
    registry = PluginRegistry.discover()
    total = 5
    click.echo("suitecrm-ext init: connect the sidecar to your SuiteCRM")

    # --- answers --------------------------------------------------------------------------
    a = InitAnswers(url=ask.value(url or os.environ.get("SUITECRM_URL"), "--url", "SuiteCRM URL"))
    a.auth = ask.value(auth, "--auth", "Log in with (rest: user + password, v8: OAuth2 client)",
                       default="rest", type=click.Choice(["rest", "v8"]))
    a.v8_grant = v8_grant
    if a.auth == "v8":
        a.v8_client_id = ask.value(v8_client_id, "--v8-client-id", "V8 client id")
        a.v8_client_secret = ask.value(v8_client_secret or os.environ.get("SUITECRM_V8_CLIENT_SECRET"),
                                       "--v8-client-secret", "V8 client secret", hide=True)
    if a.auth == "rest" or a.v8_grant == "password":
        a.username = ask.value(username or os.environ.get("SUITECRM_USER"), "--username", "SuiteCRM user",
                               default="admin")
        a.password = ask.value(password or os.environ.get("SUITECRM_PASSWORD"), "--password",
                               f"Password of {a.username}", hide=True)
    dsn = ask.value(mysql_dsn, "--mysql-dsn", "Read-only DB user for fast reads (mysql://user:pw@host/db; "
                    "empty: none)", default="", required=False)
    if dsn:
        try:
            a.mysql = MySQLAnswer.from_dsn(dsn)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--mysql-dsn") from None
    ready = _ready_plugins(registry)
    chosen_text = ask.value(plugin_list, "--plugins",
                            f"Plugins to enable (installed: {', '.join(registry.loaded) or 'none'})",
                            default=",".join(ready), required=False) or ""
    chosen = [p.strip() for p in chosen_text.split(",") if p.strip() and p.strip() != "none"]
    unknown = [p for p in chosen if p not in registry.infos]
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)}: not installed (installed: "
                                 f"{', '.join(sorted(registry.infos)) or 'none'})", param_hint="--plugins")
    chosen = _with_requirements(chosen, registry)
    broken = [p for p in chosen if registry.infos[p].error]
    if broken:
        raise click.ClickException("; ".join(registry.infos[p].error or "" for p in broken))
    a.plugins = {name: name in chosen for name in registry.loaded}
    a.push = ask.confirm(push, "Let SuiteCRM push changes and ask before saves (logic hook)?", True)
    a.listen = ask.value(listen, "--listen", "Push endpoint listens on", default="127.0.0.1:8765")
    a.public_url = ask.value(public_url, "--public-url", "SuiteCRM reaches it at",
                             default=f"http://{a.listen}")
    a.root = ask.value(root, "--suitecrm-root", "SuiteCRM's directory on this host (empty: SuiteCRM runs "
                       "elsewhere)", default="", required=False) or None
    if a.root:
        from suitecrm_ext.packaging.installer import InstallError, check_suitecrm_root, find_php

        try:
            a.root = str(check_suitecrm_root(absolute(a.root)))
            find_php(php)
        except InstallError as exc:
            raise click.BadParameter(str(exc).removeprefix("--suitecrm-root "),
                                     param_hint="--suitecrm-root") from None
    a.state_path = absolute(state_path)
    if a.push:
        a.push_secret = ("" if new_secret else _existing_push_secret(env_path)) or secrets.token_hex(32)

    # --- 1. credentials -------------------------------------------------------------------
    _step(1, total, f"SuiteCRM at {a.url}: testing the credentials")
    _test_credentials(a)

    # --- 2. files -------------------------------------------------------------------------
    from suitecrm_ext.envfile import write_env_file

    config_path.parent.mkdir(parents=True, exist_ok=True)
    write_env_file(env_path, env_values(a),
                   header="secrets of suitecrm-ext (written by `suitecrm-ext init`); keep it mode 0600")
    config_path.write_text(render_config(a, env_file_reference(config_path, env_path)), encoding="utf-8")
    _step(2, total, f"wrote {config_path} and {env_path} (mode 0600: {', '.join(env_values(a))})")

    # --- 3. packages, 4. config_override ---------------------------------------------------
    config, registry = _load(config_path)
    enabled = registry.enabled
    if a.root:
        _install_packages(config, registry, enabled, a, php, total)
        if a.push:
            _write_override(a, total)
        else:
            _step(4, total, "push is off: nothing to write into config_override.php")
    else:
        _build_packages(config, registry, enabled, a, config_path.parent / "packages", total)

    # --- 5. doctor --------------------------------------------------------------------------
    _step(5, total, "doctor")
    failed = _doctor(config, registry)
    click.echo("")
    command = f"suitecrm-ext --config {config_path.resolve()} run"
    if failed:
        click.echo(f"{failed} doctor check(s) failed: fix what they say, then `suitecrm-ext --config "
                   f"{config_path.resolve()} doctor`; the sidecar starts with:")
        click.echo(f"    {command}")
        raise click.exceptions.Exit(1)
    click.echo("ready. Start the sidecar with:")
    click.echo(f"    {command}")
    click.echo("(cron: the same with `run --once`; systemd: docs/deploy/suitecrm-ext.service with "
               f"SUITECRM_EXT_CONFIG={config_path.resolve()})")


def _test_credentials(a: InitAnswers) -> None:
    from pydantic import ValidationError

    from suitecrm_ext.config import SuiteCRMSettings
    from suitecrm_ext.doctor import transport_checks

    try:
        settings = SuiteCRMSettings.model_validate(suitecrm_section(a, with_secrets=True))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise click.ClickException(f"these settings cannot work: {problems}") from None
    checks = transport_checks(settings)
    for check in checks:
        click.echo(f"    {check.line()}")
    if any(c.failed for c in checks):
        raise click.ClickException("SuiteCRM did not accept these settings; nothing was written")


def _load(config_path: Path) -> tuple[Any, Any]:
    from suitecrm_ext.config import ConfigError, load_config
    from suitecrm_ext.logs import add_secrets
    from suitecrm_ext.plugins import PluginRegistry

    try:
        config = load_config(config_path)
        registry = PluginRegistry.discover(enabled=CliState.enabled_flags(config))
        config.validate_plugin_sections(registry.settings_schemas())
    except ConfigError as exc:  # a bug of init if it happens: say so with the details
        raise click.ClickException("the written config does not load (please report): "
                                   + "; ".join(exc.problems)) from None
    add_secrets(config.secrets)
    return config, registry


def _schemas(registry: Any, names: list[str]) -> list[Any]:
    from suitecrm_ext.packaging.schema import SchemaError
    from suitecrm_ext.packaging.source import load_plugin_schema

    out = []
    for name in names:
        try:
            schema = load_plugin_schema(name, registry)
        except SchemaError as exc:
            problems = "; ".join(exc.problems)
            raise click.ClickException(f"plugin {name}: its schema.yaml is invalid: {problems}") from None
        if schema is not None and not schema.is_empty:
            out.append(schema)
    return _required_first(out)


def _required_first(schemas: list[Any]) -> list[Any]:
    """``schemas`` with every package a schema ``requires:`` before it (added when missing): SuiteCRM
    refuses a package whose requirement is not installed yet."""
    out: list[Any] = []
    seen: set[str] = set()

    def visit(schema: Any) -> None:
        if schema.plugin in seen:
            return
        seen.add(schema.plugin)
        for required in schema.requires:
            visit(next((s for s in schemas if s.plugin == required.plugin), required))
        out.append(schema)

    for schema in schemas:
        visit(schema)
    return out


def _install_packages(config: Any, registry: Any, names: list[str], a: InitAnswers, php: str | None,
                      total: int) -> None:
    from suitecrm_ext.cli.package import install_schema_package, package_options
    from suitecrm_ext.packaging.builder import PackageError
    from suitecrm_ext.packaging.installer import InstallError
    from suitecrm_ext.progress import progress

    schemas = _schemas(registry, _packages_to_install(names, registry))
    _step(3, total, f"installing {len(schemas)} package(s) in {a.root} with SuiteCRM's ModuleInstaller")
    options = package_options(config, a.sidecar_url)
    with progress("installing packages", total=len(schemas), unit="packages") as bar:
        for schema in schemas:
            bar.update(description=f"installing {schema.plugin}")
            try:
                report = install_schema_package(schema, a.root, "install", php=php, options=options)
            except (InstallError, PackageError) as exc:
                raise click.ClickException(f"{schema.plugin}: {exc}") from None
            bar.advance()
            missing = [t for t, ok in report.tables.items() if not ok]
            done = "already installed" if report.unchanged else "installed"
            bar.log(f"    {done} {schema.plugin} {schema.package.version} (as {report.ran_as})"
                    + (f" (tables MISSING: {', '.join(missing)})" if missing else ""))


def _write_override(a: InitAnswers, total: int) -> None:
    from suitecrm_ext.config_override import OverrideError, write_settings

    try:
        path = write_settings(a.root, {"secret": a.push_secret})
    except OverrideError as exc:
        raise click.ClickException(str(exc)) from None
    _step(4, total, f"push secret written to {path} ($sugar_config['suitecrm_ext']['secret'])")


def _build_packages(config: Any, registry: Any, names: list[str], a: InitAnswers, out_dir: Path,
                    total: int) -> None:
    from suitecrm_ext.cli.package import package_options
    from suitecrm_ext.packaging.builder import PackageError, build_package

    schemas = _schemas(registry, _packages_to_install(names, registry))
    options = package_options(config, a.sidecar_url)
    built = []
    for schema in schemas:
        try:
            built.append(build_package(schema, out_dir, **options))
        except PackageError as exc:
            raise click.ClickException(f"{schema.plugin}: {exc}") from None
    _step(3, total, f"built {len(built)} package(s) in {out_dir}: SuiteCRM runs elsewhere, so install "
          "them there in Admin → Module Loader (or run init there with --suitecrm-root):")
    for path in built:
        click.echo(f"    {path}")
    if a.push:
        _step(4, total, "add the push secret to SuiteCRM's config_override.php:")
        click.echo(f"    $sugar_config['suitecrm_ext']['secret'] = '<{PUSH_SECRET_VAR} from the env file>';")
    else:
        _step(4, total, "push is off: nothing for config_override.php")


def _doctor(config: Any, registry: Any) -> int:
    from suitecrm_ext.context import AppContext
    from suitecrm_ext.doctor import run_checks

    app = AppContext(config, plugin_manager=registry)
    try:
        checks = run_checks(app, registry)
    finally:
        app.close()
    for check in checks:
        click.echo(f"    {check.line()}")
    return sum(c.failed for c in checks)
