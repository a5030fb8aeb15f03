"""Building the sync for a plugin context: the adapter named in the settings, one per app and thread.

The portal adapter holds connections (a REST session, maybe a MySQL connection), so it is built once
per AppContext and thread — the dispatcher and the job scheduler run in different threads and never
share one.
"""

from __future__ import annotations

import importlib
import threading
import weakref
from typing import Any

from .adapter import PortalAdapter
from .engine import PortalSync
from .suitecrm_portal import SuiteCRMPortal

_cache: weakref.WeakKeyDictionary[Any, threading.local] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


class AdapterError(RuntimeError):
    """``plugins.portal_sync.adapter`` names nothing usable (the message says what)."""


def load_adapter(settings: Any, store: Any) -> PortalAdapter:
    """The adapter of ``settings.adapter``: the shipped SuiteCRM one, or ``package.module:Class``."""
    if settings.adapter == "suitecrm":
        return SuiteCRMPortal(settings, store)
    module_name, _, cls_name = settings.adapter.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), cls_name)
    except (ImportError, AttributeError) as exc:
        raise AdapterError(f"plugins.portal_sync.adapter: cannot load {settings.adapter!r}: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, PortalAdapter)):
        raise AdapterError(
            f"plugins.portal_sync.adapter: {settings.adapter!r} is not a PortalAdapter subclass"
        )
    return cls(settings, store)


def sync_for(ctx: Any) -> PortalSync:
    """The PortalSync of a plugin context (cached per AppContext and thread)."""
    app = ctx.app
    with _cache_lock:
        local = _cache.get(app)
        if local is None:
            local = _cache[app] = threading.local()
    sync = getattr(local, "sync", None)
    if sync is None:
        adapter = getattr(app, "portal_adapter", None)  # tests and embedders may hand one in
        if adapter is None:
            adapter = load_adapter(ctx.settings, ctx.state)
        sync = local.sync = PortalSync(ctx.settings, ctx.crm, ctx.state, adapter)
    return sync


def forget(app: Any) -> None:
    """Drop the cached syncs of an app (after its config changed; tests)."""
    with _cache_lock:
        _cache.pop(app, None)
