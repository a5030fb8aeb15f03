"""The plugin authors' testing kit (also a pytest plugin, loaded automatically once installed).

The pytest plugin only *defines* fixtures; none is autouse, so installing suitecrm-ext changes nothing
in a test suite that does not ask for them.

Fixtures:

- ``make_config(plugins={...}, **sections)`` → a validated :class:`~suitecrm_ext.config.Config`
  built from a dict (no file needed), with sensible defaults for the ``suitecrm`` section.
- ``make_registry({"name": module_or_path, ...}, config=None)`` → a
  :class:`~suitecrm_ext.plugins.PluginRegistry` with only the plugins under test, their settings
  sections validated against the schemas they register.
- ``fake_crm`` → an empty :class:`FakeCRM`, the in-memory CRM implementing the gateway interface.
- ``make_app(registry, config=None, crm=None)`` → an :class:`~suitecrm_ext.context.AppContext` wired
  to the fake CRM, ready to hand ``app.for_plugin(name)`` to hooks.
- ``live_lab`` → the real SuiteCRM named by ``$SUITECRM_EXT_LIVE_ENV`` (a ``lab.sh`` env file) as a
  :class:`~suitecrm_ext.lab.LabInstance` (``.suitecrm_section()``, ``.transport("v8")``, ``.gateway()``);
  ``live_crm`` → its gateway over REST v4_1. Both skip the test when the variable is not set (and fail
  it when ``$SUITECRM_EXT_LIVE_REQUIRED=1``).
- ``smtp_server`` → a real SMTP server on loopback (aiosmtpd) for one test, a
  :class:`~suitecrm_ext.testing.smtp.SmtpServer`: ``.host``/``.port``, ``.settings()`` (the config's
  ``smtp`` section), ``.messages``, ``.to(address)``, ``.refuse = n`` (answer 451 to the next n).
  Without pytest: ``with smtp_server() as server: ...`` (aiosmtpd comes with the ``[test]`` extra).

Builders (plain functions, also without pytest):

- ``make_event(module, record_id=None, kind="updated", changes={"name": ("Old", "New")}, ...)`` → an
  :class:`~suitecrm_ext.Event` as the change feed or the logic hook delivers it (stable key, UTC time);
- ``make_change(module, record_id=None, before={...}, after={...}, crm=None)`` → a
  :class:`~suitecrm_ext.RecordChange` as ``ext_validate_record_change`` gets it before a save (with
  ``crm``, ``before`` is the stored record, like SuiteCRM's ``fetched_row``).

A plugin's world (testing/world.py; what plugin test kits build on):

- ``install_plugin_schema(fake_crm, plugin)`` → its package's modules, fields and links (and those of
  the packages it requires) on a FakeCRM, as ``package install`` gives SuiteCRM;
- ``add_user(crm, id, login, first, last, manager_id=..., roles=[...], groups=[...])`` → an active user
  in ACL roles and security groups;
- ``build_world({"mine": plugin, "workflow": ...}, crm=..., state_dir=tmp_path, settings={...},
  smtp=smtp_server.settings())`` → a :class:`~suitecrm_ext.testing.world.PluginWorld` (config,
  registry, app, ``ctx`` of the first plugin) with ``change_of(user, module, values)``,
  ``validate(change)``, ``saved_event(change, id, time)``, ``deliver(event)``, ``close()``.

Example::

    from suitecrm_ext.testing import make_event

    def test_my_plugin(make_registry, make_app):
        reg = make_registry({"hello": "hello_plugin.plugin"})
        app = make_app(reg)
        event = make_event("Accounts", kind="created", values={"name": "Initech"})
        reg.call_one("hello", "ext_on_record_change", event=event, ctx=app.for_plugin("hello"))
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest

from suitecrm_ext.events.model import Event, EventKind, FieldChange, RecordChange
from suitecrm_ext.lab import (
    LIVE_ENV_VAR,
    LIVE_REQUIRED_VAR,
    LabEnvError,
    LabInstance,
    live_instance,
    live_required,
    read_lab_env,
)
from suitecrm_ext.testing.builders import DEFAULT_SUITECRM, build_app, build_config, build_registry
from suitecrm_ext.testing.smtp import ReceivedMail, SmtpServer, free_port, smtp_server, smtp_settings
from suitecrm_ext.testing.world import PluginWorld, add_user, build_world, install_plugin_schema


def make_event(
    module: str,
    record_id: str | None = None,
    kind: EventKind | str = EventKind.UPDATED,
    *,
    changes: Mapping[str, Any] | None = None,
    values: Mapping[str, Any] | None = None,
    source: str = "poll",
    time: dt.datetime | None = None,
    user_id: str | None = None,
    link: str | None = None,
    related_module: str | None = None,
    related_id: str | None = None,
) -> Event:
    """An Event as the dispatcher hands it to ``ext_on_record_change``.

    ``changes`` maps field -> ``(before, after)`` (or a FieldChange); for a *created* event without
    ``changes`` every value in ``values`` counts as changed from None, as the change feed reports it.
    ``values`` defaults to the ``after`` side of the changes. ``record_id`` defaults to a new GUID,
    ``time`` to now (UTC, whole seconds); the key is derived like the real sources derive it, so the
    same arguments give the same key (a repeated delivery).
    """
    from suitecrm_ext.crm.guid import new_guid

    kind = EventKind(kind)
    fc: dict[str, FieldChange] = {}
    for name, change in (changes or {}).items():
        if isinstance(change, FieldChange):
            fc[name] = change
        elif isinstance(change, (tuple, list)) and len(change) == 2:
            fc[name] = FieldChange(change[0], change[1])
        else:
            raise TypeError(f"changes[{name!r}]: expected (before, after) or a FieldChange, got {change!r}")
    vals = dict(values or {})
    for name, change in fc.items():
        vals.setdefault(name, change.after)
    if kind is EventKind.CREATED and not fc:
        fc = {name: FieldChange(None, value) for name, value in vals.items()}
    if kind in (EventKind.RELATED, EventKind.UNRELATED) and not (link and related_id):
        raise ValueError(f"a {kind.value} event needs link= and related_id=")
    when = time or dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    return Event(module, record_id or new_guid(), kind, when, source, fc, vals, user_id=user_id, link=link,
                 related_module=related_module, related_id=related_id)


def make_change(
    module: str,
    record_id: str | None = None,
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    user_id: str | None = None,
    crm: Any = None,
) -> RecordChange:
    """A RecordChange as ``ext_validate_record_change`` gets it from the before_save logic hook.

    ``record_id`` None is a new record. With ``crm`` (e.g. the ``fake_crm`` fixture) and a
    ``record_id``, ``before`` defaults to the stored record's values, as SuiteCRM's ``fetched_row``.
    """
    if before is None:
        before = dict(crm.get(module, record_id).values) if crm is not None and record_id else {}
    return RecordChange(module, record_id, dict(before), dict(after or {}), user_id=user_id)


@pytest.fixture
def make_config():
    """Factory fixture: ``make_config(plugins={...}, state={...})`` → Config."""
    return build_config


@pytest.fixture
def make_registry():
    """Factory fixture: ``make_registry({"name": module}, config=None)`` → PluginRegistry."""
    return build_registry


@pytest.fixture
def fake_crm():
    """An empty in-memory CRM."""
    return FakeCRM()


@pytest.fixture
def make_app():
    """Factory fixture: ``make_app(registry, config=None, crm=None)`` → AppContext."""
    return build_app


@pytest.fixture(name="smtp_server")
def smtp_server_fixture():
    """A real SMTP server on loopback for the test (``.port``, ``.settings()``, ``.messages``, ``.to()``)."""
    with smtp_server() as server:
        yield server


def require_live_instance(var: str = LIVE_ENV_VAR) -> LabInstance:
    """The live instance named by ``var``; skips the calling test when it is not set (fails under
    ``$SUITECRM_EXT_LIVE_REQUIRED=1``), fails it when the env file is broken."""
    try:
        inst = live_instance(var)
    except LabEnvError as exc:
        pytest.fail(str(exc))
    if inst is None:
        reason = (f"live layer: ${var} is not set (point it at the env file printed by "
                  "`../shared/suitecrm/lab.sh up`)")
        if live_required():
            pytest.fail(reason + f", but ${LIVE_REQUIRED_VAR} says the live layer must run")
        pytest.skip(reason)
    return inst


@pytest.fixture(scope="session")
def live_lab() -> LabInstance:
    """The real SuiteCRM of ``$SUITECRM_EXT_LIVE_ENV`` (skips without it)."""
    return require_live_instance(LIVE_ENV_VAR)


@pytest.fixture
def live_crm(live_lab: LabInstance):
    """A gateway over REST v4_1 to the live SuiteCRM; closed after the test."""
    gw = live_lab.gateway("rest")
    yield gw
    gw.close()


from suitecrm_ext.crm.fake import FakeCRM  # noqa: E402
from suitecrm_ext.packaging.ddl import create_tables as create_plugin_tables  # noqa: E402
from suitecrm_ext.packaging.fake import register_schema  # noqa: E402
from suitecrm_ext.packaging.source import load_plugin_schema  # noqa: E402


def install_workflow(crm: FakeCRM) -> None:
    """Give a FakeCRM the core workflow package's modules (sx_Deputies, sx_Decisions), as ``package install
    workflow`` gives SuiteCRM."""
    from suitecrm_ext.workflow import plugin as workflow_plugin

    if "sx_Deputies" not in crm.modules():
        register_schema(crm, load_plugin_schema(workflow_plugin))


# Plugin schemas in tests (the same schema.yaml the SuiteCRM package is built from):
# ``load_plugin_schema("account_opening")`` → Schema, ``register_schema(fake_crm, schema)`` adds its
# modules/fields/links to a FakeCRM, ``create_plugin_tables(conn, schema)`` creates its MariaDB tables.

__all__ = [
    "DEFAULT_SUITECRM", "FakeCRM", "LabInstance", "PluginWorld", "ReceivedMail", "SmtpServer", "add_user",
    "build_app", "build_config", "build_registry", "build_world", "create_plugin_tables", "free_port",
    "install_plugin_schema", "install_workflow", "load_plugin_schema", "make_change", "make_event",
    "read_lab_env", "register_schema", "require_live_instance", "smtp_server", "smtp_settings",
]
