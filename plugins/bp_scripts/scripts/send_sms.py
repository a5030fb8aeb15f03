"""``send_sms``: an SMS to a phone number from the record, through a configured provider — never twice.

::

    - name: tell_client
      send_sms:
        to: "{{ fetch('Contacts', record.billing_contact_id).phone_mobile }}"
        text: "Заказ №{{ record.number }} собран. Доставка {{ record.bp_delivery_date_c | date }}."
        provider: smsc                     # default: plugins.bp_scripts.sms.default

How "never twice" holds across crashes and retries: the number and the text are rendered once and kept;
before the request the step notes "sending"; the provider's answer is noted at once. A step that finds
"sending" without an answer (killed mid-request, a timeout) does not send blindly: a provider that takes
our message id (SMSC) is asked whether it has the message; one that cannot tell (SMS.ru) parks the step
("may have been sent"), and an admin checks the provider's log and replays it or skips it.

The delivery status is kept: a Note on the record ("SMS to …") whose text says the status, updated by the
``bp-advance`` job until the message is delivered or failed, and ``bp status``.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from suitecrm_ext import CRMError
from suitecrm_ext.workflow import RetryLater, Script, ScriptError, ScriptResult, ScriptRun

from ..processes import SettingProblem
from ..sms import SmsRefused, SmsUnavailable, SmsUncertain
from ..templating import f_phone
from .common import render

NS_TRACK = "bp_scripts.sms"


class Settings(BaseModel):
    """Settings of ``send_sms``."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(min_length=1, max_length=500)
    text: str = Field(min_length=1, max_length=2000)
    provider: str | None = None
    #: keep the status in a Note on the record
    note: bool = True


def check(s: Settings, where: dict[str, Any]) -> None:
    """A provider is configured (the named one, or a default)."""
    providers = where.get("sms_providers") or set()
    if s.provider is None:
        if not where.get("sms_default"):
            raise SettingProblem(
                "no SMS provider: configure plugins.bp_scripts.sms.providers (and sms.default) "
                "or name one with provider:",
                "provider",
            )
    elif s.provider not in providers:
        raise SettingProblem(
            f"no SMS provider {s.provider!r} in plugins.bp_scripts.sms.providers "
            f"(configured: {', '.join(sorted(providers)) or 'none'})",
            "provider",
        )


def client_id(key: str) -> int:
    """Our message id for the provider (SMSC takes 1..2147483647), from the step's key."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 2147483646 + 1


def run(run: ScriptRun, s: Settings) -> ScriptResult:
    """Send once; settle an uncertain earlier attempt before anything else."""
    providers = run.services.get("sms") or {}
    name = s.provider or run.services.get("sms_default")
    provider = providers.get(name) if name else None
    if provider is None:
        raise ScriptError(f"no SMS provider {name!r} is configured")
    memo = run.memo
    msg = memo.get("message")
    if msg is None:
        phone = f_phone(render(run, s.to, "to"))
        text = str(render(run, s.text, "text")).strip()
        if len(phone) < 10:
            raise ScriptError(f"no phone number to send to (to: {s.to!r} gives {phone!r})")
        if not text:
            raise ScriptError("the SMS text is empty")
        msg = {"phone": phone, "text": text, "provider": name, "client_id": client_id(run.key)}
        if run.dry_run:
            return ScriptResult(f"would send SMS to +{phone} via {name}: {text}", msg)
        memo.add("message", msg)
        msg = memo.get("message")
    phone, text = msg["phone"], msg["text"]
    sent = memo.get("sent")
    if sent is None:
        state = memo.get("state")
        if state == "sending" and not run.replayed:  # an attempt that ended without an answer
            sent = _settle(provider, msg)
        elif state == "sending" and provider.supports_client_ids:
            sent = _settle(provider, msg)
        if sent is None:
            memo.set("state", "sending")
            try:
                receipt = provider.send(phone, text, client_id=msg["client_id"])
            except SmsUnavailable as exc:
                memo.set("state", "")
                raise RetryLater(str(exc)) from None
            except SmsRefused as exc:
                memo.set("state", "")
                raise ScriptError(f"SMS to +{phone} refused: {exc}") from None
            except SmsUncertain as exc:
                sent = _settle(provider, msg, str(exc))
                if sent is None:
                    memo.set("state", "")
                    raise RetryLater(f"{exc}; the provider has no such message, sending again") from None
            else:
                sent = {
                    "provider_id": receipt.provider_id,
                    "status": receipt.status,
                    "detail": receipt.detail,
                }
            memo.set("sent", sent)
            memo.set("state", "sent")
    note_id = _note(run, s, msg, sent) if s.note else ""
    _track(run, msg, sent, note_id)
    return ScriptResult(
        f"SMS to +{phone} via {msg['provider']}: {sent['status']}",
        {
            "phone": phone,
            "provider": msg["provider"],
            "sms_id": sent["provider_id"],
            "status": sent["status"],
            "note_id": note_id,
        },
    )


def _settle(provider: Any, msg: dict[str, Any], why: str = "") -> dict[str, Any] | None:
    """Whether an earlier attempt went out: the provider's receipt, None if it did not; parks when unknown."""
    if not provider.supports_client_ids:
        raise ScriptError(
            f"SMS to +{msg['phone']} may have been sent before the sidecar stopped "
            f"({why or 'no answer noted'}); {provider.kind} cannot be asked by our message id: "
            "check its log, then replay the step to send it (bp replay RUN_ID) or skip it "
            "(bp replay RUN_ID --skip)"
        )
    try:
        receipt = provider.lookup(msg["phone"], msg["client_id"])
    except SmsUncertain as exc:
        raise RetryLater(str(exc)) from None
    if receipt is None:
        return None
    return {"provider_id": receipt.provider_id, "status": receipt.status, "detail": receipt.detail}


def note_text(msg: dict[str, Any], sent: dict[str, Any]) -> tuple[str, str]:
    """The Note's subject and text for a message and its status."""
    name = f"SMS to +{msg['phone']}: {sent['status']}"[:255]
    body = f"{msg['text']}\n\nprovider: {msg['provider']}, id {sent['provider_id']}, status {sent['status']}"
    if sent.get("detail"):
        body += f" ({sent['detail']})"
    return name, body


def _note(run: ScriptRun, s: Settings, msg: dict[str, Any], sent: dict[str, Any]) -> str:
    note_id = run.guid("sms-note")
    name, body = note_text(msg, sent)
    try:
        run.crm.create(
            "Notes",
            {"name": name, "description": body, "parent_type": run.module, "parent_id": run.record_id},
            id=note_id,
        )
    except CRMError as exc:  # the SMS went out; the Note is only its record
        run.log and run.log.warning("SMS sent, but its Note could not be saved: %s", exc)
    return note_id


def _track(run: ScriptRun, msg: dict[str, Any], sent: dict[str, Any], note_id: str) -> None:
    if run.state is None:
        return
    entry = {**msg, **sent, "note_id": note_id, "sent_at": time.time(), "checked": 0}
    run.state.kv_add(NS_TRACK, run.key, entry)


SCRIPT = Script(
    "send_sms",
    run,
    Settings,
    summary="An SMS from a template through a provider (SMS.ru, SMSC); "
    "delivery status kept; never sent twice",
    check=check,
)
