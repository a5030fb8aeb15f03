"""SMS.ru (sms.ru HTTP API, JSON answers: ``json=1``).

Send: ``POST /sms/send`` with ``api_id``, ``to``, ``msg``, ``json=1`` (``from``: the sender, ``test=1``:
test mode). The answer::

    {"status": "OK", "status_code": 100,
     "sms": {"79161234567": {"status": "OK", "status_code": 100, "sms_id": "000000-10000000"}},
     "balance": 4122.56}

A refusal is ``"status": "ERROR"`` with a ``status_code`` and ``status_text``, for the whole request or
for the number (200 wrong api_id, 201 not enough money, 202 wrong number, 204 sender not agreed,
207 number forbidden, 209 stop list, 220 service unavailable, 500 server error...).

Status: ``POST /sms/status`` with ``api_id``, ``sms_id``, ``json=1`` →
``{"status": "OK", "sms": {"<id>": {"status": "OK", "status_code": 103, "status_text": "..."}}}``;
codes -1 not found, 100 queued, 101 sending to the operator, 102 sent (in transit), 103 delivered,
104 expired, 105 deleted by the operator, 106 phone failure, 107 unknown reason, 108 rejected,
110 read, 150 no route.

SMS.ru takes no message id from the client: after an uncertain send it cannot be asked whether the
message went out (``supports_client_ids = False``).
"""

from __future__ import annotations

from typing import Any

from .answers import JsonFormProvider, as_int
from .base import (
    DeliveryStatus,
    SmsReceipt,
    SmsRefused,
    SmsUnavailable,
    SmsUncertain,
    register_provider_kind,
)

#: request-level codes that mean "try again later"
TRANSIENT = {220, 500}
STATUS = {
    -1: "not_found",
    100: "queued",
    101: "queued",
    102: "sent",
    103: "delivered",
    110: "delivered",
    104: "failed",
    105: "failed",
    106: "failed",
    107: "failed",
    108: "failed",
    150: "failed",
}


class SmsRu(JsonFormProvider):
    """The SMS.ru adapter."""

    kind = "smsru"
    default_url = "https://sms.ru"

    def _auth(self) -> dict[str, Any]:
        key = self.settings.api_id.get_secret_value() if self.settings.api_id else ""
        return {"api_id": key, "json": 1}

    def send(self, phone: str, text: str, *, client_id: int) -> SmsReceipt:
        data = {**self._auth(), "to": phone, "msg": text}
        if self.settings.sender:
            data["from"] = self.settings.sender
        if self.settings.test:
            data["test"] = 1
        answer = self._ask("/sms/send", data, sending=True)
        if answer.get("status") != "OK":
            code = as_int(answer.get("status_code"))
            reason = f"smsru: {code} {answer.get('status_text', '')}".strip()
            # a request refused as a whole was not sent: transient codes are retried
            raise (SmsUnavailable if code in TRANSIENT else SmsRefused)(reason)
        item = (answer.get("sms") or {}).get(phone)
        if not isinstance(item, dict):
            raise SmsUncertain(f"smsru: the answer has no result for {phone}")
        if item.get("status") != "OK":
            code = as_int(item.get("status_code"))
            raise SmsRefused(f"smsru: {code} {item.get('status_text', '')}".strip())
        return SmsReceipt(
            str(item.get("sms_id", "")), "queued", f"balance {answer.get('balance', '')}".strip()
        )

    def status(self, phone: str, provider_id: str = "", client_id: int = 0) -> DeliveryStatus:
        if not provider_id:
            return DeliveryStatus("unknown", detail="no SMS.ru id")
        answer = self._ask("/sms/status", {**self._auth(), "sms_id": provider_id}, sending=False)
        if answer.get("status") != "OK":
            raise SmsUnavailable(f"smsru: {answer.get('status_code')} {answer.get('status_text', '')}")
        item = (answer.get("sms") or {}).get(provider_id) or {}
        code = as_int(item.get("status_code"))
        return DeliveryStatus(STATUS.get(code, "unknown"), str(code), str(item.get("status_text", "")))

    def check(self) -> str:
        answer = self._ask("/my/balance", self._auth(), sending=False)
        if answer.get("status") != "OK":
            raise SmsRefused(f"smsru: {answer.get('status_code')} {answer.get('status_text', '')}")
        return f"balance {answer.get('balance')}"


register_provider_kind("smsru", SmsRu)
