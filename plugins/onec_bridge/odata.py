"""A small client for 1C:Enterprise's standard OData interface (``/odata/standard.odata/``).

1C publishes configuration objects as OData v3 entity sets named ``<Kind>_<Name>``: bank receipts
are ``Document_ПоступлениеНаРасчетныйСчет`` (``Ref_Key``, ``DataVersion``, ``DeletionMark``,
``Number``, ``Date``, ``Posted``, ``Организация_Key``, ``ВидОперации``, ``Контрагент`` +
``Контрагент_Type`` — a composite reference in БП 3.0, or ``Контрагент_Key`` where it is a plain
catalog reference —, ``СуммаДокумента``, ``ВалютаДокумента_Key``, ``НазначениеПлатежа``, ...),
counterparties ``Catalog_Контрагенты`` (``Ref_Key``, ``Code``, ``Description``,
``НаименованиеПолное``, ``ИНН``, ``КПП``, ``DeletionMark``, ``IsFolder``,
``ЮридическоеФизическоеЛицо``) and currencies ``Catalog_Валюты`` (``Code`` = ISO numeric code).

JSON answers (``$format=json``) look like ``{"odata.metadata": ".../$metadata#<Set>", "value": [...]}``;
a single entity (POST/PATCH answer) is the object itself. Errors come as
``{"odata.error": {"code": "...", "message": {"lang": "ru", "value": "..."}}}``. Authentication is
HTTP basic; a refused login is HTTP 401.

Errors raised: :class:`OneCAuthError` (401/403, not retried), :class:`OneCError` (4xx, bad answers),
:class:`OneCUnavailable` (connection errors, timeouts, 5xx, 429 — retried with exponential backoff
first). Messages name the URL (never the password).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

log = logging.getLogger("suitecrm_ext.plugins.onec_bridge.odata")

EMPTY_REF = "00000000-0000-0000-0000-000000000000"
PAYMENTS_ENTITY = "Document_ПоступлениеНаРасчетныйСчет"
COUNTERPARTIES_ENTITY = "Catalog_Контрагенты"
CURRENCIES_ENTITY = "Catalog_Валюты"
COUNTERPARTY_TYPE = "StandardODATA.Catalog_Контрагенты"
#: ISO 4217 numeric → alphabetic code, for ``Catalog_Валюты.Code``
ISO_CURRENCIES = {"643": "RUB", "840": "USD", "978": "EUR", "156": "CNY", "398": "KZT", "933": "BYN",
                  "826": "GBP", "756": "CHF", "392": "JPY", "949": "TRY", "051": "AMD", "860": "UZS"}


class OneCError(Exception):
    """1C's OData answered with an error, or something that is not a valid answer."""


class OneCAuthError(OneCError):
    """1C refused the credentials (HTTP 401) or the user's rights (403)."""


class OneCUnavailable(OneCError):
    """1C could not be reached or failed on its side (connection error, timeout, HTTP 5xx / 429)."""


def odata_literal(value: str) -> str:
    """A string literal for ``$filter`` (single quotes doubled)."""
    return "'" + str(value).replace("'", "''") + "'"


def odata_datetime(value: dt.datetime | dt.date) -> str:
    """``datetime'2026-03-01T00:00:00'`` (1C's OData takes local time without a zone)."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    return f"datetime'{value.replace(tzinfo=None, microsecond=0).isoformat()}'"


def guid_literal(ref: str) -> str:
    """``guid'…'`` for a Ref_Key in ``$filter`` / entity keys (validated: 8-4-4-4-12 hex)."""
    ref = str(ref).strip().lower()
    parts = ref.split("-")
    if [len(p) for p in parts] != [8, 4, 4, 4, 12] or any(c not in "0123456789abcdef-" for c in ref):
        raise ValueError(f"not a 1C reference (GUID): {ref!r}")
    return f"guid'{ref}'"


class ODataClient:
    """Reads and writes entity sets of one 1C infobase's OData interface.

    ``base_url`` is the publication's OData root, e.g. ``https://1c.example.com/bp/odata/standard.odata``.
    ``retries`` extra attempts on transient faults, with exponential backoff from ``backoff`` seconds;
    ``sleep`` is injectable for tests.
    """

    def __init__(self, base_url: str, username: str, password: str, *, timeout: float = 30.0,
                 retries: int = 4, backoff: float = 1.0, verify_tls: bool = True,
                 sleep: Callable[[float], None] = time.sleep, session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        self.session = session or requests.Session()
        # UTF-8 credentials: 1C user names are usually Cyrillic ("Администратор"), and requests' own
        # Basic auth encodes str as latin-1 (UnicodeEncodeError before anything is sent)
        self.session.auth = (username.encode("utf-8"), password.encode("utf-8"))
        self.session.verify = verify_tls
        self.session.headers.update({"Accept": "application/json"})
        self.username = username

    def __repr__(self) -> str:
        return f"ODataClient({self.base_url!r}, user={self.username!r})"

    # --- requests ---------------------------------------------------------------------------

    def url(self, path: str) -> str:
        """Absolute URL of an entity set / entity path (Cyrillic names percent-encoded)."""
        return self.base_url + quote(path, safe="()'=,_-:")

    def request(self, method: str, path: str, params: Mapping[str, str] | None = None,
                body: Mapping[str, Any] | None = None) -> Any:
        """One call with retries on transient faults; returns the parsed JSON (or None for 204).

        POST is never retried here (a lost answer may hide a created entity): the caller decides,
        e.g. by searching before creating again.
        """
        query = {"$format": "json", **(params or {})}
        attempts = 1 if method.upper() == "POST" else self.retries + 1
        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=self.backoff, max=60),
            retry=retry_if_exception_type(OneCUnavailable),
            sleep=self._sleep,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return self._once(method, path, query, body)
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, method: str, path: str, query: Mapping[str, str], body: Mapping[str, Any] | None) -> Any:
        url = self.url(path)
        data = None
        headers = {}
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"
        try:
            resp = self.session.request(method, url, params=query, data=data, headers=headers,
                                        timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            log.warning("1C OData %s %s: %s", method, url, type(exc).__name__)
            raise OneCUnavailable(f"1C OData {method} {url}: cannot connect ({type(exc).__name__})") from None
        status = resp.status_code
        if status in (401, 403):
            what = "refused the login of" if status == 401 else "denies access to"
            raise OneCAuthError(
                f"1C OData {what} user {self.username!r} (HTTP {status}) at {self.base_url}; check "
                f"plugins.onec_bridge.odata.username/password and the user's rights in 1C")
        if status == 429 or status >= 500:
            log.warning("1C OData %s %s: HTTP %s", method, url, status)
            raise OneCUnavailable(f"1C OData {method} {url}: HTTP {status}: {_error_text(resp)}")
        if status >= 400:
            hint = ""
            if status == 404:
                hint = " (is the object published in 1C's 'Настройка стандартного интерфейса OData'?)"
            raise OneCError(f"1C OData {method} {url}: HTTP {status}: {_error_text(resp)}{hint}")
        if status == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            raise OneCError(
                f"1C OData {method} {url}: answer is not JSON: {resp.text[:200]!r}") from None

    # --- reading ---------------------------------------------------------------------------

    def list(self, entity: str, *, filter: str | None = None, orderby: str | None = None,
             select: Iterable[str] | None = None, page_size: int = 500) -> Iterator[dict[str, Any]]:
        """Every entity of a set matching ``filter``, fetched ``page_size`` at a time ($top/$skip)."""
        skip = 0
        while True:
            params = {"$top": str(page_size), "$skip": str(skip)}
            if filter:
                params["$filter"] = filter
            if orderby:
                params["$orderby"] = orderby
            if select:
                params["$select"] = ",".join(select)
            page = self._values(self.request("GET", entity, params), entity)
            yield from page
            if len(page) < page_size:
                return
            skip += len(page)

    def get_many(self, entity: str, refs: Iterable[str], select: Iterable[str] | None = None,
                 chunk: int = 20) -> dict[str, dict[str, Any]]:
        """Entities by Ref_Key (``Ref_Key eq guid'…' or …`` in chunks); missing ones are left out."""
        wanted = sorted({r.lower() for r in refs if r and r != EMPTY_REF})
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), chunk):
            part = wanted[start:start + chunk]
            flt = " or ".join(f"Ref_Key eq {guid_literal(r)}" for r in part)
            for row in self.list(entity, filter=flt, select=select, page_size=max(len(part), 1)):
                out[str(row.get("Ref_Key", "")).lower()] = row
        return out

    @staticmethod
    def _values(answer: Any, entity: str) -> list[dict[str, Any]]:
        if not isinstance(answer, dict) or not isinstance(answer.get("value"), list):
            raise OneCError(f"1C OData {entity}: expected a JSON object with a 'value' list, got "
                            f"{json.dumps(answer, ensure_ascii=False)[:200]}")
        rows = answer["value"]
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                raise OneCError(f"1C OData {entity}: value[{i}] is not an object")
        return rows

    # --- writing ---------------------------------------------------------------------------

    def create(self, entity: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """POST a new entity; returns it as 1C stored it (with its new Ref_Key)."""
        answer = self.request("POST", entity, body=values)
        if not isinstance(answer, dict) or not answer.get("Ref_Key"):
            raise OneCError(f"1C OData POST {entity}: the answer has no Ref_Key")
        return answer

    def update(self, entity: str, ref: str, values: Mapping[str, Any]) -> dict[str, Any] | None:
        """PATCH an entity by Ref_Key; returns the updated entity (or None when 1C sends no body)."""
        return self.request("PATCH", f"{entity}({guid_literal(ref)})", body=values)


def _error_text(resp: requests.Response) -> str:
    try:
        err = resp.json().get("odata.error", {})
        msg = err.get("message", {})
        return str(msg.get("value") if isinstance(msg, dict) else msg or err.get("code") or "")[:300]
    except (ValueError, AttributeError):
        return resp.text[:200]
