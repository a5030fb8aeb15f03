"""Operational state: cursors, key/value data, the event queue, locks and job runs.

``open_store(settings, base_dir)`` opens (and migrates) the configured backend: SQLite (default, a
file; several processes on one host) or MySQL/MariaDB (several workers on several hosts). The
interface is :class:`~suitecrm_ext.state.base.StateStore`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from suitecrm_ext.state.base import (
    SCHEMA_VERSION,
    Delivery,
    JobRun,
    LockInfo,
    QueuedEvent,
    QueueStats,
    StateError,
    StateStore,
)

if TYPE_CHECKING:
    from suitecrm_ext.config import StateSettings

__all__ = [
    "SCHEMA_VERSION",
    "Delivery",
    "JobRun",
    "LockInfo",
    "QueueStats",
    "QueuedEvent",
    "StateError",
    "StateStore",
    "open_store",
]


def open_store(settings: StateSettings, base_dir: Path | str = ".") -> StateStore:
    """Open the configured state store, creating or migrating its schema.

    SQLite: ``settings.path`` (relative to ``base_dir``); its directory is created if missing.
    MySQL: ``settings.mysql`` (host, port, user, password, database) is required.
    Raises StateError with a message naming the config key when the settings cannot work.
    """
    if settings.backend == "sqlite":
        from suitecrm_ext.state.sqlite import SQLiteStore

        path = Path(settings.path)
        if not path.is_absolute():
            path = Path(base_dir) / path
        return SQLiteStore(path)
    if settings.backend == "mysql":
        if settings.mysql is None:
            raise StateError("state.mysql: required when state.backend is mysql (host, user, database)")
        from suitecrm_ext.state.mysql import MySQLStore

        return MySQLStore.from_settings(settings.mysql)
    raise StateError(f"state.backend: unknown backend {settings.backend!r} (sqlite or mysql)")
