"""The context objects hooks receive: the app's shared services and each plugin's own view of them."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from suitecrm_ext.config import Config
    from suitecrm_ext.crm.base import CRM
    from suitecrm_ext.mail import Mailer
    from suitecrm_ext.workflow.services import Workflow


class AppContext:
    """Shared services, built lazily from the config: the CRM gateway, the state store, the mailer.

    Tests and embedding code may pass ready-made services (e.g. ``FakeCRM``) instead.
    """

    def __init__(
        self,
        config: Config,
        *,
        crm: CRM | None = None,
        state: Any = None,
        mailer: Mailer | None = None,
        plugin_manager: Any = None,
    ):
        self.config = config
        self._crm = crm
        self._crm_given = crm is not None
        self._state = state
        self._mailer = mailer
        self.plugin_manager = plugin_manager
        self.log = logging.getLogger("suitecrm_ext")

    @property
    def crm(self) -> CRM:
        """The CRM gateway facade (built on first use)."""
        if self._crm is None:
            from suitecrm_ext.crm.gateway import build_gateway

            self._crm = build_gateway(self.config.settings.suitecrm)
        return self._crm

    def new_crm(self) -> CRM:
        """Another CRM gateway with connections (and API sessions) of its own, for work in another thread
        (e.g. bounded parallel writes: one PHP session serves one request at a time). The caller closes
        it. An app given a ready-made CRM (tests, embedding code) hands out that one instead."""
        if self._crm_given:
            return self.crm
        from suitecrm_ext.crm.gateway import build_gateway

        return build_gateway(self.config.settings.suitecrm)

    @property
    def state(self) -> Any:
        """The operational state store (built and migrated on first use)."""
        if self._state is None:
            from suitecrm_ext.state import open_store

            self._state = open_store(self.config.settings.state, base_dir=self._base_dir())
        return self._state

    @property
    def mailer(self) -> Mailer:
        """Outgoing e-mail through the configured SMTP server."""
        if self._mailer is None:
            from suitecrm_ext.mail import Mailer

            self._mailer = Mailer(self.config.settings.smtp)
        return self._mailer

    def for_plugin(self, name: str, *, crm: CRM | None = None) -> PluginContext:
        """The context handed to plugin ``name``'s hooks (``crm``: a gateway of its own instead of the
        shared one, as /validate uses)."""
        return PluginContext(name, self, crm=crm)

    def close(self) -> None:
        """Close what was opened."""
        for svc in (self._crm, self._state):
            close = getattr(svc, "close", None)
            if close:
                close()

    def _base_dir(self):
        from pathlib import Path

        return Path(".")


class PluginContext:
    """What one plugin's hooks get: its validated settings, its logger, and the shared services."""

    def __init__(self, name: str, app: AppContext, *, crm: CRM | None = None):
        self.name = name
        self.app = app
        self._crm = crm
        self.log = logging.getLogger(f"suitecrm_ext.plugins.{name}")

    @property
    def settings(self) -> Any:
        """The plugin's validated settings (its pydantic model), or None if it registered none."""
        return self.app.config.plugin_settings.get(self.name)

    @property
    def crm(self) -> CRM:
        """The CRM gateway."""
        return self._crm if self._crm is not None else self.app.crm

    @property
    def state(self) -> Any:
        """The state store."""
        return self.app.state

    def new_crm(self) -> CRM:
        """Another CRM gateway with connections of its own, for another thread (see AppContext.new_crm)."""
        return self.app.new_crm()

    @property
    def mailer(self) -> Mailer:
        """The mailer."""
        return self.app.mailer

    @property
    def workflow(self) -> Workflow:
        """The core workflow services (roles, groups, deputies, decision log, notices, calendar), fresh
        caches on every access: keep one per hook call (``wf = ctx.workflow``). See docs/workflow.md."""
        from suitecrm_ext.workflow.services import Workflow

        return Workflow.for_context(self)
