"""The REST v4_1 wire: one ``rest.php`` call, SuiteCRM's error answers, login and the session.

:class:`RestWire` is a mixin of :class:`~suitecrm_ext.crm.rest_v4.RestV4CRM` (SOAP replaces its
``_post``). ``rest_data`` is a JSON array in the method's PHP parameter order; errors come back as HTTP 200
``{"name", "number", "description"}`` and are mapped to the typed errors of :mod:`suitecrm_ext.crm.base`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import requests

from suitecrm_ext.crm.base import (
    REFUSED_NUMBER,
    AuthError,
    NotFound,
    PermissionDenied,
    ProtocolError,
    ValidationError,
    ValidationRefused,
    to_crm,
)
from suitecrm_ext.crm.http import classify, excerpt, send

log = logging.getLogger("suitecrm_ext.crm.rest")

AUTH_ERRORS = {10, 12, 1008, 1009, 1012}


class _InvalidSession(Exception):
    """SuiteCRM error 11: the session id is not (or no longer) valid."""


class _DatabaseFailure(Exception):
    """HTTP 500 "Database failure. Please refer to suitecrm.log for details."."""

    def __init__(self, body: str):
        super().__init__(body)
        self.body = body


def name_value_list(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``{"name": "Acme"}`` → ``[{"name": "name", "value": "Acme"}]`` with values formatted for SuiteCRM."""
    return [{"name": k, "value": to_crm(v)} for k, v in values.items()]


def from_name_value_list(nvl: Any) -> dict[str, Any]:
    """A dict-shaped ``name_value_list`` (``{"f": {"name": "f", "value": v}}``) → ``{"f": v}``."""
    if isinstance(nvl, Mapping):
        return {k: (v.get("value") if isinstance(v, Mapping) else v) for k, v in nvl.items()}
    if isinstance(nvl, list):
        return {i["name"]: i.get("value") for i in nvl if isinstance(i, Mapping) and "name" in i}
    raise TypeError(f"not a name_value_list: {type(nvl).__name__}")


class RestWire:
    """API calls of a RestV4CRM (which sets ``endpoint``, ``username``, ``application_name``, ``http``,
    ``policy``, ``session_id``, ``user_id`` and the password's md5)."""

    def _post(self, method: str, args: list[Any]) -> Any:
        """One HTTP call of one API method; maps transport faults and API errors to typed errors."""
        data = {
            "method": method,
            "input_type": "JSON",
            "response_type": "JSON",
            "rest_data": json.dumps(args, ensure_ascii=False),
        }
        log.debug("REST v4_1 %s", method)  # never the body: it carries the session and the password hash
        resp = send(self.http, "POST", self.endpoint, data=data, transport=self.name, what=f"REST {method}")
        if resp.status_code == 500 and resp.text.lstrip().startswith("Database failure"):
            raise _DatabaseFailure(excerpt(resp))
        classify(resp, transport=self.name, what=f"REST {method}")
        try:
            payload = resp.json()
        except ValueError:
            raise ProtocolError(f"REST {method}: the answer is not JSON", excerpt=excerpt(resp),
                                transport=self.name) from None
        if isinstance(payload, dict) and set(payload) == {"name", "number", "description"}:
            self._raise_api_error(method, payload, resp)
        return payload

    def _raise_api_error(self, method: str, err: Mapping[str, Any], resp: requests.Response) -> None:
        try:
            number = int(err["number"])
        except (TypeError, ValueError):
            number = None
        text = f"REST {method}: SuiteCRM error {err['number']} {err['name']}: {err['description']}"
        raise_for_error_number(number, text, reason=str(err["description"]), transport=self.name)
        raise ProtocolError(text, excerpt=excerpt(resp), transport=self.name)

    def _login(self) -> str:
        args = [{"user_name": self.username, "password": self._password_md5}, self.application_name, []]
        payload = self._post("login", args)
        if not isinstance(payload, dict) or not isinstance(payload.get("id"), str) or not payload["id"]:
            raise ProtocolError("REST login: no session id in the answer", excerpt=json.dumps(payload)[:500],
                                transport=self.name)
        self.session_id = payload["id"]
        try:
            self.user_id = from_name_value_list(payload.get("name_value_list") or {}).get("user_id")
        except TypeError:
            self.user_id = None
        log.info("logged in to SuiteCRM REST v4_1 as %s", self.username)
        return self.session_id

    def _with_session(self, method: str, build: Callable[[str], list[Any]]) -> Any:
        """Call with the current session; on "Invalid Session ID" log in again once and repeat."""
        sid = self.session_id or self._login()
        try:
            return self._post(method, build(sid))
        except _InvalidSession:
            log.info("SuiteCRM session expired; logging in again")
            self.session_id = None
            sid = self._login()
            try:
                return self._post(method, build(sid))
            except _InvalidSession as exc:
                raise AuthError(f"{exc} (right after a fresh login)", transport=self.name) from None

    def _call(self, method: str, args: Sequence[Any], *, filter_fields: Sequence[str] = ()) -> Any:
        """A session-bound call (session id prepended), re-login once, retried on transient faults."""

        def once() -> Any:
            try:
                return self._with_session(method, lambda sid: [sid, *args])
            except _DatabaseFailure as exc:
                if filter_fields:
                    raise ValidationError(
                        f"REST {method}: SuiteCRM's database refused the query built from the filter on "
                        f"{', '.join(filter_fields)} (a field without a DB column?); see suitecrm.log",
                        fields=list(filter_fields), transport=self.name) from None
                raise ProtocolError(f"REST {method}: SuiteCRM reported a database failure", excerpt=exc.body,
                                    transport=self.name) from None

        return self.policy.call(once)



def raise_for_error_number(number: int | None, text: str, *, reason: str, transport: str) -> None:
    """Raise the typed error for a SuiteCRM error number of the v4_1 service (REST's error object and
    SOAP's fault code carry the same numbers): a logic hook's refusal, an expired session, a failed
    login, a missing record, no access. Returns for any other number (the caller raises its own)."""
    if number == REFUSED_NUMBER:
        raise ValidationRefused(text, reason=reason, transport=transport)
    if number == 11:
        raise _InvalidSession(text)
    if number in AUTH_ERRORS:
        raise AuthError(text, transport=transport)
    if number == 20:
        raise NotFound(text, transport=transport)
    if number == 40:
        raise PermissionDenied(text, transport=transport)

__all__ = ["AUTH_ERRORS", "RestWire", "from_name_value_list", "name_value_list"]
