"""SMS providers behind one adapter interface (base.py); SMS.ru (smsru.py) and SMSC (smsc.py) ship, sharing
the JSON request/answer code (answers.py)."""

from .base import (
    DeliveryStatus,
    SmsProvider,
    SmsReceipt,
    SmsRefused,
    SmsUnavailable,
    SmsUncertain,
    build_provider,
    register_provider_kind,
)

__all__ = [
    "DeliveryStatus",
    "SmsProvider",
    "SmsReceipt",
    "SmsRefused",
    "SmsUncertain",
    "SmsUnavailable",
    "build_provider",
    "register_provider_kind",
]

from . import smsc, smsru  # noqa: E402,F401  (register the shipped kinds)
