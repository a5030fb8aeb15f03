"""JobSpec: what a plugin declares through ``ext_jobs``. The scheduler lives in ``suitecrm_ext.jobs``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class JobSpec:
    """A scheduled job.

    ``schedule`` is an interval (``"30s"``, ``"5m"``, ``"1h"``, ``"1d"``) or a 5-field cron expression
    (``"*/10 * * * *"``). ``func`` is called with one argument, the plugin's ``PluginContext``, and may
    return a short summary (str or dict) that ``jobs list`` shows. A job never runs twice at once.
    """

    name: str
    schedule: str
    func: Callable[[Any], Any]
    description: str = ""
