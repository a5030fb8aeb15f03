"""SMSC (smsc.ru HTTP API, JSON answers: ``fmt=3``).

Send: ``POST /sys/send.php`` with ``login``, ``psw`` (or ``apikey``), ``phones``, ``mes``, ``fmt=3``,
``charset=utf-8``, ``id`` (the client's message id, 1..2147483647) and ``sender``. The answer is
``{"id": <id>, "cnt": <parts>}``; a refusal ``{"error": "...", "error_code": N}`` (with ``"id"`` for
errors 3, 6, 7, 8): 1 bad parameters, 2 wrong login or password, 3 not enough money, 4 IP blocked for
a while, 5 bad date, 6 message forbidden, 7 bad phone number, 8 cannot be delivered, 9 the same request
more than once within a minute.

Status: ``POST /sys/status.php`` with ``phone``, ``id``, ``fmt=3`` → ``{"status": N, "last_date": "...",
"last_timestamp": T}`` (``"err"`` for failed ones): -3 not found, -1 waiting, 0 passed to the operator,
1 delivered, 2 read, 3 expired, 20 cannot be delivered, 22 wrong number, 23 forbidden, 24 no money,
25 unavailable number. Because the message id is ours, an uncertain send is settled by asking
(``lookup``): found means sent, "not found" means it never arrived.
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

#: send error codes that mean "try again later" (4: IP blocked for a while, 3: top up the balance)
TRANSIENT = {3, 4}
#: the same request within a minute: the first one is being handled
DUPLICATE = 9
STATUS = {
    -3: "not_found",
    -1: "queued",
    0: "sent",
    1: "delivered",
    2: "delivered",
    4: "delivered",
    3: "failed",
    20: "failed",
    22: "failed",
    23: "failed",
    24: "failed",
    25: "failed",
}


class Smsc(JsonFormProvider):
    """The SMSC adapter."""

    kind = "smsc"
    default_url = "https://smsc.ru"
    supports_client_ids = True

    def _auth(self) -> dict[str, Any]:
        s = self.settings
        out: dict[str, Any] = {"fmt": 3, "charset": "utf-8"}
        if s.apikey is not None:
            out["apikey"] = s.apikey.get_secret_value()
        else:
            out["login"] = s.login or ""
            out["psw"] = s.password.get_secret_value() if s.password else ""
        return out

    def send(self, phone: str, text: str, *, client_id: int) -> SmsReceipt:
        data = {**self._auth(), "phones": phone, "mes": text, "id": client_id}
        if self.settings.sender:
            data["sender"] = self.settings.sender
        answer = self._ask("/sys/send.php", data, sending=True)
        if "error_code" in answer or "error" in answer:
            code = as_int(answer.get("error_code"))
            reason = f"smsc: {code} {answer.get('error', '')}".strip()
            if code == DUPLICATE:
                raise SmsUncertain(reason)
            raise (SmsUnavailable if code in TRANSIENT else SmsRefused)(reason)
        if "id" not in answer:
            raise SmsUncertain("smsc: the answer has no message id")
        return SmsReceipt(
            str(answer["id"]), "queued", f"{answer.get('cnt', '')} part(s)", str(answer.get("cost", ""))
        )

    def status(self, phone: str, provider_id: str = "", client_id: int = 0) -> DeliveryStatus:
        mid = provider_id or str(client_id)
        answer = self._ask("/sys/status.php", {**self._auth(), "phone": phone, "id": mid}, sending=False)
        if "error_code" in answer or "error" in answer:
            raise SmsUnavailable(f"smsc: {answer.get('error_code')} {answer.get('error', '')}")
        code = as_int(answer.get("status"))
        detail = str(answer.get("last_date", ""))
        if answer.get("err"):
            detail = f"{detail} err {answer['err']}".strip()
        return DeliveryStatus(STATUS.get(code, "unknown"), str(code), detail)

    def lookup(self, phone: str, client_id: int) -> SmsReceipt | None:
        try:
            st = self.status(phone, "", client_id)
        except SmsUnavailable as exc:
            raise SmsUncertain(f"smsc: cannot ask whether message {client_id} went out: {exc}") from None
        if st.state == "not_found":
            return None
        return SmsReceipt(str(client_id), st.state, st.detail)

    def check(self) -> str:
        answer = self._ask("/sys/balance.php", self._auth(), sending=False)
        if "error_code" in answer or "error" in answer:
            raise SmsRefused(f"smsc: {answer.get('error_code')} {answer.get('error', '')}")
        return f"balance {answer.get('balance')}"


register_provider_kind("smsc", Smsc)
