"""What a demo scene plays on: :class:`DemoStage`, and the SuiteCRM stand-in behind ``stage.save``.

``stage.save(module, values, user=...)`` does what SuiteCRM does when a user saves a record with the
suitecrm-ext logic hook installed (events/php/SuiteCRMExtHook.php.tmpl), over real HTTP to the demo
sidecar's push endpoint on loopback, signed with the demo's secret (Standard Webhooks headers, as the
hook signs; like the hook, it trusts a ``/validate`` verdict only when the answer is signed for its
request):

1. ``before_save`` — for a validated module, POST ``/validate`` with the stored row and the values
   being saved (all as strings, like ``$bean->fetched_row``); a refusal raises :class:`Refused` and
   nothing is saved; an unreachable sidecar lets the save through (fail-open) or refuses it
   (fail-closed), per ``events.validation_fail_mode``;
2. the save itself, stamped with the user, in the FakeCRM;
3. ``after_save`` — for a pushed module, POST ``/events`` with the changed fields;
4. then it waits until the sidecar has routed and delivered every queued event (``settle``), so the
   next line of the story sees the plugins' effects.

Which modules are pushed and validated is computed exactly as the package's logic hook is
(``events.logic_hook.render_for_plugins``).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from suitecrm_ext.crm.base import to_crm
from suitecrm_ext.demo.data import user_name
from suitecrm_ext.demo.scene import DemoFailure, Refused
from suitecrm_ext.events.signing import ID_HEADER, SignatureError, standard_headers, verify

SETTLE_TIMEOUT = 20.0


class LockedCRM:
    """A FakeCRM shared by the demo's threads (dispatcher, change feed, scheduler, the story): every
    call runs under one lock, and ``find`` is read whole before the lock is released."""

    def __init__(self, crm: Any):
        object.__setattr__(self, "_crm", crm)
        object.__setattr__(self, "lock", threading.RLock())

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._crm, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with self.lock:
                result = attr(*args, **kwargs)
                if isinstance(result, Iterator):
                    result = iter(list(result))
                return result

        return call

    def __setattr__(self, name: str, value: Any) -> None:
        with self.lock:
            setattr(self._crm, name, value)

    @property
    def wrapped(self) -> Any:
        """The FakeCRM itself."""
        return self._crm


def _row(values: Mapping[str, Any]) -> dict[str, Any]:
    """Values as the PHP hook sends them: strings, None for NULL."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, (list, dict)):
            continue
        out[name] = None if value is None else str(to_crm(value))
    return out


class LogicHookStandIn:
    """SuiteCRM's side of a save with the generated logic hook installed (see the module docstring)."""

    def __init__(self, crm: LockedCRM, url: str, secret: str, *, push: Sequence[str], validate: Sequence[str],
                 fail_modes: Mapping[str, str], timeout: float = 10.0):
        self.crm = crm
        self.url = url.rstrip("/")
        self.secret = secret
        self.push_modules = set(push)
        self.validate_modules = set(validate)
        self.fail_modes = dict(fail_modes)
        self.timeout = timeout
        #: every hook call: (path, module, answer) — for the closing scene's figures
        self.calls: list[tuple[str, str, Any]] = []

    def post(self, path: str, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        """Signed POST; the JSON answer of a 2xx signed for this request, else None (as the PHP hook
        treats it)."""
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        signed = standard_headers(self.secret, body)
        headers = {"Content-Type": "application/json", **signed}
        req = urllib.request.Request(self.url + path, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
                seen = verify(self.secret, dict(resp.headers), raw, max_skew_seconds=300)
                answer = json.loads(raw or b"null") if seen.message_id == signed[ID_HEADER] else None
        except (urllib.error.URLError, OSError, ValueError, SignatureError):
            answer = None
        self.calls.append((path, str(payload.get("module")), answer))
        return answer if isinstance(answer, dict) else None

    def save(self, module: str, values: Mapping[str, Any], user: str) -> str:
        """Validate, save as ``user``, push; returns the record id. Raises Refused."""
        rid = values.get("id") or None
        before = _row(self.crm.get(module, rid).values) if rid else {}
        after = {**before, **_row(values)}
        if module in self.validate_modules:
            answer = self.post("/validate", {"module": module, "id": rid or "", "user_id": user,
                                             "before": before, "after": after})
            if answer is None:
                if self.fail_modes.get(module, "open") == "closed":
                    raise Refused("This change cannot be checked right now; please try again later.")
            elif not answer.get("allow"):
                raise Refused(str(answer.get("message") or "refused"))
        with self.crm.lock:
            previous = self.crm.user_id
            self.crm.user_id = user
            try:
                new_id = self.crm.save(module, values)
                stored = _row(self.crm.get(module, new_id).values)
            finally:
                self.crm.user_id = previous
        if module in self.push_modules:
            kind = "updated" if rid else "created"
            changes = {k: {"before": None if kind == "created" else before.get(k), "after": v}
                       for k, v in stored.items()
                       if kind == "created" or str(before.get(k) or "") != str(v or "")}
            self.post("/events", {"module": module, "id": new_id, "kind": kind,
                                  "date_modified": stored.get("date_modified"),
                                  "date_entered": stored.get("date_entered"), "user_id": user,
                                  "changes": changes, "values": stored})
        return new_id

    def delete(self, module: str, rid: str, user: str) -> None:
        """Soft-delete as ``user`` and push the deletion."""
        with self.crm.lock:
            previous = self.crm.user_id
            self.crm.user_id = user
            try:
                self.crm.delete(module, rid)
            finally:
                self.crm.user_id = previous
        if module in self.push_modules:
            self.post("/events", {"module": module, "id": rid, "kind": "deleted", "user_id": user,
                                  "date_modified": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())})


class DemoStage:
    """The handle a scene's ``play`` gets. See the package docstring for what each part is for."""

    def __init__(self, *, crm: LockedCRM, hook: LogicHookStandIn, app: Any, runtime: Any, workdir: Path,
                 out: Callable[[str], None]):
        self.crm = crm
        self.hook = hook
        self.app = app
        self.runtime = runtime
        self.workdir = workdir
        self._out = out
        #: the plugin whose scene is playing (``ctx()`` without a name gives its context)
        self.plugin = ""
        self.checks = 0

    # --- telling ----------------------------------------------------------------------------

    def say(self, text: str) -> None:
        """One line of the story."""
        for line in str(text).splitlines() or [""]:
            self._out(f"  {line}")

    def check(self, claim: bool, text: str) -> None:
        """State something the story claims (printed with ✓); a false claim fails the demo."""
        if not claim:
            raise DemoFailure(f"expected: {text}")
        self.checks += 1
        self._out(f"  ✓ {text}")

    @staticmethod
    def user_name(uid: str | None) -> str:
        """A demo user's full name."""
        return user_name(uid)

    # --- acting as SuiteCRM users ------------------------------------------------------------

    def save(self, module: str, values: Mapping[str, Any], *, user: str = "1") -> str:
        """Save as ``user`` through the logic hook, then wait for the sidecar; returns the id.

        Raises Refused (with the user's message) when a plugin vetoed the change; nothing is saved then.
        """
        rid = self.hook.save(module, values, user)
        self.settle()
        return rid

    def delete(self, module: str, rid: str, *, user: str = "1") -> None:
        """Delete as ``user`` (pushed), then wait for the sidecar."""
        self.hook.delete(module, rid, user)
        self.settle()

    def settle(self, timeout: float = SETTLE_TIMEOUT) -> None:
        """Wait until every queued event is routed and delivered (raises DemoFailure after ``timeout``)."""
        store = self.app.state
        deadline = time.monotonic() + timeout
        while True:
            stats = store.queue_stats()
            if stats.not_fanned_out == 0 and stats.pending == 0:
                return
            if time.monotonic() > deadline:
                errors = [d.last_error for q in store.recent_events(20) for d in q.deliveries
                          if d.status == "pending" and d.last_error]
                last = f" (last error: {errors[0]})" if errors else ""
                raise DemoFailure(f"the sidecar did not finish within {timeout:.0f} s: {stats.pending} "
                                  f"delivery(ies) pending{last}")
            self.runtime.wake()
            time.sleep(0.02)

    # --- the sidecar ---------------------------------------------------------------------------

    def run_job(self, name: str) -> Any:
        """Run a job now, as ``suitecrm-ext jobs run NAME`` does; returns its outcome (status, summary)."""
        outcome = self.runtime.scheduler.run_job(name, force=True)
        self.settle()
        return outcome

    def ctx(self, plugin: str | None = None) -> Any:
        """A plugin's context (default: the plugin whose scene is playing)."""
        return self.app.for_plugin(plugin or self.plugin)
