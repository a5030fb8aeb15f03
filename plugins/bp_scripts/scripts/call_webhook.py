"""``call_webhook``: POST the record (or a template's text) to a configured URL, signed.

::

    - name: tell_erp
      call_webhook:
        webhook: erp                       # plugins.bp_scripts.webhooks.erp: {url, secret}
        fields: [name, amount, sales_stage]   # the record's fields sent (default: all it has)
        # body: '{"deal": "{{ record.name }}"}'   # or a text of your own (a template)

The body is JSON ``{"module", "record_id", "record": {...}, "steps": {...}, "key"}`` (the step's key), signed
with Standard Webhooks headers (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``:
HMAC-SHA256 under the webhook's secret). ``webhook-id`` is the same on every retry of the step, so the
receiver can drop a repeat. 2xx is done; 408, 429, 5xx and network errors are retried; other 4xx park
the step (the receiver refused it).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import requests
from pydantic import BaseModel, ConfigDict, Field

from suitecrm_ext import standard_webhook_headers
from suitecrm_ext.workflow import RetryLater, Script, ScriptError, ScriptResult, ScriptRun

from ..processes import SettingProblem
from .common import check_fields, render


class Settings(BaseModel):
    """Settings of ``call_webhook``."""

    model_config = ConfigDict(extra="forbid")

    webhook: str
    fields: list[str] = Field(default_factory=list)
    body: str | None = Field(None, max_length=100_000)


def check(s: Settings, where: dict[str, Any]) -> None:
    """The webhook is configured; the fields are the module's."""
    hooks = where.get("webhooks") or set()
    if s.webhook not in hooks:
        raise SettingProblem(
            f"no webhook {s.webhook!r} in plugins.bp_scripts.webhooks "
            f"(configured: {', '.join(sorted(hooks)) or 'none'})",
            "webhook",
        )
    check_fields(s.fields, where, "fields")


def run(run: ScriptRun, s: Settings) -> ScriptResult:
    """POST once per attempt; the receiver dedupes by webhook-id."""
    hooks = run.services.get("webhooks") or {}
    hook = hooks.get(s.webhook)
    if hook is None:
        raise ScriptError(f"no webhook {s.webhook!r} is configured")
    if s.body is not None:
        body = str(render(run, s.body, "body")).encode()
        ctype = "application/json" if body.lstrip()[:1] in (b"{", b"[") else "text/plain; charset=utf-8"
    else:
        record = {k: v for k, v in run.record.items() if not s.fields or k in s.fields}
        payload = {
            "module": run.module,
            "record_id": run.record_id,
            "record": record,
            "steps": dict(run.steps),
            "key": run.key,
        }
        body = json.dumps(payload, default=str, ensure_ascii=False, sort_keys=True).encode()
        ctype = "application/json"
    mid = "msg_" + hashlib.sha256(run.key.encode()).hexdigest()[:32]
    if run.dry_run:
        return ScriptResult(f"would POST {len(body)} bytes to {hook.url} (webhook-id {mid})")
    headers = {
        "Content-Type": ctype,
        **standard_webhook_headers(hook.secret.get_secret_value(), body, message_id=mid),
    }
    try:
        resp = requests.post(hook.url, data=body, headers=headers, timeout=hook.timeout)
    except requests.RequestException as exc:
        raise RetryLater(f"webhook {s.webhook}: {type(exc).__name__}") from None
    if 200 <= resp.status_code < 300:
        return ScriptResult(
            f"webhook {s.webhook}: HTTP {resp.status_code}", {"status": resp.status_code, "webhook_id": mid}
        )
    if resp.status_code in (408, 425, 429) or resp.status_code >= 500:
        after = resp.headers.get("Retry-After")
        raise RetryLater(
            f"webhook {s.webhook}: HTTP {resp.status_code}",
            after=float(after) if after and after.isdigit() else None,
        )
    raise ScriptError(f"webhook {s.webhook} refused the call: HTTP {resp.status_code} {resp.text[:200]}")


SCRIPT = Script(
    "call_webhook",
    run,
    Settings,
    summary="POST the record to a configured URL, signed (Standard Webhooks), retried on failure",
    check=check,
)
