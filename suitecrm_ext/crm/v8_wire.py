"""The V8 wire: OAuth2 tokens, one ``/Api/V8`` call with a re-auth and retries, and error mapping.

:class:`V8Wire` is a mixin of :class:`~suitecrm_ext.crm.v8.V8CRM`. It keeps the client secret and the
user password to itself and scrubs them (and the tokens) out of every message: a wrong user password
is answered by SuiteCRM with HTTP 500 and that password in the body.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

import requests

from suitecrm_ext.crm.base import (
    REFUSED_NAME,
    AuthError,
    NotFound,
    PermissionDenied,
    ProtocolError,
    ValidationError,
    ValidationRefused,
)
from suitecrm_ext.crm.http import classify, excerpt, send

log = logging.getLogger("suitecrm_ext.crm.v8")

JSONAPI = "application/vnd.api+json"

_NOT_FOUND_RES = (
    re.compile(r"module with id .* is not found", re.I),
    re.compile(r"^Module \S+ does not exist", re.I),
    re.compile(r"^Bean \S+ with id .* (is not found|does not exist)", re.I),
)
_FIELD_RES = (
    re.compile(r"^Filter field (\S+) in \S+ module is not found"),
    re.compile(r"^Sort field (\S+) in \S+ module is not found"),
    re.compile(r"^Property (\S+) in \S+ module is invalid"),
    re.compile(r"^Filter field (\S+) must be an array"),
)
_ALREADY_EXISTS_RE = re.compile(r"^Bean \S+ with id \S+ is already exist")
_NOT_RELATED_RE = re.compile(r"^Module with \S+ id is not related to ")
_PASSWORD_MSG_RE = re.compile(r"(password is invalid:?).*", re.I | re.S)


class _AlreadyExists(Exception):
    """Internal: a create answered "Bean ... is already exist"."""


class _NotRelated(Exception):
    """Internal: an unrelate answered "Module with ... id is not related to ..."."""


class V8Wire:
    """Tokens and API calls of a V8CRM (which sets ``base_url``, ``client_id``, ``grant``, ``username``,
    ``clock``, ``refresh_margin``, ``_session`` and ``_retry``, and calls :meth:`_init_wire`)."""

    def _init_wire(self, client_secret: str, password: str | None) -> None:
        """Keep the client secret and password (private to this class); no token yet."""
        self.__client_secret = client_secret
        self.__password = password
        self._access: str | None = None
        self._refresh: str | None = None
        self._expires_at = 0.0

    # --- secrets ----------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        """``text`` with the password, the client secret and the tokens replaced by ``***``."""
        text = _PASSWORD_MSG_RE.sub(r"\1 ***", text)
        for secret in (self.__password, self.__client_secret, self._access, self._refresh):
            if secret and len(secret) >= 3:
                text = text.replace(secret, "***")
        return text

    # --- tokens -----------------------------------------------------------------------------

    def _access_token(self) -> str:
        """A valid access token: cached, renewed at ``expires_in - refresh_margin``."""
        if self._access is None or self.clock() >= self._expires_at:
            self._renew()
        assert self._access is not None
        return self._access

    def _renew(self) -> None:
        """Refresh with the refresh_token when there is one (falling back to a new grant), else grant."""
        self._access = None
        if self._refresh:
            try:
                self._token_request({"grant_type": "refresh_token", "refresh_token": self._refresh})
                return
            except AuthError:
                log.info("V8 refresh_token refused; requesting a new token with the %s grant", self.grant)
                self._refresh = None
        body: dict[str, str] = {"grant_type": self.grant}
        if self.grant == "password":
            body.update(username=self.username or "", password=self.__password or "")
        self._token_request(body)

    def _token_request(self, body: dict[str, str]) -> None:
        body = {**body, "client_id": self.client_id, "client_secret": self.__client_secret}
        grant = body["grant_type"]
        url = f"{self.base_url}/Api/access_token"

        def attempt() -> requests.Response:
            resp = send(self._session, "POST", url, transport="v8", what="V8 access_token",
                        data=json.dumps(body), headers={"Accept": JSONAPI, "Content-Type": JSONAPI})
            if resp.status_code >= 500 or resp.status_code == 429:
                err = _json_or_none(resp)
                if isinstance(err, dict) and err.get("error"):
                    return resp  # an OAuth error answer, mapped below (never retried)
                # never put the body in the message: it may echo what we sent
                classify(_Headless(resp), transport="v8", what="V8 access_token")
            return resp

        resp = self._retry.call(attempt)
        data = _json_or_none(resp)
        if resp.status_code == 200 and isinstance(data, dict) and data.get("access_token"):
            self._access = str(data["access_token"])
            if data.get("refresh_token"):
                self._refresh = str(data["refresh_token"])
            raw_ttl = data.get("expires_in")
            expires_in = float(raw_ttl) if isinstance(raw_ttl, (int, float)) else 3600.0
            margin = min(self.refresh_margin, expires_in / 10)
            self._expires_at = self.clock() + expires_in - margin
            log.debug("V8 token obtained with the %s grant, valid %.0fs", grant, expires_in)
            return
        raise self._token_error(resp, data, grant)

    def _token_error(self, resp: requests.Response, data: Any, grant: str) -> Exception:
        code = data.get("error") if isinstance(data, dict) else None
        if code == "invalid_client":
            return AuthError(
                f"V8 OAuth2 client authentication failed for client_id {self.client_id!r} (grant {grant}): "
                "check suitecrm.v8.client_id / client_secret and that this client may use this grant",
                transport=self.name)
        if code == "unknown_error" and grant == "password":
            # SuiteCRM answers a wrong user password with HTTP 500 and the password in the message
            return AuthError(
                f"V8 login refused for user {self.username!r}: the password is invalid "
                "(check suitecrm.v8.password)", transport=self.name)
        if code in ("invalid_grant", "invalid_request", "access_denied", "unsupported_grant_type",
                    "invalid_credentials", "unknown_error"):
            desc = self._scrub(str(data.get("error_description") or data.get("message") or ""))
            return AuthError(f"V8 {grant} grant refused ({code}): {desc}", transport=self.name)
        return ProtocolError(f"V8 access_token answered HTTP {resp.status_code}",
                             excerpt=self._scrub(excerpt(resp)), transport=self.name)

    # --- requests ---------------------------------------------------------------------------

    def _api(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        ok: tuple[int, ...] = (200,),
        module: str | None = None,
    ) -> tuple[Any, int]:
        """One API call under ``/Api/V8``: token, one re-auth on 401, transient retries, error mapping.

        Returns (parsed JSON body, number of attempts made).
        """
        url = f"{self.base_url}/Api/V8/{path}"
        what = f"V8 {method} {path}"
        state = {"reauthed": False, "attempts": 0}

        def attempt() -> requests.Response:
            state["attempts"] += 1
            while True:
                headers = {"Accept": JSONAPI, "Authorization": f"Bearer {self._access_token()}"}
                kw: dict[str, Any] = {"headers": headers, "params": params}
                if body is not None:
                    headers["Content-Type"] = JSONAPI
                    kw["data"] = json.dumps(body)
                resp = send(self._session, method, url, transport=self.name, what=what, **kw)
                if resp.status_code != 401:
                    break
                hint = _oauth_hint(resp)
                if state["reauthed"]:
                    raise AuthError(f"{what}: access denied after renewing the token ({hint})",
                                    transport=self.name, module=module)
                state["reauthed"] = True
                log.info("%s: token refused (%s); renewing once", what, hint)
                self._access = None
            if resp.status_code >= 500 or resp.status_code == 429:
                classify(_Scrubbed(resp, self._scrub), transport=self.name, what=what)
            return resp

        resp = self._retry.call(attempt)
        data = _json_or_none(resp)
        if resp.status_code in ok:
            if data is None:
                raise ProtocolError(f"{what}: answer is not JSON", excerpt=self._scrub(excerpt(resp)),
                                    transport=self.name, module=module)
            return data, state["attempts"]
        err = self._api_error(resp, data, what, module)
        err.attempts = state["attempts"]  # type: ignore[attr-defined]
        raise err

    def _api_error(self, resp: requests.Response, data: Any, what: str, module: str | None) -> Exception:
        status = resp.status_code
        detail = ""
        if isinstance(data, dict):
            errors = data.get("errors")
            if isinstance(errors, list) and errors:  # JSON:API proper; SuiteCRM sends an object
                errors = errors[0]
            if isinstance(errors, dict):
                detail = str(errors.get("detail") or errors.get("title") or "")
            elif data.get("message"):
                detail = str(data["message"])
        detail = self._scrub(detail)
        kw = {"transport": self.name, "module": module}
        if isinstance(data, dict) and isinstance(data.get("errors"), dict) \
                and data["errors"].get("title") == REFUSED_NAME:
            return ValidationRefused(f"{what}: refused: {detail}", reason=detail, **kw)
        if status == 400 and detail:
            if _ALREADY_EXISTS_RE.search(detail):
                return _AlreadyExists(detail)
            if _NOT_RELATED_RE.search(detail):
                return _NotRelated(detail)
            if any(r.search(detail) for r in _NOT_FOUND_RES):
                return NotFound(f"{what}: {detail}", **kw)
            for rx in _FIELD_RES:
                m = rx.search(detail)
                if m:
                    return ValidationError(f"{what}: {detail}", fields=[m.group(1)], **kw)
            return ValidationError(f"{what}: {detail}", **kw)
        if status == 403:
            return PermissionDenied(f"{what}: access denied by SuiteCRM ACL{': ' + detail if detail else ''}",
                                    **kw)
        if status == 404:
            return ProtocolError(f"{what}: no such V8 route (is the V8 API installed and enabled?)",
                                 excerpt=self._scrub(excerpt(resp)), **kw)
        return ProtocolError(f"{what}: unexpected HTTP {status}", excerpt=self._scrub(excerpt(resp)), **kw)


def _json_or_none(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def _oauth_hint(resp: requests.Response) -> str:
    data = _json_or_none(resp)
    if isinstance(data, dict):
        return str(data.get("hint") or data.get("error") or "HTTP 401")
    return "HTTP 401"


class _Headless:
    """A response view whose body is hidden (for classify() on answers that may echo secrets)."""

    def __init__(self, resp: requests.Response):
        self.status_code = resp.status_code
        self.headers = resp.headers
        self.request = resp.request
        self.url = resp.url
        self.text = ""
        self.content = b""


class _Scrubbed(_Headless):
    """A response view whose body has secrets replaced."""

    def __init__(self, resp: requests.Response, scrub: Callable[[str], str]):
        super().__init__(resp)
        self.text = scrub(excerpt(resp))


__all__ = ["JSONAPI", "V8Wire"]
