"""The workflow services of one plugin context, as ``ctx.workflow``.

``Workflow`` bundles the services over the context's CRM gateway, state store and mailer, configured by
``plugins.workflow`` (settings.py). Each ``Workflow`` has its own :class:`AccessModel` cache: take one per
hook call or job pass (``wf = ctx.workflow``) so SuiteCRM changes are seen by the next one.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from suitecrm_ext.workflow.access import AccessModel
from suitecrm_ext.workflow.assignees import AssigneeResolver
from suitecrm_ext.workflow.calendar import BusinessCalendar
from suitecrm_ext.workflow.decisions import DecisionLog
from suitecrm_ext.workflow.deputies import DeputyBook
from suitecrm_ext.workflow.notices import Notifier
from suitecrm_ext.workflow.rights import RoleRights
from suitecrm_ext.workflow.settings import CORE_DECISION_LINKS, WorkflowSettings

_CALENDARS: dict[int, BusinessCalendar] = {}


class Workflow:
    """Access model, deputies, decision log, notices, calendar and assignees for one plugin.

    ``crm``/``state``/``mailer``: the services (state and mailer are only touched when notices are sent);
    ``plugin``: the plugin's name (its notices' state namespace and Task marker).
    """

    def __init__(
        self,
        crm: Any,
        *,
        state: Any = None,
        mailer: Any = None,
        settings: WorkflowSettings | None = None,
        plugin: str = "workflow",
        context: Any = None,
    ):
        self.crm = crm
        self._state = state
        self._mailer = mailer
        self._context = context
        self.settings = settings or WorkflowSettings()
        self.plugin = plugin

    @classmethod
    def for_context(cls, ctx: Any) -> Workflow:
        """The services of a PluginContext (settings from ``plugins.workflow``)."""
        settings = ctx.app.config.plugin_settings.get("workflow")
        if not isinstance(settings, WorkflowSettings):
            settings = WorkflowSettings()
        return cls(ctx.crm, settings=settings, plugin=ctx.name, context=ctx)

    @cached_property
    def access(self) -> AccessModel:
        """Users, roles, security groups, managers."""
        return AccessModel(self.crm)

    @cached_property
    def rights(self) -> RoleRights:
        """Role rights per module (web UI of the REST admin user on a real SuiteCRM; kept by a FakeCRM)."""
        if self._context is not None:
            return RoleRights.for_context(self._context)
        return RoleRights(self.crm)

    @cached_property
    def assignees(self) -> AssigneeResolver:
        """Assignee specs → users."""
        return AssigneeResolver(self.access)

    @cached_property
    def deputies(self) -> DeputyBook:
        """Deputy assignments."""
        return DeputyBook(self.crm, self.settings.deputies_module)

    @cached_property
    def decisions(self) -> DecisionLog:
        """The decision log."""
        links = {**CORE_DECISION_LINKS, **self.settings.decision_links}
        return DecisionLog(self.crm, self.settings.decisions_module, links)

    @property
    def calendar(self) -> BusinessCalendar:
        """The business calendar (one per settings object, its holiday tables cached)."""
        cal = _CALENDARS.get(id(self.settings.calendar))
        if cal is None or cal.settings is not self.settings.calendar:
            cal = _CALENDARS[id(self.settings.calendar)] = BusinessCalendar(self.settings.calendar)
        return cal

    @cached_property
    def notices(self) -> Notifier:
        """Tasks and e-mails, idempotent by key (state namespace and Task marker: the plugin's name)."""
        state = self._state if self._state is not None else (self._context.state if self._context else None)
        mailer = self._mailer
        if mailer is None and self._context is not None:
            mailer = self._context.mailer
        return Notifier(self.crm, state, mailer, state_ns=self.plugin, marker=self.plugin)
