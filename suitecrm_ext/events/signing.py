"""Request signing between the push receiver and the generated SuiteCRM logic hook.

**Standard Webhooks** (https://www.standardwebhooks.com/), the scheme the hook uses::

    webhook-id:        msg_5f0c9a...                 (unique per message; the de-duplication key)
    webhook-timestamp: 1763889000                    (UNIX seconds, the sender's clock)
    webhook-signature: v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4= [v1,... ...]

Each signature is ``"v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body))`` over the raw
body bytes; the header may carry several, separated by spaces, so a secret can be rotated without
downtime (the sender signs with every secret it holds; a receiver accepts the message when any
signature matches any secret it holds). The key is the secret's UTF-8 bytes, or — for a secret
written ``whsec_<base64>`` as Standard Webhooks tools generate them — the decoded base64 part. The PHP
side (``events/php/SuiteCRMExtHook.php.tmpl``) computes the same with
``base64_encode(hash_hmac('sha256', "$id.$ts.$body", $key, true))``. The sidecar signs its answers
to ``/validate`` the same way, for the request's own ``webhook-id``, and the hook ignores an answer
that is not signed so (a man-in-the-middle cannot approve a change).

**Legacy** (suitecrm-ext 0.1 hooks; still accepted for one release, then removed)::

    X-SuiteCRM-Ext-Timestamp, X-SuiteCRM-Ext-Nonce,
    X-SuiteCRM-Ext-Signature = hex(HMAC-SHA256(secret, timestamp + "\\n" + nonce + "\\n" + body))

:func:`verify` picks the scheme from the headers present and checks presence, format, clock skew and
the signature (constant-time); the replay check (id or nonce seen before) needs shared state and is
the receiver's, with the state store. A :class:`SignatureError` carries ``reason`` (``forged``,
``stale`` or ``malformed``) for the receiver's refusal counters.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets as _secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

ID_HEADER = "webhook-id"
STD_TIMESTAMP_HEADER = "webhook-timestamp"
STD_SIGNATURE_HEADER = "webhook-signature"

TIMESTAMP_HEADER = "X-SuiteCRM-Ext-Timestamp"
NONCE_HEADER = "X-SuiteCRM-Ext-Nonce"
SIGNATURE_HEADER = "X-SuiteCRM-Ext-Signature"

_STANDARD = (ID_HEADER, STD_TIMESTAMP_HEADER, STD_SIGNATURE_HEADER)
_LEGACY = (TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER)

WHSEC_PREFIX = "whsec_"
#: how many signatures one webhook-signature header may carry (more is refused as malformed)
MAX_SIGNATURES = 8

_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,256}\Z")
_NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{16,128}\Z")
_TS_RE = re.compile(r"^[0-9]{1,12}\Z")
_HEX_SIG_RE = re.compile(r"^[0-9a-fA-F]{64}\Z")

Secrets = str | bytes | Iterable[str | bytes]


class SignatureError(Exception):
    """A request's signature headers are missing, malformed, stale or do not match.

    The message says which (never the secret or the expected signature); ``reason`` is ``forged``
    (missing or wrong signature), ``stale`` (timestamp out of the window) or ``malformed``.
    """

    def __init__(self, message: str, reason: str = "forged"):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Verified:
    """A request whose signature checked out: ``scheme`` standard | legacy, ``message_id`` the
    webhook-id (standard) or nonce (legacy) — the key of the replay check."""

    scheme: str
    message_id: str


def hmac_key(secret: str | bytes) -> bytes:
    """The HMAC key of a secret: a ``whsec_`` secret's decoded base64, else the secret's bytes."""
    if isinstance(secret, str):
        if secret.startswith(WHSEC_PREFIX):
            try:
                return base64.b64decode(secret[len(WHSEC_PREFIX):], validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("the whsec_ signing secret is not valid base64 after its prefix") from None
        key = secret.encode("utf-8")
    else:
        key = bytes(secret)
    if not key:
        raise ValueError("the signing secret is empty")
    return key


def _keys(secrets: Secrets) -> list[bytes]:
    items = [secrets] if isinstance(secrets, (str, bytes)) else list(secrets)
    keys = [hmac_key(s) for s in items]
    if not keys:
        raise ValueError("no signing secret")
    return keys


def sign_standard(secret: str | bytes, message_id: str, timestamp: str | int, body: bytes) -> str:
    """One Standard Webhooks signature, ``v1,<base64>``, of ``id.timestamp.body``."""
    msg = f"{message_id}.{int(timestamp)}.".encode("ascii") + body
    digest = hmac.new(hmac_key(secret), msg, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def new_message_id() -> str:
    """A fresh webhook-id (``msg_`` + 32 hex digits)."""
    return "msg_" + _secrets.token_hex(16)


def standard_headers(
    secrets: Secrets, body: bytes, *, message_id: str | None = None, timestamp: int | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``, signed with every secret in ``secrets``."""
    mid = message_id or new_message_id()
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    items = [secrets] if isinstance(secrets, (str, bytes)) else list(secrets)
    sigs = " ".join(sign_standard(s, mid, ts, body) for s in items)
    if not sigs:
        raise ValueError("no signing secret")
    return {ID_HEADER: mid, STD_TIMESTAMP_HEADER: ts, STD_SIGNATURE_HEADER: sigs}


def sign(secret: str | bytes, timestamp: str, nonce: str, body: bytes) -> str:
    """Legacy scheme: the hex HMAC-SHA256 of ``timestamp\\nnonce\\nbody`` under ``secret``."""
    msg = timestamp.encode("ascii") + b"\n" + nonce.encode("ascii") + b"\n" + body
    return hmac.new(hmac_key(secret), msg, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str | bytes, body: bytes, *, timestamp: int | None = None, nonce: str | None = None
) -> dict[str, str]:
    """Legacy scheme: the three X-SuiteCRM-Ext-* headers for ``body``."""
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    nonce = nonce or _secrets.token_hex(16)
    return {TIMESTAMP_HEADER: ts, NONCE_HEADER: nonce, SIGNATURE_HEADER: sign(secret, ts, nonce, body)}


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, case-insensitively (``http.client.HTTPMessage`` is; plain dicts are not)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for k, v in headers.items():
            if k.lower() == lowered:
                return v
    return value


def _check_time(name: str, ts: str, max_skew_seconds: float, now: float | None) -> None:
    if not _TS_RE.match(ts):
        raise SignatureError(f"{name}: expected UNIX seconds, got {ts[:20]!r}", "malformed")
    current = time.time() if now is None else now
    skew = abs(current - int(ts))
    if skew > max_skew_seconds:
        raise SignatureError(
            f"{name}: stale or future timestamp ({int(skew)} s from this host's clock, "
            f"allowed {int(max_skew_seconds)} s)", "stale")


def verify(
    secrets: Secrets,
    headers: Mapping[str, str],
    body: bytes,
    *,
    max_skew_seconds: float,
    now: float | None = None,
) -> Verified:
    """Check a request's signature headers (Standard Webhooks, else the legacy scheme).

    ``secrets``: one secret or several (rotation); any of them may have signed. Returns the scheme
    and message id (for the caller's replay check). Raises :class:`SignatureError` naming the
    problem: a missing or malformed header, a timestamp further than ``max_skew_seconds`` from
    ``now`` (either direction), or no signature that matches. Compared in constant time.
    """
    keys = _keys(secrets)
    if any(header(headers, h) is not None for h in _STANDARD):
        return _verify_standard(keys, headers, body, max_skew_seconds, now)
    if any(header(headers, h) is not None for h in _LEGACY):
        return _verify_legacy(keys, headers, body, max_skew_seconds, now)
    raise SignatureError(f"missing headers {ID_HEADER}, {STD_TIMESTAMP_HEADER}, {STD_SIGNATURE_HEADER}")


def _missing_reason(name: str) -> str:
    return "forged" if name in (STD_SIGNATURE_HEADER, SIGNATURE_HEADER) else "malformed"


def _verify_standard(keys: list[bytes], headers: Mapping[str, str], body: bytes, skew: float,
                     now: float | None) -> Verified:
    mid, ts, sig = (header(headers, h) for h in _STANDARD)
    for name, value in zip(_STANDARD, (mid, ts, sig), strict=True):
        if not value or not value.strip():
            raise SignatureError(f"missing header {name}", _missing_reason(name))
    mid, ts, sig = mid.strip(), ts.strip(), sig.strip()
    if not _ID_RE.match(mid):
        raise SignatureError(f"{ID_HEADER}: expected 1-256 characters of [A-Za-z0-9_.:-]", "malformed")
    _check_time(STD_TIMESTAMP_HEADER, ts, skew, now)
    candidates = sig.split()
    if len(candidates) > MAX_SIGNATURES:
        raise SignatureError(f"{STD_SIGNATURE_HEADER}: more than {MAX_SIGNATURES} signatures", "malformed")
    given: list[bytes] = []
    for cand in candidates:
        version, _, value = cand.partition(",")
        if version != "v1":  # other versions (v1a: asymmetric) are not ours; skip them
            continue
        try:
            given.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            raise SignatureError(f"{STD_SIGNATURE_HEADER}: a v1 signature is not base64",
                                 "malformed") from None
    if not given:
        raise SignatureError(f"{STD_SIGNATURE_HEADER}: no v1 signature", "malformed")
    msg = f"{mid}.{ts}.".encode("ascii") + body
    ok = False
    for key in keys:
        expected = hmac.new(key, msg, hashlib.sha256).digest()
        for g in given:  # no early exit: the time taken does not tell which one matched
            ok |= hmac.compare_digest(expected, g)
    if not ok:
        raise SignatureError("signature does not match (wrong secret or altered request)")
    return Verified("standard", mid)


def _verify_legacy(keys: list[bytes], headers: Mapping[str, str], body: bytes, skew: float,
                   now: float | None) -> Verified:
    ts, nonce, sig = (header(headers, h) for h in _LEGACY)
    for name, value in zip(_LEGACY, (ts, nonce, sig), strict=True):
        if not value:
            raise SignatureError(f"missing header {name}", _missing_reason(name))
    ts, nonce, sig = ts.strip(), nonce.strip(), sig.strip()
    if not _NONCE_RE.match(nonce):
        raise SignatureError(f"{NONCE_HEADER}: expected 16-128 characters of [A-Za-z0-9_-]", "malformed")
    if not _HEX_SIG_RE.match(sig):
        raise SignatureError(f"{SIGNATURE_HEADER}: expected 64 hex digits", "malformed")
    _check_time(TIMESTAMP_HEADER, ts, skew, now)
    msg = ts.encode("ascii") + b"\n" + nonce.encode("ascii") + b"\n" + body
    ok = False
    for key in keys:
        ok |= hmac.compare_digest(hmac.new(key, msg, hashlib.sha256).hexdigest(), sig.lower())
    if not ok:
        raise SignatureError("signature does not match (wrong secret or altered request)")
    return Verified("legacy", nonce)
