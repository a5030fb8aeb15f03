"""The ``suitecrm-ext`` command line (click).

Global options: ``--config`` (default ``$SUITECRM_EXT_CONFIG`` or ``config/suitecrm-ext.yaml``),
``--plugins-dir DIR`` (load one-off plugin files), ``-v/--verbose``, ``--log-format text|json``.
Every command comes through the ``ext_cli_commands`` hook: the core's own from
``suitecrm_ext.builtin.commands`` (one of the DEFAULT_PLUGINS), then the installed plugins'.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click

from suitecrm_ext.cli.state import CliState, plugin_context
from suitecrm_ext.plugins import LOAD_PLUGINS_ENV, PLUGINS_DIR_ENV

__all__ = ["main", "cli", "plugin_context", "CliState"]

log = logging.getLogger("suitecrm_ext.cli")


class PluginAwareGroup(click.Group):
    """A click group whose commands are those the plugins (the core's own first) contribute."""

    _plugins_key: tuple | None = None
    _plugin_commands: list[str] = []

    def reset_plugin_commands(self) -> None:
        """Forget the contributed commands so the next use discovers them again (tests, embedders)."""
        for name in self._plugin_commands:
            self.commands.pop(name, None)
        self._plugin_commands = []
        self._plugins_key = None

    def _add_plugin_commands(self, ctx: click.Context) -> None:
        plugins_dir = (ctx.params.get("plugins_dir") if ctx is not None else None) or \
            os.environ.get(PLUGINS_DIR_ENV) or None
        key = (plugins_dir, os.environ.get(LOAD_PLUGINS_ENV))
        if self._plugins_key == key:
            return
        self.reset_plugin_commands()
        self._plugins_key = key
        from suitecrm_ext.plugins import PluginRegistry

        reg = PluginRegistry.discover(plugins_dir=plugins_dir or "")
        owners: dict[str, str] = {}
        for name in [*reg.builtins, *reg.loaded]:
            try:
                cmds = reg.call_one(name, "ext_cli_commands") or []
            except Exception as exc:  # noqa: BLE001
                log.error("plugin %r: ext_cli_commands failed: %s", name, exc)
                continue
            for cmd in cmds:
                if cmd.name in self.commands:
                    owner = owners.get(cmd.name, "")
                    what = "a core command" if reg.is_builtin(owner) else f"plugin {owner!r}'s command"
                    log.error("plugin %r: command %r clashes with %s; skipped", name, cmd.name, what)
                    continue
                self.add_command(cmd)
                owners[cmd.name] = name
                self._plugin_commands.append(cmd.name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands(ctx)
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._add_plugin_commands(ctx)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        """Runs the command; a SuiteCRM failure (unreachable, refused login, ...) escaping a command is
        a one-line error with a hint and exit 1, not a traceback."""
        from suitecrm_ext.crm.base import CRMError

        try:
            return super().invoke(ctx)
        except CRMError as exc:
            log.debug("command failed", exc_info=True)
            raise click.ClickException(
                f"SuiteCRM: {exc} (check the suitecrm section of the config; `suitecrm-ext doctor` "
                "checks every transport)"
            ) from None


@click.group(cls=PluginAwareGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), default=None,
    help="Config file (default: $SUITECRM_EXT_CONFIG or config/suitecrm-ext.yaml).",
)
@click.option(
    "--plugins-dir", "plugins_dir", type=click.Path(file_okay=False), default=None,
    help=f"Also load every *.py file in DIR as a plugin named after the file (or ${PLUGINS_DIR_ENV}).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default=None, help="Log line format.")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, plugins_dir: str | None, verbose: int,
        log_format: str | None) -> None:
    """suitecrm-ext: extend SuiteCRM 7 with plugins, from the side.

    New here? `suitecrm-ext demo` shows it working against an in-memory SuiteCRM;
    `suitecrm-ext init` connects it to yours.
    """
    ctx.obj = CliState(config_path=config_path, verbose=verbose, log_format=log_format,
                       plugins_dir=plugins_dir)
    ctx.call_on_close(ctx.obj.close)


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""
    return cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="suitecrm-ext")
