"""The plugin's services over a plugin context: the engine with its scripts' services."""

from __future__ import annotations

from typing import Any

from suitecrm_ext import PluginContext

from .documents import DocumentMaker
from .engine import Engine
from .settings import Settings
from .sms import build_provider
from .templating import TemplateEngine

_PROVIDERS: dict[int, tuple[Any, dict[str, Any]]] = {}


def providers_for(settings: Settings) -> dict[str, Any]:
    """The configured SMS providers' adapters (one set per settings object)."""
    cached = _PROVIDERS.get(id(settings.sms))
    if cached is None or cached[0] is not settings.sms:
        built = {name: build_provider(name, p) for name, p in settings.sms.providers.items()}
        cached = _PROVIDERS[id(settings.sms)] = (settings.sms, built)
    return cached[1]


def services_for(
    ctx: PluginContext, settings: Settings, wf: Any, templates: TemplateEngine
) -> dict[str, Any]:
    """What scripts find in ``run.services``."""
    try:
        mailer = ctx.mailer
    except Exception:  # noqa: BLE001 - no smtp section: send_email says so when it runs
        mailer = None
    return {
        "workflow": wf,
        "new_workflow": lambda: type(wf).for_context(ctx),
        "sms": providers_for(settings),
        "sms_default": settings.sms.default,
        "mailer": mailer,
        "mail_from": ctx.app.config.settings.smtp.sender,
        "email_archive": settings.email.archive,
        "message_id_domain": settings.email.message_id_domain,
        "webhooks": dict(settings.webhooks),
        "documents": DocumentMaker(settings.documents_dir, templates),
        "documents_dir": settings.documents_dir,
        "settings": settings,
    }


def engine_for(ctx: PluginContext, **kw: Any) -> Engine:
    """The engine over the context's CRM and state store (one per hook call or job pass)."""
    settings: Settings = ctx.settings or Settings()
    wf = ctx.workflow
    calendar = wf.calendar
    templates = TemplateEngine(calendar)
    services = services_for(ctx, settings, wf, templates)
    return Engine(
        ctx.crm, ctx.state, settings, services=services, calendar=calendar, templates=templates, **kw
    )
