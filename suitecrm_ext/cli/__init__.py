"""The ``suitecrm-ext`` command line (click).

Global options: ``--config`` (default ``$SUITECRM_EXT_CONFIG`` or ``config/suitecrm-ext.yaml``),
``-v/--verbose``, ``--log-format text|json``. Core commands live in the modules listed in
``_COMMAND_MODULES``; plugins add theirs through the ``ext_cli_commands`` hook.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from suitecrm_ext.cli.state import CliState, plugin_context

__all__ = ["main", "cli", "plugin_context", "CliState"]

log = logging.getLogger("suitecrm_ext.cli")

# modules under suitecrm_ext.cli that each define ``register(group)``
_COMMAND_MODULES = ["core", "runtime", "package"]


class PluginAwareGroup(click.Group):
    """A click group that adds the commands of installed plugins on first use."""

    _plugins_added = False
    _plugin_commands: list[str] = []

    def reset_plugin_commands(self) -> None:
        """Forget plugin commands so the next use discovers them again (tests, long-lived embedders)."""
        for name in self._plugin_commands:
            self.commands.pop(name, None)
        self._plugin_commands = []
        self._plugins_added = False

    def _add_plugin_commands(self) -> None:
        if self._plugins_added:
            return
        self._plugins_added = True
        self._plugin_commands = []
        from suitecrm_ext.plugins import PluginRegistry

        reg = PluginRegistry.discover()
        core_names = set(self.commands)
        for name in reg.loaded:
            try:
                cmds = reg.call_one(name, "ext_cli_commands") or []
            except Exception as exc:  # noqa: BLE001
                log.error("plugin %r: ext_cli_commands failed: %s", name, exc)
                continue
            for cmd in cmds:
                if cmd.name in self.commands:
                    owner = "a core command" if cmd.name in core_names else "another plugin's command"
                    log.error("plugin %r: command %r clashes with %s; skipped", name, cmd.name, owner)
                    continue
                self.add_command(cmd)
                self._plugin_commands.append(cmd.name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands()
        return super().list_commands(ctx)

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

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is None:
            self._add_plugin_commands()
            cmd = super().get_command(ctx, cmd_name)
        return cmd


@click.group(cls=PluginAwareGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), default=None,
    help="Config file (default: $SUITECRM_EXT_CONFIG or config/suitecrm-ext.yaml).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default=None, help="Log line format.")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: int, log_format: str | None) -> None:
    """suitecrm-ext: extend SuiteCRM 7 with plugins, from the side."""
    ctx.obj = CliState(config_path=config_path, verbose=verbose, log_format=log_format)
    ctx.call_on_close(ctx.obj.close)


for _name in _COMMAND_MODULES:
    importlib.import_module(f"suitecrm_ext.cli.{_name}").register(cli)


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""
    return cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="suitecrm-ext")
