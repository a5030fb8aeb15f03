"""The plugins' verdict on a change about to be saved (``POST /validate``), within a time budget."""

from __future__ import annotations

import concurrent.futures as cf
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from suitecrm_ext.events.model import RecordChange, WatchSpec

log = logging.getLogger("suitecrm_ext.events.push")

VALIDATE_HOOK = "ext_validate_record_change"


@dataclass(frozen=True)
class Verdict:
    """The answer of /validate. ``fail_mode`` is set when the module's fail mode decided."""

    allow: bool
    message: str = ""
    fail_mode: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON body."""
        return {"allow": self.allow, "message": self.message, "fail_mode": self.fail_mode}


class Validator:
    """Runs the plugins' ``ext_validate_record_change`` for a change, within a time budget.

    ``validators``: plugin name -> modules it validates (from its ``ext_watch``). A plugin that
    hangs keeps its worker thread busy (Python threads cannot be killed); the pool has
    ``max_workers`` threads, and a call that cannot even start within the budget counts as a
    time-out like any other.

    The plugins validate with a CRM gateway of their own (``app.new_crm()``, opened on first use):
    SuiteCRM's REST v4_1 session is a PHP session, which serves one request at a time, so reads on
    the dispatcher's session waited behind its calls -- and behind the very save being validated
    when the sidecar made it -- until the budget ran out and the save was let through.
    """

    def __init__(
        self,
        app: Any,
        registry: Any,
        *,
        budget_ms: int,
        fail_modes: Mapping[str, str],
        max_workers: int = 16,
    ):
        self.app = app
        self.registry = registry
        self.budget = budget_ms / 1000.0
        self.fail_modes = dict(fail_modes)
        self.pool = cf.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="validate")
        self.validators = self._collect()
        self._crm: Any = None
        self._crm_lock = threading.Lock()

    def _own_crm(self) -> Any:
        """The validators' gateway (None: the shared one, when the app cannot make another)."""
        with self._crm_lock:
            if self._crm is None:
                new_crm = getattr(self.app, "new_crm", None)
                if new_crm is None:
                    return None
                try:
                    self._crm = new_crm()
                except Exception as exc:  # noqa: BLE001 - validate on the shared gateway then
                    log.warning("validation uses the shared CRM gateway: cannot open another: %s", exc)
                    self._crm = False
            return None if self._crm is False else self._crm

    def _collect(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        settings = getattr(self.app.config, "plugin_settings", {})
        for name in self.registry.enabled:
            if not self.registry.implements(name, VALIDATE_HOOK):
                continue
            try:
                specs = self.registry.call_one(name, "ext_watch", settings=settings.get(name)) or []
                out[name] = {s.module for s in specs if isinstance(s, WatchSpec) and not s.origin}
            except Exception as exc:  # noqa: BLE001 - one plugin's mistake must not stop the others
                log.error("plugin %r: ext_watch failed; it validates nothing: %s", name, exc)
        return out

    def fail_mode(self, module: str) -> str:
        """``open`` or ``closed`` for a module (default open)."""
        return self.fail_modes.get(module, "open")

    def _call(self, name: str, change: RecordChange) -> Any:
        crm = self._own_crm()
        ctx = self.app.for_plugin(name, crm=crm) if crm is not None else self.app.for_plugin(name)
        return self.registry.call_one(name, VALIDATE_HOOK, change=change, ctx=ctx)

    def validate(self, change: RecordChange) -> Verdict:
        """Ask every plugin validating ``change.module``; the verdict (see the module docstring)."""
        names = sorted(n for n, mods in self.validators.items() if change.module in mods)
        if not names:
            return Verdict(True)
        deadline = time.monotonic() + self.budget
        futures = {n: self.pool.submit(self._call, n, change) for n in names}
        cf.wait(futures.values(), timeout=max(deadline - time.monotonic(), 0))
        problems: list[str] = []
        for name in names:
            fut = futures[name]
            if not fut.done():
                fut.cancel()
                problems.append(f"{name} did not answer within {int(self.budget * 1000)} ms")
                continue
            exc = fut.exception()
            if exc is not None:
                log.error("plugin %r: %s failed: %s: %s", name, VALIDATE_HOOK, type(exc).__name__, exc)
                problems.append(f"{name} failed")
                continue
            result = fut.result()
            if result is None:
                continue
            if isinstance(result, str) and result.strip():
                return Verdict(False, result.strip())
            problems.append(f"{name} answered {type(result).__name__}, not a message or None")
        if not problems:
            return Verdict(True)
        mode = self.fail_mode(change.module)
        detail = "; ".join(problems)
        if mode == "closed":
            return Verdict(False, f"The change cannot be checked right now ({detail}); "
                                  "it is refused (fail-closed). Please try again later.", "closed")
        # a save let through unchecked must show in the log (a slow SuiteCRM read is the usual cause)
        log.warning("validation of %s %s incomplete (%s); allowed (fail-open)", change.module,
                    change.record_id or "(new)", detail)
        return Verdict(True, f"validation incomplete ({detail}); allowed (fail-open)", "open")

    def close(self) -> None:
        """Stop the worker threads (does not wait for hung plugins) and close the validators' gateway."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        with self._crm_lock:
            crm, self._crm = self._crm, False
        # an app given a ready-made CRM hands out that one: it is the app's to close
        if crm is not None and crm is not False and crm is not getattr(self.app, "_crm", None) \
                and hasattr(crm, "close"):
            crm.close()


