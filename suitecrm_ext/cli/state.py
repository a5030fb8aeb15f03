"""What CLI commands share: the loaded config, the plugin registry, the app context."""

from __future__ import annotations

from functools import cached_property

import click

from suitecrm_ext.config import Config, ConfigError, load_config
from suitecrm_ext.context import AppContext, PluginContext
from suitecrm_ext.logs import LoggingSnapshot, add_secrets, setup_logging
from suitecrm_ext.plugins import PluginRegistry, use_plugins_dir

EXIT_CONFIG = 2


class CliState:
    """Lazily loads the config (and validates plugin sections), the plugins and the services.

    One per invocation. It configures logging for the command and, when the invocation ends
    (:meth:`close`), puts the logging tree and the plugins directory back as they were, so code that
    calls the CLI in-process (tests with ``CliRunner``, embedders) keeps its own logging (``caplog``).
    """

    def __init__(self, config_path: str | None = None, verbose: int = 0, log_format: str | None = None,
                 plugins_dir: str | None = None):
        self.config_path = config_path
        self.verbose = verbose
        self.log_format = log_format
        self.plugins_dir = plugins_dir
        self._app: AppContext | None = None
        self._logging = LoggingSnapshot.take()
        self._previous_plugins_dir = use_plugins_dir(plugins_dir) if plugins_dir else None
        level = "DEBUG" if verbose >= 2 else "INFO" if verbose == 1 else "WARNING"
        setup_logging(level, log_format or "text")

    def load(self) -> tuple[Config, PluginRegistry]:
        """Config + registry, raising ConfigError with every problem found."""
        config = load_config(self.config_path)
        level = config.settings.logging.level
        if self.verbose:
            level = "DEBUG" if self.verbose >= 2 else "INFO"
        setup_logging(level, self.log_format or config.settings.logging.format, config.secrets)
        registry = PluginRegistry.discover(enabled=self.enabled_flags(config))
        config.validate_plugin_sections(registry.settings_schemas())
        add_secrets(config.secrets)
        return config, registry

    @staticmethod
    def enabled_flags(config: Config) -> dict[str, bool]:
        """Plugin name -> enabled, from the config's ``plugins:`` sections."""
        return {name: section.enabled for name, section in config.settings.plugins.items()}

    @cached_property
    def _loaded(self) -> tuple[Config, PluginRegistry]:
        try:
            return self.load()
        except ConfigError as exc:
            for line in exc.problems:
                click.echo(f"config error: {line}", err=True)
            raise click.exceptions.Exit(EXIT_CONFIG) from None

    @property
    def config(self) -> Config:
        """The validated config; on error prints every problem and exits with status 2."""
        return self._loaded[0]

    @property
    def registry(self) -> PluginRegistry:
        """The plugin registry, with enable flags from the config."""
        return self._loaded[1]

    @property
    def app(self) -> AppContext:
        """The app context (services built on first use)."""
        if self._app is None:
            self._app = AppContext(self.config, plugin_manager=self.registry)
        return self._app

    def close(self) -> None:
        """Close services opened by the command; restore logging and the plugins directory."""
        try:
            if self._app is not None:
                self._app.close()
        finally:
            if self.plugins_dir:
                use_plugins_dir(self._previous_plugins_dir)
            self._logging.restore()


def plugin_context(name: str) -> PluginContext:
    """Inside a plugin's CLI command: the plugin's context. Exits with a message if it is disabled."""
    state = click.get_current_context().find_object(CliState)
    if state is None:
        raise click.UsageError("plugin_context() called outside the suitecrm-ext command line")
    if name not in state.registry.enabled:
        err = state.registry.errors.get(name)
        raise click.ClickException(err or f"plugin {name!r} is disabled in {state.config.path}")
    return state.app.for_plugin(name)
