"""The state-maintenance job: old delivered events and expired keys leave the state store.

A job like any plugin's (``ext_jobs``), so ``run`` runs it on schedule, ``run --once`` from cron
runs it when due, ``jobs list`` shows its last run, and with several workers only one runs it.
"""

from __future__ import annotations

from typing import Any

from suitecrm_ext import JobSpec, hookimpl

JOB = "state-maintenance"
#: Done deliveries (and their events) are purged after this many seconds.
RETENTION_SECONDS = 7 * 86400


def purge(ctx: Any) -> str:
    """Purge delivered events older than RETENTION_SECONDS and expired key/value entries."""
    purged = ctx.state.purge_done(RETENTION_SECONDS)
    expired = ctx.state.kv_purge_expired()
    return f"purged {purged} delivered event(s) older than {RETENTION_SECONDS // 86400} days, " \
           f"{expired} expired key(s)"


@hookimpl
def ext_jobs() -> list[JobSpec]:
    """``state-maintenance``, hourly."""
    return [JobSpec(JOB, "1h", purge, "purge delivered events older than 7 days and expired keys")]
