"""The SMS provider adapter interface.

A provider sends one text to one phone number and reports delivery. What matters for "never twice" is
how a failure ends, so an adapter sorts every failure into one of three:

``SmsRefused``      the provider answered and said no (bad number, forbidden text, wrong credentials):
                    sending again will not help; the step is parked with the provider's reason.
``SmsUnavailable``  the message certainly did not reach the provider (connection refused, the provider's
                    "try later" answer): the step is retried later.
``SmsUncertain``    the request may have reached the provider (a timeout after sending, a broken answer):
                    the step must find out before sending again. Providers that take the client's own
                    message id (``supports_client_ids``, SMSC) are asked with :meth:`SmsProvider.lookup`;
                    the others (SMS.ru) cannot tell, and the step is parked for an admin to decide.

Adding a provider: subclass :class:`SmsProvider` and ``register_provider_kind("name", cls)``; its settings
(``plugins.bp_scripts.sms.providers.<name>``) are the :class:`ProviderSettings` keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import requests
from pydantic import BaseModel, ConfigDict, Field, SecretStr

#: what a delivery status means for the process (and for ``bp status``)
DeliveryState = Literal["queued", "sent", "delivered", "failed", "not_found", "unknown"]
FINAL_STATES = ("delivered", "failed", "not_found")


class SmsRefused(Exception):
    """The provider refused the message; sending it again will not help."""


class SmsUnavailable(Exception):
    """The message did not reach the provider; try again later."""


class SmsUncertain(Exception):
    """The message may or may not have reached the provider."""


@dataclass(frozen=True)
class SmsReceipt:
    """The provider took the message: its id there, and what it said."""

    provider_id: str
    status: DeliveryState = "queued"
    detail: str = ""
    cost: str = ""


@dataclass(frozen=True)
class DeliveryStatus:
    """A message's delivery status at the provider (``code``: the provider's own)."""

    state: DeliveryState
    code: str = ""
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def final(self) -> bool:
        """Whether the status will not change any more."""
        return self.state in FINAL_STATES


class ProviderSettings(BaseModel):
    """One configured SMS provider (``plugins.bp_scripts.sms.providers.<name>``)."""

    model_config = ConfigDict(extra="forbid")

    #: smsru | smsc (or a kind a plugin registered)
    kind: str
    #: SMS.ru: the api_id key
    api_id: SecretStr | None = None
    #: SMSC: login and password (or apikey)
    login: str | None = None
    password: SecretStr | None = None
    apikey: SecretStr | None = None
    #: the provider's address (default: its public one); tests point it at a local server
    url: str | None = None
    #: sender name (must be agreed with the provider)
    sender: str = Field("", max_length=20)
    #: the provider's test mode (SMS.ru test=1: nothing is sent, nothing is charged)
    test: bool = False
    timeout: float = Field(10.0, gt=0, le=120)


class SmsProvider:
    """Base of provider adapters. ``name`` is the configured name, ``settings`` its section."""

    kind = ""
    default_url = ""
    #: the provider accepts a message id chosen by the client and can be asked about it
    supports_client_ids = False

    def __init__(self, name: str, settings: ProviderSettings, session: requests.Session | None = None):
        self.name = name
        self.settings = settings
        self.url = (settings.url or self.default_url).rstrip("/")
        self.session = session or requests.Session()

    def send(self, phone: str, text: str, *, client_id: int) -> SmsReceipt:
        """Send ``text`` to ``phone`` (digits, e.g. 79161234567). Raises SmsRefused/Unavailable/Uncertain."""
        raise NotImplementedError

    def status(self, phone: str, provider_id: str = "", client_id: int = 0) -> DeliveryStatus:
        """The delivery status of a sent message. Raises SmsUnavailable when the provider cannot answer."""
        raise NotImplementedError

    def lookup(self, phone: str, client_id: int) -> SmsReceipt | None:
        """The message sent with ``client_id``, if the provider has it (only ``supports_client_ids``)."""
        raise SmsUncertain(f"{self.kind} cannot look up a message by the client's id")

    def check(self) -> str:
        """A cheap call proving the credentials work (the balance); returns a line for ``doctor``."""
        raise NotImplementedError

    # --- HTTP ---------------------------------------------------------------------------------------

    def _post(self, path: str, data: dict[str, Any], *, sending: bool) -> requests.Response:
        """POST a form. Connection failures before the request went out are SmsUnavailable; a timeout or a
        broken connection after it may have been read is SmsUncertain when ``sending``."""
        url = f"{self.url}{path}"
        try:
            return self.session.post(url, data=data, timeout=self.settings.timeout)
        except requests.ConnectionError as exc:
            if sending and _maybe_delivered(exc):
                raise SmsUncertain(
                    f"{self.kind}: the connection broke after the request: {_why(exc)}"
                ) from None
            raise SmsUnavailable(f"{self.kind}: cannot reach {self.url}: {_why(exc)}") from None
        except requests.Timeout as exc:
            if sending and not isinstance(exc, requests.ConnectTimeout):
                raise SmsUncertain(f"{self.kind}: no answer within {self.settings.timeout}s") from None
            raise SmsUnavailable(f"{self.kind}: cannot reach {self.url}: timeout") from None
        except requests.RequestException as exc:
            raise SmsUnavailable(f"{self.kind}: {_why(exc)}") from None


def _why(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) < 200 else text[:197] + "..."


def _maybe_delivered(exc: requests.ConnectionError) -> bool:
    """A refused or unresolvable connection never sent the request; a reset or a closed one may have."""
    text = repr(exc).lower()
    never = (
        "connection refused",
        "name or service not known",
        "nodename nor servname",
        "newconnectionerror",
        "failed to establish",
        "no route to host",
        "network is unreachable",
    )
    return not any(w in text for w in never)


_KINDS: dict[str, type[SmsProvider]] = {}


def register_provider_kind(kind: str, cls: type[SmsProvider]) -> None:
    """Make ``kind: NAME`` in the providers' settings build ``cls``."""
    _KINDS[kind] = cls


def provider_kinds() -> list[str]:
    """The known provider kinds."""
    return sorted(_KINDS)


def build_provider(
    name: str, settings: ProviderSettings, session: requests.Session | None = None
) -> SmsProvider:
    """The adapter for one configured provider (ValueError for an unknown kind)."""
    cls = _KINDS.get(settings.kind)
    if cls is None:
        raise ValueError(
            f"unknown SMS provider kind {settings.kind!r} (known: {', '.join(provider_kinds())})"
        )
    return cls(name, settings, session)


__all__ = [
    "DeliveryStatus",
    "FINAL_STATES",
    "ProviderSettings",
    "SmsProvider",
    "SmsReceipt",
    "SmsRefused",
    "SmsUncertain",
    "SmsUnavailable",
    "build_provider",
    "provider_kinds",
    "register_provider_kind",
]
