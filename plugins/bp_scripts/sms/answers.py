"""Asking the SMS providers and reading their HTTP answers, shared by the adapters (SMS.ru, SMSC).

Both providers answer a form POST with a JSON object. What makes an answer unusable is the same for
both, and so is what it means: while *sending*, a 5xx or an answer that cannot be read leaves it open
whether the message went out (:class:`SmsUncertain`, settled later); for a status or balance call it
only means the provider cannot answer now (:class:`SmsUnavailable`).
"""

from __future__ import annotations

from typing import Any

import requests

from .base import SmsProvider, SmsUnavailable, SmsUncertain


def json_answer(resp: requests.Response, kind: str, *, sending: bool) -> dict[str, Any]:
    """The JSON object of a provider's answer; raises SmsUncertain (``sending``) or SmsUnavailable when
    the answer is a 5xx, not JSON, or not an object. ``kind`` starts the messages ("smsru: ...")."""
    if resp.status_code >= 500:
        if sending:
            raise SmsUncertain(f"{kind}: HTTP {resp.status_code} after the request")
        raise SmsUnavailable(f"{kind}: HTTP {resp.status_code}")
    try:
        data = resp.json()
    except ValueError:
        raise (SmsUncertain if sending else SmsUnavailable)(
            f"{kind}: not a JSON answer (HTTP {resp.status_code})"
        ) from None
    if not isinstance(data, dict):
        raise (SmsUncertain if sending else SmsUnavailable)(f"{kind}: unexpected answer")
    return data


class JsonFormProvider(SmsProvider):
    """An adapter for a provider that takes form POSTs and answers with a JSON object."""

    def _ask(self, path: str, data: dict[str, Any], *, sending: bool) -> dict[str, Any]:
        """POST ``data`` to ``path`` and return the answer's object (errors as in ``_post`` and
        :func:`json_answer`)."""
        return json_answer(self._post(path, data, sending=sending), self.kind, sending=sending)


def as_int(value: Any) -> int:
    """A code from an answer as an int (0 when missing or not a number)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
