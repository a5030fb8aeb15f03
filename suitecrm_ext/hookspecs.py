"""The hook API: every hook a plugin may implement.

A plugin is a Python module (or object) with functions decorated by ``suitecrm_ext.hookimpl`` whose
names are hook names below. It registers itself through the ``suitecrm_ext.plugins`` entry-point group
in its ``pyproject.toml``::

    [project.entry-points."suitecrm_ext.plugins"]
    my_plugin = "my_package.plugin"

All hooks share the ``ext_`` prefix. A plugin implements only the hooks it needs, and may take only
some of a hook's arguments (pluggy passes the ones named in the implementation's signature). A hook
implementation whose name is not below, or which asks for an argument the hook does not have, makes
the plugin fail to load with an error that names it; the other plugins keep working.

Hooks that collect declarations (``ext_settings_schema``, ``ext_watch``, ``ext_jobs``,
``ext_cli_commands``, ``ext_doctor_checks``, ``ext_suitecrm_artifacts``, ``ext_config_warnings``,
``ext_demo_scenes``, ``ext_bp_scripts``) are called per plugin by the core, so the core always knows
which plugin declared what. The core's own commands, doctor checks, config warnings, maintenance job and
demo frame are implementations of these same hooks (``suitecrm_ext.plugins.DEFAULT_PLUGINS``).

docs/hooks.md is generated from this file (``python -m suitecrm_ext.hookdocs``); a test keeps it current.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

from suitecrm_ext import PROJECT

if TYPE_CHECKING:
    from pathlib import Path

    import click
    from pydantic import BaseModel

    from suitecrm_ext.config import Config
    from suitecrm_ext.context import PluginContext
    from suitecrm_ext.demo import DemoScene
    from suitecrm_ext.doctor import Check
    from suitecrm_ext.events.aow import AowCall
    from suitecrm_ext.events.model import Event, RecordChange, WatchSpec
    from suitecrm_ext.jobs_spec import JobSpec
    from suitecrm_ext.plugins import PluginRegistry
    from suitecrm_ext.workflow.scripts import Script

hookspec = pluggy.HookspecMarker(PROJECT)


@hookspec
def ext_settings_schema() -> type[BaseModel] | None:
    """Declare the settings model of the plugin's config section.

    When: once, when the configuration is loaded (``config check``, ``doctor``, ``run``, every
    command that reads the config), before any other hook of the plugin is called with a context.

    Returns: a pydantic ``BaseModel`` subclass validating the ``plugins.<plugin name>`` section of the
    YAML (the ``enabled`` key is the core's and is removed before validation), or None when the plugin
    takes no settings. Use ``model_config = ConfigDict(extra="forbid")`` so a typo is an error; the
    core reports errors with the key, file and line. Every field needs a default if the plugin must
    work without a section.

    The validated model instance is available as ``ctx.settings`` in every hook that gets a context.

    May raise: no. An exception here is reported as a plugin load error naming the plugin.
    """


@hookspec
def ext_suitecrm_artifacts() -> Path | str | dict[str, Any] | None:
    """Declare the SuiteCRM-side artefacts the plugin needs (custom modules, fields, relationships,
    subpanels, dropdown lists, logic hooks), for the Module Loader package builder.

    When: by ``package build``, ``plugins list`` and test helpers that create the plugin's tables.

    Returns: the path of the plugin's ``schema.yaml``, or the already-parsed schema as a dict, or None
    when the plugin needs nothing inside SuiteCRM. The schema format is documented in
    ``docs/package-schema.md``.

    May raise: no; a bad schema is reported by the package builder with the plugin, file and field.
    """


@hookspec
def ext_watch(settings: Any) -> list[WatchSpec] | None:
    """Declare which modules (and, optionally, which fields and event kinds) the plugin listens to.

    When: at start of ``run`` / ``run --once`` and by ``plugins list``. ``settings`` is the plugin's
    validated settings (or None).

    Returns: a list of ``WatchSpec``. The change feed polls the union of all watched modules, keeps
    the last seen values of the listed fields so it can report before/after values, and the
    dispatcher hands the plugin only events its specs match.

    May raise: no.
    """


@hookspec
def ext_on_record_change(event: Event, ctx: PluginContext) -> None:
    """React to a record change, after the fact.

    When: by the dispatcher, for every event matching one of the plugin's ``ext_watch`` specs, from
    the change feed (``event.source == "poll"``) or the logic hook (``"push"``). Delivery is
    **at least once**: the same event (same ``event.key``) may arrive again after a crash or a retry,
    so the handler must be idempotent — record what it did under ``event.key`` (e.g. in
    ``ctx.state``) or make its writes naturally idempotent.

    Each plugin's handler runs isolated: its failure does not affect other plugins' delivery.

    Returns: nothing.

    May raise: yes. Any exception marks the delivery to this plugin as failed; it is retried with
    exponential backoff, and after ``events.max_attempts`` failures the event goes to the dead-letter
    list (``suitecrm-ext events dead`` / ``events replay``).
    """


@hookspec
def ext_validate_record_change(change: RecordChange, ctx: PluginContext) -> str | None:
    """Veto a change before SuiteCRM saves it.

    When: synchronously, from the generated ``before_save`` logic hook through the sidecar's
    validation endpoint, for modules the plugin watches. It must answer fast: the whole validation
    call has a time budget (``events.push.validation_budget_ms``); a plugin that takes longer is
    treated as a failure, and the module's fail mode (open/closed) decides.

    Returns: None to allow, or a message (str) to refuse; the message is shown to the SuiteCRM user,
    so write it for them ("Cannot move to Signing: approval by J. Smith is not completed").
    The first refusal wins; all plugins are asked.

    May raise: it should not. An exception counts as a failure of the validation service and the
    module's fail mode applies (fail-open allows the save, fail-closed refuses it).
    """


@hookspec
def ext_jobs(settings: Any) -> list[JobSpec] | None:
    """Declare scheduled jobs.

    When: at start of ``run``, by ``jobs list`` / ``jobs run`` and ``plugins list``.

    Returns: a list of ``JobSpec`` (name, interval or cron schedule, function taking the plugin's
    context). Job names are global: prefix them with the plugin's purpose (``onec-import``).
    A job never runs twice at once, also across processes and hosts.

    May raise: no.
    """


@hookspec
def ext_cli_commands() -> list[click.Command] | None:
    """Add commands to the ``suitecrm-ext`` command line.

    When: when the CLI starts, for every installed plugin that loads (a disabled plugin's commands
    still show, and refuse to run while it is disabled).

    Returns: a list of ``click.Command`` / ``click.Group`` objects; each becomes a top-level
    subcommand (``suitecrm-ext collegial status ...``). A name that clashes with a core command or
    another plugin's is reported and skipped. Inside a command, ``suitecrm_ext.cli.plugin_context(name)``
    gives the plugin's context (config loaded, services ready).

    May raise: no.
    """


@hookspec
def ext_doctor_checks(ctx: PluginContext) -> list[Check] | None:
    """Contribute checks to ``suitecrm-ext doctor``.

    When: by ``doctor``, after the core checks, for enabled plugins.

    Returns: a list of ``Check`` results (name, ok, detail, hint). A check that fails makes
    ``doctor`` exit with status 1.

    May raise: an exception is reported as a failed check named after the plugin.
    """


@hookspec
def ext_config_warnings(config: Config, registry: PluginRegistry, settings: Any) -> list[str] | None:
    """Point out a configuration that is valid but will not do what the admin expects.

    When: by ``config check`` and ``doctor`` (and ``init`` at its end), after the config and every
    plugin section validated, for enabled plugins. ``config`` is the loaded
    :class:`~suitecrm_ext.config.Config` (``config.where(("plugins", "my_plugin", "key"))`` gives
    ``file:line`` of a key), ``registry`` the loaded plugins, ``settings`` the plugin's validated
    settings. It must not do I/O against SuiteCRM (``config check`` runs without one); checks that
    need SuiteCRM belong in ``ext_doctor_checks``.

    Returns: a list of messages, each a whole sentence that names the key (with ``config.where``)
    and says what to change — e.g. "config/suitecrm-ext.yaml:40: plugins.my_plugin.inbox is empty:
    nothing will be imported". Warnings do not change the exit status: ``config check`` prints
    ``warning: ...`` lines, ``doctor`` prints ``WARN`` lines.

    May raise: it should not; an exception is shown as a warning naming the plugin.
    """


@hookspec
def ext_enforces_without_push(settings: Any) -> bool | str | None:
    """Say whether the plugin's rules still hold when SuiteCRM cannot ask the sidecar before a save.

    When: by ``config check`` and ``doctor``, for enabled plugins that implement
    ``ext_validate_record_change`` while ``events.push.enabled`` is false (then no ``before_save``
    validation call ever reaches the sidecar).

    Returns: True when the plugin enforces its rules some other way in that configuration (e.g. it
    reverts forbidden changes it sees in polled events); otherwise None, or a hint (str) telling the
    admin how to switch such a mode on ("set plugins.my_plugin.polling_only: true"). Unless it
    returns True, the core warns that the plugin's rules are not enforced.

    May raise: no.
    """


@hookspec
def ext_demo_scenes() -> list[DemoScene] | None:
    """Contribute scenes to ``suitecrm-ext demo``, the scripted story that shows the sidecar at work
    against the in-memory FakeCRM (no SuiteCRM needed).

    When: by ``suitecrm-ext demo``, before the demo sidecar starts. A plugin that contributes a scene
    is enabled in the demo (the others stay off), so a scene is also how a plugin says it is ready to
    be shown.

    Returns: a list of :class:`suitecrm_ext.demo.DemoScene`: a title, an ``order`` (the core's frame
    uses 0 and 1000; plugins default to 100), the plugin ``settings`` wanted in the demo config,
    ``requires`` (other plugins to enable with it), ``packages`` (plugins whose SuiteCRM package it
    needs installed without running them), a ``setup(crm, workdir)`` that adds the plugin's
    modules and records to the FakeCRM before the sidecar starts, and ``play(stage)``, which tells
    the story through the :class:`~suitecrm_ext.demo.DemoStage` (``stage.say``, ``stage.save`` as a
    SuiteCRM user with the logic hook installed, ``stage.run_job``, ``stage.check``). ``suitecrm-ext
    init`` offers the plugins with a scene (with what they require) as its default selection and
    installs the packages they need first.

    May raise: ``play`` may raise; the demo reports the scene as failed and exits 1.
    """


@hookspec
def ext_bp_scripts() -> list[Script] | None:
    """Add BP-scripts: the automatic steps an admin composes business processes from (the bp_scripts
    plugin runs them; docs/plugins/bp_scripts.md, "Writing a script").

    When: when the bp_scripts plugin's settings are validated (``config check`` and every command
    that loads the config: the process files name scripts and their settings), by ``bp list``, and
    when a process runs. The shipped scripts come through this hook too.

    Returns: a list of ``suitecrm_ext.workflow.Script`` (a unique ``name``, a pydantic ``settings``
    model validating each use's settings with file and line, ``run(run, settings)``, a one-line
    ``summary``), or None. A name another plugin already gave is reported and the later one skipped.

    ``run`` gets a ``ScriptRun`` (the record, the CRM, a stable ``key`` for this step of this process
    instance, ``render`` for templates, ``memo`` for what must survive a crash, ``dry_run``) and
    must be idempotent by ``run.key``: after a crash the same step runs again with the same key.

    May raise: no (an exception is reported as the plugin's load error). ``run`` may raise
    ``RetryLater`` (a transient failure: retried with backoff) or ``ScriptError`` (parked with its
    reason for an admin to replay); any other exception is retried, then parked.
    """


@hookspec
def ext_aow_action(call: AowCall, ctx: PluginContext) -> dict[str, Any] | None:
    """Run a SuiteCRM workflow (AOW) action a plugin's package ships (schema ``aow_actions``).

    When: the push receiver got ``POST /aow`` from the action's generated PHP class, run by a SuiteCRM
    workflow on a record (``suitecrm_ext.events.aow``). Plugins are asked by name until one answers;
    return None for an action that is not yours (``call.action``, ``call.package``). It runs while
    SuiteCRM waits (inside the save that triggered the workflow, for an on-save workflow): take the
    work durably and answer; do long work later (e.g. in a job).

    ``call.key`` is the workflow run of this action on this record: the same on every delivery of the
    same run, so the implementation must be idempotent by it (never do the work twice for one key).

    Returns: ``{"ok": True, ...}`` when the work is taken (SuiteCRM marks the action Complete), or
    ``{"ok": False, "error": "..."}`` (Failed; the error is written to suitecrm.log) — a JSON object.

    May raise: an exception answers 503 and the action is Failed in SuiteCRM's Processed Flows.
    """
