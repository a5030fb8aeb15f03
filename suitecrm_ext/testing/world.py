"""A plugin under test in a small SuiteCRM world: its package on a FakeCRM, people in ACL roles and
security groups, and the config, registry and app the sidecar would build around it.

This is the set-up every plugin test kit used to write for itself. What is left to a kit is what only
its plugin knows: its people, its records, how a user's save reaches it (validated first, pushed
after), its clock.

Example::

    from suitecrm_ext.testing import FakeCRM, add_user, build_world, install_plugin_schema, smtp_settings

    crm = FakeCRM()
    install_plugin_schema(crm, my_plugin)                        # + the packages its schema requires
    add_user(crm, "u-boss", "boss", "Bella", "Boss", roles=["Director"], groups=["North"])
    world = build_world({"mine": my_plugin, "workflow": workflow_plugin}, crm=crm, state_dir=tmp_path,
                        settings={"mine": {"threshold": 10}}, smtp=smtp_settings(smtp_server.port))
    change = world.change_of("u-boss", "Accounts", {"name": "Initech"})
    assert world.validate(change) is None                        # no plugin refuses the save
    acc = crm.save("Accounts", change.after)
    world.deliver(world.saved_event(change, acc, dt.datetime.now(dt.timezone.utc)))  # if it watches it
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from suitecrm_ext.config import Config
from suitecrm_ext.context import AppContext, PluginContext
from suitecrm_ext.events.model import Event, EventKind, FieldChange, RecordChange
from suitecrm_ext.packaging.fake import register_schema
from suitecrm_ext.packaging.schema import Schema
from suitecrm_ext.packaging.source import load_plugin_schema
from suitecrm_ext.plugins import PluginRegistry
from suitecrm_ext.testing.builders import build_app, build_config, build_registry


def install_plugin_schema(crm: Any, plugin: ModuleType | str) -> Schema:
    """Give a FakeCRM what ``package install <plugin>`` gives SuiteCRM: the modules, fields and links of
    the plugin's ``schema.yaml``, after those of the packages it ``requires`` (e.g. the core
    ``workflow`` package). Returns the schema (its ``logic_hooks`` tell what the package hooks)."""
    schema = load_plugin_schema(plugin)
    register_schema(crm, schema)
    return schema


def add_user(
    crm: Any,
    user_id: str,
    login: str,
    first_name: str,
    last_name: str,
    *,
    email: str | None = None,
    manager_id: str | None = None,
    roles: Iterable[str] = (),
    groups: Iterable[str] = (),
    **values: Any,
) -> str:
    """An active SuiteCRM user with a known id: ``email`` defaults to ``<login>@example.test``,
    ``manager_id`` is ``reports_to_id``; the user gets the ACL ``roles`` and joins the security
    ``groups`` (both created when missing, as an admin would). ``values`` adds other Users fields."""
    from suitecrm_ext.workflow import AccessModel

    row = {
        "id": user_id,
        "user_name": login,
        "first_name": first_name,
        "last_name": last_name,
        "email1": email or f"{login}@example.test",
        "status": "Active",
        **values,
    }
    if manager_id is not None:
        row["reports_to_id"] = manager_id
    crm.insert("Users", row)
    access = AccessModel(crm)
    for role in roles:
        access.ensure_role(role)
        access.add_user_to_role(role, user_id)
    for group in groups:
        access.ensure_group(group)
        access.add_user_to_group(group, user_id)
    return user_id


@dataclass
class PluginWorld:
    """A plugin under test (``plugin``, the first of :func:`build_world`'s plugins) with the others it
    runs beside, over ``crm`` (make it with :func:`build_world`). ``ctx`` is the context its hooks
    get: made once, where the sidecar makes one per hook call, so its caches live as long as the world."""

    crm: Any
    config: Config
    registry: PluginRegistry
    app: AppContext
    plugin: str
    ctx: PluginContext
    #: the events :meth:`deliver` handed to the plugin, in order
    delivered: list[Event] = field(default_factory=list)

    def change_of(self, user_id: str, module: str, values: Mapping[str, Any]) -> RecordChange:
        """The change SuiteCRM's before_save hook reports for saving ``values`` as ``user_id``: with an
        ``id`` an update whose ``before`` is the stored record (``fetched_row``), else a new record."""
        rid = values.get("id")
        before = dict(self.crm.get(module, rid).values) if rid else {}
        after = {k: v for k, v in values.items() if k != "id"}
        return RecordChange(module, rid, before, after, user_id=user_id)

    def validate(self, change: RecordChange, plugins: Iterable[str] | None = None) -> str | None:
        """What the sidecar's validation answers: the first refusal of ``plugins`` (default: every
        loaded plugin, in the order given to :func:`build_world`), None when all allow the change."""
        for name in plugins if plugins is not None else self.registry.enabled:
            message = self.registry.call_one(
                name, "ext_validate_record_change", change=change, ctx=self.app.for_plugin(name)
            )
            if message:
                return message
        return None

    def saved_event(self, change: RecordChange, record_id: str, time: dt.datetime) -> Event:
        """The event the package's push hook sends after ``change`` was saved as ``record_id``: created
        with every value, or updated with the fields whose value differs from ``before``."""
        rid, before = change.record_id, change.before
        changes = {
            k: FieldChange(before.get(k) if rid else None, v)
            for k, v in change.after.items()
            if not rid or str(before.get(k) or "") != str(v or "")
        }
        kind = EventKind.UPDATED if rid else EventKind.CREATED
        return Event(change.module, record_id, kind, time, "push", changes, dict(change.after),
                     user_id=change.user_id)

    def watches(self, event: Event) -> bool:
        """Whether one of the plugin's watch specs (``ext_watch``) matches ``event``."""
        specs = self.registry.call_one(self.plugin, "ext_watch", settings=self.ctx.settings) or []
        return any(s.matches(event) for s in specs)

    def deliver(self, event: Event) -> bool:
        """Hand ``event`` to the plugin under test as the dispatcher does: only when it
        :meth:`watches` it; then it is added to ``delivered`` first. True when it was delivered."""
        if not self.watches(event):
            return False
        self.delivered.append(event)
        self.registry.call_one(self.plugin, "ext_on_record_change", event=event, ctx=self.ctx)
        return True

    def close(self) -> None:
        """Close the app (its state store, the CRM gateway)."""
        self.app.close()


def build_world(
    plugins: Mapping[str, ModuleType | Any | str],
    *,
    crm: Any,
    state_dir: Path | str | None = None,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    smtp: Mapping[str, Any] | None = None,
    **sections: Any,
) -> PluginWorld:
    """The first of ``plugins`` under test, the others beside it (name -> plugin module), over ``crm``.

    ``settings`` are the ``plugins.<name>`` sections (validated by the plugins' schemas; a plugin with
    none gets its defaults); ``state_dir``: the SQLite state store goes there (``state.sqlite3``);
    ``smtp``: the ``smtp`` section (``smtp_server.settings()``, ``smtp_settings(port)``); ``sections``:
    any other config sections (``events={...}``). Raises ConfigError for bad settings."""
    if state_dir is not None:
        sections["state"] = {"backend": "sqlite", "path": str(Path(state_dir) / "state.sqlite3")}
    if smtp is not None:
        sections["smtp"] = dict(smtp)
    config = build_config(plugins={k: dict(v) for k, v in (settings or {}).items()}, **sections)
    registry = build_registry(plugins, config=config)
    app = build_app(registry, config=config, crm=crm)
    name = next(iter(plugins))
    return PluginWorld(crm, config, registry, app, name, app.for_plugin(name))
